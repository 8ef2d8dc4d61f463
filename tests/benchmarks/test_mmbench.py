"""MMBench: prompt, CircularEval expansion and scoring, file reading, and the world round trip."""

import base64
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import BENCHMARKS
from benchmarks._mmbench_world import L2_ORDER, build_questions
from benchmarks.mmbench import MMBench, McqRow, build_prompt, circular_passes, letter_like, read_table
from harness.core.errors import BadInput
from harness.world.export import read_scenes, write_world

IMG = base64.b64encode(b"\x89PNG fake image bytes " * 8).decode()


def test_registered() -> None:
    assert BENCHMARKS.get("mmbench") is MMBench and MMBench.primary_metric == "overall"


def test_prompt_is_pinned() -> None:
    assert build_prompt("What colour is the star?", ["red", "blue"]) == (
        "What colour is the star?\nA. red\nB. blue\nAnswer with the option's letter from the given choices directly.")
    assert build_prompt("Crowded?", ["crowded", "sparse", "empty"], hint="Four or more is crowded.") == (
        "Four or more is crowded.\nCrowded?\nA. crowded\nB. sparse\nC. empty\n"
        "Answer with the option's letter from the given choices directly.")


def row(index: int, options: list[str], answer: str, cat: str = "c", l2: str = "l") -> McqRow:
    return McqRow(index, f"q{index}", None, dict(zip("ABCD", options)), answer, cat, l2, "")


def test_rotation_mapping_and_indices() -> None:
    passes = circular_passes([row(7, ["x", "y", "z"], "B")])
    assert [p.index for p in passes] == [7, 1_000_007, 2_000_007]
    assert {p.group for p in passes} == {7}
    assert [p.options for p in passes] == [{"A": "x", "B": "y", "C": "z"},
                                           {"A": "y", "B": "z", "C": "x"},  # copy 1 shows original B as A
                                           {"A": "z", "B": "x", "C": "y"}]
    assert [p.answer for p in passes] == ["B", "A", "C"]  # the right text "y" wherever it moved


@pytest.mark.parametrize("options, expected", [
    (["A", "B"], True), (["B. red", "blue"], True), (["Both A and C", "red", "x"], True),
    (["A dog", "a cat"], False), (["red", "blue"], False), (["C", "D"], False),  # C, D are not this item's letters
])
def test_letter_like(options: list[str], expected: bool) -> None:
    assert letter_like(dict(zip("AB" + "CD", options))) is expected


def test_letter_like_items_are_not_rotated() -> None:
    passes = circular_passes([row(3, ["A", "B", "neither"], "B")])
    assert [(p.index, p.answer) for p in passes] == [(3, "B")]


def test_pre_expanded_files_are_taken_as_they_are() -> None:
    rows = [row(5, ["x", "y"], "A"), row(1_000_005, ["y", "x"], "B")]
    passes = circular_passes(rows)
    assert [(p.index, p.group, p.answer) for p in passes] == [(5, 5, "A"), (1_000_005, 5, "B")]


def write_tsv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Two questions: index 1 (2 options, l2 'p', cat 'a') and 2 (3 options, l2 'p', cat 'b')."""
    return write_tsv(tmp_path / "mm.tsv", [
        {"index": 1, "question": "Which?", "hint": "", "A": "red", "B": "blue", "C": "", "D": "", "answer": "B",
         "category": "a", "l2-category": "p", "image": IMG, "split": "dev"},
        {"index": 2, "question": "How many?", "hint": "Count them.", "A": "1", "B": "2", "C": "3", "D": "",
         "answer": "C", "category": "b", "l2-category": "p", "image": "1", "split": "dev"}])


def preds(path: Path, answers: dict[int, str]) -> Path:
    path.write_text("".join(json.dumps({"index": i, "prediction": p}) + "\n" for i, p in answers.items()))
    return path


def test_load_expands_and_resolves_image_references(small: Path) -> None:
    items = MMBench().load([small])
    assert [i.id for i in items] == ["1", "1000001", "2", "1000002", "2000002"]
    assert items[2].prompt.startswith("Count them.\nHow many?\nA. 1\nB. 2\nC. 3\n")
    assert items[3].prompt.splitlines()[2:5] == ["A. 2", "B. 3", "C. 1"]
    assert items[4].image == items[0].image == base64.b64decode(IMG)  # the "1" cell names row 1's image
    assert read_table(small)[1].options == {"A": "1", "B": "2", "C": "3"}  # read as text, not 1.0


def test_a_question_fails_when_one_pass_is_wrong(small: Path, tmp_path: Path) -> None:
    # q1: right (B), then right (A shows blue). q2: right (C), right (B), wrong (B instead of A).
    p = preds(tmp_path / "p.jsonl", {1: "B", 1_000_001: "A", 2: "C", 1_000_002: "(B)", 2_000_002: "B"})
    r = MMBench().score([small], p)
    assert [(o.index, o.hit) for o in r.outcomes] == [(1, True), (2, False)]
    assert r.metrics == {"overall": 50.0, "p": 50.0, "a": 100.0, "b": 0.0}
    assert MMBench().aggregate(r.outcomes) == r.metrics
    assert r.notes["unresolved_passes"] == 0 and r.n == 2


def test_unresolved_and_refused_passes_are_counted(small: Path, tmp_path: Path) -> None:
    p = preds(tmp_path / "p.jsonl", {1: "The second one, I think, looking at the picture", 1_000_001: "blue",
                                     2: "Cannot determine the answer", 1_000_002: "B", 2_000_002: "A"})
    r = MMBench().score([small], p)
    assert r.metrics["overall"] == 0.0
    assert r.notes["unresolved_passes"] == 1 and r.notes["refused_passes"] == 1
    assert r.notes["questions_with_unresolved"] == 1 and r.protocol == "official"


def test_judge_hook_reads_only_unresolved_passes(small: Path, tmp_path: Path) -> None:
    asked: list[str] = []

    def judge(question: str, options: dict, prediction: str) -> str | None:
        asked.append(prediction)
        return "B"

    p = preds(tmp_path / "p.jsonl", {1: "The second one, I think, looking at the picture", 1_000_001: "blue",
                                     2: "Hmm, hard to say really for sure", 1_000_002: "A", 2_000_002: "A"})
    r = MMBench(judge=judge).score([small], p)
    assert asked == ["The second one, I think, looking at the picture"]  # q2 already failed on a wrong pass
    assert [o.hit for o in r.outcomes] == [True, False] and r.protocol == "official+judge"


def test_missing_and_malformed_predictions(small: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"few\.jsonl: 2 of 5 CircularEval passes have no prediction"):
        MMBench().score([small], preds(tmp_path / "few.jsonl", {1: "B", 1_000_001: "A", 2: "C"}))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"index": 1, "prediction": 3}\n')
    with pytest.raises(BadInput, match=r"bad\.jsonl: prediction 1 .* no 'prediction' string"):
        MMBench().score([small], bad)
    bad.write_text("{oops\n")
    with pytest.raises(BadInput, match=r"bad\.jsonl:1: not valid JSON"):
        MMBench().score([small], bad)


def test_bad_answer_names_the_tsv(tmp_path: Path) -> None:
    tsv = write_tsv(tmp_path / "x.tsv", [{"index": 0, "question": "q", "A": "a", "B": "b", "answer": "C"}])
    with pytest.raises(BadInput, match=r"x\.tsv: index 0: answer 'C'"):
        MMBench().load([tsv])


def test_xlsx_data_and_tsv_predictions(small: Path, tmp_path: Path) -> None:
    xlsx = tmp_path / "mm.xlsx"
    pd.read_csv(small, sep="\t", dtype=str, keep_default_na=False).to_excel(xlsx, index=False)
    assert [i.prompt for i in MMBench().load([xlsx])] == [i.prompt for i in MMBench().load([small])]
    ptsv = write_tsv(tmp_path / "p.tsv", [{"index": i, "prediction": "A"} for i in (1, 1_000_001, 2, 1_000_002,
                                                                                     2_000_002)])
    assert MMBench().score([xlsx], ptsv).metrics["overall"] == 0.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 24})
    return root


def test_world_questions_are_balanced_and_well_formed(world: Path) -> None:
    scenes = read_scenes(world, "bench")
    qs = build_questions(scenes, seed=1, per_l2=12)
    assert Counter(q["l2-category"] for q in qs) == {l2: 12 for l2 in L2_ORDER}
    by_n = Counter()
    for q in qs:
        opts = [q[c] for c in "ABCD" if q[c]]
        assert 2 <= len(opts) <= 4 and len(set(opts)) == len(opts)
        assert not letter_like(dict(zip("ABCD", opts)))
        assert q[q["answer"]] in opts
        if q["category"] in ("attribute_recognition", "identity_reasoning") and " or " not in q["question"]:
            assert q[q["answer"]] not in q["question"]  # the question does not name its answer
        by_n[len(opts), q["answer"]] += 1
    for n in (2, 3, 4):  # the right letter is spread evenly over the positions
        counts = [by_n[n, c] for c in "ABCD"[:n]]
        assert max(counts) - min(counts) <= 1


def test_world_answers_agree_with_ground_truth(world: Path) -> None:
    scenes = {s.image_id: s for s in read_scenes(world, "bench")}
    for q in build_questions(list(scenes.values()), seed=2, per_l2=24):
        s, right = scenes[q["image_id"]], q[q["answer"]]
        if q["question"] == "How many shapes are there in the image?":
            assert right == str(len(s.objects))
        elif q["question"].startswith("How many big "):
            plural = q["question"].split()[3]
            assert right == str(sum(o.size == "big" and plural.startswith(o.shape) for o in s.objects))
        elif q["question"].startswith("How many ") and q["question"].endswith(" shapes are there?"):
            assert right == str(sum(o.colour == q["question"].split()[2] for o in s.objects))
        elif q["category"] == "image_scene":
            assert right == ("crowded" if len(s.objects) >= 4 else "sparse")


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    b = MMBench()
    files = b.synthesize(scenes, world / "images", tmp_path / "out", seed=0)
    (tsv,) = files["dev"]
    assert tsv.name == "world_mmbench_dev.tsv"
    assert list(pd.read_csv(tsv, sep="\t", nrows=1).columns) == ["index", "question", "hint", "A", "B", "C", "D",
                                                                 "answer", "category", "l2-category", "image",
                                                                 "split"]
    items = b.load([tsv])
    assert all(isinstance(i.image, bytes) and i.image.startswith(b"\x89PNG") for i in items)
    passes = circular_passes(read_table(tsv))
    b.write_predictions(items, [p.answer for p in passes], tmp_path / "perfect.jsonl")
    r = b.score([tsv], tmp_path / "perfect.jsonl")
    assert r.metrics["overall"] == 100.0 and set(L2_ORDER) <= set(r.metrics)
    b.write_predictions(items, ["A"] * len(items), tmp_path / "a.jsonl")
    assert b.score([tsv], tmp_path / "a.jsonl").metrics["overall"] < 100.0


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = MMBench().synthesize(scenes, world / "images", tmp_path / "a", seed=4)["dev"][0]
    b = MMBench().synthesize(scenes, world / "images", tmp_path / "b", seed=4)["dev"][0]
    c = MMBench().synthesize(scenes, world / "images", tmp_path / "c", seed=5)["dev"][0]
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_count_questions_give_a_blind_model_nothing_to_bet_on(world: Path) -> None:
    """Counts that may be zero: options always 0-3 in a random order, each right answer equally
    common (a blind model had learned to pick the smallest of four consecutive counts)."""
    qs = build_questions(read_scenes(world, "bench"), seed=1, per_l2=1000)  # every draft
    by: dict[str, Counter] = {}
    orders = set()
    for q in qs:
        if q["l2-category"] != "logic_reasoning":
            continue
        opts = [q[c] for c in "ABCD"]
        assert sorted(opts) == ["0", "1", "2", "3"]
        orders.add(tuple(opts))
        by.setdefault("big" if q["question"].startswith("How many big") else "colour", Counter())[q[q["answer"]]] += 1
    assert set(by) == {"big", "colour"}
    for counts in by.values():
        assert len(set(counts.values())) == 1 and len(counts) >= 2
    assert len(orders) > 4  # not one fixed order
