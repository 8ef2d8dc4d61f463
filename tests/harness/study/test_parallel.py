"""The parallel runner: same outputs and cache as the sequential one, errors reach the caller,
and the workers' progress bars are drawn by the parent."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import BadInput, WorkerDied
from harness.study.parallel import ParallelRunner
from harness.stages.runner import Runner, Stage, StageContext


def write_value(ctx: StageContext) -> dict[str, Any]:
    """Writes config x plus the inputs' values; reports progress in x units."""
    total = ctx.config["x"] + sum(json.loads((o.path / "v.json").read_text())["v"] for o in ctx.inputs.values())
    task = ctx.progress(f"value {ctx.name}", ctx.config["x"])
    for _ in range(ctx.config["x"]):
        task.advance(1, loss=0.5)
    task.close()
    (ctx.out_dir / "v.json").write_text(json.dumps({"v": total}))
    return {"v": total}


def slow(ctx: StageContext) -> dict[str, Any]:
    """Takes far longer than any test should wait."""
    time.sleep(120)
    return {}


def fail(ctx: StageContext) -> dict[str, Any]:
    """Fails as a bad input file would."""
    raise BadInput(f"{ctx.out_dir}/x.json: not JSON")


def killed(ctx: StageContext) -> dict[str, Any]:
    """Dies as a process the OOM killer picks would."""
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def graph(runner: Runner) -> dict[str, Any]:
    a = runner.submit(Stage("a", 1, write_value, {"x": 1}))
    b = runner.submit(Stage("b", 1, write_value, {"x": 2}, {"a": a}))
    c = runner.submit(Stage("c", 1, write_value, {"x": 3}))
    d = runner.submit(Stage("d", 1, write_value, {"x": 4}, {"b": b, "c": c}))
    return {p.name: p.result() for p in (a, b, c, d)}


class Bars:
    """A progress factory that records what it is told."""

    def __init__(self) -> None:
        self.bars: dict[str, list[int]] = {}

    def __call__(self, description: str, total: int) -> Any:
        done = self.bars.setdefault(description, [total, 0, 0])

        class Task:
            def advance(self, n: int = 1, **fields: Any) -> None:
                done[1] += n

            def close(self) -> None:
                done[2] = 1

        return Task()


def test_same_outputs_as_sequential_and_cached_rerun(tmp_path: Path) -> None:
    seq = graph(Runner(tmp_path / "seq"))
    bars = Bars()
    runner = ParallelRunner(tmp_path / "par", bars, jobs=2)
    try:
        par = graph(runner)
    finally:
        runner.close()
    assert {k: (o.key, o.meta) for k, o in par.items()} == {k: (o.key, o.meta) for k, o in seq.items()}
    assert par["d"].meta == {"v": 4 + (2 + 1) + 3} and not any(o.cached for o in par.values())
    assert sorted(o.name for o in runner.history) == ["a", "b", "c", "d"]
    # Each worker's bar reached the parent, complete.
    assert bars.bars == {f"value {n}": [x, x, 1] for n, x in zip("abcd", (1, 2, 3, 4))}

    again = ParallelRunner(tmp_path / "par", jobs=2)
    try:
        cached = graph(again)
    finally:
        again.close()
    assert all(o.cached for o in cached.values()) and again._pool is None  # no worker started


def test_error_reaches_the_caller_and_dependents(tmp_path: Path) -> None:
    runner = ParallelRunner(tmp_path, jobs=2)
    try:
        bad = runner.submit(Stage("bad", 1, fail))
        after = runner.submit(Stage("after", 1, write_value, {"x": 1}, {"bad": bad}))
        with pytest.raises(BadInput, match="not JSON"):
            bad.result()
        with pytest.raises(BadInput, match="not JSON"):
            after.result()
    finally:
        runner.close()
    assert not list(tmp_path.rglob("manifest.json"))


def test_a_stage_not_started_after_a_failure_reports_that_failure(tmp_path: Path) -> None:
    # A study waits on its stages in graph order; the first it waits on may be one that never
    # started because another failed. The error it sees is the failure itself, one line.
    runner = ParallelRunner(tmp_path, jobs=2)
    try:
        bad = runner.submit(Stage("bad", 1, fail))
        with pytest.raises(BadInput):
            bad.result()
        late = runner.submit(Stage("late", 1, write_value, {"x": 1}))
        with pytest.raises(BadInput, match="not JSON"):
            late.result()
    finally:
        runner.close()


def test_a_failure_stops_the_other_workers(tmp_path: Path) -> None:
    """The study stops at the first error: a long stage in the other worker is not waited for."""
    runner = ParallelRunner(tmp_path, jobs=2)
    long = runner.submit(Stage("long", 1, slow))
    bad = runner.submit(Stage("bad", 1, fail))
    t0 = time.monotonic()
    with pytest.raises(BadInput):
        bad.result()
    runner.close()
    assert time.monotonic() - t0 < 60
    with pytest.raises(BaseException):
        long.result()
    assert not list(tmp_path.rglob("manifest.json"))


def test_a_killed_worker_is_a_one_line_error(tmp_path: Path) -> None:
    """A worker killed from outside surfaces as `WorkerDied` (one line from the CLI), naming the stage."""
    runner = ParallelRunner(tmp_path, jobs=2)
    try:
        with pytest.raises(WorkerDied, match="^oom: a worker process died"):
            runner.submit(Stage("oom", 1, killed)).result()
    finally:
        runner.close(abort=True)
    assert not list(tmp_path.rglob("manifest.json"))


def stamp(ctx: StageContext) -> dict[str, Any]:
    """Records when it started; sleeps `sleep` seconds."""
    started = time.time()
    time.sleep(ctx.config.get("sleep", 0))
    return {"started": started}


def test_longest_chain_starts_first(tmp_path: Path) -> None:
    # One worker, busy; then two stages become ready together: 'cheap' (submitted first, no
    # followers) and 'head', which a costly stage waits on. 'head' must get the worker first.
    runner = ParallelRunner(tmp_path, jobs=1)
    try:
        busy = runner.submit(Stage("busy", 1, stamp, {"sleep": 2.0}))
        time.sleep(0.5)  # 'busy' holds the worker before the others arrive
        cheap = runner.submit(Stage("cheap", 1, stamp, {}, cost=1.0))
        head = runner.submit(Stage("head", 1, stamp, {}, cost=1.0))
        tail = runner.submit(Stage("tail", 1, stamp, {}, {"head": head}, cost=50.0))
        started = {p.name: p.result().meta["started"] for p in (busy, cheap, head, tail)}
    finally:
        runner.close()
    assert started["busy"] < started["head"] < started["tail"] < started["cheap"]


def report_device(ctx: StageContext) -> dict[str, Any]:
    """Says which device the runner handed it (touches no model: any device string will do)."""
    return {"device": ctx.device}


def test_workers_get_the_runners_device_which_is_not_in_the_key(tmp_path: Path) -> None:
    stage = Stage("toy/device", 1, report_device, {"x": 1})
    runner = ParallelRunner(tmp_path, jobs=2, device="cuda:1")
    try:
        out = runner.run(stage)
    finally:
        runner.close()
    assert not out.cached and out.meta == {"device": "cuda:1"}  # computed in a worker, on its device
    again = Runner(tmp_path).run(stage)  # a CPU rerun: the same key, so the finished output
    assert again.cached and again.key == out.key and again.meta == {"device": "cuda:1"}


def test_a_workers_bars_are_taken_off_when_its_stage_finishes(tmp_path: Path) -> None:
    """The study's display keeps only the running stages' bars: a bar relayed from a worker goes
    when the worker closes it, and the overall line counts the stage."""
    import io

    from rich.console import Console

    from harness.core.rich_progress import StudyProgress

    with StudyProgress(Console(file=io.StringIO()), ["a", "b", "c", "d"]) as prog:
        opened = []
        add = prog.progress.add_task
        prog.progress.add_task = lambda *a, **k: opened.append(a[0]) or add(*a, **k)  # type: ignore[method-assign]
        runner = ParallelRunner(tmp_path, prog, lambda o: prog.finished(o.name, o.cached, o.seconds), jobs=2)
        try:
            graph(runner)
            # The relay draws the workers' events as they arrive: give the last ones a moment.
            deadline = time.monotonic() + 30
            while len(prog.progress.tasks) > 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [t.description for t in prog.progress.tasks] == ["stages"]
        finally:
            runner.close()
    assert sorted(opened) == [f"value {n}" for n in "abcd"]
    assert (prog.progress.tasks[0].completed, prog.clock.info()) == (4, "4 ran")
