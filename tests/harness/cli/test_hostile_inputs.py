"""A corpus of hostile and malformed inputs across every command that reads files (DESIGN §5).

Each case: the command exits 2 with exactly one line on stderr that names the file (or option)
and says what is wrong, no traceback, no partial output (no file at --out, nothing new in an
output folder). Adding a case is one line in CASES: an id, the files to write into a fresh
folder (name -> content; see `_write`), the command line (`{d}` is that folder, `{good}` a
valid run directory, `{w}` a valid world-like folder), and what the message must contain.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cli._run import run_cli
from tests.reports._runfixture import make_run


def _png(width: int = 4, height: int = 4, body: bytes | None = None) -> bytes:
    """A PNG whose header declares `width` x `height` (the data need not match: a bomb's doesn't)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = body if body is not None else zlib.compress(b"".join(b"\x00" + b"\x7f" * (3 * width) for _ in range(height)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


BOMB = _png(60000, 60000, zlib.compress(b"\x00" * 64))  # 778-ish bytes declaring 3.6 gigapixels


def jl(*rows: Any) -> str:
    """JSON lines."""
    return "".join(json.dumps(r) + "\n" for r in rows)


POPE_Q = jl({"question_id": 1, "image": "a.png", "text": "Is there a cat in the image?", "label": "yes"})
POPE_P = jl({"question_id": 1, "text": "Yes"})
OK_Q = json.dumps({"questions": [{"image_id": 1, "question": "q?", "question_id": 1, "image": "a.png"}]})
OK_A = json.dumps({"annotations": [{"question_id": 1, "image_id": 1, "answer_type": "other", "question_type": "what",
                                    "answers": [{"answer": "red", "answer_id": i} for i in range(1, 11)]}]})
OK_R = json.dumps([{"question_id": 1, "answer": "red"}])
AOK = {"split": "val", "question_id": "q1", "image_id": 1, "question": "q?", "choices": ["a", "b", "c", "d"],
       "correct_choice_idx": 0, "direct_answers": ["a"] * 10, "difficult_direct_answer": False, "rationales": []}
AOK_D, AOK_P = json.dumps([AOK]), json.dumps({"q1": {"multiple_choice": "a", "direct_answer": "a"}})
SQA_PROB = {"question": "q?", "choices": ["x", "y"], "answer": 0, "hint": "", "image": None, "subject":
            "natural science", "grade": "grade3", "lecture": "", "solution": "", "split": "test"}
SQA_D, SQA_S = json.dumps({"1": SQA_PROB}), json.dumps({"test": ["1"]})
SQA_P = jl({"question_id": "1", "text": "A"})
MMB_D = "index\tquestion\tA\tB\tanswer\tcategory\tl2-category\n0\tq?\tx\ty\tA\tc\tl2\n"
MMB_P = jl({"index": 0, "prediction": "A"})
CHAIR_I = json.dumps({"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
                      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}],
                      "categories": [{"id": 1, "name": "dog"}]})
CHAIR_C = json.dumps({"images": [{"id": 1, "file_name": "a.png"}],
                      "annotations": [{"id": 1, "image_id": 1, "caption": "A dog."}]})
CHAIR_P = json.dumps([{"image_id": 1, "caption": "A dog and a cat."}])
LLAVA = json.dumps([{"id": "1", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nq?"},
                                                                     {"from": "gpt", "value": "a."}]}])
BIG = "x" * 10_000_000
LOOP = object()  # a symlink to itself
DIR = object()  # a directory
LINK_OUT = object()  # a symlink to /etc/hostname

POPE = "score pope --data {d}/q.jsonl --predictions {d}/p.jsonl"
OKVQA = "score okvqa --data {d}/q.json --data {d}/a.json --predictions {d}/r.json"
AOKVQA = "score aokvqa --data {d}/aokvqa_v1p0_val.json --predictions {d}/p.json"
SQA = "score scienceqa --data {d}/problems.json --data {d}/pid_splits.json --predictions {d}/p.jsonl"
MMB = "score mmbench --data {d}/mmb.tsv --predictions {d}/p.jsonl"
CHAIR = "score chair --data {d}/instances.json --data {d}/captions.json --predictions {d}/p.json"
PREDICT_POPE = "predict --model {d}/nomodel --benchmark pope --data {d}/q.jsonl --out {d}/out.jsonl"
PREDICT_CHAIR = ("predict --model {d}/nomodel --benchmark chair --data {d}/instances.json --data {d}/captions.json "
                 "--out {d}/out.json")
GEN = "generate gold --images {d}/w --split x --out {d}/out.jsonl"

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # --- score pope
    ("pope-empty-files", {"q.jsonl": "", "p.jsonl": ""}, POPE, "no POPE questions"),
    ("pope-truncated", {"q.jsonl": POPE_Q[:-10], "p.jsonl": POPE_P}, POPE, "q.jsonl:1: not valid JSON"),
    ("pope-non-utf8", {"q.jsonl": b"\xff\xfe\x00garbage\n", "p.jsonl": POPE_P}, POPE, "not UTF-8"),
    ("pope-label-wrong", {"q.jsonl": POPE_Q.replace('"yes"', '"maybe"'), "p.jsonl": POPE_P}, POPE, "label must be"),
    ("pope-unknown-id", {"q.jsonl": POPE_Q, "p.jsonl": POPE_P + jl({"question_id": 9, "text": "no"})}, POPE,
     "not in the data"),
    ("pope-dir-as-file", {"q.jsonl": DIR, "p.jsonl": POPE_P}, POPE, "q.jsonl"),
    ("pope-missing-path", {"p.jsonl": POPE_P}, POPE, "q.jsonl"),
    ("pope-symlink-loop", {"q.jsonl": LOOP, "p.jsonl": POPE_P}, POPE, "q.jsonl"),
    ("pope-10mb-line", {"q.jsonl": POPE_Q, "p.jsonl": jl({"question_id": BIG, "text": "x"})}, POPE, "p.jsonl"),
    # --- score okvqa
    ("okvqa-list-top", {"q.json": "[]", "a.json": OK_A, "r.json": OK_R}, OKVQA, "q.json"),
    ("okvqa-missing-key", {"q.json": OK_Q, "a.json": OK_A.replace('"answer_type"', '"x"'), "r.json": OK_R}, OKVQA,
     "has no 'answer_type' field"),
    ("okvqa-nan", {"q.json": OK_Q, "a.json": OK_A, "r.json": '[{"question_id": NaN, "answer": "x"}]'}, OKVQA,
     "not valid JSON"),
    ("okvqa-10mb-id", {"q.json": OK_Q, "a.json": OK_A, "r.json": json.dumps([{"question_id": BIG, "answer": "x"}])},
     OKVQA, "'question_id' must be int"),
    ("okvqa-dup-id", {"q.json": OK_Q, "a.json": OK_A, "r.json": json.dumps(json.loads(OK_R) * 2)}, OKVQA,
     "predicted twice"),
    ("okvqa-bool-id", {"q.json": OK_Q, "a.json": OK_A, "r.json": '[{"question_id": true, "answer": "x"}]'}, OKVQA,
     "must be int"),
    ("okvqa-deep-nesting", {"q.json": OK_Q, "a.json": OK_A, "r.json": "[" * 100_000 + "]" * 100_000}, OKVQA,
     "not valid JSON"),
    # --- score aokvqa
    ("aokvqa-dict-top", {"aokvqa_v1p0_val.json": "{}", "p.json": AOK_P}, AOKVQA, "expected a JSON list"),
    ("aokvqa-bad-choice-idx", {"aokvqa_v1p0_val.json": AOK_D.replace('"correct_choice_idx": 0', '"correct_choice_idx": 9'),
                               "p.json": AOK_P}, AOKVQA, "correct_choice_idx"),
    ("aokvqa-pred-not-object", {"aokvqa_v1p0_val.json": AOK_D, "p.json": '{"q1": "a"}'}, AOKVQA, "is not an object"),
    ("aokvqa-dup-key", {"aokvqa_v1p0_val.json": AOK_D, "p.json": '{"q1": {}, "q1": {}}'}, AOKVQA, "occurs twice"),
    # --- score scienceqa
    ("sqa-pred-covers-nothing", {"problems.json": SQA_D, "pid_splits.json": SQA_S,
                                 "p.jsonl": jl({"question_id": "77", "text": "A"})}, SQA, "none of its 1 predictions"),
    ("sqa-wrong-type", {"problems.json": SQA_D.replace('"answer": 0', '"answer": "0"'), "pid_splits.json": SQA_S,
                        "p.jsonl": SQA_P}, SQA, "'answer' must be"),
    ("sqa-crlf-garbage", {"problems.json": SQA_D, "pid_splits.json": SQA_S, "p.jsonl": "{\r\n"}, SQA, "not valid JSON"),
    # --- score mmbench
    ("mmb-fraction-index", {"mmb.tsv": MMB_D.replace("\n0\t", "\n41.9\t"), "p.jsonl": MMB_P}, MMB,
     "index must be an integer"),
    ("mmb-ragged-row", {"mmb.tsv": MMB_D + "1\tq\tx\ty\tA\tc\tl2\textra\tmore\n", "p.jsonl": MMB_P}, MMB,
     "not a readable table"),
    ("mmb-missing-column", {"mmb.tsv": MMB_D.replace("question", "quest"), "p.jsonl": MMB_P}, MMB, "no 'question' column"),
    ("mmb-missing-pass", {"mmb.tsv": MMB_D, "p.jsonl": jl({"index": 5, "prediction": "A"})}, MMB, "p.jsonl"),
    # --- score chair
    ("chair-unknown-image", {"instances.json": CHAIR_I, "captions.json": CHAIR_C,
                             "p.json": json.dumps([{"image_id": 5, "caption": "x"}])}, CHAIR, "not in the data"),
    ("chair-caption-not-string", {"instances.json": CHAIR_I, "captions.json": CHAIR_C,
                                  "p.json": json.dumps([{"image_id": 1, "caption": 5}])}, CHAIR, "p.json"),
    ("chair-empty-predictions", {"instances.json": CHAIR_I, "captions.json": CHAIR_C, "p.json": "[]"}, CHAIR,
     "no captions"),
    # --- quality
    ("quality-empty", {"data.json": "[]"}, "quality {d}/data.json", "no records"),
    ("quality-not-json", {"data.json": "[{"}, "quality {d}/data.json", "not valid JSON"),
    ("quality-no-conversations", {"data.json": '[{"id": 1}]'}, "quality {d}/data.json", "conversations"),
    ("quality-absurd-n-boot", {"data.json": LLAVA}, "quality {d}/data.json --n-boot 1000000000000", "--n-boot"),
    ("quality-instances-no-categories", {"data.json": LLAVA, "inst.json": '{"images": [], "annotations": []}'},
     "quality {d}/data.json --instances {d}/inst.json", "inst.json: not a COCO instances file"),
    ("quality-instances-not-json", {"data.json": LLAVA, "inst.json": '{"images": ['},
     "quality {d}/data.json --instances {d}/inst.json", "not valid JSON"),
    ("quality-image-not-in-instances", {"data.json": LLAVA.replace("a.png", "b.png"), "inst.json": CHAIR_I},
     "quality {d}/data.json --instances {d}/inst.json", "is not in"),
    ("convert-vigc-not-json", {"v.json": "[{"}, "convert-vigc {d}/v.json --out {d}/w", "not valid JSON"),
    ("convert-vigc-no-image", {"v.json": '[{"question": "q", "original_answer": "a", "answer": "b"}]'},
     "convert-vigc {d}/v.json --out {d}/w", "needs an `image`"),
    ("convert-vigc-out-is-file", {"v.json": '[{"image": "a.png", "question": "q", "answer": ["b"]}]', "f": "x"},
     "convert-vigc {d}/v.json --out {d}/f", "is a file"),
    # --- predict (all refused before a model is loaded)
    ("predict-path-escape", {"q.jsonl": POPE_Q.replace("a.png", "../../../../etc/passwd")}, PREDICT_POPE,
     "leaves the image folder"),
    ("predict-absolute-path", {"q.jsonl": POPE_Q.replace("a.png", "/etc/passwd")}, PREDICT_POPE,
     "leaves the image folder"),
    ("predict-symlink-out", {"q.jsonl": POPE_Q, "a.png": LINK_OUT}, PREDICT_POPE, "links outside"),
    ("predict-zero-byte-image", {"q.jsonl": POPE_Q, "a.png": b""}, PREDICT_POPE, "not a readable image"),
    ("predict-decompression-bomb", {"q.jsonl": POPE_Q, "a.png": BOMB}, PREDICT_POPE, "too many pixels"),
    ("predict-chair-absolute", {"instances.json": CHAIR_I.replace("a.png", "/etc/passwd"),
                                "captions.json": CHAIR_C.replace("a.png", "/etc/passwd")},
     PREDICT_CHAIR, "leaves the image folder"),
    ("predict-empty-model-folder", {"q.jsonl": POPE_Q, "a.png": _png(), "nomodel": DIR}, PREDICT_POPE,
     "not a saved model"),
    ("predict-absurd-batch", {"q.jsonl": POPE_Q}, PREDICT_POPE + " --batch-size 10000000000", "--batch-size"),
    ("predict-mmbench-corrupt-b64", {"mmb.tsv": MMB_D.replace("\tc\tl2\n", "\tc\tl2\n").replace(
        "answer\tcategory", "answer\timage\tcategory").replace("\tA\tc", "\tA\t" + "!" * 80 + "\tc")},
     "predict --model {d}/nomodel --benchmark mmbench --data {d}/mmb.tsv --out {d}/out.jsonl", "base64"),
    ("predict-mmbench-inline-bomb", {"mmb.tsv": MMB_D.replace("answer\tcategory", "answer\timage\tcategory").replace(
        "\tA\tc", "\tA\t" + base64.b64encode(BOMB).decode() + "\tc")},
     "predict --model {d}/nomodel --benchmark mmbench --data {d}/mmb.tsv --out {d}/out.jsonl", "too many pixels"),
    # --- generate
    ("generate-categories-missing", {"w/annotations/instances_x.json": '{"images": [], "annotations": []}',
                                     "w/annotations/captions_x.json": '{"annotations": []}'}, GEN, "categories"),
    ("generate-instances-list", {"w/annotations/instances_x.json": "[]",
                                 "w/annotations/captions_x.json": '{"annotations": []}'}, GEN, "instances_x.json"),
    ("generate-unknown-data-type", {}, GEN + " --data-type no_such_type", "--data-type"),
    # --- world
    ("world-absurd-images", {}, "world --out {d}/w --images 1000000000000", "--images"),
    ("world-out-under-file", {"f": "x"}, "world --out {d}/f/w --images 1", "f/w"),
    ("world-negative-images", {}, "world --out {d}/w --images -3", "--images"),
    # --- run --config
    ("config-unknown-key", {"c.yaml": "nmae: x\n"}, "run --config {d}/c.yaml", "unknown key 'nmae'"),
    ("config-unknown-benchmark", {"c.yaml": "benchmarks: [pope, nosuchbench]\n"}, "run --config {d}/c.yaml",
     "unknown benchmark 'nosuchbench'"),
    ("config-unknown-source", {"c.yaml": "sources: [seed, seed+nosuch]\n"}, "run --config {d}/c.yaml",
     "'seed+nosuch'"),
    ("config-unknown-generator", {"c.yaml": "seed_data: {generator: nosuchgen}\n"}, "run --config {d}/c.yaml",
     "'nosuchgen'"),
    ("config-unknown-data-type", {"c.yaml": "extra_data_types: [nosuchtype]\n"}, "run --config {d}/c.yaml",
     "unknown data type 'nosuchtype'"),
    ("config-inf-lr", {"c.yaml": "foundation:\n  lm:\n    lr: .inf\n"}, "run --config {d}/c.yaml", "finite"),
    ("config-nan", {"c.yaml": "bootstrap: .nan\n"}, "run --config {d}/c.yaml", "bootstrap"),
    ("config-name-escapes", {"c.yaml": "name: ../../evil\n"}, "run --config {d}/c.yaml", "name"),
    ("config-name-absolute", {"c.yaml": "name: /tmp/evil\n"}, "run --config {d}/c.yaml", "name"),
    ("config-yaml-bomb", {"c.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c]\n"},
     "run --config {d}/c.yaml", "unknown key"),
    ("config-not-mapping", {"c.yaml": "- 1\n- 2\n"}, "run --config {d}/c.yaml", "must be a mapping"),
    ("config-negative-steps", {"c.yaml": "foundation:\n  lm:\n    steps: -5\n"}, "run --config {d}/c.yaml", "steps"),
    # --- report
    ("report-no-results", {"run": DIR}, "report {d}/run", "not a run directory"),
    ("report-nan-result", {}, "report {nan}", "must be a finite number"),
    ("report-out-under-dev-null", {}, "report {good} --out /dev/null/r.md", "/dev/null/r.md"),
    ("report-unfinished-study", {}, "report {unfinished}", "no manifest.json"),
    # --- compare
    ("compare-absurd-permutations", {}, "compare {good} {good} --permutations 1000000000000000", "--permutations"),
    ("compare-missing-run", {}, "compare {good} {d}/nope", "nope"),
    ("compare-duplicate-metric", {}, "compare {good} {dup}", "occurs twice"),
    # --- check
    ("check-empty-baseline", {"b.json": '{"schema": 1, "metrics": []}'}, "check {good} --baseline {d}/b.json",
     "no metrics"),
    ("check-nan-baseline", {"b.json": '{"schema": 1, "metrics": [{"id": "a", "value": NaN, "direction": "higher", '
                                      '"tolerance": 1}]}'}, "check {good} --baseline {d}/b.json", "not valid JSON"),
    ("check-duplicate-ids", {"b.json": json.dumps({"schema": 1, "metrics": [
        {"id": "a", "value": 1, "direction": "higher", "tolerance": 1}] * 2})}, "check {good} --baseline {d}/b.json",
     "occurs twice"),
    ("check-huge-tolerance", {"b.json": '{"schema": 1, "metrics": [{"id": "a", "value": 1, "direction": "higher", '
                                        '"tolerance": 1e999}]}'}, "check {good} --baseline {d}/b.json", "b.json"),
    ("check-write-inf-tolerance", {}, "check {good} --write-baseline {d}/out.json --tolerance inf", "--tolerance"),
    ("check-wrong-shape", {"b.json": "[1, 2]"}, "check {good} --baseline {d}/b.json", "not a vigc-bench baseline"),
    # --- click's own usage errors, on one line
    ("usage-missing-argument", {}, "score", "Missing argument"),
    ("usage-unknown-option", {}, "report {good} --colour red", "No such option"),
]


def _write(root: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is DIR:
            path.mkdir()
        elif content is LOOP:
            os.symlink(path, path)
        elif content is LINK_OUT:
            os.symlink("/etc/hostname", path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run directories: a good one, one with a NaN result, one with a metric twice, an unfinished study."""
    root = tmp_path_factory.mktemp("runs")
    good = make_run(root / "good")
    nan = make_run(root / "nan")
    lines = (nan / "results.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["value"] = float("nan")
    (nan / "results.jsonl").write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")
    dup = make_run(root / "dup")
    lines = (dup / "results.jsonl").read_text().splitlines()
    (dup / "results.jsonl").write_text("\n".join(lines + lines[:1]) + "\n")
    unfinished = make_run(root / "unfinished")
    (unfinished / "manifest.json").unlink()
    (unfinished / "stages").mkdir()
    return {"good": str(good), "nan": str(nan), "dup": str(dup), "unfinished": str(unfinished)}


@pytest.mark.parametrize("files, command, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path, runs: dict[str, str],
                                          files: dict[str, Any], command: str, needle: str) -> None:
    _write(tmp_path, files)
    before = {p for p in tmp_path.rglob("*")}
    rc = run_cli(*[a.format(d=tmp_path, **runs) for a in command.split()])
    out = capsys.readouterr()
    lines = [x for x in out.err.splitlines() if x.strip()]
    assert rc == 2, (rc, out.err[-500:], out.out[-300:])
    assert len(lines) == 1 and "Traceback" not in out.err, out.err[-2000:]
    assert lines[0].startswith("vigc-bench: error: ") and len(lines[0]) < 600, lines[0][:700]
    assert needle in lines[0], lines[0]
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.json").exists()
    after = {p for p in tmp_path.rglob("*")}
    assert after <= before | {tmp_path / "w"}, sorted(map(str, after - before))  # nothing half-written


def test_corpus_is_large_and_covers_every_command() -> None:
    commands = {" ".join(c[2].split()[:2 if c[2].startswith("score ") else 1]) for c in CASES}
    assert len(CASES) >= 45
    for cmd in ("score pope", "score okvqa", "score aokvqa", "score scienceqa", "score mmbench", "score chair",
                "quality", "predict", "generate", "world", "run", "report", "compare", "check", "convert-vigc"):
        assert cmd in commands, cmd


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    rc = run_cli(*argv)
    return rc, capsys.readouterr().err


def test_valid_controls_with_a_bom_and_crlf_are_read(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    # Not hostile: a UTF-8 BOM (Windows editors) and CRLF line ends are read as the same data.
    (tmp_path / "data.json").write_bytes(b"\xef\xbb\xbf" + LLAVA.encode())
    rc, err = _cli(capsys, "quality", str(tmp_path / "data.json"), "--n-boot", "0", "--no-meteor")
    assert rc == 0, err
    (tmp_path / "q.jsonl").write_bytes(b"\xef\xbb\xbf" + POPE_Q.replace("\n", "\r\n").encode())
    (tmp_path / "p.jsonl").write_text(POPE_P.replace("\n", "\r\n"))
    rc, err = _cli(capsys, *POPE.format(d=tmp_path).split())
    assert rc == 0, err


def test_outputs_are_written_whole_or_not_at_all(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, runs: dict[str, str]) -> None:
    # A write that fails at its last step (the rename) leaves neither the target nor a temp file:
    # reports, baselines and prediction files all go through temp + rename.
    from benchmarks.base import BenchItem
    from benchmarks.pope import Pope

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    for argv in (["report", runs["good"], "--out", str(tmp_path / "r.md")],
                 ["report", runs["good"], "--format", "html", "--out", str(tmp_path / "r.html")],
                 ["check", runs["good"], "--write-baseline", str(tmp_path / "b.json")]):
        rc, err = _cli(capsys, *argv)
        assert rc == 2 and "No space left" in err, err
    with pytest.raises(OSError):
        Pope().write_predictions([BenchItem("1", "q?", None)], ["Yes"], tmp_path / "p.jsonl")
    assert list(tmp_path.iterdir()) == []
