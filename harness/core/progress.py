"""Progress handles: what a stage reports its progress to. The base is silent; the CLI shows
rich bars (`harness.core.rich_progress`), a parallel run relays a worker's to its parent."""

from __future__ import annotations

from typing import Any, Callable

ProgressFactory = Callable[[str, int], "ProgressTask"]


class ProgressTask:
    """A progress handle: `advance(n)` and `close()`. The base class is silent."""

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Record `n` more units of work done."""

    def close(self) -> None:
        """Mark the task finished."""


def silent_progress(description: str, total: int) -> ProgressTask:
    """A progress factory that shows nothing (tests, --quiet)."""
    return ProgressTask()
