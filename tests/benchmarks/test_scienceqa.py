"""ScienceQA: LLaVA's letter extraction, the official categories on a hand-scored split, bad
input, images, and the world round trip."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.scienceqa import CATEGORY_KEYS, ScienceQA, build_prompt, choice_index, extract_letter
from harness.core.errors import BadInput, MissingResource
from harness.world.export import read_scenes, write_world


@pytest.mark.parametrize("text, letter", [
    ("B", "B"),
    ("E", "E"),
    ("F", None),  # only A-E are options
    ("B. text", "B"),
    ("B. ", "B"),  # three characters: enough
    ("B.", None),  # too short for the "X. " rule, and no "The answer is"
    ("B.text", None),
    (" B", None),  # raw text: no stripping
    ("B\n", None),
    ("b", None),  # case-sensitive
    ("b. text", None),
    ("The answer is C.", "C"),
    ("I think The answer is D, surely", "D"),  # the final '.' matches any character
    ("The answer is F.", "F"),  # any capital is read; `choice_index` rejects it
    ("The answer is C", None),  # nothing after the letter for the '.' to match
    ("The answer is C\n", None),  # '.' does not match a newline
    ("the answer is C.", None),
    ("The answer is A. The answer is B.", None),  # two matches
    ("The answer is A. The answer is A.", None),  # two matches, even if they agree
    ("Answer: B", None),
])
def test_extract_letter(text: str, letter: str | None) -> None:
    assert extract_letter(text) == letter


def test_choice_index() -> None:
    assert choice_index("B", 2) == 1 and choice_index("E", 5) == 4
    assert choice_index("C", 2) == -1  # beyond the item's choices
    assert choice_index("F", 5) == -1 and choice_index(None, 4) == -1


def test_prompt_is_llava_format() -> None:
    suffix = "Answer with the option's letter from the given choices directly."
    assert build_prompt("Which is hot?", ["ice", "fire"], "Think.") == \
        f"Context: Think.\nWhich is hot?\nA. ice\nB. fire\n{suffix}"
    assert build_prompt("Which is hot?", ["ice", "fire"], "") == f"Which is hot?\nA. ice\nB. fire\n{suffix}"
    assert build_prompt("Q?", ["x"], None) == f"Q?\nA. x\n{suffix}"


def problem(subject: str, grade: int, hint: str, image: str | None, n: int, answer: int) -> dict:
    return {"question": "Q?", "choices": [f"c{i}" for i in range(n)], "answer": answer, "hint": hint, "image": image,
            "task": "closed choice", "grade": f"grade{grade}", "subject": f"{subject} science", "lecture": "",
            "solution": ""}


# pid: (subject, grade, hint, image, choices, answer index), and the reply (None: no prediction).
TABLE = {
    "1": (("natural", 2, "", "image.png", 3, 1), "B"),  # right
    "2": (("natural", 8, "Some hint", None, 2, 0), "A. yes"),  # right
    "3": (("social", 4, "", None, 4, 2), "The answer is C."),  # right
    "4": (("social", 10, "hint", "image.png", 4, 3), "The answer is D. The answer is D."),  # two matches
    "5": (("language", 1, "", None, 2, 1), "b"),  # lower case
    "6": (("language", 7, "", None, 2, 1), "C"),  # beyond the two choices
    "7": (("natural", 5, "h", None, 3, 0), None),  # missing
    "8": (("language", 12, "", "image.png", 5, 4), "E. the fifth"),  # right
    "9": (("natural", 3, "", None, 2, 0), "A"),  # val split: right
}


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def sqa(tmp_path: Path) -> tuple[Path, Path, Path]:
    problems = write(tmp_path / "problems.json", {pid: problem(*spec) for pid, (spec, _) in TABLE.items()})
    splits = write(tmp_path / "pid_splits.json", {"train": [], "val": ["9"], "test": [str(i) for i in range(1, 9)]})
    # Reverse order, and the val prediction too: pairing is by question_id and only the split counts.
    preds = write_lines(tmp_path / "answers.jsonl", [{"question_id": pid, "text": text, "prompt": "p"}
                                                     for pid, (_, text) in reversed(TABLE.items()) if text is not None])
    return problems, splits, preds


def test_registered() -> None:
    b = BENCHMARKS.get("scienceqa")
    assert b is ScienceQA and b.primary_metric == "accuracy" and b.higher_is_better and b.splits == ("test",)


def test_hand_computed_metrics(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    r = ScienceQA().score([splits, problems], preds)  # either file order
    # Right: 1, 2, 3, 8. NAT 1,2,7; SOC 3,4; LAN 5,6,8; TXT 2,4,7; IMG 1,4,8; NO 3,5,6;
    # G1-6 1,3,5,7; G7-12 2,4,6,8.
    assert r.metrics == pytest.approx({"accuracy": 50.0, "NAT": 200 / 3, "SOC": 50.0, "LAN": 100 / 3,
                                       "TXT": 100 / 3, "IMG": 200 / 3, "NO": 100 / 3, "G1-6": 50.0, "G7-12": 50.0})
    assert list(r.metrics) == ["accuracy", *CATEGORY_KEYS]
    assert r.n == 8 and r.protocol == "official"
    # 4 (two matches) and 5 (lower case) read nothing; 6 reads C, which is out of range.
    assert r.notes == {"split": "test", "missing": 1, "unread": 2, "unknown": 1}  # a val pid
    assert [o.letter for o in r.outcomes] == ["B", "A", "C", None, None, "C", None, "E"]
    assert ScienceQA().aggregate(r.outcomes) == r.metrics


def test_empty_categories_are_left_out(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    r = ScienceQA().score([problems, splits], preds)
    # Problems 1 (NAT, IMG, G1-6) and 3 (SOC, NO, G1-6), both right.
    assert ScienceQA().aggregate([r.outcomes[0], r.outcomes[2]]) == {
        "accuracy": 100.0, "NAT": 100.0, "SOC": 100.0, "IMG": 100.0, "NO": 100.0, "G1-6": 100.0}


def test_other_split(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    r = ScienceQA(split="val").score([problems, splits], preds)
    assert r.n == 1 and r.metrics["accuracy"] == 100.0 and r.notes["split"] == "val"
    with pytest.raises(BadInput, match=r"pid_splits\.json: no split 'minitest'"):
        ScienceQA(split="minitest").score([problems, splits], preds)
    with pytest.raises(BadInput, match=r"pid_splits\.json: split 'train' is empty"):
        ScienceQA(split="train").score([problems, splits], preds)


def test_split_field_without_pid_splits(tmp_path: Path) -> None:
    probs = {"1": {**problem("natural", 2, "", None, 2, 0), "split": "test"},
             "2": {**problem("natural", 2, "", None, 2, 1), "split": "val"}}
    p = write(tmp_path / "problems.json", probs)
    preds = write_lines(tmp_path / "a.jsonl", [{"question_id": 1, "text": "A"}])  # an integer id is matched too
    r = ScienceQA().score([p], preds)
    assert r.n == 1 and r.metrics["accuracy"] == 100.0
    # As LLaVA's eval_science_qa.py: predictions for pids outside the split are never looked at.
    more = write_lines(tmp_path / "b.jsonl", [{"question_id": 1, "text": "A"}, {"question_id": "2", "text": "B"},
                                              {"question_id": "77", "text": "C"}])
    r = ScienceQA().score([p], more)
    assert r.metrics["accuracy"] == 100.0 and r.notes["unknown"] == 2


@pytest.mark.parametrize("rows, problem_text", [
    ([{"question_id": "1", "text": "A"}, {"question_id": "1", "text": "B"}], "question_id 1 is predicted twice"),
    ([{"question_id": "77", "text": "A"}], "none of its 1 predictions is for a problem of split"),
    ([{"question_id": "1"}], "no 'text' string"),
    ([{"text": "A"}], "no string or integer 'question_id'"),
    ([{"question_id": "9", "text": "A"}], "none of its 1 predictions is for a problem of split 'test'"),
])
def test_bad_predictions_name_the_file(sqa: tuple[Path, Path, Path], tmp_path: Path, rows: list[dict],
                                       problem_text: str) -> None:
    problems, splits, _ = sqa
    bad = write_lines(tmp_path / "bad.jsonl", rows)
    with pytest.raises(BadInput, match=rf"bad\.jsonl.*{problem_text}"):
        ScienceQA().score([problems, splits], bad)


def test_prediction_file_not_json(sqa: tuple[Path, Path, Path], tmp_path: Path) -> None:
    problems, splits, _ = sqa
    bad = tmp_path / "bad.jsonl"
    bad.write_text("B\n")
    with pytest.raises(BadInput, match=r"bad\.jsonl:1: not valid JSON"):
        ScienceQA().score([problems, splits], bad)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["3"].pop("answer"), r"problems\.json: problem 3 has no 'answer' field"),
    (lambda d: d["3"].update(answer=4), r"problems\.json: problem 3: answer 4 is not an index of its 4 choices"),
    (lambda d: d["3"].update(choices="c0"), r"problems\.json: problem 3: 'choices' must be a list"),
    (lambda d: d["3"].update(answer=True), r"problems\.json: problem 3: 'answer' must be a int"),
    (lambda d: d["3"].update(image=5), r"problems\.json: problem 3: 'image' must be a string or null"),
    (lambda d: d.update({"3": ["not", "a", "problem"]}), r"problems\.json: problem 3 is not a JSON object"),
])
def test_malformed_problems_name_the_file(sqa: tuple[Path, Path, Path], edit, message: str) -> None:
    problems, splits, preds = sqa
    doc = json.loads(problems.read_text())
    edit(doc)
    write(problems, doc)
    with pytest.raises(BadInput, match=message):
        ScienceQA().score([problems, splits], preds)


def test_malformed_data_files(sqa: tuple[Path, Path, Path], tmp_path: Path) -> None:
    problems, splits, preds = sqa
    with pytest.raises(BadInput, match=r"list\.json: expected a non-empty JSON object"):
        ScienceQA().score([write(tmp_path / "list.json", [1, 2]), splits], preds)
    with pytest.raises(BadInput, match=r"no problems\.json among the data files"):
        ScienceQA().score([splits], preds)
    with pytest.raises(BadInput, match=r"copy\.json: a second problems file"):
        ScienceQA().score([problems, write(tmp_path / "copy.json", json.loads(problems.read_text()))], preds)
    with pytest.raises(BadInput, match=r"s2\.json: split 'test' names 1 pids not in problems\.json \(first: 99\)"):
        ScienceQA().score([problems, write(tmp_path / "s2.json", {"test": ["1", "99"]})], preds)
    with pytest.raises(BadInput, match=r"s3\.json: split 'test' lists a pid twice"):
        ScienceQA().score([problems, write(tmp_path / "s3.json", {"test": ["1", "1"]})], preds)


def test_images_resolve_under_the_data_folder(sqa: tuple[Path, Path, Path], tmp_path: Path) -> None:
    problems, splits, _ = sqa
    with pytest.raises(MissingResource, match=r"image of problem 1 not found"):
        ScienceQA().load([problems, splits])
    for pid in ("1", "4"):  # flat layout images/<pid>/
        (tmp_path / "images" / pid).mkdir(parents=True)
        (tmp_path / "images" / pid / "image.png").write_bytes(b"png")
    (tmp_path / "images" / "test" / "8").mkdir(parents=True)  # official layout images/<split>/<pid>/
    (tmp_path / "images" / "test" / "8" / "image.png").write_bytes(b"png")
    items = ScienceQA().load([problems, splits])
    assert [i.id for i in items] == [str(i) for i in range(1, 9)]
    assert items[0].image == str(tmp_path / "images" / "1" / "image.png")
    assert items[7].image == str(tmp_path / "images" / "test" / "8" / "image.png")
    assert items[1].image is None
    assert items[1].prompt.startswith("Context: Some hint\nQ?\nA. c0\nB. c1\n")
    other = tmp_path / "elsewhere"
    (other / "1").mkdir(parents=True)
    (other / "1" / "image.png").write_bytes(b"png")
    assert ScienceQA().load([problems, splits], image_root=other)[0].image == str(other / "1" / "image.png")


@pytest.mark.parametrize("image", ["../2/image.png", "/etc/passwd", "a/../../x.png"])
def test_image_outside_the_data_folder_is_bad_input(tmp_path: Path, image: str) -> None:
    p = write(tmp_path / "problems.json", {"1": {**problem("natural", 2, "", image, 2, 0), "split": "test"}})
    with pytest.raises(BadInput, match=r"problems\.json: problem 1: image .* points outside the data folder"):
        ScienceQA().load([p])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 40})
    return root


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    b = ScienceQA()
    files = b.synthesize(read_scenes(world, "bench"), world / "images", tmp_path / "sqa", seed=1)
    assert files == {"test": [tmp_path / "sqa" / "problems.json", tmp_path / "sqa" / "pid_splits.json"]}
    problems = json.loads(files["test"][0].read_text())
    splits = json.loads(files["test"][1].read_text())
    assert set(splits) == {"train", "val", "test"} and splits["val"] and splits["test"]
    items = b.load(files["test"], image_root=world / "images")  # the pipeline passes the world's image root
    assert [i.id for i in items] == splits["test"]
    for it in items:
        p = problems[it.id]
        assert p["split"] == "test" and p["subject"] in ("natural science", "social science", "language science")
        assert it.prompt == build_prompt(p["question"], p["choices"], p["hint"])
        assert (it.image is None) == (p["image"] is None)
        if it.image is not None:
            assert Path(it.image) == tmp_path / "sqa" / "images" / it.id / "image.png" and Path(it.image).is_file()
    keys = [problems[i.id]["answer"] for i in items]
    right = [f"{'ABCDE'[k]}. {problems[i.id]['choices'][k]}" for i, k in zip(items, keys)]  # the "X. text" form
    b.write_predictions(items, right, tmp_path / "right.jsonl")
    m = b.score(files["test"], tmp_path / "right.jsonl").metrics
    assert set(m) == {"accuracy", *CATEGORY_KEYS} and set(m.values()) == {100.0}
    b.write_predictions(items, ["A"] * len(items), tmp_path / "a.jsonl")
    expected = 100 * keys.count(0) / len(items)
    assert b.score(files["test"], tmp_path / "a.jsonl").metrics["accuracy"] == pytest.approx(expected)
    with pytest.raises(BadInput, match=rf"none of its {len(items)} predictions is for a problem of split 'val'"):
        ScienceQA(split="val").score(files["test"], tmp_path / "right.jsonl")


def test_world_items_need_the_image_or_are_text_only(world: Path, tmp_path: Path) -> None:
    files = ScienceQA().synthesize(read_scenes(world, "bench"), world / "images", tmp_path / "sqa", seed=1)
    problems = json.loads(files["test"][0].read_text())
    with_image = [p for p in problems.values() if p["image"]]
    assert with_image and all(p["subject"] != "language science" for p in with_image)
    assert any(p["hint"] and p["image"] for p in problems.values())  # TXT and IMG together
    assert all(0 <= p["answer"] < len(p["choices"]) <= 5 for p in problems.values())
    assert all(len(set(p["choices"])) == len(p["choices"]) for p in problems.values())


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = ScienceQA().synthesize(scenes, world / "images", tmp_path / "a", seed=5)["test"]
    b = ScienceQA().synthesize(scenes, world / "images", tmp_path / "b", seed=5)["test"]
    c = ScienceQA().synthesize(scenes, world / "images", tmp_path / "c", seed=6)["test"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


def test_cli_score_json(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    r = subprocess.run([sys.executable, "-m", "harness.cli", "score", "scienceqa", "--data", str(problems),
                        "--data", str(splits), "--predictions", str(preds), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["accuracy"] == 50.0 and out["n"] == 8 and out["protocol"] == "official"
