"""`vigc-bench quality --instances`: CHAIR-style hallucination and coverage against hand-built COCO
annotations whose counts are worked out by hand below."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.core.io import write_jsonl
from harness.core.records import GenerationRecord
from tests.harness.cli._run import run_cli

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "cat"},
              {"id": 4, "name": "couch"}, {"id": 5, "name": "car"}]
# image 1: dog, couch; image 2: person, car; image 3: cat.
IMAGES = [{"id": 1, "file_name": "COCO_val2014_000000000001.jpg"},
          {"id": 2, "file_name": "COCO_val2014_000000000002.jpg"}, {"id": 3, "file_name": "000000000003.jpg"}]
ANNOTATIONS = [(1, 2), (1, 4), (1, 2), (2, 1), (2, 5), (3, 3)]  # (image, category); a second dog on image 1


def rec(i: int, image: str, answer: str, data_type: str) -> GenerationRecord:
    return GenerationRecord(id=f"r{i}", image=image, generator="test", data_type=data_type, prompt="p",
                            raw_output=answer, parse_status="ok", question="What is in the image?", answer=answer)


# Mentions (CHAIR's COCO rules) and, without captions, the hallucinated ones:
RECORDS = [
    # r1 image 1: dog, couch, cat -> 3 mentions, cat hallucinated
    rec(1, "COCO_val2014_000000000001.jpg", "A dog is sleeping on the couch next to a cat.", "conversation"),
    # r2 image 1: dog -> 1 mention, none hallucinated
    rec(2, "COCO_val2014_000000000001.jpg", "The image shows a brown dog.", "detail"),
    # r3 image 2 (matched by the id ending its file name): man (person), bicycle -> bicycle hallucinated,
    # unless the captions (which say "bicycle") are given
    rec(3, "elsewhere/COCO_train2014_000000000002.jpg", "A man is riding a bicycle.", "conversation"),
    # r4 image 2: no mention
    rec(4, "elsewhere/COCO_train2014_000000000002.jpg", "Yes.", "detail"),
    # r5 image 3 (matched by file name): cat -> clean
    rec(5, "train2017/000000000003.jpg", "A cat is sleeping.", "conversation"),
]

# Worked out by hand (0-100):
# conversation: mentions 3+2+1 = 6, hallucinated 1+1+0 = 2 -> CHAIRi 33.33; answers naming an object 3,
#   with a hallucination 2 -> CHAIRs 66.67; coverage: image 1 {dog, couch} of {dog, couch} = 1,
#   image 2 {person} of {person, car} = 0.5, image 3 {cat} of {cat} = 1 -> 83.33
# detail: mentions 1, hallucinated 0 -> CHAIRi 0; CHAIRs 0 of 1 -> 0; coverage: image 1 {dog} of 2 = 0.5,
#   image 2 nothing of 2 = 0 -> 25
# all: mentions 7, hallucinated 2 -> 28.57; CHAIRs 2 of 4 -> 50; coverage (per image over both types):
#   1, 0.5, 1 -> 83.33
EXPECTED = {
    ("conversation", "coco_chair_i"): (100 * 2 / 6, 6), ("conversation", "coco_chair_s"): (100 * 2 / 3, 3),
    ("conversation", "coco_coverage"): (100 * 2.5 / 3, 3),
    ("detail", "coco_chair_i"): (0.0, 1), ("detail", "coco_chair_s"): (0.0, 1), ("detail", "coco_coverage"): (25.0, 2),
    ("all", "coco_chair_i"): (100 * 2 / 7, 7), ("all", "coco_chair_s"): (50.0, 4),
    ("all", "coco_coverage"): (100 * 2.5 / 3, 3),
}
# With the captions, image 2's bicycle is present: r3 has no hallucination.
EXPECTED_WITH_CAPTIONS = {
    **EXPECTED,
    ("conversation", "coco_chair_i"): (100 * 1 / 6, 6), ("conversation", "coco_chair_s"): (100 * 1 / 3, 3),
    ("all", "coco_chair_i"): (100 * 1 / 7, 7), ("all", "coco_chair_s"): (25.0, 4),
}


@pytest.fixture
def coco(tmp_path: Path) -> dict[str, Path]:
    inst = {"images": IMAGES, "categories": CATEGORIES,
            "annotations": [{"id": k, "image_id": i, "category_id": c, "bbox": [0, 0, 1, 1]}
                            for k, (i, c) in enumerate(ANNOTATIONS)]}
    caps = {"images": IMAGES, "annotations": [{"id": 1, "image_id": 2, "caption": "A man stands beside a bicycle."},
                                              {"id": 2, "image_id": 1, "caption": "A dog on a sofa."}]}
    paths = {"instances": tmp_path / "instances.json", "captions": tmp_path / "captions.json",
             "data": tmp_path / "data.jsonl"}
    paths["instances"].write_text(json.dumps(inst))
    paths["captions"].write_text(json.dumps(caps))
    write_jsonl(paths["data"], RECORDS)
    return paths


def _coco_rows(out: str) -> dict[tuple[str, str], dict]:
    return {(r["data_type"], r["metric"]): r for r in json.loads(out) if r["metric"].startswith("coco_")}


@pytest.mark.parametrize("with_captions", [False, True])
def test_counts_match_the_hand_worked_values(coco: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                             with_captions: bool) -> None:
    args = ["quality", str(coco["data"]), "--instances", str(coco["instances"]), "--json", "--no-meteor",
            "--n-boot", "200"]
    if with_captions:
        args += ["--captions", str(coco["captions"])]
    assert run_cli(*args) == 0
    rows = _coco_rows(capsys.readouterr().out)
    want = EXPECTED_WITH_CAPTIONS if with_captions else EXPECTED
    assert set(rows) == set(want)
    for key, (value, n) in want.items():
        assert math.isclose(rows[key]["value"], value, abs_tol=1e-9), key
        assert rows[key]["n"] == n, key
        lo, hi = rows[key]["ci_low"], rows[key]["ci_high"]
        if n >= 2:
            assert lo is not None and hi is not None and lo <= value + 1e-9 and value - 1e-9 <= hi, key


def test_rows_are_grouped_by_data_type(coco: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("quality", str(coco["data"]), "--instances", str(coco["instances"]), "--json", "--no-meteor",
                   "--n-boot", "0") == 0
    types = [r["data_type"] for r in json.loads(capsys.readouterr().out)]
    assert types == sorted(types, key=["conversation", "detail", "all"].index)  # one block per data type


def test_llava_json_is_measured_too(coco: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    llava = [{"id": "a", "image": "COCO_val2014_000000000001.jpg",
              "conversations": [{"from": "human", "value": "<image>\nWhat is there?"},
                                {"from": "gpt", "value": "A dog and a cat."}]}]
    f = tmp_path / "llava.json"
    f.write_text(json.dumps(llava))
    assert run_cli("quality", str(f), "--instances", str(coco["instances"]), "--json", "--no-meteor",
                   "--n-boot", "0") == 0
    rows = _coco_rows(capsys.readouterr().out)
    assert rows[("all", "coco_chair_i")]["value"] == 50.0  # dog present, cat not
    assert rows[("all", "coco_coverage")]["value"] == 50.0  # dog of {dog, couch}


@pytest.mark.parametrize("case", ["no_categories", "unknown_image", "malformed", "captions_alone"])
def test_bad_input_is_one_line_naming_the_file(coco: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str], case: str) -> None:
    inst, data = coco["instances"], coco["data"]
    extra: list[str] = []
    if case == "no_categories":
        inst = tmp_path / "no_cats.json"
        inst.write_text(json.dumps({"images": IMAGES, "annotations": []}))
        named = inst
    elif case == "unknown_image":
        data = tmp_path / "stray.jsonl"
        write_jsonl(data, [*RECORDS, rec(9, "COCO_val2014_000000000999.jpg", "A dog.", "detail")])
        named = data
    elif case == "malformed":
        inst = tmp_path / "broken.json"
        inst.write_text('{"images": [')
        named = inst
    else:
        named = Path("--captions")
    args = ["quality", str(data), "--json", "--no-meteor"]
    args += ["--captions", str(coco["captions"])] if case == "captions_alone" else ["--instances", str(inst), *extra]
    assert run_cli(*args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(named) in err, err
    if case == "unknown_image":
        assert "COCO_val2014_000000000999.jpg" in err and str(inst) in err
