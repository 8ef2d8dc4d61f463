"""Derived tables for figures: how much generated data each source added, against its scores."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from harness.core.records import BASELINE_SOURCE
from reports.run_data import RunData

BASE_PART = BASELINE_SOURCE  # the baseline source is also the data part every source includes


def generated_records(run: RunData) -> dict[str, int]:
    """Records each data part holds: the `n` of its parse_failure_rate over all data types,
    which `harness.quality.metrics` defines as every record of the part."""
    return {q.source: q.n for q in run.quality if q.data_type == "all" and q.metric == "parse_failure_rate"}


def source_amount(source: str, parts: dict[str, int]) -> int | None:
    """Generated records a source adds to the seed data, or None when a part is unknown.

    Source names are their data parts joined by "+" (DESIGN §3: `seed+vigc` is the seed data
    plus the VIGC part); every part must have quality records, so nothing is inferred from
    a name that does not resolve.
    """
    names = source.split("+")
    if BASE_PART not in names or any(p not in parts for p in names):
        return None
    return sum(parts[p] for p in names if p != BASE_PART)


def amount_points(run: RunData, board: tuple[str, Sequence[Any], pd.DataFrame]) -> pd.DataFrame:
    """Rows (column, target, source, amount, value, low, high) of the headline board for sources
    whose amount of generated data is known."""
    parts = generated_records(run)
    _, _, df = board
    rows = []
    for _, r in df.iterrows():
        amount = source_amount(r["source"], parts)
        if amount is not None:
            rows.append({"column": r["column"], "target": r["target"], "source": r["source"], "amount": amount,
                         "value": r["value"], "low": r["low"], "high": r["high"]})
    return pd.DataFrame(rows, columns=["column", "target", "source", "amount", "value", "low", "high"])
