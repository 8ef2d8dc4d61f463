"""Write a run directory's reports (report.md and report.html) from its records."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_reports(run_dir: Path, title: str, manifest: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Render report.md and report.html into `run_dir`; `manifest` stands in for manifest.json,
    which a study writes last. The leaderboards (and their paired tests) are computed once."""
    from harness.core.io import atomic_write_text
    from harness.core.records import REPORT_FILES
    from reports.html import render_html
    from reports.leaderboard import leaderboards
    from reports.markdown import render_run_markdown
    from reports.run_data import load_run

    run = load_run(run_dir, manifest=manifest)
    boards = leaderboards(run, seed=int(run.manifest.get("seed", 0) or 0))
    md, html = (Path(run_dir) / name for name in REPORT_FILES)
    atomic_write_text(md, render_run_markdown(run, title, boards))
    atomic_write_text(html, render_html(run, title, boards))
    return md, html
