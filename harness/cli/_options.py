"""Options several commands share, spelled and explained once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import click

if TYPE_CHECKING:
    from harness.training.recipes import FinetuneConfig

F = Callable[..., Any]


def device_option(f: F) -> F:
    """`--device cpu|cuda|auto`."""
    return click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
                        help="Where the model runs: cpu, cuda, or auto (cuda when there is one, else cpu). On a "
                             "GPU with bfloat16, inference runs in bf16 and training autocasts to it.")(f)


def study_device_option(f: F) -> F:
    """`--device cpu|cuda|auto` of `run`: where the study's stages run their models."""
    return click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
                        help="Where the stages train and run their models: cpu, cuda, or auto (cuda when there is "
                             "one, else cpu); under torchrun each rank uses cuda:LOCAL_RANK. Not part of any cache "
                             "key: a rerun on another device reuses the finished stages.")(f)


def training_options(f: F) -> F:
    """`--lora` and `--gradient-checkpointing`."""
    f = click.option("--gradient-checkpointing", is_flag=True,
                     help="Recompute activations in the backward pass: less memory, about a third more time.")(f)
    return click.option("--lora", is_flag=True,
                        help="Train LoRA adapters (rank 8) on the LM's projections instead of the whole LM; they "
                             "are merged before saving, so --out is a plain checkpoint. Needs the [lora] extra "
                             "(peft).")(f)


def training_recipe(steps: int, batch: int, lr: float, freeze_lm: bool, device: str) -> "FinetuneConfig":
    """The recipe of `finetune` / `train-vigc`: bf16 autocast only on a GPU that computes it (a
    CPU emulates it, ~3x slower per step: bench/bf16_cpu.py)."""
    from harness.models.runtime import bf16_supported, resolve_device
    from harness.training.recipes import FinetuneConfig

    return FinetuneConfig(steps=steps, batch=batch, lr=lr, train_lm=not freeze_lm,
                          bf16=bf16_supported(resolve_device(device)))
