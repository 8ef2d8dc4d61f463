"""Comparisons as records: every source against a baseline source, per benchmark, split, metric.

A study writes them once to RUN_DIR/comparisons.jsonl (`write_comparisons`); the leaderboards,
the verdict and `compare`-style readers take the differences, intervals and p-values from
there instead of recomputing them. Each line is a paired test of two models of the same target
on the same units (items, or CircularEval questions): the difference of the metric, its 95%
paired bootstrap interval and the two-sided p-value of a sign-flip permutation test
(`harness.core.stats.paired_test`).

Baselines: `seed` (the language-only data alone) and, where the run has it, `seed+lang` (the
same amount of extra data, made without looking at the images), the comparison VIGC's claim is
about. On the primary metrics, also the untuned control of the target's architecture (the
foundation with its aligned connector, no instruction data: `untuned_controls`), which says
what the finetune adds at all; those lines name it in `baseline_target`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from harness.core.records import BASELINE_SOURCE, ComparisonRecord

if TYPE_CHECKING:
    from reports.leaderboard import Column
    from reports.run_data import RunData

LANG_SOURCE = "seed+lang"
BASELINES = (BASELINE_SOURCE, LANG_SOURCE)
TEST = "paired sign-flip permutation (two-sided) + paired bootstrap CI, units resampled"
ALPHA = 0.05


def compute(run: "RunData", columns: Sequence["Column"], baselines: Sequence[str] = BASELINES, n_boot: int = 1000,
            n_perm: int = 2000, seed: int = 0, untuned_columns: Sequence["Column"] = ()) -> list[ComparisonRecord]:
    """Paired comparisons of every (target, source) with each baseline of the same target, on
    each of `columns` that both models have units for; in (baseline, target, source, column) order.
    Then, on `untuned_columns`, every source of a target against its untuned control."""
    from reports.leaderboard import models

    mods = models(run)
    out: list[ComparisonRecord] = []
    for base in baselines:
        for t, s in mods:
            if s == base or (t, base) not in mods:
                continue
            if base != BASELINE_SOURCE and s == BASELINE_SOURCE:
                continue  # the inverse of (base against seed), already there
            out += [r for col in columns if (r := _compare(run, (t, s), (t, base), col, n_boot, n_perm, seed))]
    controls = untuned_controls(run)
    for t, s in mods:
        if t in controls:
            out += [r for col in untuned_columns
                    if (r := _compare(run, (t, s), controls[t], col, n_boot, n_perm, seed))]
    return out


def untuned_controls(run: "RunData") -> dict[str, tuple[str, str]]:
    """target -> (target, source) of its untuned control: the untuned target of the same
    architecture in the manifest's config (a run whose config names no architectures has none)."""
    from reports.leaderboard import models

    arch = {name: t.get("arch") for name, t in run.target_configs.items()}
    roles, mods = run.roles, models(run)
    untuned = {arch.get(t): (t, s) for t, s in mods if roles.get(t) == "untuned" and arch.get(t)}
    return {t: untuned[arch[t]] for t, _ in mods if roles.get(t) == "target" and arch.get(t) in untuned}


def _compare(run: "RunData", model: tuple[str, str], base: tuple[str, str], col: "Column", n_boot: int, n_perm: int,
             seed: int) -> ComparisonRecord | None:
    """`model` against `base` on `col`'s units, or None when they share fewer than two."""
    from reports.leaderboard import level, paired

    test = paired(run, model, base, col, n_boot, n_perm, seed)
    mine, theirs = level(run, *model, col, 0, seed), level(run, *base, col, 0, seed)
    if test is None or mine is None or theirs is None:
        return None
    sig = test["p"] < ALPHA and test["diff"] != 0
    benchmark, split, metric = col.key
    return ComparisonRecord(
        target=model[0], source=model[1], baseline=base[1], baseline_target=None if base[0] == model[0] else base[0],
        benchmark=benchmark, split=split, metric=metric, value=round(mine["value"], 4),
        baseline_value=round(theirs["value"], 4), delta=round(test["diff"], 4), ci_low=_r(test["diff_low"]),
        ci_high=_r(test["diff_high"]), p_value=round(test["p"], 6), test=TEST, n=int(test["n_paired"]),
        higher_is_better=col.higher_is_better, better=((test["diff"] > 0) == col.higher_is_better) if sig else None)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def index(records: Sequence[ComparisonRecord]) -> dict[tuple[str, str, str, str, str, str], ComparisonRecord]:
    """Comparisons by (target, source, baseline, benchmark, split, metric)."""
    return {(c.target, c.source, c.baseline, c.benchmark, c.split, c.metric): c for c in records}
