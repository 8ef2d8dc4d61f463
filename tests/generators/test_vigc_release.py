"""`vigc-bench convert-vigc`: VIGC's released generation output (hand-written fixtures in its
format) into our generation records and LLaVA JSON; bad input is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.vigc_release import read_vigc_output
from harness.core.io import read_json, read_jsonl
from harness.core.records import GenerationRecord
from harness.quality.readers import load_dataset
from tests.harness.cli._run import run_cli

CONV = "Generate a question based on the content of the given image and then answer it."
DESC = "Generate a question to describe the image content in detail and then answer it."

# The LLaVA-type output of VIGC's VIG + VIC runs (one object per image).
LLAVA_TYPE = [
    {"image": "train2017/000000000001.jpg", "instruction": CONV, "image_id": 1,
     "whole_text": "What is on the couch? A dog is sleeping on the couch.",
     "question": "What is on the couch?", "original_answer": "A dog and a cat are sleeping on the couch.",
     "answer_given_question": "A dog is sleeping on the couch. It looks calm.",
     "answer": "A dog is sleeping on the couch. It looks calm.", "answer_lst": []},
    {"image": "train2017/000000000002.jpg", "instruction": DESC, "image_id": 2,
     "question": "Describe the image in detail.", "original_answer": "A man rides a bicycle past a bus.",
     "answer_given_question": "A man rides a bicycle.", "answer": "A man rides a bicycle. The street is empty."},
    # VIG's output did not parse: VIGC keeps no question (such records are dropped from its file; kept if present).
    {"image": "train2017/000000000003.jpg", "instruction": CONV, "image_id": 3, "question": None,
     "original_answer": None, "answer_given_question": None, "answer": ""},
]
# OK-VQA / A-OKVQA type: the answer step (beam answers with weights) and the question step.
KNOWLEDGE_ANSWERS = [
    {"image": "train2017/000000000004.jpg", "image_id": 4, "question": "what sport is played here",
     "answer": ["tennis", "badminton"], "weight": [-0.9, -0.2]},
    {"image": "train2017/000000000005.jpg", "image_id": 5, "question": "what is this animal called",
     "answer": ["zebra"]},
]
KNOWLEDGE_QUESTIONS = [{"image": "train2017/000000000006.jpg", "question": "why is the man wearing a helmet",
                        "ori_answer": "safety"}]


def _write(path: Path, rows: object) -> Path:
    path.write_text(json.dumps(rows))
    return path


def test_llava_type_output_becomes_vig_and_vic_records(tmp_path: Path) -> None:
    recs = read_vigc_output(_write(tmp_path / "vigc.json", LLAVA_TYPE))
    assert [r.data_type for r in recs] == ["conversation", "detail", "conversation"]
    a, b, c = recs
    assert (a.question, a.vig_answer, a.answer) == ("What is on the couch?", "A dog and a cat are sleeping on the couch.",
                                                   "A dog is sleeping on the couch. It looks calm.")
    assert a.correction_steps == ("A dog is sleeping on the couch. It looks calm.",)  # answer_given_question
    assert a.prompt == CONV and a.parse_status == "ok" and a.image == "train2017/000000000001.jpg"
    assert b.vig_answer == "A man rides a bicycle past a bus." and b.answer.endswith("The street is empty.")
    assert c.parse_status == "no_question"
    assert len({r.id for r in recs}) == 3


def test_knowledge_outputs(tmp_path: Path) -> None:
    recs = read_vigc_output(_write(tmp_path / "qa.json", KNOWLEDGE_ANSWERS))
    assert [(r.data_type, r.answer) for r in recs] == [("knowledge_vqa", "badminton"), ("knowledge_vqa", "zebra")]
    q = read_vigc_output(_write(tmp_path / "q.json", KNOWLEDGE_QUESTIONS))[0]
    assert (q.data_type, q.question, q.vig_answer, q.answer) == ("knowledge_vqa", "why is the man wearing a helmet",
                                                                "safety", "safety")


def test_cli_writes_records_and_llava_files_that_quality_reads(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "vigc.json", LLAVA_TYPE + KNOWLEDGE_ANSWERS)
    out = tmp_path / "out"
    assert run_cli("convert-vigc", str(src), "--out", str(out)) == 0
    assert "5 records (ok 4, no_question 1)" in capsys.readouterr().out
    recs = read_jsonl(out / "records.jsonl", GenerationRecord)
    assert len(recs) == 5
    final, vig = read_json(out / "llava.json"), read_json(out / "llava_vig.json")
    assert len(final) == 4 and len(vig) == 2  # the knowledge answers from the answer step have no VIG answer
    assert final[0]["image"] == "train2017/000000000001.jpg"
    assert final[0]["conversations"][1] == {"from": "gpt", "value": "A dog is sleeping on the couch. It looks calm."}
    assert vig[0]["conversations"][1]["value"] == "A dog and a cat are sleeping on the couch."
    assert len(load_dataset(out / "records.jsonl")) == 5 and len(load_dataset(out / "llava.json")) == 4


def test_annotator_answers_without_weights_take_the_most_frequent(tmp_path: Path) -> None:
    rows = [{"image": "COCO_train2014_000000000007.jpg", "question": "what is this used for", "question_id": 7,
             "answer": ["surfing", "riding waves", "surfing", "surf", "surfing"]}]
    assert read_vigc_output(_write(tmp_path / "okvqa.json", rows))[0].answer == "surfing"


def test_data_type_option_for_unknown_instructions(tmp_path: Path) -> None:
    rows = [{**LLAVA_TYPE[0], "instruction": "Ask something and answer it."}]
    src = _write(tmp_path / "v.json", rows)
    assert read_vigc_output(src, "complex_reasoning")[0].data_type == "complex_reasoning"


@pytest.mark.parametrize("content", [
    "{not json",  # malformed
    json.dumps({"image": "a.jpg"}),  # an object, not a list
    json.dumps([]),  # no records
    json.dumps([{"question": "q", "answer": "a", "original_answer": "b", "instruction": CONV}]),  # no image
    json.dumps([{**LLAVA_TYPE[0], "answer": 3}]),  # a number where text belongs
    json.dumps([{**LLAVA_TYPE[0], "instruction": "Ask something."}]),  # no data type
    json.dumps([{**KNOWLEDGE_ANSWERS[0], "answer": [1, 2]}]),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  content: str) -> None:
    src = tmp_path / "bad.json"
    src.write_text(content)
    out = tmp_path / "out"
    assert run_cli("convert-vigc", str(src), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(src) in err, err
    assert not out.exists()


def test_missing_file_and_bad_data_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("convert-vigc", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")) == 2
    assert "nope.json" in capsys.readouterr().err
    src = _write(tmp_path / "v.json", LLAVA_TYPE)
    assert run_cli("convert-vigc", str(src), "--out", str(tmp_path / "o"), "--data-type", "chat") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
