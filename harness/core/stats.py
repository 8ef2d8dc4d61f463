"""Bootstrap confidence intervals (items, or whole clusters such as CircularEval questions) and
paired tests of two systems on the same items."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")


def bootstrap_ci(items: Sequence[T], metric: Callable[[Sequence[T]], float], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Percentile bootstrap (1 - alpha) interval of `metric` over `items`.

    Returns (None, None) with fewer than two items or `n_boot` = 0: an interval from one item
    would claim a precision that is not there.
    """
    if len(items) < 2 or n_boot <= 0:
        return None, None
    vals = [metric([items[i] for i in idx]) for idx in resample_indices(random.Random(seed), len(items), n_boot)]
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
    draws: dict[str, list[float]] = {}
    for idx in resample_indices(random.Random(seed), len(items), n_boot):
        for k, v in metrics([items[i] for i in idx]).items():
            draws.setdefault(k, []).append(v)
    out: dict[str, tuple[float | None, float | None]] = {}
    for k in metrics(items):
        vals = sorted(draws.get(k, []))
        if len(vals) < 2:
            out[k] = (None, None)
            continue
        out[k] = (vals[int((alpha / 2) * (len(vals) - 1))], vals[int((1 - alpha / 2) * (len(vals) - 1))])
    return out


def resample_indices(rng: random.Random, n: int, n_boot: int) -> Iterator[list[int]]:
    """The item indices of `n_boot` resamples of `n` items: exactly what `n_boot` rounds of
    `[rng.randrange(n) for _ in range(n)]` draw, at a fraction of the cost.

    `randrange(n)` tries `getrandbits(k)` (k = n.bit_length(), one 32-bit output of the
    generator shifted right by 32 - k) until a try is below n. `getrandbits(32 * m)` returns the
    next m outputs as one integer, the first output lowest, so the tries can be made and
    filtered in bulk. The generator ends further on than the loop would leave it: use `rng`
    for nothing else afterwards.
    """
    import numpy as np

    k = n.bit_length()
    if n <= 0 or k > 32:  # beyond one output per try: the plain loop
        for _ in range(n_boot):
            yield [rng.randrange(n) for _ in range(n)]
        return
    kept = np.empty(0, dtype=np.uint32)
    for _ in range(n_boot):
        while len(kept) < n:
            m = max(2 * n, 4096)  # at least half the tries succeed (n >= 2 ** (k - 1))
            words = np.frombuffer(rng.getrandbits(32 * m).to_bytes(4 * m, "little"), dtype="<u4") >> (32 - k)
            kept = np.concatenate([kept, words[words < n]])
        yield kept[:n].tolist()
        kept = kept[n:]


def mean(xs: Sequence[float]) -> float:
    """Arithmetic mean (0.0 for an empty sequence)."""
    return sum(xs) / len(xs) if xs else 0.0


# --- unit-level statistics: cluster bootstrap and paired tests ---------------------------------
# A metric here is a ratio of sums over units, sum(num) / sum(den): a mean of 0/1 hits (den 1
# per unit), a mean of VQA accuracies, or a pooled rate such as CHAIRi (hallucinated mentions /
# mentions). A unit is what is resampled: an item, or a CircularEval question with all its
# passes, so correlated passes never count as independent evidence.


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval, on the scale of the inputs."""

    value: float
    low: float | None
    high: float | None
    n: int  # units


@dataclass(frozen=True)
class PairedTest:
    """A against B on the same units: difference, its interval and a two-sided p-value."""

    diff: float  # metric(A) - metric(B), on the scale of the inputs
    low: float | None  # paired bootstrap percentile interval of `diff`
    high: float | None
    p_value: float  # two-sided sign-flip permutation test (swap A and B within units)
    n: int  # matched units


def collapse_groups(keys: Sequence[str], scores: Sequence[float], weights: Sequence[float],
                    groups: Sequence[str | None]) -> dict[str, tuple[float, float]]:
    """Items -> units {unit id: (num, den)}: an ungrouped item is (score * weight, weight); items
    sharing a group are one unit scoring their minimum, weight 1 (CircularEval's rule)."""
    units: dict[str, tuple[float, float]] = {}
    for key, s, w, g in zip(keys, scores, weights, groups):
        if g is None:
            units[f"item:{key}"] = (s * w, w)
        else:
            prev = units.get(f"group:{g}")
            units[f"group:{g}"] = (s if prev is None else min(prev[0], s), 1.0)
    return units


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _percentiles(vals: Any, alpha: float) -> tuple[float | None, float | None]:
    import numpy as np

    vals = vals[np.isfinite(vals)]
    if len(vals) < 2:
        return None, None
    vals = np.sort(vals)
    # The same order-statistic rule as `bootstrap_ci`, so both kinds of interval agree.
    return float(vals[int((alpha / 2) * (len(vals) - 1))]), float(vals[int((1 - alpha / 2) * (len(vals) - 1))])


def _resampled_sums(rng: Any, cols: Sequence[Any], n_boot: int, chunk: int = 256) -> list[Any]:
    """Per resample, the sum of each column over units drawn with replacement.

    Each chunk of resamples becomes a matrix of draw counts (units drawn twice count twice), so
    the sums of every column are one matrix product.
    """
    import numpy as np

    stacked = np.stack([np.asarray(c, dtype=float) for c in cols], axis=1)
    n = len(stacked)
    parts = []
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=k * n).reshape(k, n).astype(float)
        parts.append(counts @ stacked)
    sums = np.concatenate(parts)
    return [sums[:, j] for j in range(stacked.shape[1])]


def cluster_bootstrap(num: Sequence[float], den: Sequence[float] | None = None, n_boot: int = 1000, seed: int = 0,
                      alpha: float = 0.05) -> Interval:
    """sum(num) / sum(den) over units, with a percentile interval from resampling whole units.

    `den` defaults to one per unit (a plain mean). Fewer than two units or `n_boot` = 0 give
    no interval, as `bootstrap_ci`.
    """
    import numpy as np

    a = np.asarray(num, dtype=float)
    d = np.ones_like(a) if den is None else np.asarray(den, dtype=float)
    value = _ratio(float(a.sum()), float(d.sum()))
    if len(a) < 2 or n_boot <= 0:
        return Interval(value, None, None, len(a))
    sa, sd = _resampled_sums(np.random.default_rng(seed), [a, d], n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = _percentiles(sa / sd, alpha)
    return Interval(value, lo, hi, len(a))


def paired_test(a_num: Sequence[float], b_num: Sequence[float], a_den: Sequence[float] | None = None,
                b_den: Sequence[float] | None = None, n_boot: int = 1000, n_perm: int = 2000, seed: int = 0,
                alpha: float = 0.05) -> PairedTest:
    """Paired comparison of metric(A) - metric(B) on the same units (position i = unit i in both).

    The interval resamples units (A and B together); the p-value comes from a sign-flip
    permutation test: under "no difference" A's and B's results on a unit are exchangeable, so
    each is swapped with probability 1/2, and p = (1 + #|perm diff| >= |observed|) / (1 + n_perm).
    Identical results give p = 1.
    """
    import numpy as np

    an, bn = np.asarray(a_num, dtype=float), np.asarray(b_num, dtype=float)
    if an.shape != bn.shape:
        raise ValueError(f"paired_test: {len(an)} units for A but {len(bn)} for B")
    ad = np.ones_like(an) if a_den is None else np.asarray(a_den, dtype=float)
    bd = np.ones_like(bn) if b_den is None else np.asarray(b_den, dtype=float)
    n = len(an)
    diff = _ratio(float(an.sum()), float(ad.sum())) - _ratio(float(bn.sum()), float(bd.sum()))
    if n < 2:
        return PairedTest(diff, None, None, 1.0, n)
    rng = np.random.default_rng(seed)
    low = high = None
    if n_boot > 0:
        s_an, s_ad, s_bn, s_bd = _resampled_sums(rng, [an, ad, bn, bd], n_boot)
        with np.errstate(invalid="ignore", divide="ignore"):
            low, high = _percentiles(s_an / s_ad - s_bn / s_bd, alpha)
    # Swapping A and B on the flipped units moves each sum by the flipped units' differences,
    # so a batch of sign flips is one matrix product (random bits: 8 flips per random byte).
    # float32 triples its speed; sums of 0/1 scores and counts stay exact, fractional ones err
    # by far less than `tol`, and `tol` is far below the smallest step a flip can make.
    delta = np.stack([bn - an, bd - ad], axis=1).astype(np.float32)
    base = np.array([an.sum(), ad.sum(), bn.sum(), bd.sum()])
    hits, done = 0, 0
    tol = 1e-6 * max(1.0, abs(diff))
    while done < n_perm:
        k = min(512, n_perm - done)
        bits = np.unpackbits(rng.integers(0, 256, size=(k, (n + 7) // 8), dtype=np.uint8), axis=1)[:, :n]
        moved = (bits.astype(np.float32) @ delta).astype(float)
        pa_n, pa_d = base[0] + moved[:, 0], base[1] + moved[:, 1]
        pb_n, pb_d = base[2] - moved[:, 0], base[3] - moved[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            perm = np.where(pa_d > 0, pa_n / np.where(pa_d > 0, pa_d, 1), 0.0) - \
                np.where(pb_d > 0, pb_n / np.where(pb_d > 0, pb_d, 1), 0.0)
        hits += int((np.abs(perm) >= abs(diff) - tol).sum())
        done += k
    p = (1 + hits) / (1 + n_perm) if n_perm > 0 else 1.0
    return PairedTest(diff, low, high, min(1.0, p), n)
