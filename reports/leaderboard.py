"""Leaderboards as pandas frames: rows (target, source), columns each benchmark's declared
primary metric, values with 95% intervals, a paired test against the baseline source, the
best value per column; and per-category breakdowns (MMBench l2-categories, ScienceQA
categories, POPE splits, ...).

Frames are long (one row per (target, source, column)) and rendering-neutral; markdown and
HTML only format them. Headline metrics are read from each benchmark class's `primary_metric`
and `higher_is_better`, never guessed from key names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Sequence

import pandas as pd

from harness.core.errors import MissingResource
from harness.core.records import BASELINE_SOURCE, ResultRecord, SampleRecord
from reports.run_data import RunData, unit_scores

BASELINE = BASELINE_SOURCE
ALPHA = 0.05
FRAME_COLUMNS = ["target", "source", "column", "value", "low", "high", "n", "diff", "diff_low", "diff_high", "p",
                 "significant", "better", "best", "note"]

ALL_SPLITS = "all"  # the split of a comparison that pools a benchmark's splits


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a metric of one benchmark over some splits (and a category)."""

    label: str
    benchmark: str
    splits: tuple[str, ...]
    metric: str  # the results.jsonl metric key
    higher_is_better: bool
    category: str | None = None  # a sample category the column is restricted to

    @property
    def key(self) -> tuple[str, str, str]:
        """(benchmark, split, metric) as comparisons.jsonl names it: split 'all' when it pools splits."""
        return self.benchmark, self.splits[0] if len(self.splits) == 1 else ALL_SPLITS, self.metric


@dataclass(frozen=True)
class Declared:
    """What a benchmark class declares about its headline metric."""

    primary_metric: str
    higher_is_better: bool


def declared(benchmark: str) -> Declared | None:
    """The registered benchmark's primary metric and direction; None for an unknown benchmark."""
    from benchmarks import BENCHMARKS

    try:
        cls = BENCHMARKS.get(benchmark)
    except MissingResource:
        return None
    return Declared(cls.primary_metric, bool(cls.higher_is_better))


def models(run: RunData) -> list[tuple[str, str]]:
    """(target, source) rows in the order results.jsonl first names them."""
    return list(dict.fromkeys((r.target, r.source) for r in run.results))


def _splits(run: RunData, benchmark: str) -> list[str]:
    return list(dict.fromkeys(r.split for r in run.results if r.benchmark == benchmark))


def primary_columns(run: RunData) -> tuple[list[Column], list[str]]:
    """One column per benchmark (its splits pooled), and notes on benchmarks left out."""
    cols, notes = [], []
    for b in dict.fromkeys(r.benchmark for r in run.results):
        d = declared(b)
        if d is None:
            notes.append(f"{b}: not a registered benchmark, so no declared primary metric (see All metrics)")
            continue
        splits = tuple(_splits(run, b))
        label = f"{b} {d.primary_metric}" + (f" ({splits[0]})" if len(splits) == 1 else " (all splits)")
        cols.append(Column(label, b, splits, d.primary_metric, d.higher_is_better))
    return cols, notes


def breakdown_columns(run: RunData) -> list[tuple[str, list[Column]]]:
    """(title, columns) per breakdown: each split of a multi-split benchmark, and the sample
    categories of each (benchmark, split) that results.jsonl reports as metrics."""
    out: list[tuple[str, list[Column]]] = []
    for b in dict.fromkeys(r.benchmark for r in run.results):
        d = declared(b)
        if d is None:
            continue
        splits = _splits(run, b)
        if len(splits) > 1:
            out.append((f"{b}: {d.primary_metric} per split",
                        [Column(sp, b, (sp,), d.primary_metric, d.higher_is_better) for sp in splits]))
        for sp in splits:
            cats = {c for t, s in models(run) for x in run.samples_of(t, s, b) if x.split == sp
                    for c in x.categories}
            keys = [m for m in dict.fromkeys(r.metric for r in run.results if r.benchmark == b and r.split == sp)
                    if m in cats]
            if keys:
                out.append((f"{b} ({sp}): {d.primary_metric} per category",
                            [Column(k, b, (sp,), k, d.higher_is_better, category=k) for k in keys]))
    return out


def _result(run: RunData, t: str, s: str, col: Column) -> ResultRecord | None:
    return run.result_index.get((t, s, col.benchmark, col.splits[0], col.metric))


def _samples(run: RunData, t: str, s: str, col: Column) -> list[SampleRecord]:
    return [x for x in run.samples_of(t, s, col.benchmark)
            if x.split in col.splits and (col.category is None or col.category in x.categories)]


def level(run: RunData, t: str, s: str, col: Column, n_boot: int, seed: int) -> dict[str, Any] | None:
    """Value and interval of one model in one column: the reported record for one split, else
    pooled from samples (`n_boot` 0: the value alone)."""
    from harness.core.stats import cluster_bootstrap

    if len(col.splits) == 1:
        r = _result(run, t, s, col)
        if r is None:
            return None
        # A category's n is its own number of units, not the benchmark's.
        n = len(unit_scores(_samples(run, t, s, col))) if col.category is not None else r.n
        return {"value": r.value, "low": r.ci_low, "high": r.ci_high, "n": n or r.n, "note": ""}
    units = unit_scores(_samples(run, t, s, col))
    if units:
        iv = cluster_bootstrap([u[0] for u in units.values()], [u[1] for u in units.values()], n_boot, seed)
        return {"value": 100 * iv.value, "low": None if iv.low is None else 100 * iv.low,
                "high": None if iv.high is None else 100 * iv.high, "n": iv.n, "note": ""}
    # No per-sample records (an older run): the n-weighted mean of the splits, without interval.
    rs = [r for r in run.results if (r.target, r.source, r.benchmark, r.metric) == (t, s, col.benchmark, col.metric)
          and r.split in col.splits]
    if not rs or sum(r.n for r in rs) == 0:
        return None
    n = sum(r.n for r in rs)
    return {"value": sum(r.value * r.n for r in rs) / n, "low": None, "high": None, "n": n,
            "note": "n-weighted mean of splits (no samples.jsonl, no interval)"}


def paired(run: RunData, a: tuple[str, str], b: tuple[str, str], col: Column, n_boot: int = 1000,
           n_perm: int = 2000, seed: int = 0) -> dict[str, Any] | None:
    """Paired test of model `a` against model `b` on the units both answered (0-100 scale)."""
    from harness.core.stats import paired_test

    ua, ub = unit_scores(_samples(run, *a, col)), unit_scores(_samples(run, *b, col))
    common = [k for k in ua if k in ub]
    if len(common) < 2:
        return None
    t = paired_test([ua[k][0] for k in common], [ub[k][0] for k in common], [ua[k][1] for k in common],
                    [ub[k][1] for k in common], n_boot=n_boot, n_perm=n_perm, seed=seed)
    return {"diff": 100 * t.diff, "diff_low": None if t.low is None else 100 * t.low,
            "diff_high": None if t.high is None else 100 * t.high, "p": t.p_value, "n_paired": t.n}


def _recorded(run: RunData, t: str, s: str, baseline: str, col: Column) -> dict[str, Any] | None:
    """The paired test of (t, s) against (t, baseline) in `col` from the run's comparisons.jsonl."""
    c = run.comparison_index.get((t, s, baseline, *col.key))
    if c is None:
        return None
    return {"diff": c.delta, "diff_low": c.ci_low, "diff_high": c.ci_high, "p": c.p_value, "n_paired": c.n}


def frame(run: RunData, columns: list[Column], baseline: str = BASELINE, n_boot: int = 1000, n_perm: int = 2000,
          seed: int = 0, paired_ci: bool = False) -> pd.DataFrame:
    """Long frame (FRAME_COLUMNS): one row per (target, source, column) that has a value.

    Tests against the baseline come from the run's comparisons.jsonl where it has them (a study
    writes it once), else they are computed here.

    `diff_low` / `diff_high` (the paired bootstrap interval of the difference) are filled only
    with `paired_ci`: the tables do not show them, and they cost more than the test itself.
    """
    rows = []
    mods = models(run)
    for t, s in mods:
        for col in columns:
            lvl = level(run, t, s, col, n_boot, seed)
            if lvl is None:
                continue
            row = {"target": t, "source": s, "column": col.label, **lvl, "diff": None, "diff_low": None,
                   "diff_high": None, "p": None, "significant": False, "better": None, "best": False}
            if s != baseline and (t, baseline) in mods:
                test = _recorded(run, t, s, baseline, col)
                if test is None:
                    test = paired(run, (t, s), (t, baseline), col, n_boot if paired_ci else 0, n_perm, seed)
                if test is not None:
                    row.update({k: test[k] for k in ("diff", "diff_low", "diff_high", "p")})
                    row["significant"] = test["p"] < ALPHA
                    row["better"] = (test["diff"] > 0) == col.higher_is_better and test["diff"] != 0
            rows.append(row)
    controls = {t for t, role in run.roles.items() if role != "target"}
    return mark_best(pd.DataFrame(rows, columns=FRAME_COLUMNS), columns, controls)


def mark_best(df: pd.DataFrame, columns: Sequence[Column], controls: Collection[str] = ()) -> pd.DataFrame:
    """Set `best` on each column's best rows, in the metric's own direction; ties all count.

    A column where every row ties (e.g. all 0.0) has no best: bolding all of it says nothing.
    The rows of `controls` (the blind and untuned targets) are not ranked: they are there to
    show what a model scores without the image or without instruction data, and an untuned
    control that names nothing has the best CHAIRi of all.
    """
    for col in columns:
        sel = (df["column"] == col.label) & ~df["target"].isin(list(controls))
        if sel.any():
            vals = df.loc[sel, "value"].astype(float)
            best = vals.max() if col.higher_is_better else vals.min()
            if (vals - best).abs().max() >= 1e-9:
                df.loc[sel, "best"] = (vals - best).abs() < 1e-9
    return df


def leaderboards(run: RunData, baseline: str = BASELINE, n_boot: int = 1000, n_perm: int = 2000,
                 seed: int = 0) -> tuple[list[tuple[str, list[Column], pd.DataFrame]], list[str]]:
    """The headline board then every breakdown, as (title, columns, frame); plus notes."""
    cols, notes = primary_columns(run)
    boards = [("Primary metrics", cols, frame(run, cols, baseline, n_boot, n_perm, seed))] if cols else []
    for title, bcols in breakdown_columns(run):
        boards.append((title, bcols, frame(run, bcols, baseline, n_boot, n_perm, seed)))
    return boards, notes


def _num(x: Any, spec: str = ".1f") -> str:
    return "–" if x is None or x != x else format(float(x), spec)


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def cell_text(row: Any) -> tuple[str, str, str]:
    """(value, interval, test) texts of one frame row; test is "" without a paired test.

    The test reads "Δ+2.3 p=0.004 ▲": the difference to the baseline on the same items, the
    two-sided p-value, and ▲/▼ when significantly better/worse in the metric's direction.
    """
    value = _num(row["value"])
    ci = f"[{_num(row['low'])}, {_num(row['high'])}]" if row["low"] is not None and row["low"] == row["low"] else ""
    test = ""
    if row["p"] is not None and row["p"] == row["p"]:
        mark = (" ▲" if row["better"] else " ▼") if row["significant"] else ""
        test = f"Δ{_num(row['diff'], '+.1f')} {_p(float(row['p']))}{mark}"
    return value, ci, test


def legend(baseline: str = BASELINE) -> str:
    """One paragraph explaining the cells (shared by markdown and HTML)."""
    return (f"Cells: value [95% bootstrap interval, items resampled, CircularEval questions as units]; "
            f"Δ: difference to `{baseline}` for the same target on the same items, with the two-sided p-value of "
            f"a paired sign-flip permutation test; ▲/▼: significantly better/worse than `{baseline}` "
            f"(p < {ALPHA}); bold: best in the column (in the metric's direction; the blind and untuned controls "
            f"are not ranked).")


def frame_notes(df: pd.DataFrame) -> list[str]:
    """'column: note' for every column whose cells carry a note (e.g. no interval without samples)."""
    rows = df[df["note"].fillna("") != ""]
    return [f"{c}: {n}" for c, n in dict.fromkeys(zip(rows["column"], rows["note"]))]
