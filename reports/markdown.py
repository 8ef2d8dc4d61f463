"""Markdown reports: headline leaderboard with paired tests, per-category breakdowns, every
metric per (benchmark, split), data quality and VIC's paired effect."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

from harness.core.records import QualityRecord, ResultRecord

if TYPE_CHECKING:  # pandas and the leaderboard are imported only when a report is rendered
    import pandas as pd

    from reports.leaderboard import Column
    from reports.run_data import RunData


def fmt_value(value: float, lo: float | None, hi: float | None) -> str:
    """'81.2 [78.0, 84.1]' (or just the value when there is no interval)."""
    if lo is None or hi is None:
        return f"{value:.1f}"
    return f"{value:.1f} [{lo:.1f}, {hi:.1f}]"


def ordered_metrics(rows: Sequence[ResultRecord]) -> list[str]:
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
        ms = [m for m in (metrics or ordered_metrics(rows)) if any(r.metric == m for r in rows)]
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


def _md(text: str) -> str:
    """Text safe inside a markdown table cell (pipes would split it, newlines end the row)."""
    return text.replace("|", "\\|").replace("\n", " ")


def board_table(columns: Sequence["Column"], df: "pd.DataFrame", models: Sequence[tuple[str, str]]) -> str:
    """A leaderboard frame as a markdown table: rows (target, source), or rows columns when
    there are many columns and few models (MMBench categories read better down the page)."""
    from reports.leaderboard import cell_text

    cells: dict[tuple[str, str, str], str] = {}
    for _, row in df.iterrows():
        value, ci, test = cell_text(row)
        value = f"**{value}**" if row["best"] else value
        cells[(row["target"], row["source"], row["column"])] = " ".join(x for x in (value, ci, test) if x)
    rows = [m for m in models if any((m[0], m[1], c.label) in cells for c in columns)]
    labels = [c.label for c in columns]
    if len(labels) > 6 and len(labels) > len(rows):
        out = ["| metric | " + " | ".join(_md(f"{t} / {s}") for t, s in rows) + " |", "|---|" + "---|" * len(rows)]
        for lab in labels:
            out.append(f"| {_md(lab)} | " + " | ".join(cells.get((t, s, lab), "–") for t, s in rows) + " |")
    else:
        out = ["| target | source | " + " | ".join(_md(x) for x in labels) + " |", "|---|---|" + "---|" * len(labels)]
        for t, s in rows:
            out.append(f"| {_md(t)} | {_md(s)} | " + " | ".join(cells.get((t, s, lab), "–") for lab in labels) + " |")
    return "\n".join(out) + "\n"


def verdict_markdown(run: "RunData", columns: Sequence["Column"]) -> list[str]:
    """The report's opening: the verdict in sentences, then whether the study could see
    anything (calibration table and headroom per benchmark); see `reports.verdict`."""
    from reports import verdict as vd

    v = vd.build(run, columns)
    if v.target is None:
        return []
    out = ["## Verdict\n", "\n".join(f"- {_md(s)}" for s in vd.sentences(v)) + "\n",
           "## Could this study see anything?\n"]
    cal = next((c for c in v.calibrations if c.target == v.target), None)
    if cal is not None:
        srcs = (vd.BASELINE_SOURCE, *vd.CALIBRATION)
        out.append(f"Calibration ({v.target}): the same extra images and questions with 0% (gold), 50% and 100% of "
                   "the answers corrupted; a study that can judge data orders them gold > noisy50 > noisy100.\n")
        lines = ["| benchmark | " + " | ".join(srcs) + " |", "|---|" + "---|" * len(srcs)]
        for row in vd.calibration_rows(run, columns, v.target):
            lines.append(f"| {_md(row['column'])} | " + " | ".join(_num(row[s], ".1f") for s in srcs) + " |")
        lines.append("| mean direction-adjusted | – | " + " | ".join(f"{cal.scores[s]:.1f}" for s in vd.CALIBRATION)
                     + " |")
        out.append("\n".join(lines) + "\n")
    out += ["Headroom (primary metric per benchmark):\n", "\n".join(f"- {_md(x)}" for x in vd.headroom_lines(v)) + "\n"]
    if lines := vd.instruction_lines(v, columns):
        out += [vd.INSTRUCTION_NOTE + "\n", "\n".join(f"- {_md(x)}" for x in lines) + "\n"]
    return out


def render_run_markdown(run: "RunData", title: str, boards: Any = None) -> str:
    """The whole report of a run: leaderboards with paired tests, breakdowns, every metric,
    data quality and VIC's paired effect. `boards` reuses `leaderboard.leaderboards(run)`."""
    from reports.leaderboard import frame_notes, leaderboards, legend, models

    if boards is None:
        boards = leaderboards(run, seed=int(run.manifest.get("seed", 0) or 0))
    tables, notes = boards
    out = [f"# {title}\n", "Values are percentages with 95% bootstrap confidence intervals.\n"]
    if tables:
        out += verdict_markdown(run, tables[0][1])
    if tables:
        out += ["## Leaderboard\n", legend() + "\n"]
        for i, (name, cols, df) in enumerate(tables):
            if i == 1:
                out.append("## Breakdowns\n")
            out += [f"### {name}\n" if i else "", board_table(cols, df, models(run))]
            out += [f"_{_md(n)}_\n" for n in frame_notes(df)]
        if not run.samples:
            out.append("_No samples.jsonl in this run: no paired tests, and pooled splits have no interval._\n")
    out += [f"- {n}\n" for n in notes]
    out += ["## All metrics\n", leaderboard(run.results) or "_no results_\n"]
    if run.quality:
        out += ["## Data quality\n", quality_table(run.quality)]
    if run.vic_effect:
        out += ["## VIC against VIG on the same questions\n", vic_table(run.vic_effect)]
    return neutralise_html("\n".join(x for x in out if x))


# `<` that would open an HTML tag, comment or autolink in CommonMark (a letter, '/', '!' or '?'
# follows); "p < 0.05" stays as it is.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def neutralise_html(text: str) -> str:
    """Markdown in which no text (model answers, names from files) can become HTML or a link.

    A markdown report is often rendered to HTML (a CI page, a notebook), where a raw
    `<script>` or `[x](javascript:...)` from a model's answer would be live: every tag opener
    becomes `&lt;` (shown as '<') and every '](' gets a backslash, so no inline link forms.
    """
    return _TAG_START.sub("&lt;", text).replace("](", "]\\(")
