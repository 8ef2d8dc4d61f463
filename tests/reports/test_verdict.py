"""The report's opening: calibration pass / fail, findings against seed and seed+lang,
headroom, and comparisons.jsonl as the leaderboards' source of tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.records import SampleRecord
from reports.leaderboard import leaderboards, primary_columns
from reports.markdown import render_run_markdown
from reports.render import write_reports
from reports.run_data import load_run
from reports import verdict as vd
from tests.reports._runfixture import make_run, mmbench_samples, pope_samples


def _model(target: str, source: str, pope_right: int, mmb_right: int) -> list[SampleRecord]:
    """POPE (one split, 100 items) and MMBench (40 questions) with the first N right."""
    return (pope_samples(target, source, "random", [int(i < pope_right) for i in range(100)])
            + mmbench_samples(target, source, [int(i < mmb_right) for i in range(40)]))


def _run(tmp_path: Path, levels: dict[str, tuple[int, int]]) -> Path:
    samples = [s for src, (p, m) in levels.items() for s in _model("llava", src, p, m)]
    samples += _model("llava-blind", "seed", 50, 2) + _model("llava-untuned", "none", 50, 0)
    return make_run(tmp_path / "run", samples)


CALIBRATED = {"seed": (70, 20), "seed+gold": (85, 30), "seed+noisy50": (75, 22), "seed+noisy100": (60, 12),
              "seed+lang": (72, 20), "seed+vigc": (80, 22)}


def test_a_monotone_calibration_passes_and_the_findings_name_what_moved(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path, CALIBRATED))
    cols = primary_columns(run)[0]
    v = vd.build(run, cols)
    assert v.target == "llava" and v.calibrated is True
    cal = v.calibrations[0]
    assert cal.scores["seed+gold"] > cal.scores["seed+noisy50"] > cal.scores["seed+noisy100"]
    assert cal.gold_better == ["pope", "mmbench"] and cal.gold_worse == []
    vigc = next(f for f in v.findings if f.source == "seed+vigc" and f.baseline == "seed")
    assert [r.benchmark for r in vigc.moved] == ["pope"] and all(r.better for r in vigc.moved)
    assert {f.baseline for f in v.findings if f.source == "seed+vigc"} == {"seed", "seed+lang"}
    assert not any(f.source in vd.CALIBRATION for f in v.findings)  # calibration is not "under test"
    text = "\n".join(vd.sentences(v))
    assert "Calibration holds" in text and "FAILED" not in text
    assert text.splitlines()[-1].startswith("The intervals and p-values cover the test items, not training")
    pope = v.headroom[0]
    assert (pope.seed, pope.best, pope.untuned, pope.blind, pope.ceiling) == (70.0, ("seed+gold", 85.0), 50.0, 50.0, 100.0)


def test_headroom_takes_the_blind_controls_best_source(tmp_path: Path) -> None:
    # A blind control trained on data that teaches a format can outscore its seed-trained copy
    # on priors alone; the headroom line must compare against that, and say which source it is.
    samples = [s for src, (p, m) in CALIBRATED.items() for s in _model("llava", src, p, m)]
    samples += _model("llava-blind", "seed", 50, 2) + _model("llava-blind", "seed+gold", 50, 9)
    samples += _model("llava-untuned", "none", 50, 0)
    run = load_run(make_run(tmp_path / "run", samples))
    v = vd.build(run, primary_columns(run)[0])
    mmb = next(h for h in v.headroom if h.benchmark == "mmbench")
    assert (mmb.blind, mmb.blind_source) == (22.5, "seed+gold")
    assert any("blind 22.5 (seed+gold)" in line for line in vd.headroom_lines(v))


def test_a_failed_calibration_is_the_first_line_of_the_report(tmp_path: Path) -> None:
    levels = dict(CALIBRATED, **{"seed+noisy100": (90, 35)})  # corrupted data wins: the study cannot judge
    run = load_run(_run(tmp_path, levels))
    md = render_run_markdown(run, "t")
    first = md.split("## Verdict\n", 1)[1].strip().splitlines()[0]
    assert "Calibration FAILED" in first and "not fit to judge" in first


def test_comparisons_file_holds_every_source_against_both_baselines_and_boards_read_it(tmp_path: Path) -> None:
    rd = _run(tmp_path, CALIBRATED)
    write_reports(rd, "t", comparisons=True)
    run = load_run(rd)
    keys = {(c.source, c.baseline, c.split) for c in run.comparisons if c.benchmark == "pope"}
    assert ("seed+vigc", "seed", "random") in keys and ("seed+vigc", "seed+lang", "random") in keys
    assert ("seed", "seed+lang", "random") not in keys  # the inverse of seed+lang against seed
    c = run.comparison_index[("llava", "seed+gold", "seed", "pope", "random", "accuracy")]
    assert c.delta == pytest.approx(15.0) and c.ci_low < 15.0 < c.ci_high and c.p_value < 0.05 and c.better is True
    # The leaderboard shows the recorded test: tamper with the record and the table follows.
    tampered = run.comparison_index
    rec = tampered[("llava", "seed+gold", "seed", "pope", "random", "accuracy")]
    import dataclasses

    run2 = dataclasses.replace(run, comparisons=[rec.model_copy(update={"p_value": 0.5}) if x is rec else x
                                                 for x in run.comparisons])
    df = leaderboards(run2)[0][0][2]
    row = df[(df["source"] == "seed+gold") & (df["column"] == "pope accuracy (random)")].iloc[0]
    assert row["p"] == 0.5 and not row["significant"]


def test_targets_are_compared_with_the_untuned_control_of_their_architecture(tmp_path: Path) -> None:
    samples = [s for src, (p, m) in CALIBRATED.items() for s in _model("llava", src, p, m)]
    samples += _model("instructblip", "seed", 70, 20) + _model("llava-untuned", "none", 50, 35)
    targets = [{"name": "llava", "arch": "llava"}, {"name": "instructblip", "arch": "instructblip"},
               {"name": "llava-untuned", "arch": "llava", "untuned": True}]
    rd = make_run(tmp_path / "run", samples, targets=targets)
    write_reports(rd, "t", comparisons=True)
    run = load_run(rd)
    vs_untuned = [c for c in run.comparisons if c.baseline_target is not None]
    # Every llava source on each primary metric; no instructblip line (no untuned control of its kind).
    assert {(c.target, c.baseline_target, c.baseline) for c in vs_untuned} == {("llava", "llava-untuned", "none")}
    assert {c.source for c in vs_untuned} == set(CALIBRATED)
    seed = {c.benchmark: c for c in vs_untuned if c.source == "seed"}
    assert seed["pope"].delta == pytest.approx(20.0) and seed["pope"].better is True
    assert seed["mmbench"].delta == pytest.approx(-37.5) and seed["mmbench"].better is False
    lines = vd.instruction_lines(vd.build(run, primary_columns(run)[0]), primary_columns(run)[0])
    assert lines[0].startswith("llava/seed against the untuned control llava-untuned: ahead on pope accuracy +20.0")
    assert "behind on mmbench overall -37.5" in lines[0] and lines[1].startswith("llava/seed+gold")
    assert vd.INSTRUCTION_NOTE in render_run_markdown(run, "t")
    assert "<li>llava/seed against the untuned control llava-untuned: ahead on pope" in (rd / "report.html").read_text()


def test_no_untuned_comparisons_without_architectures_in_the_manifest(tmp_path: Path) -> None:
    # A hand-made run that names no architectures: pairing a target with an untuned control of
    # another architecture would compare two different models, so there is no such line.
    run = load_run(_run(tmp_path, CALIBRATED))
    v = vd.build(run, primary_columns(run)[0])
    assert not any(c.baseline_target for c in v.comparisons.values())
    assert vd.instruction_lines(v, primary_columns(run)[0]) == []
