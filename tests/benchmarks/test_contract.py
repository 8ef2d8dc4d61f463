"""The contract every registered benchmark keeps: a new benchmark is tested by registering it.

Synthesize from the world -> load -> prompts -> write predictions -> score, twice: with empty
answers (everything the scorer can count wrong) and with answers read off the ground truth
where the benchmark exposes it; the aggregate of the per-item outcomes must reproduce the
reported metrics, since bootstrap confidence intervals resample those outcomes.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.base import BenchItem
from harness.world.export import read_scenes, write_world

COUNTS = {"foundation": 1, "seed": 1, "extra": 1, "bench": 24}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("contract-world")
    write_world(out, 3, COUNTS)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_round_trip(name: str, world: Path, tmp_path: Path) -> None:
    cls = BENCHMARKS.get(name)
    bench = cls()
    assert isinstance(bench.primary_metric, str) and bench.protocol
    scenes = read_scenes(world, "bench")
    per_split = bench.synthesize(scenes, world / "images", tmp_path / "a", 5)
    assert per_split, "synthesize wrote no split"
    # Deterministic in the seed: the same call writes the same bytes.
    bench.synthesize(scenes, world / "images", tmp_path / "b", 5)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    for split, files in per_split.items():
        items = bench.load(files, image_root=world / "images")
        assert items, f"{name}/{split}: no items"
        assert all(isinstance(it, BenchItem) and it.prompt.strip() for it in items)
        assert len({it.id for it in items}) == len(items), "item ids must be unique"
        # A multiple-choice benchmark gives every item what the rank protocol scores (its
        # choices, in the prompt's letter order, and the question they answer); others give none.
        if bench.multiple_choice:
            assert all(len(it.choices) >= 2 and it.rank_prompt.strip() for it in items)
            assert all(f"A. {it.choices[0]}" in it.prompt for it in items)
        else:
            assert not any(it.choices or it.rank_prompt for it in items)
        pred = tmp_path / f"{split}.pred"
        bench.write_predictions(items, [""] * len(items), pred)
        res = bench.score(files, pred)
        assert res.n > 0 and res.protocol
        assert bench.primary_metric in res.metrics, (name, sorted(res.metrics))
        for k, v in res.metrics.items():
            assert isinstance(v, float) and math.isfinite(v), (k, v)
        again = bench.aggregate(res.outcomes)
        assert again.keys() == res.metrics.keys()
        assert all(abs(again[k] - res.metrics[k]) < 1e-9 for k in again)


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_unknown_benchmark_file_is_a_clear_error(name: str, tmp_path: Path) -> None:
    """A data file that does not exist or is not the benchmark's format raises, never scores."""
    from harness.core.errors import VigcError

    bench = BENCHMARKS.get(name)()
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3]")
    pred = tmp_path / "pred.json"
    pred.write_text("[]")
    with pytest.raises(VigcError):
        bench.score([junk], pred)
