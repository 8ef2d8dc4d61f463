"""`vigc-bench world`: write a preset's embedded world into a folder as plain files, with the
study config that runs on them."""

from __future__ import annotations

import json
from pathlib import Path

import click

# Bounds on counts a user types: beyond them a typo (10^12) would run for days or exhaust memory.
MAX_WORLD_IMAGES = 100_000  # per split: the world is drawn in memory before it is written


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="World directory to write.")
@click.option("--preset", type=click.Choice(["tiny", "smoke"]), default="tiny", show_default=True,
              help="The study whose world (sizes, seed, benchmarks) is written, and which DIR/study.yaml runs.")
@click.option("--images", type=click.IntRange(1, MAX_WORLD_IMAGES), default=None,
              help=f"Images per split, for every split (default: the preset's; at most {MAX_WORLD_IMAGES:,}).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed (default: the preset's).")
def world(out_dir: str, preset: str, images: int | None, seed: int | None) -> None:
    """Write the embedded world as files: images, ground-truth scenes, COCO instances and
    captions, benchmark files in their official formats, and DIR/study.yaml, the preset's study
    on those files (`vigc-bench run --config DIR/study.yaml`)."""
    from harness import api

    res = api.export_world(Path(out_dir), preset, images, seed)
    click.echo(json.dumps({"images": res.images, "benchmarks": sorted(res.benchmark_files),
                           "config": str(res.config)}))
