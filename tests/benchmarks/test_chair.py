"""CHAIR: the official word rules (plurals, synonyms, two-word objects, special cases and the
Pattern quirks kept), hand-scored metrics, bad input, the world vocabulary and round trip."""

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.chair import (PROMPT, Chair, _word_tokenizer, coco_vocabulary, mentions, pick_vocabulary,
                              sentence_tokens, world_vocabulary)
from harness.core.errors import BadInput
from harness.world.export import read_scenes, write_world
from harness.world.spec import SHAPES


def classes(caption: str) -> list[str]:
    return [c for _, c in mentions(caption, coco_vocabulary())]


@pytest.mark.parametrize("caption, expected", [
    ("Three dogs and two giraffes.", ["dog", "giraffe"]),  # plurals
    ("Two men, a woman and the children.", ["person", "person", "person"]),  # irregular plurals
    ("A puppy, a kitten and a sofa", ["dog", "cat", "couch"]),  # synonyms
    ("A DOG ON A SURFBOARD", ["dog", "surfboard"]),  # lower-cased first
    ("Traffic lights above two hot dogs and a teddy bear.", ["traffic light", "hot dog", "teddy bear"]),
    ("A hot afternoon: a dog rests in the light.", ["dog"]),  # the words of a two-word object, apart
    ("A wine glass and two wine glasses.", ["wine glass", "wine glass"]),
    ("A baby elephant with a baby.", ["elephant", "person"]),  # 'baby X' is X, not a person
    ("A passenger train.", ["train"]),
    ("A man in a bow tie.", ["person", "tie"]),
    ("A toilet seat.", ["toilet"]),
    ("The seat of the toilet is up.", ["toilet"]),  # 'seat' is dropped when 'toilet' occurs
    ("A seat by the window.", ["chair"]),
    ("A dog. A cat. A horse!", ["dog", "cat", "horse"]),  # a word before a mid-text period is found
    # Pattern's singularize, kept: a singular "bus" becomes "bu" and is never counted.
    ("A bus behind two buses.", ["bus"]),
    ("Two microwaves, two stoves and baseball gloves.", ["microwave", "oven", "baseball glove"]),
    ("A pair of scissors and skis.", ["scissors", "skis"]),
    # The official synonym list has " motor bike" with a space: the merged word never matches.
    ("A motor bike and a motorbike.", ["motorcycle"]),
    ("A tennis racket and a sports ball.", ["tennis racket", "sports ball"]),  # via 'racket' and 'ball' alone
])
def test_coco_mentions(caption: str, expected: list[str]) -> None:
    assert classes(caption) == expected


def test_plain_sentence_shortcut_gives_nltk_tokens() -> None:
    tok = _word_tokenizer()
    rng = random.Random(0)
    pieces = ["a", "dog", "hot", "dogs", "cannot", "can", "not", "gonna", "wanna", "gimme", "the", " ", "  ", ",",
              ", ", " ,", ".", "!", "?", "s", "e"]
    for _ in range(5000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) + rng.choice(["", ".", "!", "?", ",", " ."])
        assert sentence_tokens(s) == tok.tokenize(s), s


def reference_mentions(caption: str) -> list[str]:
    """The official pass with no shortcut: every sentence through NLTK, every pair joined."""
    v = coco_vocabulary()
    words = [v.singular(t) for s in re.split(r"(?<=[.!?])\s+", caption.lower()) for t in _word_tokenizer().tokenize(s)]
    out, i = [], 0
    while i < len(words):
        pair = " ".join(words[i:i + 2])
        out.append(v.double_words.get(pair, words[i]))
        i += 2 if pair in v.double_words else 1
    if "toilet" in out and "seat" in out:
        out = [w for w in out if w != "seat"]
    return [v.synonyms[w] for w in out if w in v.synonyms]


@pytest.mark.parametrize("caption", [
    "The man's dog isn't on the \"couch\"; it's by the TV (a 50-inch one), near 2 cups.",
    "A cat... and a dog! Is that a hot dog? No: a dog's toy, cannot be a bus-stop.",
    "In the image, there are two people, a giraffe, and a zebra.\nThe sky is blue.",
    "Nothing to see here. Really nothing. Then a traffic light.",
    "Dogs, cats,, birds and a teddy bear's arm; 'a toilet' and its seat.",
])
def test_shortcuts_match_the_plain_official_pass(caption: str) -> None:
    assert classes(caption) == reference_mentions(caption)


def test_mention_words_are_the_merged_words() -> None:
    assert mentions("Hot dogs and a puppy.", coco_vocabulary()) == (("hot dog", "hot dog"), ("puppy", "dog"))


def test_world_vocabulary() -> None:
    w = world_vocabulary()
    assert pick_vocabulary(["circle", "star"]) is w and pick_vocabulary(list(SHAPES)) is w
    assert pick_vocabulary(["person", "dog"]) is coco_vocabulary() and pick_vocabulary([]) is coco_vocabulary()
    got = mentions("Two discs, a plus, three boxes and some stars. A red valentine is above the hexagons.", w)
    assert [c for _, c in got] == ["circle", "cross", "square", "star", "heart", "hexagon"]
    assert mentions("A white picture with a shape.", w) == ()


def coco_files(tmp_path: Path) -> tuple[Path, Path]:
    names = ["person", "dog", "traffic light", "hot dog", "toilet", "chair", "bus", "car"]
    cats = [{"id": i + 1, "name": n, "supercategory": "x"} for i, n in enumerate(names)]
    cid = {n: i + 1 for i, n in enumerate(names)}
    segs = {1: ["person", "dog", "dog"], 2: ["hot dog"], 3: ["toilet", "chair"], 4: ["car"], 5: ["bus"]}
    anns = [{"id": k, "image_id": im, "category_id": cid[n]} for k, (im, n) in
            enumerate((im, n) for im, ns in segs.items() for n in ns)]
    images = [{"id": i, "file_name": f"{i:012d}.jpg"} for i in segs]
    refs = {1: "A man walking his dog past a traffic light.", 2: "Two hot dogs on a plate.",
            3: "A toilet in a small bathroom.", 4: "A car.", 5: "A bus on the street."}
    inst = tmp_path / "instances_val.json"
    inst.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    caps = tmp_path / "captions_val.json"
    caps.write_text(json.dumps({"images": images, "annotations": [{"id": i, "image_id": i, "caption": c}
                                                                   for i, c in refs.items()]}))
    return inst, caps


PREDICTIONS = [
    # GT person, dog, traffic light (from the reference caption). cat and bench are absent.
    {"image_id": 1, "caption": "Two men and a puppy near traffic lights. A cat sits on the bench."},
    # GT hot dog only: the merged 'hot dog' is right, the lone 'dog' and the table are not.
    {"image_id": 2, "caption": "A hot dog and a dog on a table."},
    # GT toilet, chair: 'seat' is dropped, so only the toilet is named.
    {"image_id": 3, "caption": "The seat of the toilet is open."},
    # GT bus: the singular 'bus' is not counted (Pattern), 'buses' is.
    {"image_id": 5, "caption": "A red bus next to two buses."},
]


def test_hand_computed_metrics(tmp_path: Path) -> None:
    inst, caps = coco_files(tmp_path)
    preds = tmp_path / "caps.json"
    preds.write_text(json.dumps(PREDICTIONS))
    r = Chair().score([caps, inst], preds)  # either order
    assert [(o.mentions, o.hallucinated, o.gt_objects, o.recalled) for o in r.outcomes] == [
        (5, 2, 3, 3), (3, 2, 1, 1), (1, 0, 2, 1), (1, 0, 1, 1)]
    assert [o.hallucinated_words for o in r.outcomes] == [("cat", "bench"), ("dog", "table"), (), ()]
    # CHAIRs 2 of 4 captions; CHAIRi 4 of 10 mentions; recall 6 of 7 ground-truth objects.
    assert r.metrics == pytest.approx({"CHAIRs": 50.0, "CHAIRi": 40.0, "recall": 600 / 7})
    assert r.n == 4 and r.protocol == "official"
    assert r.notes == {"vocabulary": "coco", "uncaptioned_images": 1}
    assert Chair().aggregate(r.outcomes) == r.metrics
    assert Chair().aggregate([r.outcomes[2]]) == {"CHAIRs": 0.0, "CHAIRi": 0.0, "recall": 50.0}


def test_json_lines_predictions_and_no_mentions(tmp_path: Path) -> None:
    inst, caps = coco_files(tmp_path)
    preds = tmp_path / "caps.jsonl"
    preds.write_text(json.dumps({"image_id": 4, "caption": "Nothing here."}) + "\n"
                     + json.dumps({"image_id": 1, "caption": "A dog."}) + "\n")
    r = Chair().score([inst, caps], preds)
    assert r.metrics == pytest.approx({"CHAIRs": 0.0, "CHAIRi": 0.0, "recall": 25.0})
    one = tmp_path / "one.jsonl"  # a single JSON line is a one-row file
    one.write_text(json.dumps({"image_id": 4, "caption": "Nothing here."}) + "\n")
    assert Chair().score([inst, caps], one).metrics == {"CHAIRs": 0.0, "CHAIRi": 0.0, "recall": 0.0}


@pytest.mark.parametrize("content, problem", [
    ('"a caption"', "expected a list"),
    ("[]", "no captions"),
    ('[{"image_id": 1}]', "prediction 1 needs an integer 'image_id' and a 'caption' string"),
    ('[{"image_id": "1", "caption": "x"}]', "prediction 1 needs an integer 'image_id'"),
    ('[{"image_id": 1, "caption": "x"}, {"image_id": 1, "caption": "y"}]', "image_id 1 is captioned twice"),
    ('[{"image_id": 99, "caption": "x"}]', r"1 captions are for image ids not in the data \(first: 99\)"),
    ('{"image_id": 1, "caption": "x"}\nnot json\n', ":2: not valid JSON"),
])
def test_bad_predictions_name_the_file(tmp_path: Path, content: str, problem: str) -> None:
    inst, caps = coco_files(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(BadInput, match=rf"bad\.json.*{problem}"):
        Chair().score([inst, caps], bad)


def test_bad_annotation_files_name_the_file(tmp_path: Path) -> None:
    inst, caps = coco_files(tmp_path)
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(PREDICTIONS[:1]))
    with pytest.raises(BadInput, match="needs a COCO instances file and a captions file"):
        Chair().score([inst], preds)
    doc = json.loads(inst.read_text())
    doc["categories"][0]["name"] = "unicorn"
    (tmp_path / "i2.json").write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=r"i2\.json: category 'unicorn' is not in the coco synonym table"):
        Chair().score([tmp_path / "i2.json", caps], preds)
    doc = json.loads(inst.read_text())
    doc["annotations"][0]["category_id"] = 999
    (tmp_path / "i3.json").write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=r"i3\.json: an annotation needs an integer 'image_id' and a known"):
        Chair().score([tmp_path / "i3.json", caps], preds)
    (tmp_path / "i4.json").write_text(json.dumps([1, 2]))
    with pytest.raises(BadInput, match=r"i4\.json: expected a COCO JSON object"):
        Chair().score([tmp_path / "i4.json", caps], preds)
    doc = json.loads(caps.read_text())
    doc["annotations"][0].pop("caption")
    (tmp_path / "c2.json").write_text(json.dumps(doc))
    with pytest.raises(BadInput, match=r"c2\.json: a caption annotation needs"):
        Chair().score([inst, tmp_path / "c2.json"], preds)


def test_registered() -> None:
    b = BENCHMARKS.get("chair")
    assert b is Chair and b.primary_metric == "CHAIRi" and not b.higher_is_better


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 16})
    return root


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    b = Chair()
    files = b.synthesize(scenes, world / "images", tmp_path / "chair", seed=0)
    assert files == {"test": [tmp_path / "chair" / "instances_bench.json", tmp_path / "chair" / "captions_bench.json"]}
    items = b.load(files["test"], image_root=world / "images")
    assert [int(i.id) for i in items] == [s.image_id for s in scenes]
    assert all(i.prompt == PROMPT == "Describe this image in detail." and Path(str(i.image)).is_file() for i in items)
    # Every object named (plurals and a synonym included): nothing hallucinated, everything recalled.
    exact = [" ".join(f"There is a {o.colour} {SHAPES[o.shape].synonyms[0] if k else o.shape}." for k, o in
                      enumerate(s.objects)) + f" Two {SHAPES[s.objects[0].shape].plural}." for s in scenes]
    b.write_predictions(items, exact, tmp_path / "exact.json")
    r = b.score(files["test"], tmp_path / "exact.json")
    assert r.metrics == {"CHAIRs": 0.0, "CHAIRi": 0.0, "recall": 100.0} and r.notes["vocabulary"] == "world"
    # One absent shape and one present shape per caption.
    wrong = []
    for s in scenes:
        absent = next(n for n in SHAPES if n not in {o.shape for o in s.objects})
        wrong.append(f"A {absent} and a {s.objects[0].shape}.")
    b.write_predictions(items, wrong, tmp_path / "wrong.json")
    m = b.score(files["test"], tmp_path / "wrong.json").metrics
    assert m["CHAIRs"] == 100.0 and m["CHAIRi"] == 50.0 and 0 < m["recall"] < 100


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = Chair().synthesize(scenes, world / "images", tmp_path / "a", seed=5)["test"]
    b = Chair().synthesize(scenes, world / "images", tmp_path / "b", seed=5)["test"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_cli_score_json(tmp_path: Path) -> None:
    inst, caps = coco_files(tmp_path)
    preds = tmp_path / "caps.json"
    preds.write_text(json.dumps(PREDICTIONS))
    r = subprocess.run([sys.executable, "-m", "harness.cli", "score", "chair", "--data", str(inst), "--data", str(caps),
                        "--predictions", str(preds), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["CHAIRs"] == 50.0 and out["CHAIRi"] == 40.0 and out["n"] == 4
