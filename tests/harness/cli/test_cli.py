"""The command line contract: help, exit codes, one-line errors, score --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_help_lists_commands():
    r = cli("--help")
    assert r.returncode == 0
    for cmd in ("run", "world", "score", "report"):
        assert cmd in r.stdout


def test_run_help_explains_options():
    r = cli("run", "--help")
    assert r.returncode == 0 and "--preset" in r.stdout and "-o" in r.stdout and "--device" in r.stdout


def test_bad_config_key_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("name: x\nfoundation:\n  vision:\n    stpes: 3\n")
    r = cli("run", "--config", str(cfg), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    line = one_error_line(r)
    assert "study.yaml" in line and "foundation.vision.stpes" in line and "steps" in line
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_bad_override_is_exit_2(tmp_path):
    r = cli("run", "-o", "finetune", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "key=value" in one_error_line(r)


def test_run_bad_device_is_one_usage_line(tmp_path):
    r = cli("run", "--preset", "smoke", "--device", "tpu", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "--device" in one_error_line(r) and "'tpu'" in r.stderr
    assert not (tmp_path / "o").exists()


def test_run_on_cuda_without_a_gpu_fails_before_any_work(tmp_path, monkeypatch, capsys):
    import torch

    from tests.harness.cli._run import run_cli

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # so the test holds on a GPU machine too
    assert run_cli("run", "--preset", "smoke", "--device", "cuda", "--out", str(tmp_path / "o"), "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device cuda: CUDA is not available" in err, err
    assert not (tmp_path / "o").exists()


def test_unknown_preset_is_exit_2():
    r = cli("run", "--preset", "huge")
    assert r.returncode == 2


def test_world_command_writes_coco(tmp_path):
    r = cli("world", "--out", str(tmp_path / "w"), "--images", "3")
    assert r.returncode == 0, r.stderr
    inst = json.loads((tmp_path / "w" / "annotations" / "instances_seed.json").read_text())
    assert len(inst["images"]) == 3 and inst["annotations"]


def _pope_files(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "pope.json"
    data.write_text("\n".join(json.dumps({"question_id": i, "image": "x.png", "text": "Is there a star in the image?",
                                          "label": lab}) for i, lab in enumerate(["yes", "no", "yes", "no"])) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(json.dumps({"question_id": i, "text": t})
                               for i, t in enumerate(["Yes.", "No, there is not.", "No.", "Yes"])) + "\n")
    return data, preds


def test_score_json(tmp_path):
    data, preds = _pope_files(tmp_path)
    r = cli("score", "pope", "--data", str(data), "--predictions", str(preds), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["accuracy"] == 50.0 and out["precision"] == 50.0 and out["recall"] == 50.0
    assert {"f1", "yes_ratio"} <= set(out)


def test_score_malformed_predictions_names_file(tmp_path):
    data, preds = _pope_files(tmp_path)
    preds.write_text("{not json\n")
    r = cli("score", "pope", "--data", str(data), "--predictions", str(preds))
    assert r.returncode == 2
    assert str(preds) in one_error_line(r)


def test_score_missing_file(tmp_path):
    r = cli("score", "pope", "--data", str(tmp_path / "nope.json"), "--predictions", str(tmp_path / "p.jsonl"))
    assert r.returncode == 2
    assert "nope.json" in one_error_line(r)


def test_unknown_benchmark_suggests(tmp_path):
    data, preds = _pope_files(tmp_path)
    r = cli("score", "popes", "--data", str(data), "--predictions", str(preds))
    assert r.returncode == 2
    assert "pope" in one_error_line(r)


def test_report_on_non_run_dir(tmp_path):
    r = cli("report", str(tmp_path))
    assert r.returncode == 2
    assert "not a run directory" in one_error_line(r)


@pytest.mark.parametrize("cmd", ["run", "world", "score", "report"])
def test_every_command_has_help(cmd):
    assert cli(cmd, "--help").returncode == 0


def test_misspelt_benchmark_fails_before_any_work(tmp_path: Path) -> None:
    import time

    t0 = time.perf_counter()
    r = cli("run", "-o", "benchmarks=[pop]", "--out", str(tmp_path / "run"))
    seconds = time.perf_counter() - t0
    assert r.returncode == 2
    line = one_error_line(r)
    assert "unknown benchmark 'pop'" in line and "did you mean pope?" in line
    assert seconds < 10, seconds
    assert not (tmp_path / "run").exists()  # nothing drawn, nothing trained


def test_run_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    r = cli("run", "--preset", "smoke", "--out", str(tmp_path / "run"), "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["run", "world"]
    assert any(line.split()[1] == "finetune/llava/seed" and "<- world" in line for line in lines)
    # world, 5 data parts, 5 foundation, 2 VIGC, 6 quality, bench files, and for each of the
    # two targets (llava and its untuned control) a finetune and 2 x (predict, score).
    assert lines[-1] == "32 stages, 32 to run, 0 cached"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["finetune", "train-vigc"])
def test_training_commands_train_in_fp32_on_a_cpu(command: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A CPU emulates bf16 (bench/bf16_cpu.py: ~3x slower per step), so the commands autocast
    # only on a GPU that computes it; the recipe they hand to the API says which.
    from harness import api

    seen = {}

    def fake(model, data, images, out, recipe, *args, **kwargs):  # noqa: ANN001, ANN202
        seen["bf16"] = recipe.bf16
        return {"examples": 1, "conversations": 1, "losses": []}

    monkeypatch.setattr(api, "finetune" if command == "finetune" else "train_vigc", fake)
    data = tmp_path / "d.json"
    data.write_text("[]")
    from tests.harness.cli._run import run_cli

    code = run_cli(command, "--model", "m", "--data", str(data), "--images", str(tmp_path),
                   "--out", str(tmp_path / "o"), "--device", "cpu", "--quiet")
    assert code == 0 and seen == {"bf16": False}
