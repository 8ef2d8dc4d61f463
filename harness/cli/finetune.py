"""`vigc-bench finetune`: a saved model finetuned on LLaVA-format data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli._options import device_option, training_options, training_recipe


@click.command()
@click.option("--model", required=True, help="Saved model directory (e.g. a study's finetune output) or hub id.")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="LLaVA-format JSON (repeatable; the files are trained on together).")
@click.option("--images", required=True, type=click.Path(file_okay=False),
              help="Folder the conversations' `image` paths resolve against.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True, help="Optimizer steps.")
@click.option("--batch", "--batch-size", "batch", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (linear warmup, cosine decay).")
@click.option("--freeze-lm", is_flag=True, help="Train the connector only (the LM stays frozen).")
@training_options
@device_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the data order.")
@click.option("--blind", is_flag=True, help="Show every conversation a blank image (the text-only control).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def finetune(model: str, data: tuple[str, ...], images: str, out_dir: str, steps: int, batch: int, lr: float,
             freeze_lm: bool, lora: bool, gradient_checkpointing: bool, device: str, seed: int, blind: bool,
             quiet: bool) -> None:
    """Finetune a saved model on instruction data (vision tower frozen) and save it to --out;
    a killed run resumes from its last checkpoint. Score it with `predict` and `score`."""
    from rich.console import Console

    from harness import api
    from harness.core.rich_progress import RichProgress

    recipe = training_recipe(steps, batch, lr, freeze_lm, device)
    with RichProgress(Console(stderr=True, quiet=quiet)) as prog:
        log = api.finetune(model, [Path(p) for p in data], Path(images), Path(out_dir), recipe, seed, blind, prog,
                           device, lora, gradient_checkpointing)
    click.echo(json.dumps({"model": out_dir, "examples": log["examples"], "steps": steps,
                           "final_loss": log["losses"][-1][1] if log["losses"] else None}))
