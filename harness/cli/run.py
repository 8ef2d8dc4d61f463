"""`vigc-bench run`: a whole study (or, with --dry-run, its plan)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import click

from harness.cli._options import study_device_option

if TYPE_CHECKING:
    from harness.stages.runner import StageOutput
    from harness.study.graph import PlannedStage
    from harness.training.footprint import Footprint


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Study config YAML.")
@click.option("--preset", type=click.Choice(["tiny", "smoke", "paper"]), help="A built-in study (default: tiny).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run directory (default: runs/<name>).")
@click.option("-o", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. -o finetune.steps=50 (repeatable).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Shared stage cache (default: RUN_DIR/stages).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Stages run at once, each in its own process [default: 2 for tiny "
                   "models on 2+ cores, else 1]. Outputs are the same up to float rounding.")
@click.option("--dry-run", is_flag=True, help="Print the stages the study would run (cached or to run, cache key, "
              "inputs) and exit; nothing runs.")
@study_device_option
def run(config_file: str | None, preset: str | None, out_dir: str | None, overrides: tuple[str, ...],
        cache_dir: str | None, quiet: bool, jobs: int | None, dry_run: bool, device: str) -> None:
    """Run a whole study: world, foundation, data, finetune, predict, score, report.

    A rerun reuses every finished stage; a changed setting recomputes only what depends on it.
    Under `torchrun` / `accelerate launch` it is one study: rank 0 writes the run directory and
    the training stages are data-parallel (see README, "Scaling out").
    """
    from harness import api

    cfg = api.load_study_config(config_file, preset, overrides)
    api.check_world(cfg)  # a bad file is the one line, before any note
    note = cfg.world_note()  # what a world without ground truth skips: said once, for a run and a plan
    if note:
        click.echo(f"vigc-bench: {note}", err=True)
    run_dir = Path(out_dir) if out_dir else Path("runs") / cfg.name
    cache = Path(cache_dir) if cache_dir else None
    if dry_run:
        click.echo(plan_text(api.plan_study(cfg, run_dir, cache)), nl=False)
        return
    from rich.console import Console

    from harness.core.rich_progress import StudyProgress

    main = api.launch_env().is_main  # under torchrun, rank 0 speaks for the job
    quiet = quiet or not main
    console = Console(stderr=True, quiet=quiet)
    if quiet:
        res = api.run_study(cfg, run_dir, cache_dir=cache, jobs=jobs, device=device)
    else:
        # The overall line's total and ETA come from the plan `--dry-run` prints. Planning costs
        # about 0.02 s beyond the keys' code fingerprints, which the run reuses (default study).
        plan = api.plan_study(cfg, run_dir, cache)
        with StudyProgress(console, [s.name for s in plan], [s.name for s in plan if s.cached]) as prog:
            res = api.run_study(cfg, run_dir, prog, cache_dir=cache, jobs=jobs, device=device,
                                on_stage=lambda o: prog.finished(o.name, o.cached, o.seconds))
    console.print(timing_summary(res.history, res.seconds))
    cached = sum(o.cached for o in res.history)
    if cached == len(res.history):
        console.print(f"all {cached} stages cached")
    if not main:
        return
    click.echo(f"report: {res.report} (and {res.report.with_suffix('.html').name})")
    click.echo(f"results: {res.run_dir / 'results.jsonl'}")


def plan_text(stages: Sequence[PlannedStage]) -> str:
    """One line per planned stage: cached or to run, name, key prefix, and the stages it reads;
    under a stage that loads a real checkpoint's model, a line with the memory it takes."""
    lines = []
    for s in stages:
        lines.append(f"{'cached' if s.cached else 'run':6s}  {s.name:36s}  {s.key[:16]}"
                     + (f"  <- {', '.join(s.inputs.values())}" if s.inputs else ""))
        if s.memory is not None:
            lines.append(f"{'':8s}memory: {memory_text(s.memory)}")
    todo = sum(not s.cached for s in stages)
    return "\n".join(lines + [f"{len(stages)} stages, {todo} to run, {len(stages) - todo} cached"]) + "\n"


def memory_text(m: Footprint) -> str:
    """A footprint in words: the weights (parameters, dtype) and, for a training stage, the
    weights with gradients and AdamW states of the trainable part."""
    if m.unknown:
        return f"unknown ({m.unknown})"
    text = f"weights {_size(m.weight_bytes)} ({_count(m.params)} params, {'/'.join(m.dtypes)})"
    if m.trainable_params is not None:
        text += (f"; training {_size(m.training_bytes)} (+ grads and AdamW states of {_count(m.trainable_params)} "
                 "trainable; activations not counted)")
    return text


def _size(n: int) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, i = float(n), 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{n} B" if i == 0 else f"{value:.1f} {units[i]}"


def _count(n: int) -> str:
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def timing_summary(history: Sequence[StageOutput], seconds: float) -> Any:
    """A rich table: one row per kind of stage (the name up to its first '/'), with its stages,
    how many ran and were cached, and their seconds summed; then the total."""
    from rich.table import Table

    from harness.core.records import MANIFEST
    from harness.core.rich_progress import stage_kind

    kinds: dict[str, list[StageOutput]] = {}
    for o in history:  # in the order the kinds first finished: world first
        kinds.setdefault(stage_kind(o.name), []).append(o)
    # Stages running at once make the summed seconds more than the wall clock. The caption
    # wraps at the table's width: it names the run directory's file, which is printed below.
    t = Table(title="stages", show_lines=False,
              caption=f"{seconds:.1f} s wall clock; each stage's time: {MANIFEST} in the run directory")
    t.add_column("kind")
    for name in ("stages", "ran", "cached", "seconds"):
        t.add_column(name, justify="right")
    for kind, outs in [*kinds.items(), ("total", list(history))]:
        if kind == "total":
            t.add_section()
        ran = sum(not o.cached for o in outs)
        t.add_row(kind, str(len(outs)), str(ran), str(len(outs) - ran), f"{sum(o.seconds for o in outs):.1f}")
    return t
