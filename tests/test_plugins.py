"""Outside packages: a plugin installed with pip registers a benchmark and a generator through
entry points only, and the smoke study runs both (trains on the plugin's data, scores on its
benchmark)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.records import stage_dir_from_manifest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).with_name("plugin_demo")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo plugin installed by pip into a scratch folder (the venv is left alone)."""
    src = tmp_path_factory.mktemp("plugin-src") / "plugin"
    shutil.copytree(PLUGIN, src)
    target = tmp_path_factory.mktemp("plugin-site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                        "--no-build-isolation", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list(target.glob("vigc_demo_plugin-*.dist-info/entry_points.txt"))
    return target


def _env(site: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}


def test_plugin_names_resolve_through_entry_points(site: Path) -> None:
    code = ("from benchmarks import BENCHMARKS; from generators import GENERATORS; "
            "print(BENCHMARKS.get('demo_count').__module__, GENERATORS.get('demo_count').__module__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(site), cwd=REPO,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["vigc_demo_plugin.bench", "vigc_demo_plugin.gen"]


@pytest.mark.slow
def test_plugin_runs_in_the_smoke_study(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--preset", "smoke", "--out", str(out), "--quiet",
                        "-o", "benchmarks=[pope,demo_count]", "-o", "seed_data.generator=demo_count",
                        "-o", "seed_data.data_types=[conversation]", "-o", "vigc.enabled=false"],
                       capture_output=True, text=True, env=_env(site), cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    demo = [row for row in rows if row["benchmark"] == "demo_count" and row["target"] == "llava"]
    assert [(row["split"], row["metric"]) for row in demo] == [("test", "accuracy")]
    assert demo[0]["n"] == 40  # the smoke world's bench images
    manifest = json.loads((out / "manifest.json").read_text())
    seed = stage_dir_from_manifest(out, manifest["stages"]["data/seed"]["path"])  # relative to the run dir
    records = [json.loads(line) for line in (seed / "records.jsonl").read_text().splitlines()]
    assert records and {rec["generator"] for rec in records} == {"demo_count"}
    assert "demo_count accuracy" in (out / "report.md").read_text()  # its declared primary metric
