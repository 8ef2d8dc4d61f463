"""Stages `bench-files` (write official benchmark files from the world), `predict` and `score`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from harness.io import read_jsonl, write_jsonl
from harness.records import ResultRecord
from harness.stages import StageContext
from harness.world.export import read_scenes

VERSION = 1


def run_bench_files(ctx: StageContext) -> dict[str, Any]:
    """Synthesize each benchmark's official files from the held-out world split."""
    world = ctx.input_path("world")
    scenes = read_scenes(world, "bench")
    files: dict[str, dict[str, list[str]]] = {}
    for name in ctx.config["benchmarks"]:
        bench = BENCHMARKS.get(name)()
        out = ctx.out_dir / name
        per_split = bench.synthesize(scenes, world / "images", out, ctx.config["seed"])
        # Relative paths: the stage directory is renamed when it finishes.
        files[name] = {split: [str(Path(p).resolve().relative_to(ctx.out_dir.resolve())) for p in ps]
                       for split, ps in per_split.items()}
    return {"files": files}


def bench_files(bench_out: Any, name: str) -> dict[str, list[Path]]:
    """Absolute data files per split of benchmark `name` from a finished bench-files stage."""
    return {split: [bench_out.path / p for p in ps] for split, ps in bench_out.meta["files"][name].items()}


def run_predict(ctx: StageContext) -> dict[str, Any]:
    """Answer every item of one benchmark (all splits) with one finetuned model."""
    from harness.models.adapter import load_vlm
    from harness.pipeline.features import feature_table

    c = ctx.config
    bench = BENCHMARKS.get(c["benchmark"])()
    vlm = load_vlm(ctx.input_path("model") / "model")
    world = ctx.input_path("world")
    written = {}
    for split, files in bench_files(ctx.inputs["bench"], c["benchmark"]).items():
        items = bench.load(files, image_root=world / "images")
        feats, rows = feature_table(vlm, [it.image for it in items], blind=c.get("blind", False))
        task = ctx.progress(f"predict {c['label']} {c['benchmark']}/{split}", len(items))
        answers: list[str] = []
        bs = c["batch_size"]
        # Similar prompt lengths batch together, which cuts padding; answers go back in order.
        order = sorted(range(len(items)), key=lambda i: len(items[i].prompt))
        out: dict[int, str] = {}
        for s in range(0, len(order), bs):
            idx = order[s:s + bs]
            texts = vlm.generate(feats[[rows[i] for i in idx]], [items[i].prompt for i in idx],
                                 max_new_tokens=max(items[i].max_new_tokens for i in idx), num_beams=c["num_beams"])
            out.update(zip(idx, texts))
            task.advance(len(idx))
        task.close()
        answers = [out[i] for i in range(len(items))]
        pred = ctx.out_dir / f"{split}.predictions"
        bench.write_predictions(items, answers, pred)
        written[split] = pred.name
    return {"predictions": written}


def run_score(ctx: StageContext) -> dict[str, Any]:
    """Score predictions by the official protocol, with bootstrap CIs, as result records."""
    from harness.stats import bootstrap_many

    c = ctx.config
    bench = BENCHMARKS.get(c["benchmark"])()
    files = bench_files(ctx.inputs["bench"], c["benchmark"])
    rows: list[ResultRecord] = []
    notes = {}
    for split, pred_name in ctx.inputs["pred"].meta["predictions"].items():
        res = bench.score(files[split], ctx.input_path("pred") / pred_name)
        cis = bootstrap_many(res.outcomes, bench.aggregate, c["bootstrap"], c["seed"])
        for metric, value in res.metrics.items():
            lo, hi = cis.get(metric, (None, None))
            rows.append(ResultRecord(target=c["target"], source=c["source"], benchmark=c["benchmark"], split=split,
                                     metric=metric, value=round(value, 2), ci_low=None if lo is None else round(lo, 2),
                                     ci_high=None if hi is None else round(hi, 2), n=res.n, protocol=res.protocol))
        notes[split] = res.notes
    write_jsonl(ctx.out_dir / "results.jsonl", rows)
    return {"rows": len(rows), "notes": notes}


def read_results(score_out: Any) -> list[ResultRecord]:
    """The result records of a finished score stage."""
    return read_jsonl(score_out.path / "results.jsonl", ResultRecord)
