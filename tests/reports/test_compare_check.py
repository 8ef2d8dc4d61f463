"""`compare` and `check`: exit codes 0 / 1 / 2 and the lines they print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reports._runfixture import default_samples, make_run, quality_rows


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    from harness.cli import main

    try:
        main(list(args))
        rc = 0
    except SystemExit as e:
        rc = int(e.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    return make_run(tmp_path / "good")


@pytest.fixture()
def worse(tmp_path: Path) -> Path:
    """The same items, but seed+vigc no longer fixes anything, and the VIGC data is less factual."""
    return make_run(tmp_path / "worse", samples=default_samples(better=False), quality=quality_rows(60.0))


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- compare ----------------------------------------------------------------------------------


def test_compare_identical_runs_is_0_with_paired_tests(capsys: pytest.CaptureFixture, good: Path) -> None:
    rc, out, _ = run_cli(capsys, "compare", str(good), str(good))
    assert rc == 0
    rows = [x.split() for x in out.splitlines() if x.startswith("llava ")]
    assert len(rows) == 10 and all(r[-3:] == ["+0.0", "(paired", "p=1.000)"] for r in rows), out


def test_compare_names_each_regression_and_exits_1(capsys: pytest.CaptureFixture, good: Path, worse: Path) -> None:
    rc, out, err = run_cli(capsys, "compare", str(good), str(worse))
    assert rc == 1
    fails = [x for x in out.splitlines() if x.startswith("FAIL ")]
    assert any("llava/seed+vigc/pope/random/accuracy" in x and "paired" in x for x in fails), out
    assert all("llava/seed/" not in x for x in fails)  # seed did not change
    assert "significant regression" in one_line(err)
    # The other way round it is an improvement: not a failure by default, but a difference.
    assert run_cli(capsys, "compare", str(worse), str(good))[0] == 0
    assert run_cli(capsys, "compare", str(worse), str(good), "--fail-on", "difference")[0] == 1


def test_compare_without_samples_falls_back_to_intervals(capsys: pytest.CaptureFixture, good: Path,
                                                         tmp_path: Path) -> None:
    bare = make_run(tmp_path / "bare", samples=default_samples(better=False), with_samples=False)
    rc, out, _ = run_cli(capsys, "compare", str(good), str(bare))
    rows = {tuple(x.split()[:5]): x for x in out.splitlines() if x.startswith("llava ")}
    assert "paired" not in "".join(rows.values())
    # -10 on 60 items: the intervals overlap, so no claim; -50 on a category: they are apart.
    assert rows[("llava", "seed+vigc", "pope", "random", "accuracy")].endswith("-10.0 (CIs overlap)")
    assert rows[("llava", "seed+vigc", "mmbench", "dev", "coarse_perception")].endswith("(CIs apart) WORSE")
    assert rc == 1


@pytest.mark.parametrize("args", [("compare", "{good}"), ("compare", "{good}", "{missing}")])
def test_compare_bad_input_is_exit_2(capsys: pytest.CaptureFixture, good: Path, tmp_path: Path,
                                     args: tuple[str, ...]) -> None:
    rc, _, err = run_cli(capsys, *(a.format(good=good, missing=tmp_path / "nope") for a in args))
    assert rc == 2
    line = one_line(err)
    assert "two run directories" in line or "not a run directory" in line


# --- check ------------------------------------------------------------------------------------


def test_check_passes_on_the_run_it_was_written_from(capsys: pytest.CaptureFixture, good: Path, tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    rc, out, _ = run_cli(capsys, "check", str(good), "--write-baseline", str(base))
    assert rc == 0 and "metrics ->" in out
    doc = json.loads(base.read_text())
    ids = {m["id"] for m in doc["metrics"]}
    assert "llava/seed+vigc/pope/random/accuracy" in ids and "quality/vigc/all/factual_accuracy" in ids
    assert "llava/seed/mmbench/dev/coarse_perception" not in ids  # default: primary metrics only
    rc, out, _ = run_cli(capsys, "check", str(good), "--baseline", str(base))
    assert rc == 0 and out.startswith("ok:")


def test_check_names_every_regression_one_line_each(capsys: pytest.CaptureFixture, good: Path, worse: Path,
                                                    tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    run_cli(capsys, "check", str(good), "--write-baseline", str(base), "--metric", "*/seed+vigc/pope/*/accuracy",
            "--metric", "quality/*/all/factual_accuracy", "--tolerance", "2")
    rc, out, err = run_cli(capsys, "check", str(worse), "--baseline", str(base))
    assert rc == 1
    lines = out.splitlines()
    assert sorted(x.split(":")[0] for x in lines) == [
        "REGRESSION llava/seed+vigc/pope/popular/accuracy", "REGRESSION llava/seed+vigc/pope/random/accuracy",
        "REGRESSION quality/vigc/all/factual_accuracy"]
    assert "80.00 -> 60.00" in out and "higher is better" in out
    assert "3 of 4 metrics regressed" in one_line(err)


def test_check_with_interval_tolerance_lets_noise_through(capsys: pytest.CaptureFixture, good: Path, worse: Path,
                                                          tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    run_cli(capsys, "check", str(good), "--write-baseline", str(base), "--metric", "llava/*/pope/*/accuracy")
    # 10 points down on 60 items lies within the 95% interval's half-width (~11.7): not a regression.
    assert run_cli(capsys, "check", str(worse), "--baseline", str(base))[0] == 0


def test_check_reports_a_metric_missing_from_the_run(capsys: pytest.CaptureFixture, good: Path,
                                                     tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"schema": 1, "metrics": [
        {"id": "llava/seed/chair/test/CHAIRi", "value": 10.0, "direction": "lower", "tolerance": 1.0}]}))
    rc, out, err = run_cli(capsys, "check", str(good), "--baseline", str(base))
    assert rc == 1 and out.startswith("MISSING llava/seed/chair/test/CHAIRi")
    assert "0 of 1 metrics regressed, 1 missing" in one_line(err)


@pytest.mark.parametrize("content, needle", [
    (None, "baseline file not found"),
    ("{not json", "not valid JSON"),
    ('{"schema": 1, "metrics": [{"id": "x"}]}', "metric 1 needs"),
    ('{"metrics": []}', "not a vigc-bench baseline"),
])
def test_check_bad_baseline_is_exit_2(capsys: pytest.CaptureFixture, good: Path, tmp_path: Path,
                                      content: str | None, needle: str) -> None:
    base = tmp_path / "b.json"
    if content is not None:
        base.write_text(content)
    rc, _, err = run_cli(capsys, "check", str(good), "--baseline", str(base))
    assert rc == 2 and needle in one_line(err) and str(base) in err


@pytest.mark.parametrize("extra, needle", [
    ((), "exactly one of"),
    (("--write-baseline", "{tmp}/b.json", "--metric", "nothing/*"), "matches no metric"),
    (("--write-baseline", "{tmp}/b.json", "--tolerance", "lots"), "--tolerance"),
])
def test_check_bad_arguments_are_exit_2(capsys: pytest.CaptureFixture, good: Path, tmp_path: Path,
                                        extra: tuple[str, ...], needle: str) -> None:
    rc, _, err = run_cli(capsys, "check", str(good), *(x.format(tmp=tmp_path) for x in extra))
    assert rc == 2 and needle in one_line(err)


def test_check_on_a_missing_run_dir_is_exit_2(capsys: pytest.CaptureFixture, good: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    run_cli(capsys, "check", str(good), "--write-baseline", str(base))
    rc, _, err = run_cli(capsys, "check", str(tmp_path / "nope"), "--baseline", str(base))
    assert rc == 2 and "not a run directory" in one_line(err)
