"""The smoke study end to end through the CLI, then a cached rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

RESULT_KEYS = {"target", "source", "benchmark", "split", "metric", "value", "ci_low", "ci_high", "n", "protocol"}


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", "--preset", "smoke", "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_smoke_study_end_to_end_and_cached_rerun(tmp_path):
    out = tmp_path / "smoke"
    r = _run(out)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows and all(RESULT_KEYS <= set(row) for row in rows)
    assert {row["benchmark"] for row in rows} == {"pope", "mmbench"}
    assert {row["split"] for row in rows if row["benchmark"] == "pope"} == {"random", "popular", "adversarial"}
    assert all(0.0 <= row["value"] <= 100.0 for row in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert not any(st["cached"] for st in manifest["stages"].values())
    assert (out / "report.md").read_text().startswith("# vigc-bench study: smoke")

    first_results = (out / "results.jsonl").read_text()
    (out / "report.md").write_text("stale")  # a rerun must notice that a report is not what it rendered
    t0 = time.perf_counter()
    r2 = _run(out)
    took = time.perf_counter() - t0
    assert r2.returncode == 0, r2.stderr[-3000:]
    manifest2 = json.loads((out / "manifest.json").read_text())
    assert all(st["cached"] for st in manifest2["stages"].values())
    assert "stages cached" in r2.stderr
    assert took < 10, f"cached rerun took {took:.1f} s"
    # Same results, byte for byte.
    assert (out / "results.jsonl").read_text() == first_results
    assert (out / "report.md").read_text().startswith("# vigc-bench study: smoke")

    # A third run finds its reports current and keeps them as they are (stage times included);
    # on another device too: the device is how stages run, not part of any key.
    html_mtime = (out / "report.html").stat().st_mtime_ns
    assert _run(out, "--device", "auto").returncode == 0
    assert all(st["cached"] for st in json.loads((out / "manifest.json").read_text())["stages"].values())
    assert (out / "report.html").stat().st_mtime_ns == html_mtime
