"""`vigc-bench world`: draw the embedded world into a folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

# Bounds on counts a user types: beyond them a typo (10^12) would run for days or exhaust memory.
MAX_WORLD_IMAGES = 100_000  # per split: the world is drawn in memory before it is written


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="World directory to write.")
@click.option("--images", type=click.IntRange(1, MAX_WORLD_IMAGES), default=300, show_default=True,
              help=f"Images per split (at most {MAX_WORLD_IMAGES:,}).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
def world(out_dir: str, images: int, seed: int) -> None:
    """Draw the embedded world: images, ground-truth scenes, COCO instances and captions."""
    from harness import api

    click.echo(json.dumps(api.write_world(Path(out_dir), images, seed)))
