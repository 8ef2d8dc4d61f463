"""Run independent stages at once, in worker processes.

The study's stages form a graph: five finetunes, each with six predictions, wait only on their
own data and connector. The tiny models are too small to keep two cores busy from one process
(a training step with 2 threads is 1.7x faster than with 1, not 2x; measured), so two
single-threaded workers get through the graph sooner than one process with two threads.

When more stages are ready than there are workers, the one heading the costliest chain of
stages still to come starts first (each kind of stage declares its rough cost): the VIGC chain
(train, generate, three finetunes) then starts as soon as it can instead of after every finetune
that happened to be submitted before it, and the study ends sooner. Which stage runs when never
changes what it computes.

Stages stay pure functions of their config and inputs: a worker runs exactly what
`Runner.run` would (`harness.stages.runner.compute`, with the same per-stage lock), so the cache,
resume after a kill and the outputs' layout are the same. One difference: a stage computed
with one thread may differ from a two-thread run in the last bits of its floats.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Iterator

from harness.core.errors import WorkerDied
from harness.core.progress import ProgressFactory, ProgressTask, silent_progress
from harness.stages.runner import Pending, Runner, Stage, StageOutput, compute, finished

_events: Any = None  # the worker's queue of progress events to the parent (set by `_init_worker`)


class ParallelRunner(Runner):
    """A `Runner` whose `submit` returns at once; stages run in `jobs` worker processes once
    their inputs are finished (the longest remaining chain first), cached ones are read here.
    Every worker runs its models on `device`."""

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
        # The submitted graph, for the order in which ready stages take a worker.
        self._cost: dict[str, float] = {}
        self._children: dict[str, list[str]] = {}
        self._inputs: dict[str, list[str]] = {}
        self._done: set[str] = set()  # finished (computed, cached or failed)
        self._placed: set[str] = set()  # past the choice: holding a worker, cached, or failed
        self._slots = threading.Condition(self._lock)
        self._busy = 0
        # The stage `_next` chose and the state it chose from: every waiter asks after each
        # change, and the answer is the same for all of them until the next change.
        self._state = 0
        self._chosen: tuple[int, str | None] = (-1, None)

    def run(self, stage: Stage) -> StageOutput:
        """Submit the stage and wait for it."""
        return self.submit(stage).result()

    def submit(self, stage: Stage) -> Pending:
        """Queue the stage; it runs once every input is finished. Returns at once."""
        p = Pending(stage.name, stage.key())
        with self._lock:
            self._cost[stage.name] = stage.cost
            self._inputs[stage.name] = [i.name for i in stage.inputs.values() if isinstance(i, Pending)]
            for inp in stage.inputs.values():
                self._children.setdefault(inp.name, []).append(stage.name)
            self._state += 1
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
                    with self._worker_slot(stage.name):
                        out = self._workers().submit(_work, self.cache_dir, stage, self.device).result()
                except BrokenProcessPool as e:
                    # The stage's own errors come back as exceptions; a broken pool means a
                    # worker process vanished (SIGKILL, the OOM killer). Finished stages are
                    # kept, so a rerun resumes.
                    raise WorkerDied(f"{stage.name}: a worker process died (killed by the OS, e.g. out of "
                                     "memory); rerun to resume, with --jobs 1 to use less memory") from e
            with self._lock:
                self._record(out)
                self._settle(stage.name)
            p.set(out)
        except BaseException as e:  # handed to whoever waits on the stage (or a dependent)
            with self._lock:
                if self._first_error is None:
                    self._first_error = e
                self._settle(stage.name)
            self._failed.set()
            p.fail(e)

    def _settle(self, name: str) -> None:
        """Record (holding the lock) that `name` is finished; wake the stages waiting for a worker."""
        self._done.add(name)
        self._placed.add(name)
        self._state += 1
        self._slots.notify_all()

    def _chain(self, name: str, memo: dict[str, float]) -> float:
        """The cost of `name` plus that of the costliest chain of stages that wait on it."""
        if name not in memo:
            memo[name] = self._cost.get(name, 1.0) + max(
                (self._chain(c, memo) for c in self._children.get(name, ())), default=0.0)
        return memo[name]

    @contextlib.contextmanager
    def _worker_slot(self, name: str) -> Iterator[None]:
        """Hold one of the `jobs` workers. Of the stages whose inputs are all finished, the one
        heading the costliest chain (ties: the first submitted) gets the next free worker, even
        if its thread has not asked yet: a stage that just became ready is a moment behind the
        ones already waiting, and it is often the one on the critical path."""
        with self._slots:
            while True:
                if self._failed.is_set():
                    raise self._first_error or RuntimeError(f"{name}: not started, an earlier stage failed")
                if self._busy < self.jobs and self._next() == name:
                    break
                self._slots.wait(timeout=1.0)  # the timeout notices a failure elsewhere
            self._busy += 1
            self._placed.add(name)
            self._state += 1
        try:
            yield
        finally:
            with self._slots:
                self._busy -= 1
                self._slots.notify_all()

    def _next(self) -> str | None:
        """The ready stage (all inputs finished, not yet placed) that should get a worker next
        (holding the lock)."""
        if self._chosen[0] != self._state:
            ready = [n for n in self._cost if n not in self._placed and all(i in self._done for i in self._inputs[n])]
            memo: dict[str, float] = {}
            # max keeps the first of equals: the first submitted
            self._chosen = (self._state, max(ready, key=lambda n: self._chain(n, memo)) if ready else None)
        return self._chosen[1]

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

