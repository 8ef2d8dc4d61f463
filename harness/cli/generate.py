"""`vigc-bench generate` (with --shard i/n) and `vigc-bench merge` (its shards into one file)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("generator")
@click.option("--images", "world_dir", required=True, type=click.Path(file_okay=False),
              help="A world directory (images/, annotations/, scenes/), e.g. from `vigc-bench world`.")
@click.option("--split", default="extra", show_default=True, help="Which split of the world to generate for.")
@click.option("--model", default=None, help="Checkpoint directory or hub id (generators that read pixels).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Generation records (JSONL); the LLaVA JSON is written beside it as <out>.llava.json.")
@click.option("--data-type", "data_types", multiple=True,
              help="Data types to generate (repeatable; default: all the generator supports).")
@click.option("--shard", default="0/1", show_default=True, help="Generate shard i of n (every n-th image).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--backend", type=click.Choice(["template", "chat"]), default="template", show_default=True,
              help="language_only: templates (offline) or an OpenAI-compatible chat API.")
@click.option("--vic-max-sentences", type=int, default=4, show_default=True)
@click.option("--no-vic-eos", is_flag=True, help="VIC: do not stop at end-of-text, only after N sentences.")
def generate(generator: str, world_dir: str, split: str, model: str | None, out_file: str,
             data_types: tuple[str, ...], shard: str, seed: int, backend: str, vic_max_sentences: int,
             no_vic_eos: bool) -> None:
    """Generate instruction data for the images of a world split with GENERATOR
    (language_only, gold, vigc); with --shard i/n only every n-th image."""
    from harness import api

    opts = {"backend": backend, "vic_max_sentences": vic_max_sentences, "vic_at_eos": not no_vic_eos}
    got = api.generate(generator, Path(world_dir), Path(out_file), split, model, data_types, shard, seed, opts)
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
