"""`vigc-bench report`: a run directory's report, as markdown or HTML."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True,
              help="Markdown, or one self-contained HTML file (plots and images inlined).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def report(run_dir: str, fmt: str, out_file: str | None) -> None:
    """Render a run directory's results as a report: leaderboards with paired tests against `seed`,
    breakdowns, data quality, VIC's effect (and, in HTML, setup, figures and example items)."""
    from harness import api
    from harness.core.io import atomic_write_text

    text = api.render_report(Path(run_dir), fmt)
    if out_file:
        atomic_write_text(out_file, text)
    else:
        click.echo(text)
