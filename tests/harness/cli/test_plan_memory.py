"""`run --dry-run` on a study of real checkpoints: under each stage that loads one (or a model
finetuned from one) the memory it takes, equal to what the loaded model holds; "unknown" for a
hub id that is not on disk; still nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import api
from harness.cli.run import memory_text
from harness.study.config import load_config
from tests.harness.cli._run import run_cli
from tests.harness.training._footprints import expected

pytest.importorskip("torch")


def test_dry_run_memory_is_the_loaded_models(hub_checkpoints: Any, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    overrides = [f"targets.0.checkpoint={hub_checkpoints.llava}", f"vigc.checkpoint={hub_checkpoints.instructblip}"]
    cfg = load_config(preset="smoke", overrides=overrides)
    assert cfg.targets[0].finetune.train_lm and not cfg.vigc.finetune.train_lm
    plan = {s.name: s for s in api.plan_study(cfg, tmp_path / "run")}
    llava, vigc = expected(hub_checkpoints.llava, True), expected(hub_checkpoints.instructblip, False)
    assert plan["finetune/llava/seed"].memory == llava
    assert plan["vigc/train"].memory == vigc
    # Stages that run the finetuned model hold its weights (a finetune keeps the checkpoint's size).
    assert plan["predict/llava/seed/pope"].memory == llava.inference() == plan["predict/llava/seed/mmbench"].memory
    assert plan["data/vigc"].memory == vigc.inference()
    assert {n for n, s in plan.items() if s.memory is not None} == {
        "finetune/llava/seed", "vigc/train", "data/vigc", "predict/llava/seed/pope", "predict/llava/seed/mmbench"}

    assert run_cli("run", "--preset", "smoke", "--dry-run", "--out", str(tmp_path / "run"),
                   *(a for o in overrides for a in ("-o", o))) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index(next(x for x in lines if x.split()[1:2] == ["vigc/train"]))
    assert lines[at + 1] == f"        memory: {memory_text(vigc)}"
    assert memory_text(vigc) == (
        f"weights {vigc.weight_bytes / 1024:.1f} KiB ({vigc.params / 1e3:.2f}K params, F32); training "
        f"{vigc.training_bytes / 1024 ** 2:.1f} MiB (+ grads and AdamW states of {vigc.trainable_params / 1e3:.2f}K "
        "trainable; activations not counted)")
    assert not (tmp_path / "run").exists()


def test_a_hub_id_not_on_disk_is_unknown(hub_checkpoints: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert run_cli("run", "--preset", "smoke", "--dry-run", "--out", str(tmp_path / "run"),
                   "-o", "targets.0.checkpoint=org/not-here", "-o", "vigc.enabled=false") == 0
    lines = capsys.readouterr().out.splitlines()
    memory = [(lines[i - 1].split()[1], x.strip()) for i, x in enumerate(lines) if x.strip().startswith("memory:")]
    assert memory == [(name, "memory: unknown (checkpoint not local)") for name in
                      ("finetune/llava/seed", "predict/llava/seed/pope", "predict/llava/seed/mmbench")]

