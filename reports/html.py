"""A self-contained HTML report: one file, no scripts, no network, images inlined as base64.

Every string that comes from a file (model answers above all, but also prompts, names from
configs and benchmark files) goes through `esc`, so an answer such as `<script>` or
`<img src=x onerror=...>` shows as text. A Content-Security-Policy that allows no scripts
and only `data:` images backs that up in the browser. Tables use a fixed layout at the page
width and wrap inside cells, so they never need sideways scrolling: headers may break after
`_` and `/`, row-label columns get a fixed share, and the value columns split the rest.
tests/reports/test_report_browser.py checks both in headless Chromium.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any, Sequence

import pandas as pd

from reports.examples import Example, pick_examples
from reports.leaderboard import Column, cell_text, frame_notes, legend, leaderboards, models
from reports.markdown import QUALITY_COLUMNS
from reports.run_data import RunData

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;
color:#1f2328}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:2px;margin-top:1.6em}
h3{font-size:15px;margin-bottom:.3em}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 1.2em;font-size:12px}
th,td{border:1px solid #d0d7de;padding:3px 5px;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f6f8fa;text-align:left;font-weight:600;font-size:11px}
th.lab{width:10%}th.who{width:22%}th.mark{width:8%}
td.best .v{font-weight:700}
.ci,.t{display:block;font-size:11px;color:#57606a}
.up{color:#1a7f37;font-weight:600}.down{color:#cf222e;font-weight:600}
.note{color:#57606a;font-size:12px}
img.plot{max-width:100%;height:auto;display:block;margin:.4em 0 1em}
.ex{border:1px solid #d0d7de;border-radius:4px;padding:6px 8px;margin:8px 0;display:flex;gap:10px}
.ex img{width:112px;height:112px;image-rendering:pixelated;flex:none;border:1px solid #eee}
.ex .body{flex:1;min-width:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.2em 0;font-size:12px;background:#f6f8fa;padding:4px}
.ok{color:#1a7f37}.bad{color:#cf222e}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MIME = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
MAX_IMAGE_BYTES = 256 * 1024  # larger images are left out: the report must stay small


def esc(x: Any) -> str:
    """HTML-escaped text of anything (quotes too, so it is safe inside attributes)."""
    return html.escape("" if x is None else str(x), quote=True)


def brk(x: Any) -> str:
    """Escaped text that may wrap after `_` and `/` (metric keys such as `attribute_error_rate`),
    so a narrow column breaks between parts instead of in the middle of a word."""
    return re.sub(r"([_/])", r"\1<wbr>", esc(x))


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """A `data:` URI of bytes (base64)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_uri(data: bytes) -> str | None:
    mime = next((m for magic, m in MIME.items() if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    return data_uri(data, mime) if mime and len(data) <= MAX_IMAGE_BYTES else None


def _th(h: str, cls: str = "") -> str:
    return f"<th class=\"{cls}\">{brk(h)}</th>" if cls else f"<th>{brk(h)}</th>"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], raw: bool = False, cls: Sequence[str] = ()) -> str:
    """An HTML table; cells are escaped unless `raw` (callers that built markup from escaped text).

    `cls` gives the first header cells a width class (`lab`: a row-label column, `who`, `mark`);
    with the fixed layout the first row's widths hold for the whole column."""
    f = (lambda c: c) if raw else esc
    head = "".join(_th(h, c) for h, c in zip(header, [*cls, *[""] * len(header)]))
    body = "".join("<tr>" + "".join(f"<td>{f(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def board_html(columns: Sequence[Column], df: pd.DataFrame, mods: Sequence[tuple[str, str]]) -> str:
    """A leaderboard frame as a table; many columns and few models are shown transposed."""
    cells: dict[tuple[str, str, str], str] = {}
    for _, row in df.iterrows():
        value, ci, test = cell_text(row)
        cls = ""
        if row["significant"]:
            cls = "up" if row["better"] else "down"
        best = ' class="best"' if row["best"] else ""
        td = (f"<td{best}><span class=\"v\">{esc(value)}</span>"
              + (f"<span class=\"ci\">{esc(ci)}</span>" if ci else "")
              + (f"<span class=\"t {cls}\">{esc(test)}</span>" if test else "") + "</td>")
        cells[(row["target"], row["source"], row["column"])] = td
    rows = [m for m in mods if any((m[0], m[1], c.label) in cells for c in columns)]
    labels = [c.label for c in columns]
    dash = "<td>–</td>"
    if len(labels) > 6 and len(labels) > len(rows):
        head = _th("metric", "lab") + "".join(f"<th>{brk(t)} / {brk(s)}</th>" for t, s in rows)
        body = "".join(f"<tr><th>{brk(lab)}</th>" + "".join(cells.get((t, s, lab), dash) for t, s in rows) + "</tr>"
                       for lab in labels)
    else:
        head = _th("target", "lab") + _th("source", "lab") + "".join(_th(lab) for lab in labels)
        body = "".join(f"<tr><td>{esc(t)}</td><td>{esc(s)}</td>" + "".join(cells.get((t, s, lab), dash)
                                                                           for lab in labels) + "</tr>"
                       for t, s in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(x: Any, spec: str = ".1f") -> str:
    return "–" if x is None or x != x else format(float(x), spec)


def setup_html(run: RunData) -> str:
    """Config, package versions, seeds and stage hashes from the manifest."""
    m = run.manifest
    if not m:
        return "<p class=\"note\">No manifest.json in this run directory.</p>"
    parts = []
    versions = m.get("versions", {})
    facts = [("run", run.name), ("seed", m.get("seed")), ("finished", m.get("finished")),
             ("seconds", m.get("seconds"))] + [(f"version: {k}", v) for k, v in versions.items()]
    parts.append(table(["item", "value"], [(k, "–" if v is None else v) for k, v in facts]))
    stages = m.get("stages", {})
    if stages:
        rows = [(name, str(st.get("key", ""))[:16], "yes" if st.get("cached") else "no", _num(st.get("seconds"), ".1f"))
                for name, st in stages.items() if isinstance(st, dict)]
        parts.append(f"<details><summary>stage hashes ({len(rows)} stages)</summary>"
                     + table(["stage", "key", "cached", "seconds"], rows) + "</details>")
    if "config" in m:
        parts.append("<details><summary>config</summary><pre>" + esc(json.dumps(m["config"], indent=1))
                     + "</pre></details>")
    return "\n".join(parts)


def quality_html(run: RunData) -> str:
    """Data-quality metrics: rows (source, data type), columns the usual metrics with intervals."""
    q = run.quality
    metrics = [m for m in QUALITY_COLUMNS if any(r.metric == m for r in q)]
    cell = {(r.source, r.data_type, r.metric): r for r in q}
    rows = []
    for s, d in dict.fromkeys((r.source, r.data_type) for r in q):
        out = [esc(s), brk(d)]
        for m in metrics:
            r = cell.get((s, d, m))
            out.append("–" if r is None else f"{_num(r.value)}<span class=\"ci\">[{_num(r.ci_low)}, "
                       f"{_num(r.ci_high)}]</span>")
        rows.append(out)
    return table(["source", "data type", *metrics], rows, raw=True, cls=("lab", "lab"))


def vic_html(effect: dict[str, Any]) -> str:
    """VIG against VIC on the same questions, levels and paired differences (from vic_effect.json)."""
    keys = [("factual_accuracy", "factual accuracy"), ("chair_i", "CHAIRi"),
            ("attribute_error_rate", "attribute errors"), ("sentences", "sentences")]
    rows = []
    for dt, e in effect.items():
        v, ci = e.get("values", {}), e.get("ci95", {})
        out = [brk(dt), esc(e.get("n_records"))]
        for k, _ in keys:
            d = ci.get(f"diff_{k}")
            delta = (f"<span class=\"ci\">Δ {_num(v.get(f'diff_{k}'), '+.1f')} [{_num(d[0], '+.1f')}, "
                     f"{_num(d[1], '+.1f')}]</span>") if d and f"diff_{k}" in v else ""
            out.append(f"{_num(v.get(f'vig_{k}'))} → {_num(v.get(f'vic_{k}'))}{delta}")
        out.append(f"{_num(v.get('changed'), '.0f')}%")
        rows.append(out)
    return table(["data type", "n", *[f"{lab}: VIG → VIC" for _, lab in keys], "changed"], rows, raw=True,
                 cls=("lab", "lab"))


def all_metrics_html(run: RunData) -> str:
    """Every reported metric per (benchmark, split), folded away (the leaderboards come first)."""
    from reports.markdown import ordered_metrics

    parts = []
    for bench, split in dict.fromkeys((r.benchmark, r.split) for r in run.results):
        rows = [r for r in run.results if r.benchmark == bench and r.split == split]
        metrics = ordered_metrics(rows)
        mods = list(dict.fromkeys((r.target, r.source) for r in rows))
        cell = {(r.target, r.source, r.metric): r for r in rows}

        def val(t: str, s: str, m: str) -> str:
            r = cell.get((t, s, m))
            return "–" if r is None else f"{_num(r.value)}<span class=\"ci\">[{_num(r.ci_low)}, {_num(r.ci_high)}]</span>"

        parts.append(f"<h3>{esc(bench)} ({esc(split)}, n={max(r.n for r in rows)}, protocol: {esc(rows[0].protocol)})"
                     "</h3>")
        if len(metrics) > 6 and len(metrics) > len(mods):
            parts.append(table(["metric", *[f"{t} / {s}" for t, s in mods]],
                               [[brk(m), *[val(t, s, m) for t, s in mods]] for m in metrics], raw=True, cls=("lab",)))
        else:
            parts.append(table(["target", "source", *metrics],
                               [[esc(t), esc(s), *[val(t, s, m) for m in metrics]] for t, s in mods], raw=True,
                               cls=("lab", "lab")))
    return "<details><summary>every metric of every (benchmark, split)</summary>" + "".join(parts) + "</details>"


def example_html(ex: Example) -> str:
    """One example: the image, the prompt, the right answer, and each model's answer marked."""
    img = ""
    if ex.image is not None:
        uri = _image_uri(ex.image.read_bytes())
        img = f"<img alt=\"item image\" src=\"{uri}\">" if uri else ""
    answers = []
    for a in ex.answers:
        if a.rate:  # a pooled rate such as CHAIRi: the item's own rate, not a tick
            mark = f"{esc(a.metric)} {100 * a.score:.0f}%"
        elif a.score >= 1:
            mark = "<span class=\"ok\">✓</span>"
        elif a.score <= 0:
            mark = "<span class=\"bad\">✗</span>"
        else:
            mark = f"{a.score:.2f}"
        what = "passes read as" if ex.passes > 1 else "read as"
        read = f" <span class=\"note\">{what} {esc(a.extracted)}</span>" if a.extracted is not None else ""
        answers.append([f"{esc(a.target)} / {esc(a.source)}",
                        f"<pre>{esc(a.prediction if a.prediction is not None else '')}</pre>{read}", mark])
    if ex.passes > 1:
        answers.append(["", f"<span class=\"note\">CircularEval: {ex.passes} passes with the options rotated; the "
                        "answer shown is to the first; the question counts only if every pass is right</span>", ""])
    ref = f"<p>right answer: <b>{esc(ex.reference)}</b></p>" if ex.reference is not None else ""
    return (f"<div class=\"ex\">{img}<div class=\"body\"><b>{esc(ex.benchmark)} / {esc(ex.split)} / item "
            f"{esc(ex.item_id)}</b><pre>{esc(ex.prompt)}</pre>{ref}"
            + table(["model", "answer", ""], answers, raw=True, cls=("who", "", "mark")) + "</div></div>")


def verdict_html(run: RunData, columns: Sequence[Column]) -> str:
    """The opening: verdict sentences and figure, calibration table, dose-response figure, headroom."""
    from reports import plots
    from reports import verdict as vd

    v = vd.build(run, columns)
    if v.target is None:
        return ""
    out = ["<h2>Verdict</h2>", "<ul>" + "".join(f"<li>{esc(s.replace('**', ''))}</li>" for s in vd.sentences(v))
           + "</ul>"]
    png = plots.verdict_plot(vd.forest_rows(run, v, columns))
    if png is not None:
        out.append(f"<img class=\"plot\" alt=\"verdict\" src=\"{data_uri(png)}\">")
    out.append("<h2>Could this study see anything?</h2>")
    cal = next((c for c in v.calibrations if c.target == v.target), None)
    if cal is not None:
        srcs = (vd.BASELINE_SOURCE, *vd.CALIBRATION)
        body = [[c["column"], *(_num(c[s]) for s in srcs)] for c in vd.calibration_rows(run, columns, v.target)]
        body.append(["mean direction-adjusted", "–", *(f"{cal.scores[s]:.1f}" for s in vd.CALIBRATION)])
        out += [f"<p>Calibration ({esc(v.target)}): the same extra images and questions with 0% (gold), 50% and "
                "100% of the answers corrupted.</p>", table(["benchmark", *srcs], body)]
        png = plots.dose_plot(vd.dose_points(run, columns, v.target))
        if png is not None:
            out.append(f"<img class=\"plot\" alt=\"calibration dose-response\" src=\"{data_uri(png)}\">")
    out.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in vd.headroom_lines(v)) + "</ul>")
    if lines := vd.instruction_lines(v, columns):
        out += [f"<p>{esc(vd.INSTRUCTION_NOTE)}</p>", "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"]
    return "\n".join(out)


def render_html(run: RunData, title: str, boards: Any = None, per_benchmark: int = 3) -> str:
    """The whole report as one HTML page (see the module docstring)."""
    from reports import plots
    from reports.summary import amount_points

    if boards is None:
        boards = leaderboards(run, seed=int(run.manifest.get("seed", 0) or 0))
    tables, notes = boards
    mods = models(run)
    body = [f"<h1>{esc(title)}</h1>", f"<p class=\"note\">{esc(run.run_dir)}</p>"]
    if tables:
        body.append(verdict_html(run, tables[0][1]))
    body += ["<h2>Setup</h2>", setup_html(run)]
    body += ["<h2>Leaderboard</h2>", f"<p class=\"note\">{esc(legend())}</p>"]
    for i, (name, cols, df) in enumerate(tables):
        if i == 1:
            body.append("<h2>Breakdowns</h2>")
        body += [f"<h3>{esc(name)}</h3>", board_html(cols, df, mods)]
        body += [f"<p class=\"note\">{esc(n)}</p>" for n in frame_notes(df)]
    if not run.samples:
        body.append("<p class=\"note\">No samples.jsonl in this run: no paired tests or examples.</p>")
    body += [f"<p class=\"note\">{esc(n)}</p>" for n in notes]
    figures = []
    if tables:
        figures.append(("Primary metrics with 95% intervals", plots.scores_plot(tables[0][2],
                                                                                 [c.label for c in tables[0][1]])))
        figures.append(("Score against the amount of generated data", plots.amount_plot(amount_points(run, tables[0]))))
    figures.append(("VIG against VIC on the same questions", plots.vic_plot(run.vic_effect)))
    figures = [(cap, png) for cap, png in figures if png is not None]
    if figures:
        body.append("<h2>Figures</h2>")
        body += [f"<h3>{esc(cap)}</h3><img class=\"plot\" alt=\"{esc(cap)}\" src=\"{data_uri(png)}\">"
                 for cap, png in figures]
    if run.results:
        body += ["<h2>All metrics</h2>", all_metrics_html(run)]
    if run.quality:
        body += ["<h2>Data quality</h2>", quality_html(run)]
    if run.vic_effect:
        body += ["<h2>VIC against VIG on the same questions</h2>", vic_html(run.vic_effect)]
    examples = pick_examples(run, per_benchmark)
    if examples:
        body += ["<h2>Examples</h2>", "<p class=\"note\">Items where the models disagree come first.</p>"]
        body += [example_html(ex) for ex in examples]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n" + "\n".join(body)
            + "\n</body></html>\n")
