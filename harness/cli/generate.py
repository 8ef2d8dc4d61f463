"""`vigc-bench generate` (with --shard i/n) and `vigc-bench merge`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from harness.core.errors import BadInput, MissingResource, excerpt


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
    from generators import GENERATORS
    from generators.base import GenerationContext, to_llava
    from harness.core.io import write_json
    from harness.core.records import WorldLayout
    from harness.stages.world import image_infos
    from harness.core.sharding import parse_shard, take_shard, write_shard

    gen = GENERATORS.get(generator)()
    unknown = [t for t in data_types if t not in gen.data_types]
    if unknown:  # before any work: a typo costs a second, not a generation run
        raise BadInput(f"--data-type {excerpt(unknown[0])}: {generator} generates {', '.join(gen.data_types)}")
    sh = parse_shard(shard)
    wd = Path(world_dir)
    layout = WorldLayout(wd)
    if not layout.instances(split).is_file():
        raise MissingResource(f"{wd}: no {layout.instances(split).relative_to(wd)} (not a world directory, or no "
                              f"split {split!r})")
    infos = take_shard(image_infos(wd, split, with_scenes=layout.scenes(split).is_file()), sh)
    vlm = None
    if gen.reads_pixels:
        if model is None:
            raise BadInput(f"generator {generator!r} reads pixels: give --model")
        if Path(model).exists():  # a local checkpoint: make sure nothing reaches for a hub
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from harness.models.adapter import load_vlm

        vlm = load_vlm(model)
    types = data_types or gen.data_types
    opts = {"backend": backend, "vic_max_sentences": vic_max_sentences, "vic_at_eos": not no_vic_eos}
    records = gen.generate(GenerationContext(images=infos, data_types=types, seed=seed, model=vlm, options=opts))
    out = Path(out_file)
    fingerprint = {"generator": generator, "world": str(wd.resolve()), "split": split, "model": model,
                   "types": list(types), "seed": seed, "options": opts, "n": sh[1]}
    write_shard(out, records, sh, fingerprint)
    write_json(out.with_name(out.name + ".llava.json"),
               [c.model_dump(mode="json", by_alias=True) for c in to_llava(records)], indent=None)
    click.echo(json.dumps({"records": len(records), "images": len(infos), "shard": shard}))


@click.command()
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Merged records (JSONL); LLaVA JSON beside it as <out>.llava.json.")
def merge(shards: tuple[str, ...], out_file: str) -> None:
    """Merge the shard files of one `generate` run; fails if any shard is missing or incomplete."""
    from generators.base import to_llava
    from harness.core.io import write_json, write_jsonl
    from harness.core.sharding import merge_shards

    records = merge_shards([Path(s) for s in shards])
    out = Path(out_file)
    write_jsonl(out, records)
    write_json(out.with_name(out.name + ".llava.json"),
               [c.model_dump(mode="json", by_alias=True) for c in to_llava(records)], indent=None)
    click.echo(json.dumps({"records": len(records), "shards": len(shards)}))
