"""`vigc-bench generate` (with --shard i/n) and `vigc-bench merge` (its shards into one file)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from harness.cli._options import device_option


@click.command()
@click.argument("generator")
@click.option("--images", "world_dir", required=True, type=click.Path(file_okay=False),
              help="Any folder of images (searched recursively: .jpg, .png, ...), or a world directory (images/, "
                   "annotations/, scenes/) from `vigc-bench world`.")
@click.option("--split", default="extra", show_default=True,
              help="World directories only: which split of the world to generate for.")
@click.option("--annotations", "annotations", multiple=True, type=click.Path(dir_okay=False),
              help="Plain folders only: COCO instances or captions JSON whose `file_name`s are paths under --images "
                   "(repeatable; boxes and captions for the generators that read them; vigc reads pixels only).")
@click.option("--model", default=None,
              help="Checkpoint directory or hub id (generators that read pixels: vigc takes a `train-vigc` output).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Generation records (JSONL); the LLaVA JSON is written beside it as <out>.llava.json.")
@click.option("--data-type", "data_types", multiple=True,
              help="Data types to generate (repeatable; default: all the generator supports).")
@click.option("--shard", default="0/1", show_default=True, help="Generate shard i of n (every n-th image).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of instruction draws (per image).")
@click.option("--backend", type=click.Choice(["template", "chat"]), default="template", show_default=True,
              help="language_only: templates (offline) or an OpenAI-compatible chat API.")
@click.option("--vic-max-sentences", type=int, default=4, show_default=True,
              help="VIC: stop after this many sentences (VIGC's reference code: 4).")
@click.option("--no-vic-eos", is_flag=True, help="VIC: do not stop at end-of-text, only after N sentences.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="vigc: prompts per generate call.")
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(generator: str, world_dir: str, split: str, annotations: tuple[str, ...], model: str | None,
             out_file: str, data_types: tuple[str, ...], shard: str, seed: int, backend: str, vic_max_sentences: int,
             no_vic_eos: bool, batch_size: int, device: str, quiet: bool) -> None:
    """Generate instruction data with GENERATOR (language_only, gold, vigc) for a folder of
    images or a world split; with --shard i/n only every n-th image (merge the shards with
    `vigc-bench merge`). vigc runs VIG then VIC with a `train-vigc` model."""
    from rich.console import Console

    from harness import api
    from harness.core.rich_progress import RichProgress

    opts = {"backend": backend, "vic_max_sentences": vic_max_sentences, "vic_at_eos": not no_vic_eos,
            "batch_size": batch_size}
    with RichProgress(Console(stderr=True, quiet=quiet)) as prog:
        got = api.generate(generator, Path(world_dir), Path(out_file), split, model, data_types, shard, seed, opts,
                           prog, device, [Path(a) for a in annotations])
    click.echo(json.dumps({"records": got.records, "images": got.images, "shard": got.shard}))


@click.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Merged records (JSONL); LLaVA JSON beside it as <out>.llava.json.")
def merge(shards: tuple[str, ...], out_file: str) -> None:
    """Merge the shard files of one `generate` run; fails if any shard is missing or incomplete."""
    from harness import api

    n = api.merge_shards([Path(s) for s in shards], Path(out_file))
    click.echo(json.dumps({"records": n, "shards": len(shards)}))
