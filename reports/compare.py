"""Runs side by side: every (target, source, benchmark, split, metric), each later run against the first.

A difference is tested by a paired test on the per-sample records when both runs asked the
same items (same ids, prompts and images); otherwise the runs are compared by whether their 95%
intervals overlap, which is conservative (non-overlap is significant at well under 5%). Each
row says which test it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from harness.core.records import ResultRecord, SampleRecord
from reports.leaderboard import ALPHA, declared
from reports.run_data import RunData, unit_scores

Key = tuple[str, str, str, str, str]  # (target, source, benchmark, split, metric)


@dataclass(frozen=True)
class Delta:
    """One later run's difference to the first on one metric."""

    diff: float
    method: str  # "paired" (sign-flip test on the same items), "ci-overlap" or "none"
    p_value: float | None  # paired only
    significant: bool
    worse: bool | None  # in the benchmark's declared direction; None where no direction is declared


@dataclass(frozen=True)
class CompareRow:
    """One metric across runs: the records (None where a run lacks it) and the deltas."""

    key: Key
    records: tuple[ResultRecord | None, ...]
    deltas: tuple[Delta | None, ...]  # one per run after the first


def _direction(benchmark: str, metric: str, samples: Sequence[SampleRecord]) -> bool | None:
    """higher_is_better for the primary metric and its categories; None for other metrics."""
    d = declared(benchmark)
    if d is None:
        return None
    if metric == d.primary_metric or any(metric in s.categories for s in samples):
        return d.higher_is_better
    return None


def _tested_samples(run: RunData, key: Key) -> list[SampleRecord]:
    """Samples whose scores make up `key`'s metric: the primary metric, or one of its categories."""
    t, s, b, split, metric = key
    rows = [x for x in run.samples_of(t, s, b) if x.split == split]
    if rows and rows[0].metric == metric:
        return rows
    return [x for x in rows if metric in x.categories]


def _same_items(a: Sequence[SampleRecord], b: Sequence[SampleRecord]) -> bool:
    def ident(rows: Sequence[SampleRecord]) -> set[tuple[str, str, str]]:
        return {(x.item_id, x.prompt, x.image_sha256) for x in rows}

    return bool(a) and len(a) == len(b) and ident(a) == ident(b)


def _delta(first: RunData, later: RunData, key: Key, r0: ResultRecord, r1: ResultRecord, n_perm: int,
           seed: int) -> Delta:
    from harness.core.stats import paired_test

    diff = r1.value - r0.value
    sa, sb = _tested_samples(later, key), _tested_samples(first, key)
    higher = _direction(key[2], key[4], sa or sb)
    if _same_items(sa, sb):
        ua, ub = unit_scores(sa), unit_scores(sb)
        keys = list(ua)
        t = paired_test([ua[k][0] for k in keys], [ub[k][0] for k in keys], [ua[k][1] for k in keys],
                        [ub[k][1] for k in keys], n_boot=0, n_perm=n_perm, seed=seed)  # the p-value decides
        sig = t.p_value < ALPHA and t.diff != 0
        return Delta(diff, "paired", t.p_value, sig, None if higher is None or not sig else (t.diff < 0) == higher)
    if None in (r0.ci_low, r0.ci_high, r1.ci_low, r1.ci_high):
        return Delta(diff, "none", None, False, None)
    sig = r1.ci_low > r0.ci_high or r1.ci_high < r0.ci_low  # type: ignore[operator]
    return Delta(diff, "ci-overlap", None, sig, None if higher is None or not sig else (diff < 0) == higher)


def compare_runs(runs: Sequence[RunData], n_perm: int = 2000, seed: int = 0) -> list[CompareRow]:
    """Rows for every metric any run reports, in first-seen order."""
    index = [{(r.target, r.source, r.benchmark, r.split, r.metric): r for r in run.results} for run in runs]
    keys = list(dict.fromkeys(k for idx in index for k in idx))
    rows = []
    for key in keys:
        recs = tuple(idx.get(key) for idx in index)
        deltas = []
        for run, rec in zip(runs[1:], recs[1:]):
            r0 = recs[0]
            deltas.append(None if r0 is None or rec is None else _delta(runs[0], run, key, r0, rec, n_perm, seed))
        rows.append(CompareRow(key, recs, tuple(deltas)))
    return rows


def _value(r: ResultRecord | None) -> str:
    if r is None:
        return "–"
    ci = f" [{r.ci_low:.1f}, {r.ci_high:.1f}]" if r.ci_low is not None and r.ci_high is not None else ""
    return f"{r.value:.1f}{ci}"


def _delta_text(d: Delta | None) -> str:
    if d is None:
        return "–"
    if d.method == "paired":
        test = f"paired p={d.p_value:.3f}" if d.p_value and d.p_value >= 0.001 else "paired p<0.001"
    elif d.method == "ci-overlap":
        test = "CIs apart" if d.significant else "CIs overlap"
    else:
        test = "no interval"
    mark = (" WORSE" if d.worse else " better" if d.worse is False else " differs") if d.significant else ""
    return f"{d.diff:+.1f} ({test}){mark}"


def render_text(runs: Sequence[RunData], rows: Sequence[CompareRow]) -> str:
    """A plain table: one line per metric, one value column per run and a delta per later run."""
    names = [f"[{i}] {r.run_dir}" for i, r in enumerate(runs)]
    header = ["target", "source", "benchmark", "split", "metric"] + [f"[{i}]" for i in range(len(runs))] + [
        f"[{i}]-[0]" for i in range(1, len(runs))]
    table = [header] + [list(r.key) + [_value(x) for x in r.records] + [_delta_text(d) for d in r.deltas]
                        for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table]
    legend = ("differences: paired = sign-flip test on the same items; CIs apart/overlap = 95% intervals "
              "compared where the items differ or no samples.jsonl exists; WORSE/better in the benchmark's "
              "declared direction (primary metric and its categories only)")
    return "\n".join(names + [""] + lines + ["", legend]) + "\n"


def regressions(rows: Sequence[CompareRow]) -> list[str]:
    """One line per significant change for the worse against the first run."""
    out = []
    for r in rows:
        for i, d in enumerate(r.deltas, 1):
            if d is not None and d.significant and d.worse:
                out.append(f"{'/'.join(r.key)}: run [{i}] {_value(r.records[i])} vs [0] {_value(r.records[0])} "
                           f"({_delta_text(d)})")
    return out


def differences(rows: Sequence[CompareRow]) -> list[str]:
    """One line per significant difference of any sign against the first run."""
    return [f"{'/'.join(r.key)}: run [{i}] {_value(r.records[i])} vs [0] {_value(r.records[0])} ({_delta_text(d)})"
            for r in rows for i, d in enumerate(r.deltas, 1) if d is not None and d.significant]
