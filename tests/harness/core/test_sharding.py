"""generate --shard i/n and merge: the merge of all shards is the unsharded run; gaps are errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.errors import BadInput
from harness.core.sharding import parse_shard, take_shard


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("w") / "world"
    assert cli("world", "--out", str(w), "--images", "7").returncode == 0
    return w


def _gen(world: Path, out: Path, shard: str, gen: str = "language_only") -> subprocess.CompletedProcess:
    return cli("generate", gen, "--images", str(world), "--split", "extra", "--out", str(out), "--shard", shard)


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines()]


def test_parse_shard():
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "1", "-1/2", "a/b", "0/0"):
        with pytest.raises(BadInput):
            parse_shard(bad)
    assert take_shard(list(range(7)), (1, 3)) == [1, 4]


def test_merge_of_all_shards_equals_unsharded(world, tmp_path):
    assert _gen(world, tmp_path / "all.jsonl", "0/1").returncode == 0
    for i in range(3):
        r = _gen(world, tmp_path / f"s{i}.jsonl", f"{i}/3")
        assert r.returncode == 0, r.stderr
    r = cli("merge", *(str(tmp_path / f"s{i}.jsonl") for i in (2, 0, 1)), "--out", str(tmp_path / "m.jsonl"))
    assert r.returncode == 0, r.stderr
    key = lambda d: d["id"]  # noqa: E731
    assert sorted(_lines(tmp_path / "m.jsonl"), key=key) == sorted(_lines(tmp_path / "all.jsonl"), key=key)
    assert json.loads((tmp_path / "m.jsonl.llava.json").read_text())


def test_missing_shard_is_a_clear_error(world, tmp_path):
    for i in (0, 2):
        assert _gen(world, tmp_path / f"s{i}.jsonl", f"{i}/3").returncode == 0
    r = cli("merge", str(tmp_path / "s0.jsonl"), str(tmp_path / "s2.jsonl"), "--out", str(tmp_path / "m.jsonl"))
    assert r.returncode == 2
    assert "1/3 missing" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "m.jsonl").exists()


def test_incomplete_shard_is_refused(world, tmp_path):
    for i in (0, 1):
        assert _gen(world, tmp_path / f"s{i}.jsonl", f"{i}/2").returncode == 0
    (tmp_path / "s1.jsonl.shard.json").unlink()  # as if killed before it finished
    r = cli("merge", str(tmp_path / "s0.jsonl"), str(tmp_path / "s1.jsonl"), "--out", str(tmp_path / "m.jsonl"))
    assert r.returncode == 2 and "incomplete" in r.stderr


def test_shards_of_different_runs_do_not_mix(world, tmp_path):
    assert _gen(world, tmp_path / "a.jsonl", "0/2").returncode == 0
    assert _gen(world, tmp_path / "b.jsonl", "1/2", gen="gold").returncode == 0
    r = cli("merge", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--out", str(tmp_path / "m.jsonl"))
    assert r.returncode == 2 and "different runs" in r.stderr


def test_generated_llava_json_loads_with_datasets(world, tmp_path):
    pytest.importorskip("datasets")
    assert _gen(world, tmp_path / "g.jsonl", "0/1", gen="gold").returncode == 0
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(tmp_path / "g.jsonl.llava.json"), split="train")
    assert len(ds) > 0 and set(ds.column_names) == {"id", "image", "conversations"}
    first = ds[0]["conversations"]
    assert first[0]["from"] == "human" and "<image>" in first[0]["value"] and first[1]["from"] == "gpt"
