"""The study commands: load and check a config, plan it, run it, export its foundation.

`vigc-bench run` (and its `--dry-run`) and `export-foundation` wrap these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.core.errors import BadInput
from harness.core.progress import ProgressFactory, silent_progress

if TYPE_CHECKING:
    from harness.stages.runner import StageOutput
    from harness.study.config import StudyConfig
    from harness.study.graph import PlannedStage
    from harness.study.run import StudyResult
    from harness.training.distributed import DistEnv


def load_study_config(config_file: str | Path | None = None, preset: str | None = None,
                      overrides: Sequence[str] = ()) -> StudyConfig:
    """A study config from a YAML file or a preset (default `tiny`) with `key=value` overrides;
    every name in it resolved against its registry. A bad config is one `BadConfig` line."""
    from harness.study.config import load_config

    return load_config(config_file, preset, tuple(overrides))


def check_world(cfg: StudyConfig) -> None:
    """Check every file a files world names: the first missing or malformed one is a `VigcError`
    naming it (the embedded world has none to check)."""
    from harness.study.graph import world_files

    world_files(cfg)


def plan_study(cfg: StudyConfig, run_dir: Path, cache_dir: Path | None = None) -> list[PlannedStage]:
    """The stages a study would run, in dependency order, with their cache keys and whether a
    finished copy is already cached; nothing runs."""
    from harness.study.graph import plan

    return plan(cfg, Path(cache_dir) if cache_dir else Path(run_dir) / "stages")


def run_study(cfg: StudyConfig, run_dir: Path, progress: ProgressFactory = silent_progress,
              cache_dir: Path | None = None, jobs: int | None = None,
              on_stage: Callable[[StageOutput], None] | None = None, device: str = "cpu") -> StudyResult:
    """Run (or reuse) every stage of a study and write the run directory (results, data quality,
    reports, manifest). `jobs` defaults to 2 worker processes for tiny models on 2+ cores, else 1.
    `device`: cpu, cuda or auto (cuda where there is one), where every stage that trains or runs a
    model runs it; under torchrun with cuda, rank r uses cuda:LOCAL_RANK. The device is not part of
    any stage's cache key: a rerun on another device reuses what is finished."""
    from harness.models.runtime import resolve_device
    from harness.study.parallel import default_jobs
    from harness.study.run import run_study as run

    dev = resolve_device(device)  # cuda without a GPU fails here, before anything is written
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub unless the user named one
    env = launch_env()
    if env.enabled:  # one stage at a time per rank; the ranks share each training step instead
        from harness.study.distributed import check_job

        check_job(cfg, env, jobs)
        jobs = 1
    # Parallel stages pay off for the tiny models, whatever world they run on; the count must not
    # depend on the world's kind, or the same study on its exported files would round differently.
    jobs = jobs or default_jobs(all(t.checkpoint is None for t in cfg.targets))
    if jobs == 1:
        from harness.models.runtime import configure

        configure()  # stages run in this process (workers set up their own threads)
    return run(cfg, Path(run_dir), progress, on_stage, cache_dir=cache_dir, jobs=jobs, device=dev)


def launch_env() -> DistEnv:
    """This process's place in a torchrun / accelerate job (rank 0 of 1 without a launcher);
    a `BadConfig` line for an environment no process group can be built from."""
    from harness.training.distributed import dist_env

    return dist_env()


def export_foundation(run_dir: Path, out_dir: Path, parts: Sequence[str] = (), add: bool = False) -> dict[str, Any]:
    """Export a finished study's foundation parts (with checksums and recipes) for
    `foundation.pretrained`; returns the folder's index. `parts`: default the vision towers and
    the LM; `add`: keep the other parts of an existing `out_dir`."""
    from harness.core.records import MANIFEST
    from harness.stages.pretrained import PARTS, export

    run, out = Path(run_dir), Path(out_dir)
    if not (run / MANIFEST).is_file():
        raise BadInput(f"{run / MANIFEST}: not found (is {run} a finished run directory?)")
    return export(run, out, tuple(parts) or PARTS, add=add)
