"""The memory estimate of a checkpoint (`run --dry-run`): read from the safetensors headers, it
equals what the loaded model holds (parameters x dtype bytes) and what the finetune trains;
sharded checkpoints, hub ids in the local cache, and what is not on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.training.footprint import Footprint, footprint
from tests.harness.training._footprints import expected

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
@pytest.mark.parametrize("train_lm", [False, True])
def test_estimate_is_what_the_loaded_model_holds_and_trains(arch: str, train_lm: bool, hub_checkpoints: Any) -> None:
    got = footprint(str(hub_checkpoints.of(arch)), train_lm)
    assert got == expected(hub_checkpoints.of(arch), train_lm)
    assert got.trainable_params and got.training_bytes == got.weight_bytes + 3 * got.trainable_bytes
    assert footprint(str(hub_checkpoints.of(arch))).trainable_params is None  # not a training stage


def test_bf16_weights_count_two_bytes(hub_checkpoints: Any, tmp_path: Path) -> None:
    from harness.models.adapter import load_vlm

    half = tmp_path / "bf16"
    shutil.copytree(hub_checkpoints.llava, half)
    vlm = load_vlm(hub_checkpoints.llava)
    vlm.model.to(torch.bfloat16).save_pretrained(half)
    got = footprint(str(half), True)
    assert got.dtypes == ("BF16",) and got.weight_bytes == 2 * got.params
    assert got == expected(half, True)


def _save_shards(folder: Path) -> dict[str, Any]:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    parts = {"model-00001-of-00002.safetensors": {"language_model.w": torch.zeros(3, 4),
                                                  "multi_modal_projector.w": torch.zeros(2, dtype=torch.float16)},
             "model-00002-of-00002.safetensors": {"vision_tower.w": torch.zeros(5, 1, dtype=torch.bfloat16)}}
    for name, tensors in parts.items():
        save_file(tensors, str(folder / name))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        t: name for name, tensors in parts.items() for t in tensors}}))
    (folder / "config.json").write_text(json.dumps({"model_type": "llava"}))
    return parts


def test_sharded_checkpoint_and_a_missing_shard(tmp_path: Path) -> None:
    _save_shards(tmp_path / "ck")
    got = footprint(str(tmp_path / "ck"), False)
    assert (got.params, got.weight_bytes, got.dtypes) == (12 + 2 + 5, 12 * 4 + 2 * 2 + 5 * 2, ("BF16", "F16", "F32"))
    assert (got.trainable_params, got.trainable_bytes) == (2, 4)  # the projector; the LM is frozen
    assert footprint(str(tmp_path / "ck"), True).trainable_params == 14
    (tmp_path / "ck" / "model-00002-of-00002.safetensors").unlink()
    assert footprint(str(tmp_path / "ck")).unknown == "model-00002-of-00002.safetensors not on disk"


def test_a_hub_id_is_read_from_the_local_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert footprint("org/model", True) == Footprint(unknown="checkpoint not local")
    repo = tmp_path / "hub" / "models--org--model"
    _save_shards(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert footprint("org/model").params == 19
    assert footprint("not a/valid/id").unknown == "checkpoint not local"


def test_no_weights_or_another_model_type(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    assert footprint(str(tmp_path)).unknown == "no safetensors weights"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert footprint(str(tmp_path)).unknown == "model type 'bert' is not llava or instructblip"
