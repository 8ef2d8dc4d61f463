"""The public API the CLI wraps: plan without running, score, world, names checked first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import api
from harness.core.errors import BadConfig, BadInput, MissingResource


def test_plan_lists_every_stage_without_running_any(tmp_path: Path) -> None:
    cfg = api.load_study_config(preset="smoke")
    stages = api.plan_study(cfg, tmp_path / "run")
    names = [s.name for s in stages]
    assert names[0] == "world" and names[-1].startswith("score/")
    assert {"score/llava/seed/mmbench", "score/llava-untuned/none/mmbench"} <= set(names)
    assert {"vigc/train", "data/vigc", "finetune/llava/seed", "bench-files"} <= set(names)
    assert not any(s.cached for s in stages)
    assert not (tmp_path / "run").exists()  # nothing ran, nothing written
    by_name = {s.name: s for s in stages}
    # Inputs come before the stages that read them, and the plan is data (JSON-able).
    for s in stages:
        assert all(names.index(i) < names.index(s.name) for i in s.inputs.values())
    assert by_name["finetune/llava/seed"].config["finetune"]["steps"] == cfg.targets[0].finetune.steps
    json.dumps([s.config for s in stages])


def test_load_study_config_resolves_names() -> None:
    with pytest.raises(BadConfig, match="unknown benchmark 'pop'; did you mean pope"):
        api.load_study_config(preset="smoke", overrides=["benchmarks=[pop]"])


def test_score_files_checks_before_scoring(tmp_path: Path) -> None:
    data = tmp_path / "q.jsonl"
    data.write_text("", encoding="utf-8")
    with pytest.raises(MissingResource, match="unknown benchmark 'popee'"):
        api.score_files("popee", [data], data)
    with pytest.raises(BadInput, match="--split is not an option of pope"):
        api.score_files("pope", [data], data, split="val")
    with pytest.raises(MissingResource, match="nowhere.jsonl: file not found"):
        api.score_files("pope", [data], tmp_path / "nowhere.jsonl")
    with pytest.raises(BadInput, match="pope has no LLM judge"):
        api.benchmark_judge("pope", "http://127.0.0.1:9", "m")


def test_write_world(tmp_path: Path) -> None:
    counts = api.write_world(tmp_path / "w", images=2, seed=1)
    assert counts == {"foundation": 2, "seed": 2, "extra": 2, "bench": 2}
    with pytest.raises(BadInput):
        api.write_world(tmp_path / "x", images=0)


def test_finetune_a_saved_model_on_llava_json(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.core.records import TRAIN_LOG
    from harness.models.adapter import load_vlm
    from harness.training.recipes import FinetuneConfig
    from tests.harness._tiny_models import images, tiny_vlm

    tiny_vlm("llava", seed=1).save(tmp_path / "base")
    pics = tmp_path / "pics"
    pics.mkdir()
    for i, im in enumerate(images(3)):
        im.save(pics / f"{i}.png")
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"id": str(i), "image": f"{i % 3}.png", "conversations": [
        {"from": "human", "value": "What colour is the star?\n<image>"},
        {"from": "gpt", "value": "The star is red."}]} for i in range(6)]), encoding="utf-8")
    recipe = FinetuneConfig(steps=3, batch=2, warmup=1, checkpoint_every=2)
    log = api.finetune(str(tmp_path / "base"), [data], pics, tmp_path / "out", recipe)
    assert log["examples"] == 6 and len(log["losses"]) >= 1
    assert json.loads((tmp_path / "out" / TRAIN_LOG).read_text())["conversations"] == 6
    load_vlm(tmp_path / "out")  # a model directory `predict` and `finetune` take again
    with pytest.raises(MissingResource, match="image folder not found"):
        api.finetune(str(tmp_path / "base"), [data], tmp_path / "nowhere", tmp_path / "out2", recipe)
