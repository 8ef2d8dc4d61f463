"""`vigc-bench train-vigc`: a saved model trained as a VIGC model on LLaVA-format data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli._options import device_option, training_options, training_recipe


@click.command("train-vigc")
@click.option("--model", required=True, help="Model to start from: a saved model directory (LLaVA or InstructBLIP "
                                             "class) or a hub id.")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="LLaVA-format JSON (repeatable; trained on together). Each question-answer pair makes one VIG "
                   "and one VIC sample; the data type comes from the file name (detail, complex, knowledge/okvqa, "
                   "else conversation), as in LLaVA-Instruct-150K's files.")
@click.option("--images", required=True, type=click.Path(file_okay=False),
              help="Folder the conversations' `image` paths resolve against.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Model directory to write (model, processor, train_log.json).")
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", "batch", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples per step (VIG and VIC mixed).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Peak learning rate (linear warmup, cosine decay).")
@click.option("--freeze-lm", is_flag=True, help="Train the connector only (VIGC's recipe: Q-Former and projection).")
@training_options
@device_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of data order and VIC split points.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_vigc(model: str, data: tuple[str, ...], images: str, out_dir: str, steps: int, batch: int, lr: float,
               freeze_lm: bool, lora: bool, gradient_checkpointing: bool, device: str, seed: int, quiet: bool) -> None:
    """Train a VIGC model (VIG: instruction -> question and answer; VIC: question and the answer
    so far -> the next sentences) from LLaVA-format data, and save it to --out. Generate data
    with it: `vigc-bench generate vigc --model OUT --images DIR --out FILE`."""
    from rich.console import Console

    from harness import api
    from harness.core.rich_progress import RichProgress

    recipe = training_recipe(steps, batch, lr, freeze_lm, device)
    with RichProgress(Console(stderr=True, quiet=quiet)) as prog:
        log = api.train_vigc(model, [Path(p) for p in data], Path(images), Path(out_dir), recipe, seed, prog,
                             device, lora, gradient_checkpointing)
    click.echo(json.dumps({"model": out_dir, "examples": log["examples"], "pairs": log["conversations"],
                           "steps": steps, "final_loss": log["losses"][-1][1] if log["losses"] else None}))
