"""`vigc-bench world` writes a world of files with its study.yaml; a study on those files gives
the embedded study's results, skips its ground-truth parts (said once) without scenes, and
refuses a missing or malformed file with one line before writing anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.cli._run import run_cli

ROW_KEY = ("target", "source", "benchmark", "split", "metric")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env,
                          timeout=900)


def _rows(run_dir: Path) -> dict[tuple, float]:
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    return {tuple(r[k] for k in ROW_KEY): r["value"] for r in rows}


@pytest.fixture
def small_world(tmp_path: Path, capsys: pytest.CaptureFixture) -> Path:
    """The smoke preset's world, 12 images a split, as files."""
    w = tmp_path / "w"
    assert run_cli("world", "--preset", "smoke", "--images", "12", "--out", str(w)) == 0
    capsys.readouterr()
    return w


def test_world_writes_files_and_a_study_that_plans(small_world: Path, capsys: pytest.CaptureFixture) -> None:
    w = small_world
    doc = yaml.safe_load((w / "study.yaml").read_text())
    world = doc["world"]
    assert world["kind"] == "files" and set(world["splits"]) == {"foundation", "seed", "extra", "bench"}
    for split in world["splits"].values():
        for key in ("instances", "captions", "scenes"):
            assert (w / split[key]).is_file() and not Path(split[key]).is_absolute()
    assert set(world["benchmark_files"]) == {"pope", "mmbench"}
    assert set(world["benchmark_files"]["pope"]) == {"random", "popular", "adversarial"}
    # --dry-run on the files world: the plan, nothing run, nothing skipped.
    assert run_cli("run", "--config", str(w / "study.yaml"), "--dry-run", "--out", str(w.parent / "out")) == 0
    out = capsys.readouterr()
    names = [line.split()[1] for line in out.out.splitlines()[:-1]]
    assert names[0] == "world" and "data/gold" in names and "bench-files" in names
    assert out.err == "" and not (w.parent / "out").exists()


def test_files_world_without_scenes_skips_ground_truth_once(small_world: Path, capsys: pytest.CaptureFixture) -> None:
    w = small_world
    shutil.rmtree(w / "scenes")
    cfg = str(w / "study.yaml")
    # Tiny models learn their foundation from the scenes: without them, one line, exit 2.
    assert run_cli("run", "--config", cfg, "--dry-run") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "foundation split's ground-truth scenes" in err[0], err
    # With checkpoints (real models), the study runs without its gold parts, said once.
    args = ("run", "--config", cfg, "--dry-run", "-o", "targets.0.checkpoint=some/model", "-o", "vigc.enabled=false",
            "-o", "sources=[seed, seed+gold]")
    assert run_cli(*args) == 0
    out = capsys.readouterr()
    notes = [line for line in out.err.splitlines() if line.strip()]
    assert len(notes) == 1 and "no ground-truth scenes" in notes[0] and "seed+gold" in notes[0], notes
    names = [line.split()[1] for line in out.out.splitlines()[:-1]]
    assert "data/lang" in names and "quality/lang" in names
    assert not any("gold" in n for n in names), names


def _one_error(capsys: pytest.CaptureFixture) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_missing_instances_file_is_one_line_exit_2(small_world: Path, capsys: pytest.CaptureFixture) -> None:
    (small_world / "annotations" / "instances_seed.json").unlink()
    out = small_world.parent / "out"
    assert run_cli("run", "--config", str(small_world / "study.yaml"), "--out", str(out)) == 2
    line = _one_error(capsys)
    assert "instances_seed.json" in line and "not found" in line, line
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("text, needle", [("{\"images\": [", "not valid JSON"), ("[1, 2]", "not COCO instances"),
                                          ("{\"images\": []}", "no 'annotations' list")])
def test_malformed_instances_json_is_one_line_exit_2(small_world: Path, capsys: pytest.CaptureFixture, text: str,
                                                     needle: str) -> None:
    (small_world / "annotations" / "instances_extra.json").write_text(text)
    out = small_world.parent / "out"
    for extra in ((), ("--dry-run",)):
        assert run_cli("run", "--config", str(small_world / "study.yaml"), "--out", str(out), *extra) == 2
        line = _one_error(capsys)
        assert "instances_extra.json" in line, line
    assert not out.exists()


@pytest.mark.slow
def test_smoke_study_on_its_files_gives_the_same_results(tmp_path: Path) -> None:
    w, a, b = tmp_path / "w", tmp_path / "embedded", tmp_path / "files"
    r = _cli("world", "--preset", "smoke", "--out", str(w))
    assert r.returncode == 0, r.stderr[-2000:]
    r = _cli("run", "--preset", "smoke", "--out", str(a), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    # The world folder moves whole: its study reads paths relative to itself.
    moved = tmp_path / "moved"
    w.rename(moved)
    r = _cli("run", "--config", str(moved / "study.yaml"), "--out", str(b), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    ra, rb = _rows(a), _rows(b)
    assert ra and ra == rb
    qa = (a / "data_quality.jsonl").read_text()
    assert qa and qa == (b / "data_quality.jsonl").read_text()
