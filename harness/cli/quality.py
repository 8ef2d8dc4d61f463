"""`vigc-bench quality FILE`: data-quality metrics of an instruction dataset (DESIGN §5).

Exposes the click command `quality`; the main group attaches it with `cli.add_command`.
Heavy work (pycocoevalcap, java) happens inside the command, so `--help` stays instant.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import click

from harness.core.errors import BadInput

if TYPE_CHECKING:
    from harness.core.records import GenerationRecord, Scene


def _table(rows: Sequence, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col, justify in (("data type", "left"), ("metric", "left"), ("value", "right"), ("95% CI", "right"),
                         ("n", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    last = None
    for r in rows:
        ci = "" if r.ci_low is None or r.ci_high is None else f"[{r.ci_low:.2f}, {r.ci_high:.2f}]"
        if last is not None and r.data_type != last:
            table.add_section()
        table.add_row(r.data_type if r.data_type != last else "", r.metric, f"{r.value:.2f}", ci, str(r.n))
        last = r.data_type
    Console(width=100).print(table)


def _inputs(file: str, world: str | None, split: str | None, references: str | None,
            data_type: str) -> tuple[list[GenerationRecord], list[Scene] | None, dict[str, list[str]] | None]:
    """(records, scenes or None, references or None), with the checks that name the file."""
    from harness.quality.readers import load_dataset, load_references, load_scenes, scene_index, world_references

    records = load_dataset(file, data_type)
    scenes = load_scenes(world, split) if world else None
    if scenes is not None:
        index = scene_index(scenes)
        if not any(index.get(r.image) is not None for r in records):
            where = f"split {split!r} of {world}" if split else world
            raise BadInput(f"{file}: none of its images is in the scenes of {where}")
    if references:
        refs = load_references(references)
    elif world:
        refs = world_references(world, split) or None
    else:
        refs = None
    return records, scenes, refs


@click.command("quality")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--world", type=click.Path(file_okay=False),
              help="Embedded-world directory: enables factual accuracy, CHAIR, attribute errors and coverage.")
@click.option("--split", help="World split the images belong to (default: every split in --world).")
@click.option("--references", type=click.Path(dir_okay=False),
              help="Reference captions (COCO captions JSON or {image: [captions]}) for BLEU/METEOR/ROUGE-L/CIDEr "
                   "of detail descriptions (default: the world's captions when --world is given).")
@click.option("--data-type", default="conversation", show_default=True,
              help="Data type of the samples of a LLaVA JSON file (generation records carry their own).")
@click.option("--source", help="Source name written in the records (default: FILE's stem).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write QualityRecord lines here (JSONL).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of records instead of a table.")
@click.option("--n-boot", type=click.IntRange(0, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% CIs (0: no CIs).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap and self-BLEU sample.")
@click.option("--no-meteor", is_flag=True, help="Skip METEOR (its java start takes about 10 s).")
def quality(file: str, world: str | None, split: str | None, references: str | None, data_type: str,
            source: str | None, out_file: str | None, as_json: bool, n_boot: int, seed: int, no_meteor: bool) -> None:
    """Data-quality metrics of a dataset FILE: generation records (JSONL) or LLaVA JSON.

    Per data type and for all: question diversity (distinct-n, self-BLEU), lengths, duplicate
    and parse-failure rates; with --world, factual accuracy, CHAIR-style hallucination,
    attribute errors and coverage; with references, caption metrics. Every metric has a 95%
    bootstrap CI over images.
    """
    from harness.core.io import write_jsonl
    from harness.quality.metrics import quality_metrics
    from harness.quality.readers import dumps_records
    from harness.quality.text import QualityNote

    records, scenes, refs = _inputs(file, world, split, references, data_type)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QualityNote)
        rows = quality_metrics(records, scenes, refs, source=source or Path(file).stem, n_boot=n_boot, seed=seed,
                               meteor=not no_meteor)
    for w in caught:
        if issubclass(w.category, QualityNote):
            click.echo(f"note: {w.message}", err=True)
        else:  # not ours to swallow
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if out_file:
        write_jsonl(out_file, rows)
    if as_json:
        click.echo(dumps_records(rows))
    else:
        _table(rows, f"data quality: {source or Path(file).stem} ({len(records)} records)")
