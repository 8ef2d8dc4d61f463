"""The memory footprint of a checkpoint counted on the loaded model, to check the estimate
read from its files against."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.training.footprint import Footprint

# The safetensors name of each torch dtype
DTYPES = {"torch.float32": "F32", "torch.bfloat16": "BF16", "torch.float16": "F16"}


def _held(model: Any) -> tuple[int, int]:
    """(parameters, bytes) of a loaded model's tensors."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() * p.element_size() for p in params)


def expected(checkpoint: Path, train_lm: bool) -> Footprint:
    """The footprint counted on the loaded model: its parameters, and what the finetune trains."""
    from harness.models.adapter import load_vlm
    from harness.training.finetune import trainable_parameters

    vlm = load_vlm(checkpoint)
    params, weights = _held(vlm.model)
    trained = [p for _, p in trainable_parameters(vlm, train_lm)]
    dtypes = tuple(sorted({DTYPES[str(p.dtype)] for p in vlm.model.parameters()}))
    return Footprint(params, weights, dtypes, sum(p.numel() for p in trained),
                     sum(p.numel() * p.element_size() for p in trained))
