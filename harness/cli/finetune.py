"""`vigc-bench finetune`: a saved model finetuned on LLaVA-format data."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--model", required=True, help="Saved model directory (e.g. a study's finetune output) or hub id.")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="LLaVA-format JSON (repeatable; the files are trained on together).")
@click.option("--images", required=True, type=click.Path(file_okay=False),
              help="Folder the conversations' `image` paths resolve against.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--freeze-lm", is_flag=True, help="Train the connector only (the LM stays frozen).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--blind", is_flag=True, help="Show every conversation a blank image (the text-only control).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def finetune(model: str, data: tuple[str, ...], images: str, out_dir: str, steps: int, batch: int, lr: float,
             freeze_lm: bool, seed: int, blind: bool, quiet: bool) -> None:
    """Finetune a saved model on instruction data (vision tower frozen) and save it to --out;
    a killed run resumes from its last checkpoint. Score it with `predict` and `score`."""
    from rich.console import Console

    from harness import api
    from harness.core.rich_progress import RichProgress
    from harness.training.recipes import FinetuneConfig

    recipe = FinetuneConfig(steps=steps, batch=batch, lr=lr, train_lm=not freeze_lm)
    with RichProgress(Console(stderr=True, quiet=quiet)) as prog:
        log = api.finetune(model, [Path(p) for p in data], Path(images), Path(out_dir), recipe, seed, blind, prog)
    click.echo(json.dumps({"model": out_dir, "examples": log["examples"], "steps": steps,
                           "final_loss": log["losses"][-1][1] if log["losses"] else None}))
