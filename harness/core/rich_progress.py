"""Rich progress bars (with ETA) for long stages, on stderr.

Display only: no stage imports this module, so editing it changes no stage's cache key.
"""

from __future__ import annotations

from typing import Any

from harness.core.progress import ProgressTask


class RichTask(ProgressTask):
    """One bar of a shared `rich.progress.Progress`."""

    def __init__(self, progress: Any, description: str, total: int) -> None:
        self._p = progress
        self._id = progress.add_task(description, total=max(total, 1), info="")

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Advance the bar; keyword fields (e.g. loss=0.12) are shown beside it."""
        info = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        self._p.update(self._id, advance=n, info=info)

    def close(self) -> None:
        """Mark the bar complete."""
        task = self._p.tasks[[t.id for t in self._p.tasks].index(self._id)]
        self._p.update(self._id, completed=task.total)


class RichProgress:
    """A progress factory backed by one live `rich` display (on stderr)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}"), console=console, transient=False,
                                 expand=False)

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, description: str, total: int) -> ProgressTask:
        return RichTask(self.progress, description, total)
