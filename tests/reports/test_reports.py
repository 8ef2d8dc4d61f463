"""Report rendering on a hand-made run directory: markdown snapshot, HTML escaping and
self-containment, leaderboard semantics, and the report command."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from reports.html import render_html
from reports.leaderboard import leaderboards
from reports.markdown import render_run_markdown
from reports.run_data import load_run
from tests.reports._runfixture import EVIL, make_run

SNAPSHOT = Path(__file__).parent / "snapshots" / "fixture_report.md"


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run")


def test_markdown_snapshot(run_dir: Path) -> None:
    text = render_run_markdown(load_run(run_dir), "vigc-bench report: fixture")
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "rendered markdown changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


def test_leaderboard_marks_significance_and_best(run_dir: Path) -> None:
    boards, notes = leaderboards(load_run(run_dir))
    title, cols, df = boards[0]
    assert [c.label for c in cols] == ["pope accuracy (all splits)", "mmbench overall (dev)"] and not notes
    vigc = df[df["source"] == "seed+vigc"].set_index("column")
    seed = df[df["source"] == "seed"].set_index("column")
    pope = "pope accuracy (all splits)"
    assert vigc.loc[pope, "value"] == pytest.approx(70.0) and seed.loc[pope, "value"] == pytest.approx(60.0)
    assert vigc.loc[pope, "significant"] and vigc.loc[pope, "better"] and vigc.loc[pope, "best"]
    assert vigc.loc[pope, "diff"] == pytest.approx(10.0) and vigc.loc[pope, "p"] < 0.01
    assert pd.isna(seed.loc[pope, "p"]) and not seed.loc[pope, "best"]
    titles = [t for t, _, _ in boards]
    assert "pope: accuracy per split" in titles and "mmbench (dev): overall per category" in titles


def test_the_seed_source_is_never_tested_against_itself(run_dir: Path) -> None:
    _, _, df = leaderboards(load_run(run_dir))[0][0]
    assert df[df["source"] == "seed"]["p"].isna().all()


def test_report_without_samples_says_so(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "r", with_samples=False))
    text = render_run_markdown(run, "t")
    assert "No samples.jsonl" in text and "Δ" not in text.split("## All metrics")[0].split("bold:")[1]
    # Pooled splits cannot get an interval without samples; a note under the table says so.
    assert "| llava | seed | 60.0 |" in text
    assert "_pope accuracy (all splits): n-weighted mean of splits (no samples.jsonl, no interval)_" in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_escapes_model_text_and_runs_nothing(run_dir: Path) -> None:
    page = render_html(load_run(run_dir), "fixture <script>")
    # The hostile answers are shown as text ...
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert EVIL[0] not in page and EVIL[1] not in page
    # ... and no element can run anything or load anything from outside the file.
    parser = _Tags()
    parser.feed(page)
    names = {t for t, _ in parser.tags}
    assert not names & {"script", "iframe", "object", "embed", "link", "form", "base"}
    for tag, attrs in parser.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/"), attrs
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_html_has_every_section(run_dir: Path) -> None:
    page = render_html(load_run(run_dir), "fixture")
    for h in ("Setup", "Leaderboard", "Breakdowns", "Figures", "Data quality", "VIC against VIG", "Examples"):
        assert f"<h2>{h}" in page, h
    assert page.count("data:image/png;base64,") >= 4  # two figures and example images
    assert "2.13.0+cpu" in page and "abababababababab" in page  # versions and stage hashes
    assert "table-layout:fixed" in page and "overflow-wrap:anywhere" in page  # tables wrap, never scroll


def test_report_command_writes_both_formats(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from harness.cli import main

    main(["report", str(run_dir), "--format", "html", "--out", str(tmp_path / "r.html")])
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    main(["report", str(run_dir)])
    assert capsys.readouterr().out.startswith("# vigc-bench report: fixture")


def test_write_reports_uses_a_manifest_not_yet_on_disk(run_dir: Path) -> None:
    from harness.core.io import read_json
    from reports.render import write_reports

    manifest = read_json(run_dir / "manifest.json")
    (run_dir / "manifest.json").unlink()
    md, html = write_reports(run_dir, "vigc-bench study: fixture", manifest)
    assert md.read_text().startswith("# vigc-bench study: fixture") and "2.13.0+cpu" in html.read_text()


def test_reports_never_import_model_code() -> None:
    import subprocess
    import sys

    code = ("import sys, reports.html, reports.compare, reports.check, reports.render, harness.cli.reports; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers') "
            "or m.startswith('harness.models')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert r.returncode == 0, r.stdout + r.stderr


def test_examples_show_a_circular_question_once_with_its_result(run_dir: Path) -> None:
    from reports.examples import pick_examples

    exs = pick_examples(load_run(run_dir), per_benchmark=3)
    mm = [e for e in exs if e.benchmark == "mmbench"]
    assert len(mm) == 3 and all(e.passes == 2 and e.disagree for e in mm)
    for e in mm:
        by = {a.source: a for a in e.answers}
        # seed passes the first pass but fails the rotated one: the question is wrong.
        assert by["seed"].extracted == "A / B" and by["seed"].score == 0.0 and by["seed+vigc"].score == 1.0
    assert [e.benchmark for e in exs].count("pope") == 3 and exs[0].image is not None


def test_a_column_where_every_row_ties_has_no_best() -> None:
    from reports.leaderboard import FRAME_COLUMNS, Column, mark_best

    cols = [Column("tied", "mmbench", ("dev",), "overall", True), Column("lower", "chair", ("val",), "chair_i", False)]
    rows = [{"column": "tied", "value": 0.0, "best": False}, {"column": "tied", "value": 0.0, "best": False},
            {"column": "lower", "value": 3.0, "best": False}, {"column": "lower", "value": 5.0, "best": False}]
    df = mark_best(pd.DataFrame(rows, columns=FRAME_COLUMNS).fillna({"best": False}), cols)
    assert df["best"].tolist() == [False, False, True, False]


def test_controls_are_not_ranked() -> None:
    # The untuned control names nothing (CHAIRi 0.0) and the blind one wins nothing it should;
    # neither is the best data source of a column.
    from reports.leaderboard import FRAME_COLUMNS, Column, mark_best

    cols = [Column("CHAIRi", "chair", ("test",), "CHAIRi", False), Column("POPE", "pope", ("all",), "accuracy", True)]
    rows = [{"target": t, "column": c, "value": v, "best": False} for t, c, v in [
        ("llava", "CHAIRi", 3.1), ("llava-untuned", "CHAIRi", 0.0), ("instructblip", "CHAIRi", 5.9),
        ("llava", "POPE", 90.8), ("llava-blind", "POPE", 95.0), ("llava", "POPE", 94.3)]]
    df = mark_best(pd.DataFrame(rows, columns=FRAME_COLUMNS).fillna({"best": False}), cols,
                   controls={"llava-untuned", "llava-blind"})
    assert df["best"].tolist() == [True, False, False, False, False, True]


def test_markdown_neutralises_html_and_links_from_files(tmp_path: Path) -> None:
    # A markdown report is often rendered to HTML (a CI page, a notebook): names that come from
    # files must not become tags or links there. "p < 0.05" stays readable.
    from dataclasses import replace

    from tests.reports._runfixture import default_samples

    bad_source, bad_cat = "seed+<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    samples = [s.model_copy(update={"source": bad_source if s.source == "seed+vigc" else s.source,
                                    "categories": tuple(bad_cat for _ in s.categories)}) for s in default_samples()]
    run = load_run(make_run(tmp_path / "r", samples=samples))
    run = replace(run, results=[r.model_copy(update={"metric": r.metric + "[x](javascript:alert(1))"})
                                if r.benchmark == "pope" else r for r in run.results])
    text = render_run_markdown(run, "t <script>")
    assert "<script" not in text and "<img" not in text and "](javascript" not in text
    assert "&lt;script>" in text and "p < 0.05" in text


def test_report_embeds_only_the_recorded_image_inside_the_run(tmp_path: Path) -> None:
    from reports.run_data import load_run as load

    from harness.core.io import sha256_file

    run_dir = make_run(tmp_path / "r")
    run = load(run_dir)
    s = run.samples[0]
    assert run.image_path(s) is not None  # no hash recorded: the file inside the run is used
    good = s.model_copy(update={"image_sha256": sha256_file(run_dir / "images" / "a.png")})
    assert run.image_path(good) == (run_dir / "images" / "a.png").resolve()
    assert run.image_path(good.model_copy(update={"image_sha256": "0" * 64})) is None  # not the image shown
    outside = tmp_path / "secret.png"
    outside.write_bytes((run_dir / "images" / "a.png").read_bytes())
    assert run.image_path(s.model_copy(update={"image": "../secret.png"})) is None
    assert run.image_path(s.model_copy(update={"image": str(outside)})) is None


def test_a_copied_run_directory_reads_its_own_samples(tmp_path: Path) -> None:
    # Manifests record stage paths relative to the run directory; an old manifest's absolute
    # path into the original directory is read from the copy's own stages/ when it has them.
    import shutil

    from harness.core.io import write_json

    orig = make_run(tmp_path / "orig", with_samples=False)
    stage = orig / "stages" / "score--llava--seed--pope-0123"
    stage.mkdir(parents=True)
    (stage / "samples.jsonl").write_text((make_run(tmp_path / "s") / "samples.jsonl").read_text())
    for recorded in ("stages/score--llava--seed--pope-0123", str(stage)):
        manifest = {"config": {"name": "x"}, "seed": 0, "stages": {"score/llava/seed/pope": {"path": recorded}}}
        write_json(orig / "manifest.json", manifest)
        copy = tmp_path / f"copy{len(recorded)}"
        shutil.copytree(orig, copy)
        (copy / "stages" / stage.name / "samples.jsonl").write_text(
            (copy / "stages" / stage.name / "samples.jsonl").read_text().replace("<b>square</b>", "circle"))
        run = load_run(copy)
        assert run.samples and all("circle" in s.prompt for s in run.samples if s.benchmark == "pope")
