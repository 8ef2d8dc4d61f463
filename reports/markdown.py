"""Markdown leaderboards: one table per (benchmark, split), one row per (target, source)."""

from __future__ import annotations

from typing import Sequence

from harness.records import QualityRecord, ResultRecord


def fmt_value(value: float, lo: float | None, hi: float | None) -> str:
    """'81.2 [78.0, 84.1]' (or just the value when there is no interval)."""
    if lo is None or hi is None:
        return f"{value:.1f}"
    return f"{value:.1f} [{lo:.1f}, {hi:.1f}]"


def _ordered_metrics(rows: Sequence[ResultRecord]) -> list[str]:
    # Overall metrics first, then the rest in first-seen order (categories stay grouped).
    seen = list(dict.fromkeys(r.metric for r in rows))
    first = [m for m in ("overall", "accuracy", "f1") if m in seen]
    return first + [m for m in seen if m not in first]


def leaderboard(results: Sequence[ResultRecord], metrics: Sequence[str] | None = None) -> str:
    """Markdown tables of `results`, one per (benchmark, split); cells carry 95% CIs."""
    parts: list[str] = []
    keys = list(dict.fromkeys((r.benchmark, r.split) for r in results))
    for bench, split in keys:
        rows = [r for r in results if r.benchmark == bench and r.split == split]
        ms = [m for m in (metrics or _ordered_metrics(rows)) if any(r.metric == m for r in rows)]
        models = list(dict.fromkeys((r.target, r.source) for r in rows))
        cell = {(r.target, r.source, r.metric): r for r in rows}
        n = max(r.n for r in rows)
        parts.append(f"### {bench} ({split}, n={n}, protocol: {rows[0].protocol})\n")
        parts.append("| target | source | " + " | ".join(ms) + " |")
        parts.append("|---|---|" + "---|" * len(ms))
        for t, s in models:
            vals = []
            for m in ms:
                r = cell.get((t, s, m))
                vals.append(fmt_value(r.value, r.ci_low, r.ci_high) if r else "–")
            parts.append(f"| {t} | {s} | " + " | ".join(vals) + " |")
        parts.append("")
    return "\n".join(parts)


def quality_table(quality: Sequence[QualityRecord]) -> str:
    """Markdown table of data-quality metrics: rows (source, data type), columns metrics."""
    if not quality:
        return ""
    metrics = list(dict.fromkeys(q.metric for q in quality))
    rows = list(dict.fromkeys((q.source, q.data_type) for q in quality))
    cell = {(q.source, q.data_type, q.metric): q for q in quality}
    out = ["| source | data type | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for s, d in rows:
        vals = [fmt_value(q.value, q.ci_low, q.ci_high) if (q := cell.get((s, d, m))) else "–" for m in metrics]
        out.append(f"| {s} | {d} | " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def render_markdown(results: Sequence[ResultRecord], quality: Sequence[QualityRecord], title: str) -> str:
    """The whole report: leaderboards, then data quality."""
    out = [f"# {title}\n", "Values are percentages with 95% bootstrap confidence intervals.\n", "## Leaderboards\n",
           leaderboard(results) or "_no results_\n"]
    if quality:
        out += ["## Data quality\n", quality_table(quality)]
    return "\n".join(out)
