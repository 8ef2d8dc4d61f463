"""Rich progress bars (with ETA) for long stages, on stderr.

Display only: no stage imports this module, so editing it changes no stage's cache key.
rich is imported where a display is made, not with the module.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Collection, Sequence

from harness.core.progress import ProgressTask


class RichTask(ProgressTask):
    """One bar of a shared `rich.progress.Progress`; with `remove`, closing it takes it off the
    display (a study's finished stage), else it stays, complete."""

    def __init__(self, progress: Any, description: str, total: int, remove: bool = False) -> None:
        self._p = progress
        self._remove = remove
        self._id = progress.add_task(description, total=max(total, 1), info="")

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Advance the bar; keyword fields (e.g. loss=0.12) are shown beside it."""
        info = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        self._p.update(self._id, advance=n, info=info)

    def close(self) -> None:
        """Mark the bar complete (or remove it)."""
        if self._remove:
            with contextlib.suppress(KeyError):  # already taken off (the display was closing)
                self._p.remove_task(self._id)
            return
        task = self._p.tasks[[t.id for t in self._p.tasks].index(self._id)]
        self._p.update(self._id, completed=task.total)


def _columns(*, overall: bool = False) -> list[Any]:
    """The columns of a bar: description, bar, done of total, elapsed, ETA and the fields.
    With `overall`, the ETA of a task with an `eta_at` field is read from it (a study's line,
    whose ETA comes from the plan, not from rich's rate of one bar)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    from rich.text import Text

    class PlannedRemaining(TimeRemainingColumn):
        def render(self, task: Any) -> Any:
            if "eta_at" not in task.fields:
                return super().render(task)
            at = task.fields["eta_at"]
            if task.finished or at is None:
                return Text("0:00:00" if task.finished else "-:--:--", style="progress.remaining")
            left = max(0, int(at - time.monotonic()))
            return Text(f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}", style="progress.remaining")

    return [TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), PlannedRemaining() if overall else TimeRemainingColumn(),
            TextColumn("{task.fields[info]}")]


class RichProgress:
    """A progress factory backed by one live `rich` display (on stderr)."""

    def __init__(self, console: Any, columns: Sequence[Any] | None = None) -> None:
        from rich.progress import Progress

        self.progress = Progress(*(columns or _columns()), console=console, transient=False, expand=False)

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, description: str, total: int) -> ProgressTask:
        return RichTask(self.progress, description, total)


def stage_kind(name: str) -> str:
    """The kind of a stage: its name up to the first '/' (world, foundation, data, finetune, ...)."""
    return name.split("/", 1)[0]


class StudyClock:
    """The numbers of a study's overall line: stages done of those planned, and when the rest
    should be done.

    The estimate weighs each stage still to run by the mean time of the stages of its kind
    that ran so far (of all that ran, for a kind not seen yet), and turns that work into wall
    time at the rate work got done since the start (which counts the stages running at once).
    Cached stages are done from the start and weigh nothing. Times are `time.monotonic()`.
    """

    def __init__(self, planned: Sequence[str], cached: Collection[str], start: float) -> None:
        self.planned = list(planned)
        self.start = start
        self.done: set[str] = set(cached) & set(self.planned)
        self.cached = len(self.done)
        self.ran: dict[str, list[float]] = {}  # seconds of the stages that ran, by kind
        self.eta_at: float | None = None

    @property
    def total(self) -> int:
        """Stages planned (more if the run made stages the plan did not list)."""
        return len(set(self.planned) | self.done)

    def finished(self, name: str, cached: bool, seconds: float, now: float) -> None:
        """Record a finished stage (`seconds`: its own time) and re-estimate the ETA."""
        if name in self.done:
            return
        self.done.add(name)
        if cached:
            self.cached += 1
        else:
            self.ran.setdefault(stage_kind(name), []).append(seconds)
        work = sum(sum(v) for v in self.ran.values())
        if not self.ran or work <= 0 or now <= self.start:
            return
        overall = work / sum(len(v) for v in self.ran.values())
        mean = {k: sum(v) / len(v) for k, v in self.ran.items()}
        left = sum(mean.get(stage_kind(n), overall) for n in self.planned if n not in self.done)
        self.eta_at = now + left * (now - self.start) / work

    def info(self) -> str:
        """What the line says beside the numbers: stages that ran and cached."""
        ran = len(self.done) - self.cached
        return ", ".join(part for part in (f"{ran} ran" if ran else "", f"{self.cached} cached" if self.cached else "")
                         if part)


class StudyProgress(RichProgress):
    """A study's display: one overall line (stages done of the plan's total, elapsed, ETA) above
    the bars of the stages running now; a finished stage's bar is removed, so the display stays
    a few lines high however many stages the study has. Call `finished` for every stage the run
    records (`run_study`'s `on_stage`); a parallel run's relayed bars close like local ones."""

    def __init__(self, console: Any, planned: Sequence[str], cached: Collection[str] = ()) -> None:
        super().__init__(console, _columns(overall=True))
        self.clock = StudyClock(planned, cached, time.monotonic())
        self._lock = threading.Lock()  # stages finish in the runner's threads
        self._overall = self.progress.add_task("stages", total=max(self.clock.total, 1),
                                               completed=len(self.clock.done), info=self.clock.info(), eta_at=None)

    def __call__(self, description: str, total: int) -> ProgressTask:
        return RichTask(self.progress, description, total, remove=True)

    def finished(self, name: str, cached: bool, seconds: float) -> None:
        """Count a finished stage (cached or run, with its own time in seconds) on the overall line."""
        with self._lock:
            self.clock.finished(name, cached, seconds, time.monotonic())
            self.progress.update(self._overall, total=max(self.clock.total, 1), completed=len(self.clock.done),
                                 info=self.clock.info(), eta_at=self.clock.eta_at)

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            # A worker's last "close" can miss the relay, which stops with the study: take any
            # bar left over off, so a finished study ends on its overall line. After an error
            # the bars stay: they show where it stopped.
            for task in self.progress.tasks:
                if task.id != self._overall:
                    self.progress.remove_task(task.id)
        super().__exit__(*exc)
