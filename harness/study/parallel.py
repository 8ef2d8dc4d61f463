"""Run independent stages at once, in worker processes.

The study's stages form a graph: five finetunes, each with six predictions, wait only on their
own data and connector. The tiny models are too small to keep two cores busy from one process
(a training step with 2 threads is 1.7x faster than with 1, not 2x; measured), so two
single-threaded workers get through the graph sooner than one process with two threads.

Stages stay pure functions of their config and inputs: a worker runs exactly what
`Runner.run` would (`harness.stages.runner.compute`, with the same per-stage lock), so the cache,
resume after a kill and the outputs' layout are the same. One difference: a stage computed
with one thread may differ from a two-thread run in the last bits of its floats.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from harness.core.errors import WorkerDied
from harness.core.progress import ProgressFactory, ProgressTask, silent_progress
from harness.stages.runner import Pending, Runner, Stage, StageOutput, compute, finished

_events: Any = None  # the worker's queue of progress events to the parent (set by `_init_worker`)


class ParallelRunner(Runner):
    """A `Runner` whose `submit` returns at once; stages run in `jobs` worker processes as soon
    as their inputs are finished (first come, first served), cached ones are read here. Every
    worker runs its models on `device`."""

    def __init__(self, cache_dir: Path, progress: ProgressFactory = silent_progress,
                 on_stage: Callable[[StageOutput], None] | None = None, jobs: int = 2, threads: int = 1,
                 device: str = "cpu") -> None:
        super().__init__(cache_dir, progress, on_stage, device)
        self.jobs, self.threads = jobs, threads
        self._lock = threading.Lock()
        self._drivers: list[threading.Thread] = []
        self._pool: ProcessPoolExecutor | None = None
        self._events: Any = None
        self._relay: threading.Thread | None = None
        self._failed = threading.Event()
        self._first_error: BaseException | None = None  # what every later wait re-raises

    def run(self, stage: Stage) -> StageOutput:
        """Submit the stage and wait for it."""
        return self.submit(stage).result()

    def submit(self, stage: Stage) -> Pending:
        """Queue the stage; it runs once every input is finished. Returns at once."""
        p = Pending(stage.name, stage.key())
        t = threading.Thread(target=self._drive, args=(stage, p), name=f"stage {stage.name}", daemon=True)
        self._drivers.append(t)
        t.start()
        return p

    def close(self, abort: bool = False) -> None:
        """Wait for the submitted stages and release the workers; after a failure (or with
        `abort`, e.g. on Ctrl-C) stop the workers instead of waiting."""
        if abort:
            self._failed.set()
        if self._failed.is_set() and self._pool is not None:
            # A failed study is over: stages still running in workers would only delay the
            # error. Killed mid-stage, they leave `.partial` directories that a rerun resumes.
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
        for t in self._drivers:
            t.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._relay is not None:
            self._events.put(None)
            # Bounded: a worker terminated mid-message can leave the queue unreadable.
            self._relay.join(timeout=5)
            self._relay = None

    def _drive(self, stage: Stage, p: Pending) -> None:
        try:
            stage = stage.resolved()
            out = finished(self.cache_dir, stage)
            if out is None:
                if self._failed.is_set():
                    # The study is over: whoever waits on this stage gets the first failure
                    # itself (its one-line message), not a note that something failed earlier.
                    raise self._first_error or RuntimeError(f"{stage.name}: not started, an earlier stage failed")
                try:
                    out = self._workers().submit(_work, self.cache_dir, stage, self.device).result()
                except BrokenProcessPool as e:
                    # The stage's own errors come back as exceptions; a broken pool means a
                    # worker process vanished (SIGKILL, the OOM killer). Finished stages are
                    # kept, so a rerun resumes.
                    raise WorkerDied(f"{stage.name}: a worker process died (killed by the OS, e.g. out of "
                                     "memory); rerun to resume, with --jobs 1 to use less memory") from e
            with self._lock:
                self._record(out)
            p.set(out)
        except BaseException as e:  # handed to whoever waits on the stage (or a dependent)
            with self._lock:
                if self._first_error is None:
                    self._first_error = e
            self._failed.set()
            p.fail(e)

    def _workers(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a forked child would inherit the parent's torch thread pools and locks.
                ctx = multiprocessing.get_context("spawn")
                self._events = ctx.Queue()
                self._relay = threading.Thread(target=self._relay_progress, name="progress relay", daemon=True)
                self._relay.start()
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                                 initargs=(self._events, self.threads, os.getpid()))
            return self._pool

    def _relay_progress(self) -> None:
        """Show the workers' progress events on this process's bars."""
        tasks: dict[tuple[int, int], ProgressTask] = {}
        while (ev := self._events.get()) is not None:
            kind, tid = ev[0], (ev[1], ev[2])
            if kind == "open":
                tasks[tid] = self.progress(ev[3], ev[4])
            elif kind == "advance" and tid in tasks:
                tasks[tid].advance(ev[3], **ev[4])
            elif kind == "close" and tid in tasks:
                tasks.pop(tid).close()


class _QueueTask(ProgressTask):
    """A worker's progress bar: events go to the parent, which draws them."""

    _ids = iter(range(1 << 62))

    def __init__(self, description: str, total: int) -> None:
        self._id = (os.getpid(), next(_QueueTask._ids))
        _events.put(("open", *self._id, description, total))

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Send `n` units done (and the fields shown beside the bar)."""
        _events.put(("advance", *self._id, n, fields))

    def close(self) -> None:
        """Send that the bar is complete."""
        _events.put(("close", *self._id))


def _init_worker(events: Any, threads: int, parent: int) -> None:
    global _events
    _events = events
    from harness.models.runtime import configure

    configure(threads)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker soon after its parent dies (e.g. `kill -9`): an orphan would go on
    computing a stage nobody waits for (the stage lock keeps a rerun from colliding with it)."""
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _work(cache_dir: Path, stage: Stage, device: str) -> StageOutput:
    return compute(cache_dir, stage, _QueueTask, device=device)


def default_jobs(tiny_models: bool) -> int:
    """Worker processes for a study: two on a machine with two or more cores when the models
    are the tiny ones (big models on one accelerator run one at a time)."""
    return min(2, os.cpu_count() or 1) if tiny_models else 1

