"""LLaVA-Bench's review protocol: the judge message, parse_score, and the summary to the printed digit.

Expected values here are written out by hand from the rules of LLaVA's
`eval_gpt_review_visual.py` and `summarize_gpt_review.py` (see benchmarks/_llava_review.py),
never computed by the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks._llava_review import (UNPARSED, Review, context_text, judge_message, metric_key, parse_score,
                                      read_reviews, summary_lines, summary_metrics)
from harness.core.errors import BadInput
from tests.harness.cli._run import run_cli

RULE = {"role": "Assistant", "prompt": "Rate them.\nFirst line: two scores."}


def test_judge_message_is_the_official_layout() -> None:
    captions = ["Two suitcases on a bed.", "A black and a brown suitcase."]
    instances = [{"category": "suitcase", "bbox": [0.1, 0.25, 0.5, 0.75]}, {"category": "bed", "bbox": [0, 0.5, 1, 1]}]
    got = judge_message(context_text(captions, instances), "What colour are the suitcases?", "Black and brown.",
                        "They are red.", RULE)
    expected = ("[Context]\n"
                "Two suitcases on a bed.\n"
                "A black and a brown suitcase.\n"
                "\n"
                "suitcase: [0.1, 0.25, 0.5, 0.75]\n"
                "bed: [0, 0.5, 1, 1]\n"
                "\n"
                "[Question]\n"
                "What colour are the suitcases?\n"
                "\n"
                "[Assistant 1]\n"
                "Black and brown.\n"
                "\n"
                "[End of Assistant 1]\n"
                "\n"
                "[Assistant 2]\n"
                "They are red.\n"
                "\n"
                "[End of Assistant 2]\n"
                "\n"
                "[System]\n"
                "Rate them.\n"
                "First line: two scores.\n"
                "\n")
    assert got == expected


def test_judge_message_uses_the_rules_role() -> None:
    got = judge_message("c\n\nx: [0.0, 0.0, 1.0, 1.0]", "q", "a", "b", {"role": "Reviewer", "prompt": "p"})
    assert "[Reviewer 1]\na\n\n[End of Reviewer 1]\n\n[Reviewer 2]\nb\n\n[End of Reviewer 2]" in got


@pytest.mark.parametrize("reply, expected", [
    ("8 7\nAssistant 1 was more precise.", (8.0, 7.0)),
    ("8 7", (8.0, 7.0)),
    ("8,7", (8.0, 7.0)),  # the comma becomes a space: two parts
    ("8.5 7", (8.5, 7.0)),
    ("8 7\r\nwhy", (8.0, 7.0)),  # float() strips the carriage return
    ("10 1", (10.0, 1.0)),
    ("7/10 5/10", UNPARSED),  # two parts, neither a number
    ("Scores: 5 6", UNPARSED),  # three parts
    ("8 7 ", UNPARSED),  # a trailing space makes an empty third part
    ("8  7", UNPARSED),  # a double space too
    ("8, 7", UNPARSED),  # comma and space: a double space
    (" 8 7", UNPARSED),
    ("8\t7", UNPARSED),  # only single spaces split
    ("\n8 7", UNPARSED),  # the first line is empty
    ("", UNPARSED),
    ("8", UNPARSED),
    ("Assistant 1: 8\nAssistant 2: 7", UNPARSED),
])
def test_parse_score_edge_cases(reply: str, expected: tuple[float, float]) -> None:
    assert parse_score(reply) == expected


def test_metric_keys_of_categories() -> None:
    assert [metric_key(c) for c in ("conv", "detail", "complex", "llava_bench_conv", None)] == [
        "conversation", "detail", "complex_reasoning", "conversation", None]


def _row(i: int, cat: str | None, content: str, tup: list[float]) -> dict:
    row = {"id": i, "question_id": i - 1, "answer1_id": i - 1, "answer2_id": f"a{i}"}
    if cat is not None:
        row["category"] = cat
    row.update(content=content, tuple=tup)
    return row


# What eval_gpt_review_visual.py writes for these replies: the tuple is parse_score's.
ROWS = [
    _row(1, "conv", "8 7\nfine", [8.0, 7.0]),
    _row(2, "conv", "9 6\nfine", [9.0, 6.0]),
    _row(3, "conv", "7/10 5/10\nunparsable", [-1, -1]),
    _row(4, "detail", "8 5\nfine", [8.0, 5.0]),
    _row(5, "detail", "8  7\ndouble space", [-1, -1]),
    _row(6, "detail", "7 7\nfine", [7.0, 7.0]),
    _row(7, "complex", "10 9\nfine", [10.0, 9.0]),
    _row(8, "complex", "Scores: 5 6\nunparsable", [-1, -1]),
    _row(9, "complex", "8 7 \ntrailing space", [-1, -1]),
]
# By hand (means rounded to 3 decimals first, then the ratio x 100 and the means x 10 to 1):
#   conv:    ref (8+9-1)/3 = 5.333, model (7+6-1)/3 = 4.0   -> 4/5.333 = 75.0047 -> 75.0; 53.3; 40.0
#   detail:  ref (8-1+7)/3 = 4.667, model (5-1+7)/3 = 3.667 -> 78.573 -> 78.6; 46.7; 36.7
#   complex: ref (10-1-1)/3 = 2.667, model (9-1-1)/3 = 2.333 -> 87.477 -> 87.5; 26.7; 23.3
#   all:     ref 38/9 = 4.222, model 30/9 = 3.333 -> 78.943 -> 78.9; 42.2; 33.3
OFFICIAL_LINES = ["review_fixture", "all 78.9 42.2 33.3", "complex 87.5 26.7 23.3", "conv 75.0 53.3 40.0",
                  "detail 78.6 46.7 36.7", "================================="]
OFFICIAL = {"overall": 78.9, "overall_reference": 42.2, "overall_model": 33.3,
            "complex_reasoning": 87.5, "complex_reasoning_reference": 26.7, "complex_reasoning_model": 23.3,
            "conversation": 75.0, "conversation_reference": 53.3, "conversation_model": 40.0,
            "detail": 78.6, "detail_reference": 46.7, "detail_model": 36.7, "unparsed": 4.0}
# drop-unparsed: conv 6.5/8.5 -> 76.5; detail 6.0/7.5 -> 80.0; complex 9/10 -> 90.0;
#   all ref 42/5 = 8.4, model 34/5 = 6.8 -> 80.952 -> 81.0
DROPPED = {"overall": 81.0, "conversation": 76.5, "detail": 80.0, "complex_reasoning": 90.0, "unparsed": 4.0}


@pytest.fixture
def review_file(tmp_path: Path) -> Path:
    path = tmp_path / "review_fixture.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_summary_reproduces_the_printed_lines(review_file: Path) -> None:
    reviews = read_reviews(review_file)
    assert summary_lines(reviews, "review_fixture") == OFFICIAL_LINES
    assert summary_metrics(reviews) == OFFICIAL


def test_the_tuple_is_read_not_the_content(review_file: Path, tmp_path: Path) -> None:
    """The summary script reads `tuple`; a row whose content parses but whose tuple is [-1, -1] stays unparsed."""
    rows = [dict(r) for r in ROWS]
    rows[0]["tuple"] = [-1, -1]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert summary_metrics(read_reviews(path))["unparsed"] == 5.0


def test_drop_unparsed_is_a_named_alternative(review_file: Path) -> None:
    got = summary_metrics(read_reviews(review_file), "drop-unparsed")
    assert {k: got[k] for k in DROPPED} == DROPPED
    with pytest.raises(BadInput):
        summary_metrics(read_reviews(review_file), "lenient")


def test_rows_without_category_count_in_overall_only(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_row(1, None, "8 6", [8, 6])) + "\n" + json.dumps(_row(2, "conv", "8 8", [8, 8])) + "\n")
    got = summary_metrics(read_reviews(path))
    # all: ref 8, model 7 -> 87.5; conv: 100.0
    assert got["overall"] == 87.5 and got["conversation"] == 100.0 and "detail" not in got


def test_a_zero_reference_mean_scores_zero_instead_of_dividing(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_row(1, "conv", "1 5", [1, 5])) + "\n" + json.dumps(_row(2, "conv", "x", [-1, -1])) + "\n")
    assert summary_metrics(read_reviews(path))["conversation"] == 0.0


@pytest.mark.parametrize("bad", [{"question_id": 1, "tuple": [1]}, {"question_id": 1, "tuple": "8 7"},
                                 {"question_id": 1}, {"question_id": 1, "tuple": [8, 7], "category": 3}])
def test_malformed_review_rows_are_bad_input(bad: dict, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(BadInput):
        read_reviews(path)


def test_review_round_trip(tmp_path: Path) -> None:
    from benchmarks._llava_review import write_reviews

    reviews = [Review(0, "conv", (8.0, 7.0), "8 7\nok", 0, "x"), Review(1, "detail", UNPARSED, "??", 1, "y")]
    path = tmp_path / "out.jsonl"
    write_reviews(reviews, path)
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"id": 1, "question_id": 0, "answer1_id": 0, "answer2_id": "x", "category": "conv",
                     "content": "8 7\nok", "tuple": [8.0, 7.0]}
    assert read_reviews(path) == reviews


def test_cli_reviews_json_and_text(review_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli("score", "llava_bench", "--reviews", str(review_file), "--json", "--judge-model", "gpt-4-0314") == 0
    out = capsys.readouterr()
    got = json.loads(out.out)
    assert {k: got[k] for k in OFFICIAL} == OFFICIAL
    assert got["n"] == 9 and got["judge"] == "gpt-4-0314" and got["protocol"] == "official (judge: gpt-4-0314)"
    assert "4 of 9 reviews gave no scores" in out.err
    assert run_cli("score", "llava_bench", "--reviews", str(review_file), "--protocol", "drop-unparsed", "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert got["overall"] == 81.0 and got["protocol"].startswith("drop-unparsed")
    assert run_cli("score", "llava_bench", "--reviews", str(review_file)) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[-5:] == OFFICIAL_LINES[1:]


@pytest.mark.parametrize("args, message", [
    (["pope", "--reviews", "R"], "pope has no review files"),
    (["llava_bench", "--reviews", "R", "--predictions", "P"], "--reviews replaces"),
    (["llava_bench", "--data", "D"], "needs --data and --predictions"),
    (["pope", "--protocol", "official", "--data", "D", "--predictions", "P"], "--protocol is not an option of pope"),
])
def test_cli_option_errors_are_one_line(args: list[str], message: str, review_file: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    args = [str(review_file) if a == "R" else a for a in args]
    assert run_cli("score", *args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
