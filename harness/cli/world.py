"""`vigc-bench world`: draw the embedded world into a folder."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="World directory to write.")
@click.option("--images", type=click.IntRange(min=1), default=300, show_default=True, help="Images per split.")
@click.option("--seed", type=int, default=0, show_default=True)
def world(out_dir: str, images: int, seed: int) -> None:
    """Draw the embedded world: images, ground-truth scenes, COCO instances and captions."""
    from harness import api

    click.echo(json.dumps(api.write_world(Path(out_dir), images, seed)))
