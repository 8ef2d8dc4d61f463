"""Bad input to the real-checkpoint commands and options (train-vigc, generate on a plain folder,
finetune / predict --device, --lora): one line on stderr naming the file or option, exit 2, no
traceback, nothing written. A case is one line: id, files to write (see `_write`), command
(`{d}`: the case's folder, `{m}`: a tiny hub-layout LLaVA), what the message must contain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tests.harness.cli._run import run_cli  # noqa: E402

LLAVA = [{"id": "1", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nWhat is it?"},
                                                         {"from": "gpt", "value": "A square. It is red."}]}]
DIR = object()
GOOD = {"imgs/a.png": "PNG", "data.json": json.dumps(LLAVA)}
TV = "train-vigc --model {m} --data {d}/data.json --images {d}/imgs --out {d}/out --steps 1"
FT = "finetune --model {m} --data {d}/data.json --images {d}/imgs --out {d}/out --steps 1"
GEN = "generate vigc --model {m} --images {d}/imgs --out {d}/out.jsonl"
PRED = "predict --model {m} --benchmark pope --data {d}/q.jsonl --images {d}/imgs --out {d}/out.jsonl"
POPE_Q = json.dumps({"question_id": 1, "image": "a.png", "text": "Is there a cat in the image?", "label": "yes"})
CUDA = "--device cuda: CUDA is not available"

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("train-vigc-no-model", GOOD, TV.replace("{m}", "{d}/nomodel"), "nomodel: no such checkpoint"),
    ("train-vigc-model-without-config", {**GOOD, "m/x.txt": "x"}, TV.replace("{m}", "{d}/m"), "no config.json"),
    ("train-vigc-bad-json", {**GOOD, "data.json": "[{"}, TV, "data.json: not valid JSON"),
    ("train-vigc-not-llava", {**GOOD, "data.json": '[{"image": "a.png"}]'}, TV, "conversations"),
    ("train-vigc-turn-not-string", {**GOOD, "data.json": '[{"image": "a.png", "conversations": [{"from": 1}]}]'},
     TV, "data.json"),
    ("train-vigc-no-pairs", {**GOOD, "data.json": "[]"}, TV, "no question-answer pairs"),
    ("train-vigc-missing-image", {**GOOD, "imgs/a.png": "NOTHING"}, TV, "a.png: image not found"),
    ("train-vigc-unreadable-image", {**GOOD, "imgs/a.png": b"not a png"}, TV, "a.png: not a readable image"),
    ("train-vigc-image-outside", {**GOOD, "data.json": json.dumps([{**LLAVA[0], "image": "../data.json"}])}, TV,
     "leaves the image folder"),
    ("train-vigc-no-image-folder", GOOD, TV.replace("{d}/imgs", "{d}/nodir"), "nodir: image folder not found"),
    ("train-vigc-cuda", GOOD, TV + " --device cuda", CUDA),
    ("train-vigc-bad-device", GOOD, TV + " --device tpu", "--device"),
    ("train-vigc-zero-steps", GOOD, TV + " --steps 0", "--steps"),
    ("train-vigc-lora-frozen-lm", GOOD, TV + " --lora --freeze-lm", "--lora with --freeze-lm"),
    ("generate-empty-folder", {"imgs": DIR}, GEN, "imgs: no images in it"),
    ("generate-no-folder", {}, GEN, "imgs: image folder not found"),
    ("generate-unreadable-image", {"imgs/a.png": "PNG", "imgs/b.jpg": b""}, GEN, "b.jpg: not a readable image"),
    ("generate-no-model", {"imgs/a.png": "PNG"}, GEN.replace("{m}", "{d}/nomodel"), "nomodel: no such checkpoint"),
    ("generate-cuda", {"imgs/a.png": "PNG"}, GEN + " --device cuda", CUDA),
    ("generate-bad-annotations", {"imgs/a.png": "PNG", "ann.json": "[]"}, GEN + " --annotations {d}/ann.json",
     "ann.json: not a COCO instances or captions file"),
    ("generate-bad-shard", {"imgs/a.png": "PNG"}, GEN + " --shard 3/2", "3/2"),
    ("finetune-not-llava", {**GOOD, "data.json": '[{"id": "1"}]'}, FT, "data.json: item 0"),
    ("finetune-missing-image", {**GOOD, "imgs/a.png": "NOTHING"}, FT, "a.png: image not found"),
    ("finetune-cuda", GOOD, FT + " --device cuda", CUDA),
    ("finetune-no-model", GOOD, FT.replace("{m}", "{d}/nomodel"), "nomodel: no such checkpoint"),
    ("predict-cuda", {"imgs/a.png": "PNG", "q.jsonl": POPE_Q}, PRED + " --device cuda", CUDA),
]


def _write(root: Path, files: dict[str, Any]) -> None:
    from PIL import Image

    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is DIR:
            path.mkdir(exist_ok=True)
        elif content == "PNG":
            Image.new("RGB", (36, 36), (200, 30, 30)).save(path, format="PNG")
        elif content == "NOTHING":
            pass
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("files, command, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, hub_checkpoints, files, command, needle):
    if "cuda" in needle and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _write(tmp_path, files)
    before = set(tmp_path.rglob("*"))
    rc = run_cli(*[a.format(d=tmp_path, m=hub_checkpoints.llava) for a in command.split()])
    out = capsys.readouterr()
    lines = [x for x in out.err.splitlines() if x.strip()]
    assert rc == 2, (rc, out.err[-800:])
    assert len(lines) == 1 and "Traceback" not in out.err, out.err[-2000:]
    assert lines[0].startswith("vigc-bench: error: ") and needle in lines[0], lines[0]
    assert set(tmp_path.rglob("*")) == before, sorted(map(str, set(tmp_path.rglob("*")) - before))


def test_lora_without_peft_is_one_line(capsys, tmp_path, hub_checkpoints, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    _write(tmp_path, GOOD)
    for cmd in (TV, FT):
        rc = run_cli(*[a.format(d=tmp_path, m=hub_checkpoints.llava) for a in (cmd + " --lora").split()])
        err = capsys.readouterr().err
        assert rc == 2 and "--lora needs peft" in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["train-vigc", "finetune", "generate", "predict"])
def test_help_explains_every_option(command, capsys):
    """Every option of the real-path commands has help text, and --help shows it."""
    from harness.cli import cli

    assert run_cli(command, "--help") == 0
    text = capsys.readouterr().out
    for p in cli.commands[command].params:
        if p.param_type_name == "option":
            assert p.help, f"{command} {p.opts[0]} has no help"
            assert p.opts[0] in text
    for opt in ("--device", *(("--lora", "--gradient-checkpointing") if command in ("train-vigc", "finetune") else ())):
        assert opt in text
