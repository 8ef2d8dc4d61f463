"""The whole study as a graph of cached stages, run in one process or in worker processes.

world ─┬─ foundation/lm ──────────────┐
       ├─ foundation/vision-<arch> ───┼─ finetune/<target>/<source> ─ predict/... ─ score/...
       ├─ data/<part> (seed, lang, …) ┘
       └─ bench-files
Then results.jsonl, data_quality.jsonl, report.md, report.html and manifest.json are written to the run
directory (manifest last).
"""

from __future__ import annotations

import os
import platform
import time
from importlib.metadata import version
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.study.config import StudyConfig, config_dict
from harness.core.errors import VigcError
from harness.core.io import hash_obj, read_json, sha256_bytes, write_json, write_jsonl
from harness.core.records import (COMPARISONS_FILE, MANIFEST, QUALITY_FILE, REPORT_FILES, RESULTS_FILE,
                                   VIC_EFFECT_FILE, QualityRecord, ResultRecord, stage_dir_in_manifest)
from harness.core.progress import ProgressFactory, silent_progress
from harness.stages.runner import Runner, Stage, StageOutput

@dataclass
class StudyResult:
    """What a finished study produced."""

    run_dir: Path
    results: list[ResultRecord]
    quality: list[QualityRecord]
    history: list[StageOutput]
    report: Path
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


def report_key(manifest: dict[str, Any]) -> str:
    """What the run's reports are a function of: the config, the package versions, every stage's
    cache key (which fixes its output) and the source of the report code (`reports.render`'s
    import closure: the benchmarks' declared metrics included)."""
    from harness.core.code import code_fingerprint

    code = code_fingerprint("reports.render")
    return hash_obj({"config": manifest["config"], "versions": manifest["versions"], "reports": code,
                     "stages": {name: st["key"] for name, st in manifest["stages"].items()}})


def _report_digests(run_dir: Path) -> dict[str, str] | None:
    paths = [run_dir / name for name in (*REPORT_FILES, COMPARISONS_FILE)]
    if not all(p.is_file() for p in paths):
        return None
    return {p.name: sha256_bytes(p.read_bytes()) for p in paths}


def _current_reports(run_dir: Path, key: str) -> dict[str, str] | None:
    """The reports' digests if report.md and report.html are, byte for byte, what the previous
    run into `run_dir` rendered from exactly these inputs; else None. Then a rerun keeps them
    (rendering takes most of a cached rerun's time), and they keep the stage times of the run
    that computed the stages."""
    old = run_dir / MANIFEST
    digests = _report_digests(run_dir)
    if digests is None or not old.is_file():
        return None
    try:
        prev = read_json(old)
    except VigcError:  # unreadable: render anew, and the new manifest replaces it
        return None
    return digests if isinstance(prev, dict) and prev.get("reports") == {"key": key, **digests} else None


def run_study(cfg: StudyConfig, run_dir: Path, progress: ProgressFactory = silent_progress,
              on_stage: Callable[[StageOutput], None] | None = None, cache_dir: Path | None = None,
              jobs: int = 1, device: str = "cpu") -> StudyResult:
    """Run (or reuse) every stage of the study and write the run directory's files.

    `device` ('cpu' or 'cuda', resolved) is where the stages run their models; it is not part
    of any stage's key, so a run on one device reuses what a run on another computed.

    With `jobs` > 1, stages whose inputs are ready run at once in that many worker processes
    (`harness.study.parallel`), each with an equal share of the CPU's threads. Under torchrun /
    accelerate launch (WORLD_SIZE > 1) it is one study across the ranks
    (`harness.study.distributed`): rank 0 writes the run directory, training is data-parallel.
    """
    from harness.training import distributed

    env = distributed.dist_env()
    if not env.enabled:
        return _run(cfg, run_dir, progress, on_stage, cache_dir, jobs, None, device)
    from harness.study.distributed import check_job

    check_job(cfg, env, jobs if jobs > 1 else None)
    distributed.init(env)
    try:
        return _run(cfg, run_dir, progress, on_stage, cache_dir, 1, env, device)
    finally:
        distributed.shutdown()


def _run(cfg: StudyConfig, run_dir: Path, progress: ProgressFactory, on_stage: Callable[[StageOutput], None] | None,
         cache_dir: Path | None, jobs: int, env: Any, device: str) -> StudyResult:
    from harness.study import graph

    t0 = time.perf_counter()
    graph.world_files(cfg)  # a files world's missing or malformed file fails before anything is written
    stages_dir = cache_dir or run_dir / "stages"
    runner: Runner
    if env is not None:
        from harness.study.distributed import DistributedRunner

        runner = DistributedRunner(stages_dir, env, progress, on_stage, device)
    elif jobs > 1:
        from harness.study.parallel import ParallelRunner

        runner = ParallelRunner(stages_dir, progress, on_stage, jobs, max(1, (os.cpu_count() or 1) // jobs), device)
    else:
        runner = Runner(stages_dir, progress, on_stage, device)
    if env is None or env.is_main:  # rank 0 owns the run directory
        run_dir.mkdir(parents=True, exist_ok=True)
    try:
        out = graph.execute(cfg, runner)
    except BaseException:
        runner.close(abort=True)  # workers still computing would only delay the error
        raise
    runner.close()
    results = out.results
    quality = out.quality
    seconds = time.perf_counter() - t0
    if env is not None and not env.is_main:
        # The records are the same on every rank; only rank 0 writes them and the reports.
        return StudyResult(run_dir, results, quality, list(runner.history), run_dir / REPORT_FILES[0], seconds,
                           out.notes)
    write_jsonl(run_dir / RESULTS_FILE, results)
    write_jsonl(run_dir / QUALITY_FILE, quality)
    if "vic_effect" in out.notes:
        write_json(run_dir / VIC_EFFECT_FILE, out.notes["vic_effect"])
    seconds = time.perf_counter() - t0
    manifest = {
        "config": config_dict(cfg),
        # From package metadata: importing torch here would cost a cached rerun ~3 s.
        "versions": {"python": platform.python_version(), "torch": version("torch"),
                     "transformers": version("transformers")},
        "seed": cfg.seed,
        "stages": {o.name: {"key": o.key, "cached": o.cached, "seconds": round(o.seconds, 3),
                            "path": stage_dir_in_manifest(run_dir, o.path)} for o in runner.history},
        "seconds": round(seconds, 3),
        "processes": env.world_size if env is not None else 1,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    key = report_key(manifest)
    report = run_dir / REPORT_FILES[0]
    digests = _current_reports(run_dir, key)
    if digests is None:
        from reports.render import write_reports

        # The reports read the manifest's stage paths (for samples.jsonl) before it is written:
        # the manifest comes last, so its presence vouches for everything beside it.
        report, _ = write_reports(run_dir, f"vigc-bench study: {cfg.name}", manifest, comparisons=True)
        digests = _report_digests(run_dir) or {}
    manifest["reports"] = {"key": key, **digests}
    write_json(run_dir / MANIFEST, manifest, fsync=True)
    return StudyResult(run_dir, results, quality, list(runner.history), report, seconds, out.notes)
