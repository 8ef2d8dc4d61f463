"""A-OKVQA: the official MC / DA metrics by hand, reply conversion, malformed files, and the world round trip."""

import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.aokvqa import AOKVQA, build_prompt, options_from_prompt, reply_to_prediction
from harness.core.errors import BadInput
from harness.world.export import read_scenes, write_world

COLOURS4 = ["red", "blue", "green", "black"]


def test_registered() -> None:
    assert BENCHMARKS.get("aokvqa") is AOKVQA and AOKVQA.primary_metric == "mc_accuracy"


def test_prompt_is_pinned_and_read_back() -> None:
    p = build_prompt("What is the red shape often a symbol of?", ["sun", "love", "gem", "window"])
    assert p == ("What is the red shape often a symbol of?\nA. sun\nB. love\nC. gem\nD. window\n"
                 "Answer with the option's letter from the given choices directly.")
    assert options_from_prompt(p) == {"A": "sun", "B": "love", "C": "gem", "D": "window"}
    # A question line that looks like an option is not taken for one.
    assert options_from_prompt(build_prompt("B. odd?", ["x", "y"])) == {"A": "x", "B": "y"}
    assert options_from_prompt("no options here") == {}


@pytest.mark.parametrize("reply, expected", [
    ("B", "blue"), ("C.", "green"), ("The answer is D.", "black"),
    ("blue", "blue"),  # the option text names the choice too (VLMEvalKit's text rule)
    ("I cannot tell.", "i cannot tell"),  # no option: the reply itself, lower-case, no final period
    (" Navy\n", "navy"),
])
def test_reply_fills_both_fields(reply: str, expected: str) -> None:
    options = dict(zip("ABCD", COLOURS4))
    assert reply_to_prediction(reply, options) == {"multiple_choice": expected, "direct_answer": expected}


def entry(qid: str, correct: int, direct: list[str], difficult: bool = False, choices: list[str] = COLOURS4) -> dict:
    return {"split": "val", "image_id": 7, "question_id": qid, "question": f"{qid}?", "choices": choices,
            "correct_choice_idx": correct, "direct_answers": direct, "difficult_direct_answer": difficult,
            "rationales": ["r1", "r2", "r3"]}


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def hand(tmp_path: Path) -> tuple[Path, Path]:
    data = write(tmp_path / "aokvqa_v1p0_val.json", [
        entry("q1", 1, ["blue"] * 2 + ["navy"] * 8),
        entry("q2", 0, ["3"] * 5 + ["three"] * 5, choices=["3", "4", "6", "10"]),
        entry("q3", 2, ["green"] * 10, difficult=True),
        entry("q4", 3, ["black"] * 10),
        entry("q5", 0, ["red"] * 10),
    ])
    preds = write(tmp_path / "predictions_val.json", {
        "q1": {"multiple_choice": "blue", "direct_answer": "blue"},  # MC 1, DA 2/3
        "q2": {"multiple_choice": "three", "direct_answer": "Three"},  # not a choice: 0; DA is case-sensitive: 0
        "q3": {"multiple_choice": "green", "direct_answer": "nothing"},  # difficult: left out of DA
        # q4: no prediction at all: MC 0, DA 0
        "q5": {"multiple_choice": "red"},  # MC only: DA 0
    })
    return data, preds


def test_hand_computed_metrics(hand: tuple[Path, Path]) -> None:
    data, preds = hand
    r = AOKVQA().score([data], preds)
    assert [(o.mc, o.da) for o in r.outcomes] == [(1.0, pytest.approx(2 / 3)), (0.0, 0.0), (1.0, None), (0.0, 0.0),
                                                   (1.0, 0.0)]
    # MC over all 5: 3 / 5 * 100; DA over the 4 non-difficult: (2/3) / 4 * 100.
    assert r.metrics == pytest.approx({"mc_accuracy": 60.0, "da_accuracy": 100 * (2 / 3) / 4})
    assert r.n == 5 and r.protocol == "official"
    assert r.notes == {"missing": 1, "unknown": 0, "not_a_string": 0, "missing_multiple_choice": 1,
                       "missing_direct_answer": 2, "difficult_direct_answer": 1}
    assert AOKVQA().aggregate(r.outcomes[2:3]) == {"mc_accuracy": 100.0, "da_accuracy": 0.0}  # nothing to average


def test_direct_answers_are_not_normalized(tmp_path: Path) -> None:
    data = write(tmp_path / "d.json", [entry("q", 0, ["red"] * 3 + ["dark red"] * 7)])
    for da, acc in (("red", 100.0), ("Red", 0.0), ("red ", 0.0), ("red.", 0.0), ("dark red", 100.0)):
        preds = write(tmp_path / "p.json", {"q": {"multiple_choice": "x", "direct_answer": da}})
        assert AOKVQA().score([data], preds).metrics["da_accuracy"] == acc, da


def test_load_items_and_coco_2017_paths(hand: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = hand
    items = AOKVQA().load([data])
    assert [i.id for i in items] == ["q1", "q2", "q3", "q4", "q5"]
    assert items[0].prompt == build_prompt("q1?", COLOURS4)
    assert items[0].image == str(tmp_path / "val2017" / "000000000007.jpg")
    assert AOKVQA().load([data], Path("/coco"))[0].image == "/coco/val2017/000000000007.jpg"
    AOKVQA().write_predictions(items[:2], ["B", "I think 4"], tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == {
        "q1": {"multiple_choice": "blue", "direct_answer": "blue"},
        "q2": {"multiple_choice": "4", "direct_answer": "4"}}


def test_test_split_loads_but_does_not_score(tmp_path: Path) -> None:
    q = {k: v for k, v in entry("t1", 0, []).items()
         if k not in ("split", "correct_choice_idx", "direct_answers", "difficult_direct_answer", "rationales")}
    data = write(tmp_path / "aokvqa_v1p0_test.json", [q])
    assert AOKVQA().load([data])[0].image.endswith("test2017/000000000007.jpg")
    with pytest.raises(BadInput, match=r"aokvqa_v1p0_test\.json: question 1 has no 'correct_choice_idx' field"):
        AOKVQA().score([data], write(tmp_path / "p.json", {"t1": {"multiple_choice": "red"}}))


GOOD = entry("q1", 0, ["red"] * 10)


@pytest.mark.parametrize("which, content, problem", [
    ("data", {"q1": GOOD}, "expected a JSON list of questions"),
    ("data", [{k: v for k, v in GOOD.items() if k != "choices"}], "question 1 has no 'choices' field"),
    ("data", [{**GOOD, "correct_choice_idx": 4}], "'correct_choice_idx' must be an index into the 4 choices"),
    ("data", [{**GOOD, "difficult_direct_answer": 0}], "'difficult_direct_answer' must be true or false"),
    ("data", [{**GOOD, "question_id": 1}], "'question_id' must be a string"),
    ("data", [GOOD, GOOD], "question_id 'q1' already occurs"),
    ("preds", [{"q1": {"multiple_choice": "red"}}], "expected a JSON object"),
    ("preds", {"q1": "red"}, "prediction for 'q1' is not an object"),
])
def test_malformed_input_names_the_file(tmp_path: Path, which: str, content: object, problem: str) -> None:
    data = write(tmp_path / "bad_data.json" if which == "data" else tmp_path / "data.json",
                 content if which == "data" else [GOOD])
    preds = write(tmp_path / "bad_preds.json" if which == "preds" else tmp_path / "preds.json",
                  content if which == "preds" else {"q1": {"multiple_choice": "red"}})
    with pytest.raises(BadInput, match=rf"bad_{which}\.json: .*{problem}"):
        AOKVQA().score([data], preds)


def test_duplicate_prediction_key_is_bad_input(tmp_path: Path) -> None:
    data = write(tmp_path / "data.json", [GOOD])
    preds = tmp_path / "dup.json"
    # json.loads would silently keep the last of two equal keys.
    preds.write_text('{"q1": {"multiple_choice": "red"}, "q1": {"multiple_choice": "blue"}}')
    with pytest.raises(BadInput, match=r"dup\.json: key 'q1' occurs twice"):
        AOKVQA().score([data], preds)


def test_not_json_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(BadInput, match=r"bad\.json: not valid JSON"):
        AOKVQA().load([bad])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 40})
    return root


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    b = AOKVQA()
    files = b.synthesize(scenes, world / "images", tmp_path / "out", seed=3)
    assert files == {"val": [tmp_path / "out" / "aokvqa_v1p0_val.json"]}
    entries = json.loads(files["val"][0].read_text())
    assert len(entries) >= len(scenes)
    for e in entries:
        assert len(e["choices"]) == 4 == len(set(e["choices"])) and len(e["direct_answers"]) == 10
        assert len(e["rationales"]) == 3 and e["split"] == "val"
        hits = Counter(e["direct_answers"])[e["choices"][e["correct_choice_idx"]]]
        assert hits <= 3 if e["difficult_direct_answer"] else hits >= 6
    assert 0 < sum(e["difficult_direct_answer"] for e in entries) < len(entries)
    items = b.load(files["val"], world / "images")
    assert all(Path(str(i.image)).is_file() for i in items)
    # Answering with the right letter fills both fields with the right choice: 100 and 100.
    letters = ["ABCD"[e["correct_choice_idx"]] for e in entries]
    b.write_predictions(items, letters, tmp_path / "perfect.json")
    r = b.score(files["val"], tmp_path / "perfect.json")
    assert r.metrics == {"mc_accuracy": 100.0, "da_accuracy": 100.0} and r.n == len(entries)
    # Always "A": MC is the share of items whose answer is A.
    b.write_predictions(items, ["A"] * len(items), tmp_path / "a.json")
    mc = b.score(files["val"], tmp_path / "a.json").metrics["mc_accuracy"]
    assert mc == pytest.approx(100 * letters.count("A") / len(letters))


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = AOKVQA().synthesize(scenes, world / "images", tmp_path / "a", seed=5)["val"][0]
    b = AOKVQA().synthesize(scenes, world / "images", tmp_path / "b", seed=5)["val"][0]
    c = AOKVQA().synthesize(scenes, world / "images", tmp_path / "c", seed=6)["val"][0]
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_unknown_ids_are_ignored_and_odd_values_score_zero_as_the_official_script(tmp_path: Path) -> None:
    # eval_predictions.py (strict=False, its default) never looks up a prediction whose id is not
    # in the data, and compares values with ==, so a number equals no choice and no answer.
    data = write(tmp_path / "d.json", [entry("q1", 0, ["red"] * 10), entry("q2", 1, ["blue"] * 10)])
    preds = write(tmp_path / "p.json", {"q1": {"multiple_choice": "red", "direct_answer": "red"},
                                        "q2": {"multiple_choice": 1, "direct_answer": None},
                                        "nope": {"multiple_choice": "blue"}, "zz": {}})
    r = AOKVQA().score([data], preds)
    assert r.metrics == {"mc_accuracy": 50.0, "da_accuracy": 50.0}
    assert r.notes["unknown"] == 2 and r.notes["not_a_string"] == 2 and r.notes["missing"] == 0
