"""`vigc-bench compare` and `vigc-bench check`: runs side by side, and the CI gate (DESIGN §5).

Both exit 0 when all is well, 1 when the comparison or check fails (a `CheckFailed`, one line
per failing metric on stdout first), 2 on bad input (a `VigcError` naming the file). The main
group attaches the commands with `cli.add_command`; imports happen inside them.
"""

from __future__ import annotations

import click

from harness.core.errors import BadInput, CheckFailed


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--fail-on", type=click.Choice(["regression", "difference", "never"]), default="regression",
              show_default=True, help="Exit 1 on a significant change for the worse against the first run "
              "(primary metrics and their categories), on any significant difference, or never.")
@click.option("--permutations", "n_perm", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="Sign flips for paired p-values (at most 100,000).")
def compare(run_dirs: tuple[str, ...], fail_on: str, n_perm: int) -> None:
    """Compare runs side by side: every (target, source, benchmark, split, metric), each run against the first.

    Differences are tested on the same items with a paired test where both runs have
    samples.jsonl for identical items, else by whether the 95% intervals overlap; each row
    says which.
    """
    from reports.compare import compare_runs, differences, regressions, render_text
    from reports.run_data import load_run

    if len(run_dirs) < 2:
        raise BadInput("compare needs at least two run directories")
    runs = [load_run(d) for d in run_dirs]
    rows = compare_runs(runs, n_perm=n_perm)
    click.echo(render_text(runs, rows), nl=False)
    failing = {"regression": regressions, "difference": differences, "never": lambda _: []}[fail_on](rows)
    if failing:
        for line in failing:
            click.echo(f"FAIL {line}")
        raise CheckFailed(f"{len(failing)} significant {'regression' if fail_on == 'regression' else 'difference'}"
                          f"{'s' if len(failing) != 1 else ''} against {run_dirs[0]}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--baseline", "baseline", type=click.Path(dir_okay=False), help="Baseline JSON to check against.")
@click.option("--write-baseline", "write_to", type=click.Path(dir_okay=False),
              help="Write a baseline from this run instead of checking.")
@click.option("--metric", "patterns", multiple=True, metavar="PATTERN",
              help="With --write-baseline: metric ids to keep (glob, repeatable), e.g. 'quality/*/all/*' or "
              "'llava/*/pope/*/accuracy'. Default: every primary metric and data quality over all types.")
@click.option("--tolerance", default="ci", show_default=True,
              help="With --write-baseline: 'ci' (half-width of each metric's 95% interval) or an absolute number.")
def check(run_dir: str, baseline: str | None, write_to: str | None, patterns: tuple[str, ...], tolerance: str) -> None:
    """CI gate: exit 1 naming every metric that moved the wrong way beyond its tolerance.

    `check RUN_DIR --baseline FILE` checks; `check RUN_DIR --write-baseline FILE [--metric ...]
    [--tolerance ...]` records one. Metric ids: target/source/benchmark/split/metric for
    results.jsonl, quality/source/data_type/metric for data_quality.jsonl.
    """
    from harness.core.io import write_json
    from reports.check import check as run_check
    from reports.check import make_baseline, read_baseline
    from reports.run_data import load_run

    if (baseline is None) == (write_to is None):
        raise BadInput("give exactly one of --baseline FILE (check) and --write-baseline FILE (record)")
    if baseline is not None and (patterns or tolerance != "ci"):
        raise BadInput("--metric and --tolerance apply to --write-baseline; a baseline file holds its own")
    if write_to is not None:
        doc = make_baseline(load_run(run_dir), patterns, tolerance)
        write_json(write_to, doc)
        click.echo(f"baseline: {len(doc['metrics'])} metrics -> {write_to}")
        return
    metrics = read_baseline(baseline)  # the baseline first: a bad file is exit 2 before the run is read
    failures, n = run_check(load_run(run_dir), metrics)
    if failures:
        for line in failures:
            click.echo(line)
        missing = sum(line.startswith("MISSING") for line in failures)
        what = f"{len(failures) - missing} of {n} metrics regressed" + (f", {missing} missing" if missing else "")
        raise CheckFailed(f"{what} against {baseline}")
    click.echo(f"ok: {n} metrics within tolerance of {baseline}")
