"""OK-VQA: the official VQA normalization and accuracy by hand, malformed files, and the world round trip."""

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.okvqa import OKVQA, PROMPT_SUFFIX, annotator_answers, knowledge_questions
from benchmarks.vqa_eval import normalize_answer, prepare_ground_truth, process_punctuation, vqa_accuracy
from harness.core.errors import BadInput
from harness.world.export import read_scenes, write_world
from harness.world.spec import COLOURS, all_object_words


def test_registered() -> None:
    assert BENCHMARKS.get("okvqa") is OKVQA and OKVQA.primary_metric == "accuracy" and OKVQA.higher_is_better


@pytest.mark.parametrize("text, expected", [
    ("Yes.", "yes"),
    ("Three", "3"), ("none", "0"), ("ten", "10"), ("twelve", "twelve"),  # the map stops at ten
    ("1,000", "1000"),  # digit-comma-digit: the comma is deleted, not spaced
    ("1,000 red-blue", "1000 redblue"),  # ... and so is every other mark in the same text
    ("red-blue", "red blue"), ("red - blue", "red blue"), ("x,y", "x y"),
    ("what?", "what"), ("(cat)", "cat"),
    ("3.5", "3.5"), ("u.s.a.", "usa"),  # a period before a digit stays
    ("the dog", "dog"), ("A cat", "cat"), ("an apple pie", "apple pie"), ("a , b", "b"),  # "a" is an article
    ("dont", "don't"), ("isnt", "isn't"), ("Im", "im"),  # capitalised keys never match after lower()
    ("it's", "it's"), ("  Big   Dog \n", "big dog"),
    ("3.\u0663", "3\u0663"),  # Python 2 `\d` is ASCII: an Arabic-Indic digit does not protect the period
])
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_at_most_32_periods_are_deleted() -> None:
    # The official call passes re.UNICODE (32) as re.sub's count.
    assert process_punctuation("." * 40) == "." * 8
    assert normalize_answer("yes" + "." * 33) == "yes."


def answers(*groups: tuple[int, str]) -> list[dict]:
    """Answer dicts with distinct answer_ids, as official files have: (count, text) groups."""
    texts = [t for n, t in groups for _ in range(n)]
    return [{"answer_id": i + 1, "answer": t, "answer_confidence": "yes"} for i, t in enumerate(texts)]


@pytest.mark.parametrize("gt, pred, expected", [
    # All ten equal: nothing is normalized, so "Yes." is not "yes" (the official quirk).
    (answers((10, "yes")), "Yes.", 0.0),
    (answers((10, "yes")), "yes", 1.0),
    (answers((10, "yes")), " yes\n", 1.0),  # whitespace is still cleaned
    # Not all equal: normalized; 7 x "3" after normalization, each annotator sees >= 3 others.
    (answers((4, "3"), (3, "three"), (2, "four"), (1, "3 sides")), "Three.", 1.0),
    # 3 x "2" (one spelled "two"): those three see 2 others (2/3), the seven see 3 (1) -> 0.9.
    (answers((2, "2"), (1, "two"), (7, "1")), "2", 0.9),
    # 2 x "1000": those see 1 (1/3), the eight see 2 (2/3) -> (2/3 + 16/3) / 10 = 0.6.
    (answers((2, "1,000"), (8, "10")), "1000", 0.6),
    (answers((1, "dont"), (2, "don't"), (7, "no")), "dont", 0.9),
    (answers((1, "u.s.a."), (1, "usa"), (8, "america")), "U.S.A", 0.6),
    (answers((1, "yes"), (9, "no")), "maybe", 0.0),
])
def test_vqa_accuracy_by_hand(gt: list[dict], pred: str, expected: float) -> None:
    assert vqa_accuracy(pred, prepare_ground_truth(gt)) == pytest.approx(expected)


def test_identical_answer_dicts_exclude_each_other() -> None:
    # The official `item != gtAnsDatum` compares whole dicts: without answer_ids, ten identical
    # dicts leave every annotator with no "others", so even the right answer scores 0.
    assert vqa_accuracy("yes", prepare_ground_truth([{"answer": "yes"}] * 10)) == 0.0
    # Four identical "red" dicts: each red annotator's "others" are the six blue ones (0 matches),
    # while each blue annotator sees four reds (1): 0.6 where distinct ids would give 1.0.
    gt = [{"answer": "red"}] * 4 + [{"answer": "blue", "answer_id": i} for i in range(6)]
    assert vqa_accuracy("red", prepare_ground_truth(gt)) == pytest.approx(0.6)


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


HAND = [  # (question_id, answer_type, question_type, answers, prediction or None, expected accuracy)
    (1, "yes/no", "what", answers((10, "yes")), "Yes.", 0.0),
    (2, "number", "how many", answers((4, "3"), (3, "three"), (2, "four"), (1, "3 sides")), "Three.", 1.0),
    (3, "number", "how many", answers((2, "2"), (1, "two"), (7, "1")), "2", 0.9),
    (4, "number", "how many", answers((2, "1,000"), (8, "10")), "1000", 0.6),
    (5, "other", "what", answers((1, "dont"), (2, "don't"), (7, "no")), "dont", 0.9),
    (6, "other", "what", answers((1, "u.s.a."), (1, "usa"), (8, "america")), "U.S.A", 0.6),
    (7, "other", "what", answers((10, "red")), None, 0.0),  # no prediction: 0, counted
]


@pytest.fixture
def hand(tmp_path: Path) -> tuple[Path, Path, Path]:
    qs = write(tmp_path / "questions.json", {"data_subtype": "val2014", "questions": [
        {"image_id": 100 + q, "question": f"question {q}?", "question_id": q} for q, *_ in HAND]})
    anns = write(tmp_path / "annotations.json", {"annotations": [
        {"question_id": q, "image_id": 100 + q, "answers": a, "answer_type": at, "question_type": qt}
        for q, at, qt, a, _, _ in HAND]})
    # Predictions in another order: pairing is by question_id.
    preds = write(tmp_path / "results.json", [{"question_id": q, "answer": p} for q, *_, p, _ in HAND if p][::-1])
    return qs, anns, preds


def test_hand_computed_metrics(hand: tuple[Path, Path, Path]) -> None:
    qs, anns, preds = hand
    r = OKVQA().score([anns, qs], preds)  # either file order
    assert [o.accuracy for o in r.outcomes] == pytest.approx([row[-1] for row in HAND])
    # 100 * (0 + 1 + .9 + .6 + .9 + .6 + 0) / 7 = 57.142857 -> 57.14
    assert r.metrics == {"accuracy": 57.14, "per_answer_type/number": 83.33, "per_answer_type/other": 50.0,
                         "per_answer_type/yes/no": 0.0, "per_question_type/how many": 83.33,
                         "per_question_type/what": 37.5}
    assert r.n == 7 and r.notes == {"missing": 1} and r.protocol == "official"
    assert OKVQA().aggregate(r.outcomes) == r.metrics
    assert OKVQA().aggregate(r.outcomes[1:3])["accuracy"] == 95.0


def test_load_prompts_and_coco_image_paths(hand: tuple[Path, Path, Path], tmp_path: Path) -> None:
    qs, _, _ = hand
    items = OKVQA().load([qs])  # the annotations are not needed to ask the questions
    assert [i.id for i in items] == [str(row[0]) for row in HAND]
    assert items[0].prompt == f"question 1?\n{PROMPT_SUFFIX}"
    assert items[0].prompt.endswith("\nAnswer the question using a single word or phrase.")
    assert items[0].image == str(tmp_path / "val2014" / "COCO_val2014_000000000101.jpg")
    assert OKVQA().load([qs], Path("/coco"))[1].image == "/coco/val2014/COCO_val2014_000000000102.jpg"


def test_write_predictions_is_vqa_results(hand: tuple[Path, Path, Path], tmp_path: Path) -> None:
    qs, _, _ = hand
    items = OKVQA().load([qs])[:2]
    OKVQA().write_predictions(items, ["yes", "3 sides\n"], tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == [{"question_id": 1, "answer": "yes"},
                                                               {"question_id": 2, "answer": "3 sides\n"}]


def bad_case(tmp_path: Path, hand: tuple[Path, Path, Path], which: str, content: object) -> list[Path]:
    qs, anns, preds = hand
    files = {"q": qs, "a": anns, "p": preds}
    files[which] = write(tmp_path / f"bad_{which}.json", content)
    return [files["q"], files["a"], files["p"]]


@pytest.mark.parametrize("which, content, problem", [
    ("p", {"question_id": 1, "answer": "yes"}, "expected a JSON list"),
    ("p", [{"question_id": 1}], "prediction 1 has no 'answer' field"),
    ("p", [{"question_id": "1", "answer": "yes"}], "'question_id' must be int"),
    ("p", [{"question_id": 1, "answer": "yes"}, {"question_id": 1, "answer": "no"}],
     "question_id 1 is predicted twice"),
    ("p", [{"question_id": 99, "answer": "yes"}], "1 predictions are for question_ids not in .*first: 99"),
    ("a", {"annotations": [{"question_id": 1, "image_id": 1, "answer_type": "x", "question_type": "y"}]},
     "annotation 1 has no 'answers' field"),
    ("a", {"annotations": [{"question_id": 1, "image_id": 1, "answers": [{"answer": 3}], "answer_type": "x",
                            "question_type": "y"}]}, "every answer needs an 'answer' string"),
    ("a", {"annotations": [{"question_id": 42, "image_id": 1, "answers": [{"answer": "x"}], "answer_type": "x",
                            "question_type": "y"}]}, "question_id 42 is not in the questions file"),
    ("q", {"questions": [{"image_id": 1, "question": "?", "question_id": 1}] * 2}, "question_id 1 occurs twice"),
    ("q", {"questions": {"image_id": 1}}, "expected a JSON object with a 'questions' list"),
    ("q", [{"image_id": 1, "question": "?", "question_id": 1}], "expected one VQA questions JSON"),
])
def test_malformed_input_names_the_file(tmp_path: Path, hand: tuple[Path, Path, Path], which: str, content: object,
                                        problem: str) -> None:
    qs, anns, preds = bad_case(tmp_path, hand, which, content)
    with pytest.raises(BadInput, match=rf"bad_{which}\.json: .*{problem}"):
        OKVQA().score([qs, anns], preds)


def test_scoring_needs_the_annotations(hand: tuple[Path, Path, Path]) -> None:
    qs, _, preds = hand
    with pytest.raises(BadInput, match=r"questions\.json: scoring needs the annotations JSON"):
        OKVQA().score([qs], preds)
    with pytest.raises(BadInput, match=r"expected one VQA questions JSON"):
        OKVQA().score([qs, qs], preds)


def test_not_json_is_bad_input(tmp_path: Path, hand: tuple[Path, Path, Path]) -> None:
    qs, anns, _ = hand
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(BadInput, match=r"bad\.json: not valid JSON"):
        OKVQA().score([qs, anns], bad)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 24})
    return root


def test_world_questions_have_realistic_answers(world: Path) -> None:
    for scene in read_scenes(world, "bench"):
        rng = random.Random(scene.image_id)
        for q in knowledge_questions(scene, rng):
            main = normalize_answer(q.answer)
            assert all(normalize_answer(v) == main for v in q.variants)
            assert all(normalize_answer(a) != main for a in q.alternatives)
            raw = annotator_answers(q, rng)
            top, count = Counter(raw).most_common(1)[0]
            assert len(raw) == 10 and top == q.answer and count >= 4
            # The question never names what the image must show: the shape, or for colour questions the colour.
            words = set(q.question.rstrip("?.").split())
            hidden = set(COLOURS) if q.question_type == "colour" else set(all_object_words())
            assert not words & hidden, q.question


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    b = OKVQA()
    files = b.synthesize(scenes, world / "images", tmp_path / "out", seed=3)
    assert list(files) == ["val"]
    qpath, apath = files["val"]
    assert qpath.name == "OpenEnded_world_val_questions.json" and apath.name == "world_val_annotations.json"
    anns = json.loads(apath.read_text())["annotations"]
    assert len(anns) >= len(scenes) and all(len(a["answers"]) == 10 for a in anns)
    assert {a["answer_type"] for a in anns} == {"number", "other"}
    assert any(len({x["answer"] for x in a["answers"]}) == 1 for a in anns)  # some unanimous questions
    items = b.load(files["val"], world / "images")
    assert all(Path(str(i.image)).is_file() for i in items)
    assert [int(i.id) for i in items] == [a["question_id"] for a in anns]
    # Predicting each question's most common raw answer scores 100 everywhere.
    by_id = {a["question_id"]: Counter(x["answer"] for x in a["answers"]).most_common(1)[0][0] for a in anns}
    b.write_predictions(items, [by_id[int(i.id)] for i in items], tmp_path / "perfect.json")
    r = b.score(files["val"], tmp_path / "perfect.json")
    assert r.metrics["accuracy"] == 100.0 and r.metrics["per_answer_type/number"] == 100.0
    assert r.notes == {"missing": 0} and r.n == len(items)
    b.write_predictions(items, ["yes"] * len(items), tmp_path / "yes.json")
    assert b.score(files["val"], tmp_path / "yes.json").metrics["accuracy"] == 0.0


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = OKVQA().synthesize(scenes, world / "images", tmp_path / "a", seed=5)
    b = OKVQA().synthesize(scenes, world / "images", tmp_path / "b", seed=5)
    c = OKVQA().synthesize(scenes, world / "images", tmp_path / "c", seed=6)
    assert [p.read_bytes() for p in a["val"]] == [p.read_bytes() for p in b["val"]]
    assert a["val"][1].read_bytes() != c["val"][1].read_bytes()


def test_batched_scorer_equals_the_plain_rule_on_random_questions() -> None:
    # VqaScorer (ids, arrays, pattern sums) against vqa_accuracy(prepare_ground_truth) item by
    # item: the same float, bit for bit, including unanimous questions, whitespace, questions of
    # other sizes, missing and repeated answer_ids (the general path) and missing predictions.
    from benchmarks.vqa_eval import VqaScorer

    rng = random.Random(7)
    words = ["yes", "Yes.", "no", "two", "2", " 2\n", "1,000", "1000", "the dog", "a dog", "dont", "don't",
             "red", "red.", "U.S.A.", "usa", "3.5", "none", "0", "hot-dog", "hot dog", "a\tb"]
    questions, preds = [], []
    for _ in range(3000):
        n = rng.choice([10, 10, 10, 3, 1, 7])
        base = rng.choice(words)
        texts = [base] * n if rng.random() < 0.2 else [rng.choice([base] * 3 + words) for _ in range(n)]
        ids: list = list(range(1, n + 1))
        if rng.random() < 0.1:
            ids = [None] * n
        elif rng.random() < 0.1:
            ids = [rng.randint(1, 3) for _ in range(n)]
        questions.append([{"answer": t} if i is None else {"answer": t, "answer_id": i} for t, i in zip(texts, ids)])
        preds.append(None if rng.random() < 0.05 else rng.choice(words))
    fast = VqaScorer().accuracies(questions, preds)
    plain = [0.0 if p is None else vqa_accuracy(p, prepare_ground_truth(q)) for q, p in zip(questions, preds)]
    assert fast == plain
    assert len({round(x, 6) for x in fast}) >= 6  # the draw reaches many different accuracies
