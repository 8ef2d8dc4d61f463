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

        def val(t: str, s: str, m: str) -> str:
            r = cell.get((t, s, m))
            return fmt_value(r.value, r.ci_low, r.ci_high) if r else "–"

        if len(ms) <= 6:
            parts.append("| target | source | " + " | ".join(ms) + " |")
            parts.append("|---|---|" + "---|" * len(ms))
            for t, s in models:
                parts.append(f"| {t} | {s} | " + " | ".join(val(t, s, m) for m in ms) + " |")
        else:  # many metrics (MMBench categories): one row per metric reads better
            parts.append("| metric | " + " | ".join(f"{t} / {s}" for t, s in models) + " |")
            parts.append("|---|" + "---|" * len(models))
            for m in ms:
                parts.append(f"| {m} | " + " | ".join(val(t, s, m) for t, s in models) + " |")
        parts.append("")
    return "\n".join(parts)


QUALITY_COLUMNS = ("factual_accuracy", "chair_i", "chair_s", "attribute_error_rate", "coverage", "distinct_2",
                   "self_bleu", "answer_length", "duplicate_rate", "parse_failure_rate")


def quality_table(quality: Sequence[QualityRecord], metrics: Sequence[str] = QUALITY_COLUMNS) -> str:
    """Markdown table of data-quality metrics: rows (source, data type), columns metrics."""
    if not quality:
        return ""
    metrics = [m for m in metrics if any(q.metric == m for q in quality)]
    rows = list(dict.fromkeys((q.source, q.data_type) for q in quality))
    cell = {(q.source, q.data_type, q.metric): q for q in quality}
    out = ["| source | data type | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for s, d in rows:
        vals = [fmt_value(q.value, q.ci_low, q.ci_high) if (q := cell.get((s, d, m))) else "–" for m in metrics]
        out.append(f"| {s} | {d} | " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def _num(x: float | None, spec: str) -> str:
    """`x` formatted, or a dash when it is missing or not a number."""
    return "–" if x is None or x != x else format(x, spec)


def vic_table(effect: dict) -> str:
    """VIG vs VIC on the same questions: levels and paired differences with 95% CIs."""
    keys = [("factual_accuracy", "factual accuracy"), ("chair_i", "CHAIRi"),
            ("attribute_error_rate", "attribute errors"), ("sentences", "sentences")]
    out = ["| data type | n | " + " | ".join(f"{lab}: VIG → VIC (Δ)" for _, lab in keys) + " | changed |",
           "|---|---|" + "---|" * (len(keys) + 1)]
    for dt, e in effect.items():
        v, ci = e["values"], e["ci95"]
        cells = []
        for k, _ in keys:
            d = f"diff_{k}"
            # A metric with no checkable items is null (NaN in memory): shown as a dash.
            delta = (f" ({_num(v[d], '+.1f')} [{_num(ci[d][0], '+.1f')}, {_num(ci[d][1], '+.1f')}])"
                     if d in v and d in ci else "")
            cells.append(f"{_num(v.get(f'vig_{k}'), '.1f')} → {_num(v.get(f'vic_{k}'), '.1f')}{delta}")
        out.append(f"| {dt} | {e['n_records']} | " + " | ".join(cells) + f" | {v['changed']:.0f}% |")
    return "\n".join(out) + "\n"


def render_markdown(results: Sequence[ResultRecord], quality: Sequence[QualityRecord], title: str,
                    vic_effect: dict | None = None) -> str:
    """The whole report: leaderboards, data quality, and VIC's paired effect."""
    out = [f"# {title}\n", "Values are percentages with 95% bootstrap confidence intervals.\n", "## Leaderboards\n",
           leaderboard(results) or "_no results_\n"]
    if quality:
        out += ["## Data quality\n", quality_table(quality)]
    if vic_effect:
        out += ["## VIC against VIG on the same questions\n", vic_table(vic_effect)]
    return "\n".join(out)
