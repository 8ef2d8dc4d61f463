"""LoRA on the language model (peft), merged back before saving.

A finetune with LoRA trains the connector in full and low-rank adapters on the LM's attention
and MLP projections instead of the whole LM; the adapters are merged into the weights at the
end, so the saved folder is a plain checkpoint that `predict` and `from_pretrained` load
without peft. peft is an optional extra (`pip install 'vigc-bench[lora]'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.core.errors import MissingResource

# Llama / Qwen / Vicuna projection names: what the LoRA papers and peft's defaults adapt.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSpec:
    """Rank, scale (alpha) and dropout of the adapters."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0


def language_model(vlm: Any) -> Any:
    """The LM module of a VLM (LLaVA's backbone, InstructBLIP's causal LM)."""
    return vlm.model.language_model if vlm.arch == "instructblip" else vlm.model.model.language_model


def add_lora(vlm: Any, spec: LoraSpec) -> Any:
    """Inject LoRA adapters into `vlm`'s LM in place; returns the handle `merge_lora` takes."""
    try:
        from peft import LoraConfig, LoraModel
    except ImportError:
        raise MissingResource("--lora needs peft: pip install 'vigc-bench[lora]'") from None
    lm = language_model(vlm)
    present = {name.rsplit(".", 1)[-1] for name, _ in lm.named_modules()}
    targets = [t for t in TARGET_MODULES if t in present]
    if not targets:
        raise MissingResource(f"--lora: the language model has none of the projections {', '.join(TARGET_MODULES)}")
    cfg = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets)
    return LoraModel(lm, cfg, "default")


def lora_parameters(vlm: Any) -> list[Any]:
    """The adapters' parameters (what LoRA trains in the LM)."""
    return [p for name, p in language_model(vlm).named_parameters() if "lora_" in name]


def merge_lora(handle: Any) -> None:
    """Merge the adapters into the LM's weights and remove them (in place)."""
    handle.merge_and_unload()
