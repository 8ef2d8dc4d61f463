"""The stage runner and its cache.

Each stage's output lives in a directory named by the hash of (stage name, stage code version,
config slice, input stage keys). The stage writes into `<dir>.partial/` (which survives a
crash, so long stages can keep resumable checkpoints there); when the stage function returns,
the runner writes `manifest.json` into it last and atomically, then renames the directory to
its final name. So a directory with a manifest is complete, and anything else is redone.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, TypeVar

from pydantic import BaseModel

from harness import __version__
from harness.core.code import code_fingerprint
from harness.core.io import hash_obj, is_atomic_temp, read_json, write_json
from harness.core.progress import ProgressFactory, silent_progress
from harness.core.records import MANIFEST

RESUME = ".resume"
C = TypeVar("C")
R = TypeVar("R", bound=BaseModel)
LOCKS = ".locks"


@dataclass(frozen=True)
class StageOutput:
    """A finished stage: where its files are and what its manifest says."""

    name: str
    key: str
    path: Path
    meta: dict[str, Any]
    cached: bool
    seconds: float


class Pending:
    """A submitted stage: its cache key at once, its output when `result()` is called.

    `Runner.submit` returns one already finished; `harness.study.parallel.ParallelRunner` returns
    one that a worker process fills in. A stage may take pending stages as inputs.
    """

    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key
        self._done = threading.Event()
        self._out: StageOutput | None = None
        self._error: BaseException | None = None

    def set(self, out: StageOutput) -> None:
        """Record the finished output."""
        self._out = out
        self._done.set()

    def fail(self, error: BaseException) -> None:
        """Record that the stage (or one it depends on) failed."""
        self._error = error
        self._done.set()

    def result(self) -> StageOutput:
        """The stage's output, waiting for it; re-raises the stage's error."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._out is not None
        return self._out


@dataclass
class StageContext(Generic[C]):
    """What a stage function gets: its typed config, its inputs, a directory to write into, and
    the device its models run on."""

    name: str
    key: str
    config: C
    inputs: dict[str, StageOutput]
    out_dir: Path
    progress: ProgressFactory
    # 'cpu', 'cuda' or 'cuda:<n>' (a torch device string): where the stage's models run and its
    # batches go. How the stage runs, not what it computes, so not part of the key: a CPU rerun
    # reuses what a GPU run computed.
    device: str = "cpu"

    def input_path(self, role: str) -> Path:
        """The directory of the input stage playing `role`."""
        return self.inputs[role].path


@dataclass(frozen=True)
class StageSpec(Generic[C, R]):
    """A kind of stage: its code version, its function, the types of its config and result, and
    the roles of the stages it reads (`inputs` always, `optional` when given; a role ending in
    ':' names a family, e.g. 'data:' for 'data:seed', 'data:lang'). `collective`: under
    torchrun every rank runs the function (a data-parallel training loop, or generation and
    prediction with the batches split over the ranks); else rank 0 alone. `cost`: about how
    many seconds one such stage takes in the default study, a hint that lets a parallel run
    start the stages on the longest chain first (never part of the key)."""

    kind: str
    version: int
    fn: Callable[[StageContext[C]], R]
    config: type[C]
    result: type[R]
    inputs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    collective: bool = False
    cost: float = 1.0

    def __call__(self, name: str, config: C, inputs: Mapping[str, "StageOutput | Pending"] | None = None) -> "Stage":
        """A stage of this kind named `name`; its config and input roles are checked here."""
        inputs = dict(inputs or {})
        if not isinstance(config, self.config):
            raise TypeError(f"{name}: config is a {type(config).__name__}, not a {self.config.__name__}")
        missing = [r for r in self.inputs if not (any(i.startswith(r) for i in inputs) if r.endswith(":")
                                                  else r in inputs)]
        declared = self.inputs + self.optional
        unknown = [r for r in inputs if not any(r.startswith(d) if d.endswith(":") else r == d for d in declared)]
        if missing or unknown:
            raise TypeError(f"{name}: inputs {sorted(inputs)} do not match {self.kind}'s roles {list(declared)}")
        return Stage(name, self.version, self.fn, config, inputs, self.collective, self.cost)

    def read(self, out: StageOutput) -> R:
        """The typed result of a finished stage of this kind (from its manifest's meta)."""
        return self.result.model_validate(out.meta)


@dataclass(frozen=True)
class Stage:
    """A stage to run: a pure function of `config` and the outputs in `inputs`.

    `config` is a typed, frozen config (`StageSpec` builds such stages); a plain mapping is
    accepted too (toy stages in tests). The function returns a typed result, a dict or None.
    """

    name: str
    version: int
    fn: Callable[[StageContext[Any]], Any]
    config: Any = field(default_factory=dict)
    inputs: Mapping[str, "StageOutput | Pending"] = field(default_factory=dict)
    # How the stage runs across ranks and when it is scheduled, not what it computes: not
    # part of the key.
    collective: bool = False
    cost: float = 1.0

    def config_json(self) -> dict[str, Any]:
        """The config as JSON-able data: what the key is taken of and the manifest records."""
        return self.config.model_dump(mode="json") if isinstance(self.config, BaseModel) else dict(self.config)

    def keyed_config(self) -> dict[str, Any]:
        """The config without the fields its class names in `UNKEYED`: those say where to read
        something whose content another field identifies (a folder beside its files' digest),
        so the same weights in two checkouts, or a moved one, share one cache entry."""
        unkeyed = getattr(type(self.config), "UNKEYED", ())
        return {k: v for k, v in self.config_json().items() if k not in unkeyed}

    def resolved(self) -> "Stage":
        """This stage with every pending input replaced by its output (waits for them)."""
        return replace(self, inputs={r: i.result() if isinstance(i, Pending) else i for r, i in self.inputs.items()})

    def key(self) -> str:
        """The cache key: everything the stage's output depends on."""
        return hash_obj({
            "stage": self.name,
            "version": self.version,
            "harness": __version__,
            # The source of every module the stage function can run (its module's import closure).
            "code": code_fingerprint(self.fn.__module__),
            "config": self.keyed_config(),
            "inputs": {role: out.key for role, out in sorted(self.inputs.items())},
        })


def _dir_name(name: str, key: str) -> str:
    return f"{name.replace('/', '--')}-{key[:16]}"


class Runner:
    """Runs stages in this process, reusing any finished output under `cache_dir`; the stages
    that run a model run it on `device` (a torch device string, e.g. 'cpu' or 'cuda:0')."""

    def __init__(self, cache_dir: Path, progress: ProgressFactory = silent_progress,
                 on_stage: Callable[[StageOutput], None] | None = None, device: str = "cpu") -> None:
        self.cache_dir = Path(cache_dir)
        self.progress = progress
        self.on_stage = on_stage
        self.device = device
        self.history: list[StageOutput] = []

    def path_for(self, stage: Stage) -> Path:
        """Where `stage`'s finished output lives (whether or not it exists yet)."""
        return _final(self.cache_dir, stage)[1]

    def run(self, stage: Stage) -> StageOutput:
        """Return the stage's output, computing it only if no finished copy exists."""
        stage = stage.resolved()
        out = finished(self.cache_dir, stage) or compute(self.cache_dir, stage, self.progress, device=self.device)
        self._record(out)
        return out

    def submit(self, stage: Stage) -> Pending:
        """Run the stage now (this runner is sequential) and return it as finished."""
        p = Pending(stage.name, stage.key())
        p.set(self.run(stage))
        return p

    def close(self, abort: bool = False) -> None:
        """Release workers (none here)."""

    def _record(self, out: StageOutput) -> None:
        self.history.append(out)
        if self.on_stage is not None:
            self.on_stage(out)


def _final(cache_dir: Path, stage: Stage) -> tuple[str, Path]:
    """The stage's cache key and the directory its finished output lives in."""
    key = stage.key()
    return key, cache_dir / _dir_name(stage.name, key)


def finished(cache_dir: Path, stage: Stage) -> StageOutput | None:
    """The stage's finished output under `cache_dir` (marked cached), or None."""
    key, final = _final(cache_dir, stage)
    if (final / MANIFEST).is_file():
        return StageOutput(stage.name, key, final, read_json(final / MANIFEST).get("meta", {}), True, 0.0)
    return None


def compute(cache_dir: Path, stage: Stage, progress: ProgressFactory,
            on_start: Callable[[], None] | None = None, device: str = "cpu") -> StageOutput:
    """Run the stage function into `<dir>.partial`, then publish it (manifest last, then rename).

    Holds an exclusive lock on the stage while it works, so two processes sharing a cache (two
    runs on one `--cache`, or a rerun while a killed run's worker is still winding down) never
    write one stage's directory at once: the second waits, then finds the output finished.
    `on_start` is called just before the stage function runs (not when the output turns out to
    be finished already): where other ranks must run the function alongside this one.
    `device` goes to the stage function in its context (not into the key).
    """
    key, final = _final(cache_dir, stage)
    with _stage_lock(cache_dir / LOCKS / (final.name + ".lock")):
        done = finished(cache_dir, stage)
        if done is not None:
            return done
        if final.exists():  # a directory without a manifest is not ours to trust
            shutil.rmtree(final)
        work = final.with_name(final.name + ".partial")
        if (work / MANIFEST).is_file():
            # Killed between writing the manifest and the rename: the output is complete.
            os.replace(work, final)
            return finished(cache_dir, stage)  # type: ignore[return-value]
        work.mkdir(parents=True, exist_ok=True)
        _check_inputs(stage)
        # A typed config is frozen; a mapping is copied, so the stage cannot change what it was keyed by.
        config = stage.config if isinstance(stage.config, BaseModel) else copy.deepcopy(dict(stage.config))
        ctx = StageContext(stage.name, key, config, dict(stage.inputs), work, progress, device)
        if on_start is not None:
            on_start()
        t0 = time.perf_counter()
        result = stage.fn(ctx)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        # Through JSON and back, so that a fresh run's meta equals what a cached run reads
        # from the manifest (tuples become lists), and an unserialisable value fails here.
        meta = json.loads(json.dumps(result or {}))
        seconds = time.perf_counter() - t0
        _publish(work, final, {
            "stage": stage.name, "key": key, "version": stage.version, "harness": __version__,
            "config": stage.config_json(), "inputs": {r: o.key for r, o in stage.inputs.items()},
            "seconds": round(seconds, 3), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "meta": meta,
        })
    return StageOutput(stage.name, key, final, meta, False, seconds)


def _check_inputs(stage: Stage) -> None:
    """Every input of a stage about to run is a finished stage directory (its manifest is there).

    The invariant a killed run must keep: nothing reads a directory a killed stage left half
    written. With $VIGC_AUDIT_READS naming a file, each check is appended to it as a JSON line
    (one short write in append mode, so workers' lines do not interleave); the kill test reads it.
    """
    log = os.environ.get("VIGC_AUDIT_READS")
    for role, out in stage.inputs.items():
        ok = (out.path / MANIFEST).is_file()
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"stage": stage.name, "input": str(out.path), "manifest": ok}) + "\n")
        if not ok:
            raise RuntimeError(f"{stage.name}: input {role!r} at {out.path} has no manifest (an unfinished stage)")


class _stage_lock:
    """An exclusive advisory lock on a file (fcntl; released by the OS if the holder dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # no fcntl (Windows): one run per cache, as before
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: Any) -> None:
        os.close(self._fd)  # closing releases the lock


def _publish(work: Path, final: Path, manifest: dict[str, Any]) -> None:
    # Scratch space a stage used for resuming is not part of its output, nor are the
    # temporary files of atomic writes that an earlier, killed attempt left behind.
    shutil.rmtree(work / RESUME, ignore_errors=True)
    for p in list(work.rglob("*")):
        if p.is_file() and is_atomic_temp(p):
            p.unlink()
    manifest["files"] = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    write_json(work / MANIFEST, manifest, fsync=True)
    os.replace(work, final)


def resume_dir(ctx: StageContext) -> Path:
    """A scratch directory for resumable checkpoints; removed when the stage finishes."""
    p = ctx.out_dir / RESUME
    p.mkdir(parents=True, exist_ok=True)
    return p
