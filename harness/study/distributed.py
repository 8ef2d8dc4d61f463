"""One study across the processes of a `torchrun` / `accelerate launch` job.

Every rank walks the same stage graph in the same order. Rank 0 owns the run directory and
the cache: it takes the stage locks, writes every stage directory and manifest, and then the
run's results and reports. For each stage:

- finished already (rank 0 looks): every rank reads it;
- a collective stage (the training loops: foundation, connector alignment, VIGC training,
  finetuning; and VIG / VIC generation and prediction, whose batches the ranks share through
  `distributed.batch_split`): every rank runs the stage function, each on its share of the
  batches; rank 0 writes into the stage directory, the others into a scratch directory they
  delete;
- any other stage (world, language-only data, scoring, quality): rank 0 runs it alone while
  the others wait for its word, then read its output.

With `cuda`, each rank runs its stages on `cuda:LOCAL_RANK`.

So ranks other than 0 need to see the cache rank 0 writes: on one machine they do; across
machines the run directory (or `--cache`) must be on a shared filesystem.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from harness.core.errors import BadConfig, PeerFailed
from harness.core.progress import ProgressFactory, silent_progress
from harness.stages.runner import Runner, Stage, StageContext, StageOutput, compute, finished
from harness.study.config import StudyConfig
from harness.training import distributed

_RUN, _DONE, _OK = "run", "done", "ok"  # rank 0's words to the others about a stage


class DistributedRunner(Runner):
    """A sequential `Runner` for one rank of a data-parallel job (see the module note)."""

    def __init__(self, cache_dir: Path, env: distributed.DistEnv, progress: ProgressFactory = silent_progress,
                 on_stage: Callable[[StageOutput], None] | None = None, device: str = "cpu") -> None:
        # With CUDA each rank takes the GPU of its local rank (cuda:LOCAL_RANK).
        super().__init__(cache_dir, progress if env.is_main else silent_progress, on_stage,
                         distributed.rank_device(device, env))
        self.env = env

    def run(self, stage: Stage) -> StageOutput:
        """Run the stage on rank 0 (or, if collective, on every rank); every rank returns its output."""
        stage = stage.resolved()
        out = self._run_main(stage) if self.env.is_main else self._run_peer(stage)
        self._record(out)
        return out

    def _run_main(self, stage: Stage) -> StageOutput:
        done = finished(self.cache_dir, stage)
        if done is not None:
            distributed.broadcast(_DONE)
            return done
        started = False

        def start() -> None:
            nonlocal started
            started = True
            distributed.broadcast(_RUN)

        try:
            out = compute(self.cache_dir, stage, self.progress, start if stage.collective else None, self.device)
        except BaseException as e:
            # Inside a collective stage the others are in the loop's collectives, not listening:
            # this process's exit ends them (the launcher stops the job when one rank fails).
            if not started:
                distributed.broadcast(("failed", f"{stage.name}: {type(e).__name__}: {e}"))
            raise
        distributed.broadcast(_OK)
        return out

    def _run_peer(self, stage: Stage) -> StageOutput:
        word = distributed.broadcast(None)
        if word == _RUN:
            self._run_here(stage)
            word = distributed.broadcast(None)
        if isinstance(word, tuple):
            raise PeerFailed(f"rank 0 failed: {word[1]}")
        out = finished(self.cache_dir, stage)
        if out is None:
            raise PeerFailed(f"rank {self.env.rank} cannot see {stage.name}'s output in {self.cache_dir}, which "
                             "rank 0 wrote; across machines, put --out (or --cache) on a shared filesystem")
        return out

    def _run_here(self, stage: Stage) -> Any:
        """Run a collective stage's function alongside rank 0, writing into a scratch directory
        (rank 0 alone writes the stage's output)."""
        scratch = Path(tempfile.mkdtemp(prefix=f"vigc-rank{self.env.rank}-"))
        try:
            ctx = StageContext(stage.name, stage.key(), stage.config, dict(stage.inputs), scratch, silent_progress,
                               self.device)
            return stage.fn(ctx)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def training_batches(cfg: StudyConfig) -> list[tuple[str, int]]:
    """The global batch of every training loop the study runs, by config key."""
    f = cfg.foundation
    out: list[tuple[str, int]] = []
    if not f.pretrained:
        out += [("foundation.vision.batch", f.vision.batch), ("foundation.lm.batch", f.lm.batch),
                ("foundation.align.batch", f.align.batch), ("foundation.align.qformer_batch", f.align.qformer_batch)]
    if cfg.vigc.enabled and cfg.world.images.extra > 0:
        out.append(("vigc.finetune.batch", cfg.vigc.finetune.batch))
    out += [(f"targets[{t.name}].finetune.batch", t.finetune.batch) for t in cfg.targets]
    return out


def check_job(cfg: StudyConfig, env: distributed.DistEnv, jobs: int | None) -> None:
    """Refuse, in one line, a study this job cannot run data-parallel: a global batch that does
    not split evenly over the ranks, or worker processes inside a rank."""
    if not env.enabled:
        return
    if jobs is not None and jobs > 1:
        raise BadConfig(f"--jobs {jobs} under a launcher of {env.world_size} processes: each rank runs "
                        "one stage at a time (drop --jobs, or run without torchrun to use worker processes)")
    distributed.check_divides(training_batches(cfg), env.world_size)
