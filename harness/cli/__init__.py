"""The `vigc-bench` command line (DESIGN §5).

Exit codes: 0 success, 1 a check failed, 2 bad input (one line on stderr, no traceback unless
--debug). Heavy imports happen inside commands, so `--help` is instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import click

from harness.core.errors import VigcError

if TYPE_CHECKING:
    from harness.stages.runner import StageOutput

_DEBUG = {"on": False}
# Bounds on counts a user types: beyond them a typo (10^12) would run for days or exhaust memory.
MAX_WORLD_IMAGES = 100_000  # per split: the world is drawn in memory before it is written


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="vigc-bench")
def cli(debug: bool) -> None:
    """vigc-bench: generate, correct, finetune on, score and compare multimodal instruction data.

    `vigc-bench run` runs the whole default study (embedded world, CPU-sized) into runs/.
    """
    _DEBUG["on"] = debug


def timing_summary(history: Sequence[StageOutput]) -> Any:
    """A rich table: one row per stage, cached or seconds, and the total."""
    from rich.table import Table

    t = Table(title="stages", show_lines=False)
    t.add_column("stage")
    t.add_column("status")
    t.add_column("seconds", justify="right")
    total = 0.0
    for o in history:
        t.add_row(o.name, "cached" if o.cached else "ran", f"{o.seconds:.1f}")
        total += o.seconds
    t.add_row("total", "", f"{total:.1f}")
    return t


def _console(quiet: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Study config YAML.")
@click.option("--preset", type=click.Choice(["tiny", "smoke", "paper"]), help="A built-in study (default: tiny).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run directory (default: runs/<name>).")
@click.option("-o", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. -o finetune.steps=50 (repeatable).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Shared stage cache (default: RUN_DIR/stages).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Stages run at once, each in its own process [default: 2 for the embedded world's tiny "
                   "models on 2+ cores, else 1]. Outputs are the same up to float rounding.")
def run(config_file: str | None, preset: str | None, out_dir: str | None, overrides: tuple[str, ...],
        cache_dir: str | None, quiet: bool, jobs: int | None) -> None:
    """Run a whole study: world, foundation, data, finetune, predict, score, report.

    A rerun reuses every finished stage; a changed setting recomputes only what depends on it.
    """
    from harness.study.config import load_config

    cfg = load_config(config_file, preset, overrides)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub unless the user named one
    console = _console(quiet)
    run_dir = Path(out_dir) if out_dir else Path("runs") / cfg.name
    from harness.core.progress import silent_progress
    from harness.core.rich_progress import RichProgress
    from harness.study.run import run_study

    from harness.study.parallel import default_jobs

    cache = Path(cache_dir) if cache_dir else None
    jobs = jobs or default_jobs(cfg.world.kind == "embedded")
    if jobs == 1:
        from harness.models.runtime import configure

        configure()  # stages run in this process (workers set up their own threads)
    if quiet:
        res = run_study(cfg, run_dir, silent_progress, cache_dir=cache, jobs=jobs)
    else:
        with RichProgress(console) as prog:
            res = run_study(cfg, run_dir, prog, cache_dir=cache, jobs=jobs)
    console.print(timing_summary(res.history))
    cached = sum(o.cached for o in res.history)
    if cached == len(res.history):
        console.print(f"all {cached} stages cached")
    click.echo(f"report: {res.report} (and {res.report.with_suffix('.html').name})")
    click.echo(f"results: {res.run_dir / 'results.jsonl'}")


@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="World directory to write.")
@click.option("--images", type=click.IntRange(1, MAX_WORLD_IMAGES), default=300, show_default=True,
              help=f"Images per split (at most {MAX_WORLD_IMAGES:,}).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
def world(out_dir: str, images: int, seed: int) -> None:
    """Draw the embedded world: images, ground-truth scenes, COCO instances and captions."""
    from harness.world.export import SPLITS, write_world

    counts = write_world(Path(out_dir), seed, {s: images for s in SPLITS})
    click.echo(json.dumps(counts))


@cli.command()
@click.argument("benchmark")
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False),
              help="Official benchmark file(s).")
@click.option("--predictions", type=click.Path(dir_okay=False), help="Prediction file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (0-100 scale).")
@click.option("--split", default=None, help="Benchmark split where the files hold several (ScienceQA: a key of "
              "pid_splits.json; default test).")
@click.option("--judge-url", default=None, metavar="URL",
              help="mmbench, llava_bench: OpenAI-compatible base URL (e.g. https://api.openai.com/v1) of an LLM judge "
              "(mmbench: for passes the heuristics cannot read, VLMEvalKit's matching prompt, protocol official+judge; "
              "llava_bench: LLaVA's review prompt). Off by default.")
@click.option("--judge-model", default=None, metavar="NAME", help="The judge model's name (with --judge-url; with "
              "--reviews: the model that wrote the review file, for the record).")
@click.option("--judge-key-env", default=None, metavar="VAR",
              help="Environment variable holding the judge's API key [default: OPENAI_API_KEY; unset: no key].")
@click.option("--judge-cache", default=None, type=click.Path(file_okay=False),
              help="Cache judge replies in this folder.")
@click.option("--judge-rpm", default=None, type=float, help="Judge requests per minute [default: 60; 0: no limit].")
@click.option("--reviews", default=None, type=click.Path(dir_okay=False),
              help="llava_bench: summarize this LLaVA review file (question_id, category, content, tuple) instead of "
              "judging (replaces --data and --predictions).")
@click.option("--reviews-out", default=None, type=click.Path(dir_okay=False),
              help="llava_bench: also write the reviews as a LLaVA review file.")
@click.option("--protocol", default=None, help="llava_bench: 'official' (default: unparsed reviews averaged in as "
              "[-1, -1]) or 'drop-unparsed'.")
def score(benchmark: str, data: tuple[str, ...], predictions: str | None, as_json: bool, split: str | None,
          judge_url: str | None, judge_model: str | None, judge_key_env: str | None, judge_cache: str | None,
          judge_rpm: float | None, reviews: str | None, reviews_out: str | None, protocol: str | None) -> None:
    """Score a prediction file against official benchmark files by the official protocol."""
    import inspect

    from benchmarks import BENCHMARKS
    from harness.core.errors import BadInput

    cls = BENCHMARKS.get(benchmark)
    params = inspect.signature(cls).parameters
    for option, value, param in (("--split", split, "split"), ("--protocol", protocol, "protocol")):
        if value is not None and param not in params:
            raise BadInput(f"{option} is not an option of {benchmark}")
    kwargs: dict[str, Any] = {k: v for k, v in (("split", split), ("protocol", protocol)) if v is not None}
    if reviews is not None:
        if not hasattr(cls, "score_reviews"):
            raise BadInput(f"--reviews: {benchmark} has no review files (llava_bench has)")
        if data or predictions or any(v is not None for v in (judge_url, judge_key_env, judge_cache, judge_rpm)):
            raise BadInput("--reviews replaces --data, --predictions and the judge's options (but --judge-model)")
        if not Path(reviews).is_file():
            raise VigcError(f"{reviews}: file not found")
        res = cls(**kwargs).score_reviews(Path(reviews), judge=judge_model)
    else:
        if not data or predictions is None:
            raise BadInput("score needs --data and --predictions" + (" (or --reviews)" if hasattr(cls, "score_reviews")
                                                                     else ""))
        if any(v is not None for v in (judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)):
            if not hasattr(cls, "build_judge"):
                raise BadInput(f"--judge-* options: {benchmark} has no LLM judge (mmbench and llava_bench have)")
            kwargs["judge"] = cls.build_judge(judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)
        bench = cls(**kwargs)
        if reviews_out is not None and not hasattr(bench, "write_reviews"):
            raise BadInput(f"--reviews-out: {benchmark} writes no reviews (llava_bench does)")
        for p in (*data, predictions):
            if not Path(p).is_file():
                raise VigcError(f"{p}: file not found")
        res = bench.score([Path(p) for p in data], Path(predictions))
        if reviews_out is not None:
            bench.write_reviews(res, Path(reviews_out))
    for warning in res.notes.get("warnings", ()):
        click.echo(f"vigc-bench: warning: {warning}", err=True)
    if as_json:
        judge = {"judge": res.notes["judge"]} if "judge" in res.notes and isinstance(res.notes["judge"], str) else {}
        notes = {k: v for k, v in res.notes.items() if k != "summary_lines"}
        click.echo(json.dumps({**res.metrics, "n": res.n, "protocol": res.protocol, **judge, "notes": notes}))
        return
    click.echo(f"{benchmark} (n={res.n}, protocol: {res.protocol})")
    for k, v in res.metrics.items():
        click.echo(f"  {k:40s} {v:6.2f}")
    # Counts the official protocol keeps quiet about: missing, unknown, unread ...
    counts = {k: v for k, v in res.notes.items() if k not in ("summary_lines", "judge") and isinstance(v, (int, str))}
    if counts:
        click.echo("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    for line in res.notes.get("summary_lines", ()):  # the official script's own summary, last
        click.echo(line)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True,
              help="Markdown, or one self-contained HTML file (plots and images inlined).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def report(run_dir: str, fmt: str, out_file: str | None) -> None:
    """Render a run directory's results as a report: leaderboards with paired tests against `seed`,
    breakdowns, data quality, VIC's effect (and, in HTML, setup, figures and example items)."""
    from harness.core.io import atomic_write_text
    from reports.run_data import load_run

    run = load_run(run_dir)
    title = f"vigc-bench report: {run.name}"
    if fmt == "html":
        from reports.html import render_html

        text = render_html(run, title)
    else:
        from reports.markdown import render_run_markdown

        text = render_run_markdown(run, title)
    if out_file:
        atomic_write_text(out_file, text)
    else:
        click.echo(text)


def _attach() -> None:
    from harness.cli.foundation import export_foundation
    from harness.cli.generate import generate, merge
    from harness.cli.predict import lm_eval_tasks, predict
    from harness.cli.quality import quality
    from harness.cli.reports import check, compare

    for cmd in (quality, generate, merge, predict, lm_eval_tasks, compare, check, export_foundation):
        cli.add_command(cmd)


_attach()


def _error_line(message: str) -> str:
    """One bounded line of an error message: newlines folded, at most 400 characters."""
    line = " ".join(str(message).split())
    return line if len(line) <= 400 else line[:400] + "..."


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error the user can cause into one line and an exit code.

    `VigcError`s exit with their code (2, or 1 for a failed check); click's usage errors (three
    lines in click's own format) and operating-system errors on a path the user named (an
    output file under /dev/null, a folder that is a file, no permission) exit 2, also on one line.
    """
    try:
        cli.main(args=argv, prog_name="vigc-bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else "vigc-bench"
        click.echo(f"vigc-bench: error: {_error_line(e.format_message())} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"vigc-bench: error: {_error_line(e.format_message())}", err=True)
        sys.exit(2)
    except VigcError as e:
        if _DEBUG["on"]:
            raise
        click.echo(f"vigc-bench: error: {_error_line(str(e))}", err=True)
        sys.exit(e.exit_code)
    except OSError as e:
        if _DEBUG["on"] or e.filename is None:  # not about a path: a bug, keep the traceback
            raise
        where = e.filename if e.filename2 is None else f"{e.filename} -> {e.filename2}"
        click.echo(f"vigc-bench: error: {_error_line(f'{where}: {e.strerror or e}')}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
