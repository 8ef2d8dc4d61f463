"""`vigc-bench predict` (a model's answers in a benchmark's official prediction format) and
`vigc-bench lm-eval-tasks` (our benchmarks as lm-eval tasks)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli._options import device_option
from harness.core.errors import BadInput

if TYPE_CHECKING:
    from harness.lm_eval_bridge.tasks import TaskSpec

_IMAGES_HELP = ("Folder that image paths in the data resolve against (default: the data file's folder; "
                "MMBench inlines its images).")


@click.command()
@click.option("--model", required=True, help="Saved model directory (a finetune output, or a hub id).")
@click.option("--benchmark", required=True, help="A registered benchmark (e.g. pope, mmbench, scienceqa_img, llava_bench); an unknown name lists them all.")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Official benchmark file(s), as `vigc-bench score --data` takes them.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Prediction file to write (the format `vigc-bench score` reads).")
@click.option("--images", "image_root", type=click.Path(file_okay=False), default=None, help=_IMAGES_HELP)
@click.option("--split", default=None, help="Benchmark split where the files hold several (ScienceQA; default test).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Items per generate call (choices per scoring call with --rank).")
@click.option("--num-beams", type=click.IntRange(1, 64), default=1, show_default=True, help="Beam width (1: greedy).")
@click.option("--blind", is_flag=True, help="Show every item a blank image (the text-only control).")
@click.option("--rank", is_flag=True,
              help="Answer multiple-choice items (A-OKVQA, ScienceQA, MMBench) by ranking their choices, each "
                   "scored as the whole reply to the question (InstructBLIP's protocol), instead of asking for "
                   "a letter. Scores then record protocol 'official+rank' in the study.")
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def predict(model: str, benchmark: str, data: tuple[str, ...], out_file: str, image_root: str | None,
            split: str | None, batch_size: int, num_beams: int, blind: bool, rank: bool, device: str,
            quiet: bool) -> None:
    """Answer every item of a benchmark's official files with a saved model and write the
    answers as the benchmark's official prediction file (score it with `vigc-bench score`)."""
    from rich.console import Console

    from harness import api
    from harness.core.rich_progress import RichProgress

    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    if num_beams < 1:
        raise click.BadParameter("must be at least 1", param_hint="--num-beams")
    with RichProgress(Console(stderr=True, quiet=quiet)) as prog:
        n = api.predict_files(model, benchmark, [Path(p) for p in data], Path(out_file),
                              Path(image_root) if image_root else None, split, batch_size, num_beams, blind, prog,
                              device, rank=rank)
    click.echo(json.dumps({"benchmark": benchmark, "items": n, "predictions": out_file}))


_KEY = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?")


def _keyed(values: tuple[str, ...]) -> list[tuple[str | None, str]]:
    """Split 'KEY=VALUE' options, KEY being 'B' or 'B/NAME'; anything else (a path that happens
    to hold '=') is a bare VALUE with key None."""
    out: list[tuple[str | None, str]] = []
    for v in values:
        key, sep, rest = v.partition("=")
        out.append((key, rest) if sep and rest and _KEY.fullmatch(key) else (None, v))
    return out


def task_specs(benchmarks: tuple[str, ...], data: tuple[str, ...], images: tuple[str, ...],
               splits: tuple[str, ...]) -> list["TaskSpec"]:
    """The `TaskSpec`s of lm-eval-tasks' options: `--data [B[/NAME]=]FILE`, `--images [B=]DIR`,
    `--split [B=]S`; a bare value belongs to the one `--benchmark` (an error when there are several)."""
    from harness.lm_eval_bridge.tasks import TaskSpec

    def key_of(key: str | None, value: str, option: str) -> str:
        if key is not None:
            return key
        if len(benchmarks) != 1:
            raise BadInput(f"{option} {value}: say which benchmark it is for ({option} BENCHMARK={value}) "
                           "or give exactly one --benchmark")
        return benchmarks[0]

    files: dict[str, list[Path]] = {}
    for key, value in _keyed(data):
        files.setdefault(key_of(key, value, "--data"), []).append(Path(value))
    per_bench = {}
    for option, values in (("--images", images), ("--split", splits)):
        per_bench[option] = {key_of(k, v, option): v for k, v in _keyed(values)}
    unused = [b for b in benchmarks if not any(k.split("/")[0] == b for k in files)]
    if unused:
        raise BadInput(f"--benchmark {unused[0]}: no --data for it (--data {unused[0]}=FILE)")
    if benchmarks:
        extra = sorted({k.split("/")[0] for k in files} - set(benchmarks))
        if extra:
            raise BadInput(f"--data {extra[0]}=...: {extra[0]} is not among the --benchmark options")
    specs = []
    for key, paths in files.items():
        bench, _, name = key.partition("/")
        img = per_bench["--images"].get(key, per_bench["--images"].get(bench))
        split = per_bench["--split"].get(key, per_bench["--split"].get(bench))
        specs.append(TaskSpec(bench, tuple(paths), name or None, Path(img) if img else None, split))
    return specs


@click.command("lm-eval-tasks")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the tasks into (new, empty, or written by this command before).")
@click.option("--benchmark", "benchmarks", multiple=True,
              help="Benchmark to write (repeatable; default: those named in --data).")
@click.option("--data", "data", multiple=True, required=True, metavar="[B[/NAME]=]FILE",
              help="Official file of benchmark B (repeatable); B/NAME makes task vigc_B_NAME (e.g. pope/random). "
                   "A bare FILE belongs to the one --benchmark.")
@click.option("--images", "images", multiple=True, metavar="[B=]DIR", help=_IMAGES_HELP)
@click.option("--split", "splits", multiple=True, metavar="[B=]SPLIT", help="Benchmark split (ScienceQA).")
def lm_eval_tasks(out_dir: str, benchmarks: tuple[str, ...], data: tuple[str, ...], images: tuple[str, ...],
                  splits: tuple[str, ...]) -> None:
    """Write lm-eval task YAML, item files and a helper module, so that lm-eval runs our
    benchmarks with our prompts and official scorers. Run them with lm-eval's CLI plus our `vigc` model:

    \b
    python -m harness.lm_eval_bridge --include_path OUT --tasks vigc_pope --model vigc --model_args path=MODEL
    """
    from harness.lm_eval_bridge.tasks import write_tasks

    tasks = write_tasks(Path(out_dir), task_specs(benchmarks, data, images, splits))
    for name, t in tasks.items():
        click.echo(f"{name}: {t['benchmark']}, {t['items']} items, metrics: {', '.join(t['metrics'][:6])}"
                   + (" ..." if len(t["metrics"]) > 6 else ""))
    click.echo(f"run: python -m harness.lm_eval_bridge --include_path {Path(out_dir).resolve()} --tasks "
               f"{','.join(tasks)} --model vigc --model_args path=MODEL_DIR")
