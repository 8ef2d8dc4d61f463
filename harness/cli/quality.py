"""`vigc-bench quality FILE`: data-quality metrics of an instruction dataset (DESIGN §5).

Exposes the click command `quality`; the main group attaches it with `cli.add_command`.
Heavy work (pycocoevalcap, java) happens inside the command, so `--help` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click


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


@click.command("quality")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--world", type=click.Path(file_okay=False),
              help="Embedded-world directory: enables factual accuracy, CHAIR, attribute errors and coverage.")
@click.option("--split", help="World split the images belong to (default: every split in --world).")
@click.option("--references", type=click.Path(dir_okay=False),
              help="Reference captions (COCO captions JSON or {image: [captions]}) for BLEU/METEOR/ROUGE-L/CIDEr "
                   "of detail descriptions (default: the world's captions when --world is given).")
@click.option("--instances", "instances", multiple=True, type=click.Path(dir_okay=False),
              help="COCO instances JSON (repeatable): CHAIR-style hallucination (coco_chair_i, coco_chair_s) and "
                   "coverage (coco_coverage) of the answers against its annotations.")
@click.option("--captions", "captions", multiple=True, type=click.Path(dir_okay=False),
              help="COCO captions JSON (repeatable, with --instances): the objects its captions name count as "
                   "present too, as in CHAIR.")
@click.option("--data-type", default="conversation", show_default=True,
              help="Data type of the samples of a LLaVA JSON file (generation records carry their own).")
@click.option("--source", help="Source name written in the records (default: FILE's stem).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write QualityRecord lines here (JSONL).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of records instead of a table.")
@click.option("--n-boot", type=click.IntRange(0, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% CIs (0: no CIs).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap and self-BLEU sample.")
@click.option("--no-meteor", is_flag=True, help="Skip METEOR (its java start takes about 10 s).")
def quality(file: str, world: str | None, split: str | None, references: str | None, instances: tuple[str, ...],
            captions: tuple[str, ...], data_type: str, source: str | None, out_file: str | None, as_json: bool,
            n_boot: int, seed: int, no_meteor: bool) -> None:
    """Data-quality metrics of a dataset FILE: generation records (JSONL) or LLaVA JSON.

    Per data type and for all: question diversity (distinct-n, self-BLEU), lengths, duplicate
    and parse-failure rates; with --world, factual accuracy, CHAIR-style hallucination,
    attribute errors and coverage; with --instances (COCO), CHAIR-style hallucination and coverage
    against the annotations; with references, caption metrics. Every metric has a 95% bootstrap
    CI over images.
    """
    from harness import api
    from harness.core.io import write_jsonl
    from harness.quality.readers import dumps_records

    got = api.measure_quality(Path(file), Path(world) if world else None, split,
                              Path(references) if references else None, data_type, source, n_boot, seed,
                              meteor=not no_meteor, instances=[Path(p) for p in instances],
                              captions=[Path(p) for p in captions])
    for note in got.notes:
        click.echo(f"note: {note}", err=True)
    if out_file:
        write_jsonl(out_file, got.rows)
    if as_json:
        click.echo(dumps_records(got.rows))
    else:
        _table(got.rows, f"data quality: {source or Path(file).stem} ({got.records} records)")
