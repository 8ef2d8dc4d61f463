"""Per-sample views: every registered benchmark's item scores reproduce its primary metric,
and the score stage writes them as `SampleRecord`s."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.base import primary_from_items
from harness.world.export import read_scenes, write_world

COUNTS = {"foundation": 1, "seed": 1, "extra": 1, "bench": 16}
ROUNDING = {"llava_bench": 0.1}
ANSWERS = ["A", "B", "C", "yes", "no", "Yes, there is.", "The answer is B.", "a circle", "3", "", "red square"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples-world")
    write_world(out, 4, COUNTS)
    return out


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_item_scores_reproduce_the_primary_metric(name: str, world: Path, tmp_path: Path) -> None:
    bench = BENCHMARKS.get(name)()
    per_split = bench.synthesize(read_scenes(world, "bench"), world / "images", tmp_path, 5)
    rng = random.Random(name)
    for split, files in per_split.items():
        items = bench.load(files, image_root=world / "images")
        answers = [rng.choice(ANSWERS) for _ in items]
        pred = tmp_path / f"{split}.pred"
        bench.write_predictions(items, answers, pred)
        res = bench.score(files, pred)
        views = bench.item_scores(files, pred, res)
        assert views, f"{name}: no per-item view"
        ids = {it.id for it in items}
        assert all(v.id in ids for v in views), "item ids must match the items asked"
        assert all(0.0 <= v.score <= 1.0 and v.weight >= 0 for v in views)
        # OK-VQA rounds its metrics to two decimals, as the official script; LLaVA-Bench's summary
        # rounds both means to three decimals and their ratio to one.
        tol = ROUNDING.get(name, 0.006)
        assert primary_from_items(views) == pytest.approx(res.metrics[bench.primary_metric], abs=tol), name


def test_mmbench_passes_share_their_question_group(world: Path, tmp_path: Path) -> None:
    bench = BENCHMARKS.get("mmbench")()
    files = bench.synthesize(read_scenes(world, "bench"), world / "images", tmp_path, 5)["dev"]
    items = bench.load(files)
    pred = tmp_path / "p.jsonl"
    bench.write_predictions(items, ["A"] * len(items), pred)
    views = bench.item_scores(files, pred, bench.score(files, pred))
    assert len(views) == len(items)
    groups = {v.group for v in views}
    assert len(groups) < len(views) and all(int(v.id) % 1_000_000 == int(v.group) for v in views)
    assert all(v.categories and v.extracted == "A" for v in views)


def test_score_stage_writes_samples(world: Path, tmp_path: Path) -> None:
    """run_score on hand-made stage outputs: samples.jsonl with prompts, answers and image refs."""
    import shutil

    from harness.core.io import read_jsonl, write_json
    from harness.core.records import SAMPLES_FILE as SAMPLES
    from harness.stages.bench import ScoreStageConfig, run_score
    from harness.core.records import SampleRecord
    from harness.core.progress import silent_progress
    from harness.stages.runner import StageContext, StageOutput, _dir_name

    cache = tmp_path / "stages"
    wdir = cache / _dir_name("world", "w" * 64)
    shutil.copytree(world, wdir)
    bdir, pdir, sdir = cache / "bench", cache / "pred", cache / "score.partial"
    bench = BENCHMARKS.get("pope")()
    files = bench.synthesize(read_scenes(wdir, "bench"), wdir / "images", bdir / "pope", 5)
    meta = {"files": {"pope": {s: [str(p.relative_to(bdir)) for p in ps] for s, ps in files.items()}}}
    preds = {}
    for split, fs in files.items():
        items = bench.load(fs, image_root=wdir / "images")
        bench.write_predictions(items, ["<script>alert(1)</script> no"] * len(items), pdir / f"{split}.predictions")
        preds[split] = f"{split}.predictions"
    write_json(pdir / "manifest.json", {"inputs": {"world": "w" * 64}, "meta": {"predictions": preds}})
    sdir.mkdir()
    config = ScoreStageConfig(benchmark="pope", target="t", source="s", bootstrap=20, seed=0)
    ctx = StageContext("score/t/s/pope", "k", config,
                       {"bench": StageOutput("bench-files", "b", bdir, meta, True, 0.0),
                        "pred": StageOutput("predict", "p", pdir, {"predictions": preds}, True, 0.0)},
                       sdir, silent_progress)
    out = run_score(ctx)
    rows = read_jsonl(sdir / SAMPLES, SampleRecord)
    assert out.samples == len(rows) > 0
    assert {r.split for r in rows} == set(files)
    r = rows[0]
    assert r.target == "t" and r.source == "s" and r.metric == "accuracy" and r.extracted == "no"
    assert r.prediction.startswith("<script>") and r.prompt.startswith("Is there")
    # Image paths are relative to the stage folder and survive its rename.
    sdir.rename(cache / "score-final")
    assert (cache / "score-final" / r.image).is_file() and len(r.image_sha256) == 64
    # Scores of predictions made by the rank protocol say so.
    from harness.core.records import RESULTS_FILE, ResultRecord

    assert {r.protocol for r in read_jsonl(cache / "score-final" / RESULTS_FILE, ResultRecord)} == {"official"}
    ranked = cache / "score-ranked.partial"
    ranked.mkdir()
    ctx = StageContext("score/t/s/pope", "k", config,
                       {"bench": StageOutput("bench-files", "b", bdir, meta, True, 0.0),
                        "pred": StageOutput("predict", "p", pdir, {"predictions": preds, "ranked": True}, True, 0.0)},
                       ranked, silent_progress)
    run_score(ctx)
    assert {r.protocol for r in read_jsonl(ranked / RESULTS_FILE, ResultRecord)} == {"official+rank"}
