"""Bootstrap confidence intervals: resample items, recompute the metric, take percentiles."""

from __future__ import annotations

import random
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def bootstrap_ci(items: Sequence[T], metric: Callable[[Sequence[T]], float], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Percentile bootstrap (1 - alpha) interval of `metric` over `items`.

    Returns (None, None) with fewer than two items or `n_boot` = 0: an interval from one item
    would claim a precision that is not there.
    """
    if len(items) < 2 or n_boot <= 0:
        return None, None
    rng = random.Random(seed)
    n = len(items)
    vals = []
    for _ in range(n_boot):
        sample = [items[rng.randrange(n)] for _ in range(n)]
        vals.append(metric(sample))
    vals.sort()
    lo = vals[int((alpha / 2) * (n_boot - 1))]
    hi = vals[int((1 - alpha / 2) * (n_boot - 1))]
    return lo, hi


def bootstrap_many(items: Sequence[T], metrics: Callable[[Sequence[T]], dict[str, float]], n_boot: int = 1000,
                   seed: int = 0, alpha: float = 0.05) -> dict[str, tuple[float | None, float | None]]:
    """Intervals for every metric of a dict-valued aggregate, from the same resamples.

    A metric missing from a resample (e.g. a category that was not drawn) is skipped for it.
    """
    if len(items) < 2 or n_boot <= 0:
        return {k: (None, None) for k in metrics(items)}
    rng = random.Random(seed)
    n = len(items)
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        sample = [items[rng.randrange(n)] for _ in range(n)]
        for k, v in metrics(sample).items():
            draws.setdefault(k, []).append(v)
    out: dict[str, tuple[float | None, float | None]] = {}
    for k in metrics(items):
        vals = sorted(draws.get(k, []))
        if len(vals) < 2:
            out[k] = (None, None)
            continue
        out[k] = (vals[int((alpha / 2) * (len(vals) - 1))], vals[int((1 - alpha / 2) * (len(vals) - 1))])
    return out


def mean(xs: Sequence[float]) -> float:
    """Arithmetic mean (0.0 for an empty sequence)."""
    return sum(xs) / len(xs) if xs else 0.0
