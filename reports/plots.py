"""Report figures as PNG bytes (matplotlib's Agg canvas; no pyplot, no display, no global state).

Each function returns None when there is nothing to draw, so the report leaves the figure out
instead of showing an empty frame.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import pandas as pd

# A small fixed palette: the same source gets the same colour in every figure of a report.
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def scores_plot(df: pd.DataFrame, labels: Sequence[str]) -> bytes | None:
    """One panel per leaderboard column: each (target, source) as a point with its 95% interval."""
    labels = [lab for lab in labels if (df["column"] == lab).any()]
    if not labels:
        return None
    rows = list(dict.fromkeys(zip(df["target"], df["source"])))
    sources = list(dict.fromkeys(df["source"]))
    cols = min(len(labels), 3)
    nrows = (len(labels) + cols - 1) // cols
    fig = _figure(3.4 * cols, (0.32 * len(rows) + 1.0) * nrows)
    for i, lab in enumerate(labels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        sub = df[df["column"] == lab]
        for y, (t, s) in enumerate(rows):
            r = sub[(sub["target"] == t) & (sub["source"] == s)]
            if r.empty:
                continue
            r = r.iloc[0]
            v = float(r["value"])
            lo, hi = r["low"], r["high"]
            err = [[v - float(lo)], [float(hi) - v]] if lo is not None and lo == lo else None
            ax.errorbar([v], [y], xerr=err, fmt="o", ms=4, capsize=2,
                        color=PALETTE[sources.index(s) % len(PALETTE)])
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{t} / {s}" if i % cols == 0 else "" for t, s in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(lab, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def vic_plot(effect: dict[str, Any] | None) -> bytes | None:
    """VIG against VIC per data type: hallucination (CHAIRi) and attribute errors, with 95% intervals."""
    if not effect:
        return None
    panels = [("chair_i", "CHAIRi (%) ↓"), ("attribute_error_rate", "attribute errors (%) ↓"),
              ("factual_accuracy", "factual accuracy (%) ↑")]
    types = list(effect)
    fig = _figure(3.4 * len(panels), 2.6)
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for j, (side, name) in enumerate((("vig", "VIG"), ("vic", "VIC"))):
            xs, vals, errs = [], [], [[], []]
            for k, dt in enumerate(types):
                v = effect[dt]["values"].get(f"{side}_{key}")
                ci = effect[dt].get("ci95", {}).get(f"{side}_{key}")
                if v is None or v != v:
                    continue
                xs.append(k + (j - 0.5) * 0.38)
                vals.append(v)
                errs[0].append(max(0.0, v - ci[0]) if ci else 0.0)
                errs[1].append(max(0.0, ci[1] - v) if ci else 0.0)
            ax.bar(xs, vals, width=0.38, yerr=errs, capsize=2, label=name, color=PALETTE[j])
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels(types, fontsize=7, rotation=20)
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _panels(n: int, row_height: float) -> tuple[Any, list[Any]]:
    """A figure of `n` panels, at most three a row (six in one row shrink to unreadable text
    in a page), and its axes in reading order."""
    cols = min(n, 3)
    nrows = (n + cols - 1) // cols
    fig = _figure(3.4 * cols, row_height * nrows)
    return fig, [fig.add_subplot(nrows, cols, i + 1) for i in range(n)]


def _line_with_band(ax: Any, g: pd.DataFrame, x: str, color: str, label: str) -> None:
    """`value` against column `x` as a line, its interval (`low`, `high`, where known) as a band."""
    ax.plot(g[x], g["value"], "o-", ms=3, label=label, color=color)
    ok = g["low"].notna()
    ax.fill_between(g[x][ok], g["low"][ok].astype(float), g["high"][ok].astype(float), alpha=0.15, color=color)


def amount_plot(points: pd.DataFrame) -> bytes | None:
    """Score against generated records added to the seed data: columns column, target, amount,
    value, low, high; one panel per column, one line per target. None with fewer than two amounts."""
    if points.empty or points["amount"].nunique() < 2:
        return None
    labels = list(dict.fromkeys(points["column"]))
    fig, axes = _panels(len(labels), 2.6)
    for i, (lab, ax) in enumerate(zip(labels, axes)):
        sub = points[points["column"] == lab]
        for j, (t, g) in enumerate(sub.groupby("target", sort=False)):
            g = g.sort_values("amount")
            _line_with_band(ax, g, "amount", PALETTE[j % len(PALETTE)], t)
        ax.set_xlabel("generated records added", fontsize=7)
        ax.set_title(lab, fontsize=8)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def verdict_plot(rows: Sequence[tuple[str, str, float, float | None, float | None]]) -> bytes | None:
    """Each source under test against the baseline, per benchmark: rows (benchmark, source,
    difference, low, high) on a scale where right is better; a dashed line at no difference."""
    if not rows:
        return None
    sources = list(dict.fromkeys(r[1] for r in rows))
    fig = _figure(6.0, 0.28 * len(rows) + 1.2)
    ax = fig.add_subplot(1, 1, 1)
    for y, (b, s, d, lo, hi) in enumerate(rows):
        err = [[d - lo], [hi - d]] if lo is not None and hi is not None else None
        ax.errorbar([d], [y], xerr=err, fmt="o", ms=4, capsize=2, color=PALETTE[sources.index(s) % len(PALETTE)],
                    label=s if (b, s) == next((r[0], r[1]) for r in rows if r[1] == s) else None)
    ax.axvline(0.0, color="#888888", ls="--", lw=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{b}" for b, *_ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("difference to the baseline (points; right = better)", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, loc="best")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def dose_plot(points: pd.DataFrame) -> bytes | None:
    """Calibration dose-response: columns column, noise (% of answers corrupted), value, low,
    high, seed (the baseline's value); one panel per benchmark, seed as a dashed line."""
    if points.empty or points["noise"].nunique() < 2:
        return None
    labels = list(dict.fromkeys(points["column"]))
    fig, axes = _panels(len(labels), 2.5)
    for i, (lab, ax) in enumerate(zip(labels, axes)):
        g = points[points["column"] == lab].sort_values("noise")
        _line_with_band(ax, g, "noise", PALETTE[0], "seed + corrupted gold")
        if g["seed"].notna().any():
            ax.axhline(float(g["seed"].dropna().iloc[0]), color=PALETTE[1], ls="--", lw=1, label="seed alone")
        ax.set_xticks([0, 50, 100])
        ax.set_xlabel("answers corrupted (%)", fontsize=7)
        ax.set_title(lab, fontsize=8)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)
