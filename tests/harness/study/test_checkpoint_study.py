"""A study whose VIGC model starts from a real checkpoint (`vigc.checkpoint`: a tiny hub-layout
InstructBLIP) trains it and runs VIG + VIC with it through the study, and the generated data
reaches a target finetuned from a hub-layout LLaVA; no foundation stage runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import api
from harness.core.io import read_json, read_jsonl
from harness.core.records import GenerationRecord
from harness.stages.vigc import VIG_LLAVA_FILE, VIGC_LLAVA_FILE
from harness.study.config import load_config

pytest.importorskip("torch")

TYPES = ["conversation", "detail"]


@pytest.mark.slow  # about 15 s on 2 cores
def test_vigc_generation_from_a_hub_instructblip(hub_checkpoints: Any, tmp_path: Path) -> None:
    cfg = load_config(preset="smoke", overrides=[
        f"vigc.checkpoint={hub_checkpoints.instructblip}", f"targets.0.checkpoint={hub_checkpoints.llava}",
        "world.images={foundation: 1, seed: 12, extra: 3, bench: 4}", f"extra_data_types={TYPES}",
        f"seed_data.data_types={TYPES}", f"vigc.train_data_types={TYPES}", f"vigc.generate.data_types={TYPES}",
        "vigc.finetune.steps=2", "vigc.finetune.batch=4", "vigc.generate.max_sentences=2",
        "targets.0.finetune.steps=1", "targets.0.finetune.batch=4", "sources=[seed+vigc]", "benchmarks=[pope]",
        "quality.enabled=false"])
    res = api.run_study(cfg, tmp_path / "run", jobs=1)
    stages = {o.name: o for o in res.history}
    assert not [n for n in stages if n.startswith("foundation/")]
    assert not any(o.cached for o in stages.values())

    trained = stages["vigc/train"]
    # The model was the checkpoint's: its 4 query tokens, not the 16 the tiny VIGC model gets.
    assert read_json(trained.path / "model" / "config.json")["num_query_tokens"] == 4
    assert read_json(trained.path / "model" / "config.json")["model_type"] == "instructblip"

    gen = stages["data/vigc"]
    assert read_json(gen.path / "manifest.json")["inputs"]["model"] == trained.key
    records = read_jsonl(gen.path / "records.jsonl", GenerationRecord)
    assert len(records) == 3 * len(TYPES) == gen.meta["records"]  # one per extra image and data type
    assert {r.generator for r in records} == {"vigc"} and {r.data_type for r in records} == set(TYPES)
    assert all(r.raw_output for r in records)  # the model generated text for every prompt
    for name in (VIG_LLAVA_FILE, VIGC_LLAVA_FILE):
        assert isinstance(json.loads((gen.path / name).read_text()), list)

    ft = read_json(stages["finetune/llava/seed+vigc"].path / "manifest.json")
    assert ft["inputs"]["data:vigc"] == gen.key
    assert {r.source for r in res.results} == {"seed+vigc"}


@pytest.mark.slow  # about 15 s on 2 cores
def test_the_vigc_model_starts_from_a_targets_seed_finetune(hub_checkpoints: Any, tmp_path: Path) -> None:
    """`vigc.start_from`: vigc/train loads the instructblip target's seed finetune (run once, for
    both uses), not the foundation."""
    cfg = load_config(preset="smoke", overrides=[
        f"targets=[{{name: blip, arch: instructblip, checkpoint: {hub_checkpoints.instructblip}, "
        "finetune: {steps: 1, batch: 4}}]", "vigc.start_from=blip",
        "world.images={foundation: 1, seed: 12, extra: 3, bench: 4}", f"extra_data_types={TYPES}",
        f"seed_data.data_types={TYPES}", f"vigc.train_data_types={TYPES}", f"vigc.generate.data_types={TYPES}",
        "vigc.finetune.steps=2", "vigc.finetune.batch=4", "vigc.generate.max_sentences=2",
        "sources=[seed, seed+vigc]", "benchmarks=[pope]", "quality.enabled=false"])
    res = api.run_study(cfg, tmp_path / "run", jobs=1)
    names = [o.name for o in res.history]
    assert names.count("finetune/blip/seed") == 1 and not [n for n in names if n.startswith("foundation/")]
    stages = {o.name: o for o in res.history}
    trained = read_json(stages["vigc/train"].path / "manifest.json")
    assert trained["inputs"]["init"] == stages["finetune/blip/seed"].key
    # The target's model: the hub checkpoint's 4 query tokens, not the tiny VIGC model's 16.
    assert read_json(stages["vigc/train"].path / "model" / "config.json")["num_query_tokens"] == 4
    assert {r.source for r in res.results} == {"seed", "seed+vigc"}
