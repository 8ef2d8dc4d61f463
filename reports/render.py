"""Write a run directory's reports (report.md and report.html) from its records."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


def write_reports(run_dir: Path, title: str, manifest: dict[str, Any] | None = None,
                  comparisons: bool = False) -> tuple[Path, Path]:
    """Render report.md and report.html into `run_dir`; `manifest` stands in for manifest.json,
    which a study writes last. With `comparisons` (a study), the paired comparisons of every
    source against its baselines are computed once and written to comparisons.jsonl first;
    the leaderboards then read them."""
    from harness.core.io import atomic_write_text, write_jsonl
    from harness.core.records import COMPARISONS_FILE, REPORT_FILES
    from reports import comparisons as comp
    from reports.html import render_html
    from reports.leaderboard import breakdown_columns, leaderboards, primary_columns
    from reports.markdown import render_run_markdown
    from reports.run_data import load_run

    run = load_run(run_dir, manifest=manifest)
    seed = int(run.manifest.get("seed", 0) or 0)
    if comparisons:
        primary = primary_columns(run)[0]
        records = comp.compute(run, primary + [c for _, cs in breakdown_columns(run) for c in cs], seed=seed,
                               untuned_columns=primary)
        write_jsonl(Path(run_dir) / COMPARISONS_FILE, records)
        run = dataclasses.replace(run, comparisons=records)
    boards = leaderboards(run, seed=seed)
    md, html = (Path(run_dir) / name for name in REPORT_FILES)
    atomic_write_text(md, render_run_markdown(run, title, boards))
    atomic_write_text(html, render_html(run, title, boards))
    return md, html
