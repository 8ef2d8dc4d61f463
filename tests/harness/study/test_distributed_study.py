"""One study across torchrun ranks: rank 0 writes each stage once, collective stages run on every rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.study.config import StudyConfig
from harness.study.distributed import check_job, training_batches
from harness.core.errors import BadConfig
from harness.training.distributed import DistEnv
from tests.harness.cli._run import run_cli

SCRIPT = Path(__file__).with_name("_dist_study.py")
SPLIT_SCRIPT = Path(__file__).with_name("_dist_split.py")
LAUNCH = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _torchrun(cache: Path, prefix: Path) -> list[list[dict]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for k in LAUNCH:
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(SCRIPT), str(cache), str(prefix)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(Path(f"{prefix}.{rank}.json").read_text()) for rank in (0, 1)]


def test_one_study_across_two_ranks(tmp_path):
    pytest.importorskip("torch")
    cache = tmp_path / "cache"
    rank0, rank1 = _torchrun(cache, tmp_path / "first")
    assert [s["name"] for s in rank0] == ["world", "train", "report"]
    # Every rank sees the same outputs: the ones rank 0 wrote.
    assert [(s["key"], s["path"], s["meta"]) for s in rank0] == [(s["key"], s["path"], s["meta"]) for s in rank1]
    meta = {s["name"]: s["meta"] for s in rank0}
    assert meta["world"]["rank"] == 0 and meta["report"]["rank"] == 0  # run once, by rank 0
    assert meta["train"] == {"ranks": 2, "rank": 0}  # run by both ranks, rank 0's output kept
    assert meta["report"]["trained_by"] == 2
    dirs = sorted(p.name.rsplit("-", 1)[0] for p in cache.iterdir() if not p.name.startswith("."))
    assert dirs == ["report", "train", "world"]  # one directory per stage, no scratch left behind
    # A rerun finds everything finished, on every rank.
    again = _torchrun(cache, tmp_path / "again")
    assert all(s["cached"] for seen in again for s in seen)


def test_generation_and_prediction_split_over_two_ranks(tmp_path):
    """Each rank runs its share of the batches (rank 0 the even ones, rank 1 the odd ones) and both
    end with every answer: the same predictions and VIG / VIC records, in the same order, as one
    process, with greedy decoding equal to the last character."""
    pytest.importorskip("torch")
    from harness.core.sharding import BatchSplit
    from tests.harness._bench_world import bench_world
    from tests.harness.study._dist_split import work

    bw = bench_world(tmp_path / "bench-world")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for k in LAUNCH:
        env.pop(k, None)
    prefix = tmp_path / "split"
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(SPLIT_SCRIPT), str(bw.ckpt), str(bw.pope), str(bw.images), str(prefix)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads(Path(f"{prefix}.{rank}.json").read_text()) for rank in (0, 1)]
    one = work(bw.ckpt, bw.pope, bw.images, BatchSplit())
    for got in ranks:
        assert got["predictions"] == one["predictions"]
        assert got["records"] == one["records"]
    assert len(one["predictions"]) > 8 and any(p for p in one["predictions"])
    assert {rec["parse_status"] for rec in one["records"]} == {"ok"}
    assert len({len(rec["correction_steps"]) for rec in one["records"]}) > 1  # VIC steps differ by image
    for kind in ("predict", "VIG", "VIC"):
        batches = [c["texts"] for c in one["calls"] if c["kind"] == kind]
        mine = [[c["texts"] for c in got["calls"] if c["kind"] == kind] for got in ranks]
        assert all(mine), kind  # both ranks did some of the work
        # The ranks' batches are one process's batches, each run once: rank 0 takes the even
        # ones and rank 1 the odd ones (of each VIG pass and each VIC step).
        assert sorted(mine[0] + mine[1]) == sorted(batches), kind
    pred = [c["texts"] for c in one["calls"] if c["kind"] == "predict"]
    assert [c["texts"] for c in ranks[0]["calls"] if c["kind"] == "predict"] == pred[0::2]
    assert [c["texts"] for c in ranks[1]["calls"] if c["kind"] == "predict"] == pred[1::2]


def test_launch_checks(monkeypatch):
    cfg = StudyConfig.model_validate({"name": "t"})
    two = DistEnv(0, 2, 0)
    check_job(cfg, DistEnv(0, 1, 0), 4)  # no launcher: workers are fine
    with pytest.raises(BadConfig, match="--jobs 2"):
        check_job(cfg, two, 2)
    assert ("targets[llava].finetune.batch", 32) in training_batches(cfg)


def _clear(monkeypatch):
    for k in LAUNCH:
        monkeypatch.delenv(k, raising=False)


def test_cli_refuses_world_size_without_master_addr(monkeypatch, tmp_path, capsys):
    _clear(monkeypatch)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert run_cli("run", "--preset", "smoke", "--out", str(tmp_path / "r"), "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "MASTER_ADDR" in err, err
    assert not (tmp_path / "r").exists()


def test_cli_refuses_a_batch_that_does_not_divide(monkeypatch, tmp_path, capsys):
    _clear(monkeypatch)
    for k, v in {"WORLD_SIZE": "3", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": "29511"}.items():
        monkeypatch.setenv(k, v)
    # Nothing is joined or written: the check comes before the process group and the run directory.
    assert run_cli("run", "--preset", "smoke", "--out", str(tmp_path / "r"), "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "do not divide over 3 processes" in err, err
    assert not (tmp_path / "r").exists()
