"""The CI gate: a baseline of chosen metrics with tolerances, and a check of a run against it.

Metric ids are readable paths:
- results.jsonl:      `<target>/<source>/<benchmark>/<split>/<metric>`, e.g. `llava/seed/pope/random/accuracy`
- data_quality.jsonl: `quality/<source>/<data_type>/<metric>`, e.g. `quality/vigc/all/factual_accuracy`

A baseline (JSON) stores, per metric, its value, the direction in which it may not move and
the tolerance. Directions come from declarations only: a benchmark's `higher_is_better` for its
primary metric and that metric's categories, `QUALITY_DIRECTIONS` for data quality; any other
metric is checked both ways. A tolerance is absolute (in the metric's units) or the half-width
of the baseline's 95% interval (`ci`).
"""

from __future__ import annotations

import fnmatch
import math
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import read_json
from reports.leaderboard import declared
from reports.run_data import RunData

BASELINE_SCHEMA = 1
Direction = Literal["higher", "lower", "either"]

# Which way each data-quality metric is better (reports/quality.py defines them): a move the
# other way beyond tolerance is a regression. Lengths have no better side, so either way counts.
QUALITY_DIRECTIONS: dict[str, Direction] = {
    "factual_accuracy": "higher", "coverage": "higher", "distinct_1": "higher", "distinct_2": "higher",
    "bleu_4": "higher", "meteor": "higher", "rouge_l": "higher", "cider": "higher",
    "chair_i": "lower", "chair_s": "lower", "attribute_error_rate": "lower", "self_bleu": "lower",
    "duplicate_rate": "lower", "parse_failure_rate": "lower",
    "coco_chair_i": "lower", "coco_chair_s": "lower", "coco_coverage": "higher",
    "question_length": "either", "answer_length": "either",
}


@dataclass(frozen=True)
class Entry:
    """One metric of a run as the gate sees it."""

    id: str
    value: float
    ci_low: float | None
    ci_high: float | None
    direction: Direction


def entries(run: RunData) -> dict[str, Entry]:
    """Every metric of a run (results and data quality) under its id."""
    out: dict[str, Entry] = {}
    cats = {(s.benchmark, c) for s in run.samples for c in s.categories}
    for r in run.results:
        d = declared(r.benchmark)
        direction: Direction = "either"
        if d is not None and (r.metric == d.primary_metric or (r.benchmark, r.metric) in cats):
            direction = "higher" if d.higher_is_better else "lower"
        rid = f"{r.target}/{r.source}/{r.benchmark}/{r.split}/{r.metric}"
        out[rid] = Entry(rid, r.value, r.ci_low, r.ci_high, direction)
    for q in run.quality:
        qid = f"quality/{q.source}/{q.data_type}/{q.metric}"
        out[qid] = Entry(qid, q.value, q.ci_low, q.ci_high, QUALITY_DIRECTIONS.get(q.metric, "either"))
    return out


def default_patterns(run: RunData) -> list[str]:
    """Without --metric: every declared primary metric of results, and data quality over all types."""
    pats = []
    for b in dict.fromkeys(r.benchmark for r in run.results):
        d = declared(b)
        if d is not None:
            pats.append(f"*/*/{b}/*/{d.primary_metric}")
    return pats + ["quality/*/all/*"]


def _tolerance(e: Entry, tolerance: str) -> float:
    if tolerance == "ci":
        if e.ci_low is None or e.ci_high is None:
            return 0.0  # no interval: no noise estimate, so any move counts
        return round(max(e.value - e.ci_low, e.ci_high - e.value, 0.0), 6)
    try:
        tol = float(tolerance)
    except ValueError:
        raise BadInput(f"--tolerance: expected 'ci' or a number, got {tolerance!r}") from None
    if not math.isfinite(tol) or tol < 0:
        raise BadInput(f"--tolerance: must be a finite non-negative number, got {excerpt(tolerance)}")
    return tol


def make_baseline(run: RunData, patterns: Sequence[str] | None = None, tolerance: str = "ci") -> dict[str, Any]:
    """The baseline document for the metrics matching `patterns` (fnmatch on metric ids)."""
    pats = list(patterns) if patterns else default_patterns(run)
    all_entries = entries(run)
    chosen = [e for mid, e in all_entries.items() if any(fnmatch.fnmatchcase(mid, p) for p in pats)]
    unmatched = [p for p in pats if not any(fnmatch.fnmatchcase(mid, p) for mid in all_entries)]
    if patterns and unmatched:
        raise BadInput(f"--metric {unmatched[0]!r} matches no metric of {run.run_dir} (ids look like "
                       f"{next(iter(all_entries), 'target/source/benchmark/split/metric')})")
    if not chosen:
        raise BadInput(f"{run.run_dir}: no metrics to put in a baseline")
    return {"schema": BASELINE_SCHEMA, "run": run.name, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tolerance": tolerance,
            "metrics": [{"id": e.id, "value": e.value, "direction": e.direction, "tolerance": _tolerance(e, tolerance)}
                        for e in chosen]}


def read_baseline(path: str | Path) -> list[dict[str, Any]]:
    """The checked metric list of a baseline file; `BadInput` / `MissingResource` name the file."""
    p = Path(path)
    if not p.is_file():
        raise MissingResource(f"{p}: baseline file not found")
    doc = read_json(p)  # strict JSON: a NaN or Infinity value is refused as not JSON
    if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA or not isinstance(doc.get("metrics"), list):
        raise BadInput(f"{p}: not a vigc-bench baseline (expected schema {BASELINE_SCHEMA} and a 'metrics' list)")
    if not doc["metrics"]:  # a gate that checks nothing would pass every change
        raise BadInput(f"{p}: the baseline has no metrics, so it would check nothing")
    seen: set[str] = set()
    for n, m in enumerate(doc["metrics"], 1):
        ok = (isinstance(m, dict) and isinstance(m.get("id"), str) and _finite(m.get("value"))
              and m.get("direction") in ("higher", "lower", "either")
              and _finite(m.get("tolerance")) and m["tolerance"] >= 0)
        if not ok:
            raise BadInput(f"{p}: metric {n} needs 'id', a finite numeric 'value', 'direction' (higher/lower/either) "
                           "and a finite non-negative 'tolerance'")
        if m["id"] in seen:  # two values for one metric contradict each other
            raise BadInput(f"{p}: metric id {excerpt(m['id'])} occurs twice")
        seen.add(m["id"])
    return doc["metrics"]


def _finite(x: Any) -> bool:
    """A JSON number (not a bool) that is finite."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check(run: RunData, baseline: Sequence[dict[str, Any]]) -> tuple[list[str], int]:
    """(one line per regressed or missing metric, number of metrics checked)."""
    have = entries(run)
    failures = []
    for m in baseline:
        e = have.get(m["id"])
        if e is None:
            failures.append(f"MISSING {m['id']}: in the baseline ({m['value']:.2f}) but not in {run.run_dir}")
            continue
        diff = e.value - m["value"]
        tol = m["tolerance"] + 1e-9  # values are stored rounded; a tie with the tolerance passes
        bad = {"higher": diff < -tol, "lower": diff > tol, "either": abs(diff) > tol}[m["direction"]]
        if bad:
            want = {"higher": "higher is better", "lower": "lower is better", "either": "must not move"}[m["direction"]]
            failures.append(f"REGRESSION {m['id']}: {m['value']:.2f} -> {e.value:.2f} ({diff:+.2f}; {want}, "
                            f"tolerance {m['tolerance']:.2f})")
    return failures, len(baseline)
