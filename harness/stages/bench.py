"""Stages `bench-files` (write official benchmark files from the world), `predict` and `score`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from harness.core.io import read_jsonl, write_jsonl
from harness.core.records import MANIFEST, RESULTS_FILE, SAMPLES_FILE, ResultRecord, SampleRecord, WorldLayout
from harness.stages.runner import StageContext
from harness.world.export import read_scenes

VERSION = 2  # 2: score writes samples.jsonl


def run_bench_files(ctx: StageContext) -> dict[str, Any]:
    """Synthesize each benchmark's official files from the held-out world split."""
    world = ctx.input_path("world")
    scenes = read_scenes(world, "bench")
    files: dict[str, dict[str, list[str]]] = {}
    for name in ctx.config["benchmarks"]:
        bench = BENCHMARKS.get(name)()
        out = ctx.out_dir / name
        per_split = bench.synthesize(scenes, WorldLayout(world).images, out, ctx.config["seed"])
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
    from harness.stages.predict import predict_items

    c = ctx.config
    bench = BENCHMARKS.get(c["benchmark"])()
    vlm = load_vlm(ctx.input_path("model") / "model")
    world = ctx.input_path("world")
    written = {}
    for split, files in bench_files(ctx.inputs["bench"], c["benchmark"]).items():
        items = bench.load(files, image_root=WorldLayout(world).images)
        answers = predict_items(vlm, items, c["batch_size"], c["num_beams"], blind=c.get("blind", False),
                                progress=ctx.progress, description=f"predict {c['label']} {c['benchmark']}/{split}")
        pred = ctx.out_dir / f"{split}.predictions"
        bench.write_predictions(items, answers, pred)
        written[split] = pred.name
    return {"predictions": written}


def run_score(ctx: StageContext) -> dict[str, Any]:
    """Score predictions by the official protocol, with bootstrap CIs, as result records.

    Also writes samples.jsonl: one `SampleRecord` per item (prompt, raw answer, extracted
    answer, score), for examples in reports, cluster bootstraps and paired tests.
    """
    from harness.core.stats import bootstrap_many

    c = ctx.config
    bench = BENCHMARKS.get(c["benchmark"])()
    files = bench_files(ctx.inputs["bench"], c["benchmark"])
    rows: list[ResultRecord] = []
    samples: list[SampleRecord] = []
    notes = {}
    images = _ImageRefs(ctx.out_dir)
    world_images = _world_images(ctx)
    for split, pred_name in ctx.inputs["pred"].meta["predictions"].items():
        res = bench.score(files[split], ctx.input_path("pred") / pred_name)
        cis = bootstrap_many(res.outcomes, bench.aggregate, c["bootstrap"], c["seed"])
        for metric, value in res.metrics.items():
            lo, hi = cis.get(metric, (None, None))
            rows.append(ResultRecord(target=c["target"], source=c["source"], benchmark=c["benchmark"], split=split,
                                     metric=metric, value=round(value, 2), ci_low=None if lo is None else round(lo, 2),
                                     ci_high=None if hi is None else round(hi, 2), n=res.n, protocol=res.protocol))
        items = {it.id: it for it in bench.load(files[split], image_root=world_images)}
        for s in bench.item_scores(files[split], ctx.input_path("pred") / pred_name, res):
            it = items.get(s.id)
            ref, sha = images.ref(it.image if it is not None else None)
            samples.append(SampleRecord(
                target=c["target"], source=c["source"], benchmark=c["benchmark"], split=split, item_id=s.id,
                group=s.group, categories=s.categories, prompt=it.prompt if it is not None else "",
                prediction=s.prediction, extracted=s.extracted, reference=s.reference, metric=bench.primary_metric,
                score=s.score, weight=s.weight, image=ref, image_sha256=sha))
        notes[split] = res.notes
    write_jsonl(ctx.out_dir / RESULTS_FILE, rows)
    write_jsonl(ctx.out_dir / SAMPLES_FILE, samples)
    return {"rows": len(rows), "samples": len(samples), "notes": notes}


class _ImageRefs:
    """Image references for samples, relative to the score stage's folder.

    A file (POPE, ScienceQA) is referred to where it lies: every stage folder sits in the same
    cache, so a relative path survives the stage folder's rename and a moved cache. Image
    bytes (MMBench's base64 cells) are written once each into `images/`, named by content.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._seen: dict[str | bytes, tuple[str | None, str]] = {}

    def ref(self, image: str | bytes | None) -> tuple[str | None, str]:
        """(path relative to the stage folder or None, sha256 or "") of an item's image."""
        if image is None:
            return None, ""
        if image not in self._seen:
            self._seen[image] = self._make(image)
        return self._seen[image]

    def _make(self, image: str | bytes) -> tuple[str | None, str]:
        from harness.core.io import atomic_write_bytes, sha256_bytes

        if isinstance(image, bytes):
            sha = sha256_bytes(image)
            ext = ".png" if image.startswith(b"\x89PNG") else ".jpg" if image.startswith(b"\xff\xd8") else ".bin"
            name = f"images/{sha[:16]}{ext}"
            atomic_write_bytes(self.out_dir / name, image)
            return name, sha
        path = Path(image)
        if not path.is_file():
            return None, ""
        return os.path.relpath(path.resolve(), self.out_dir.resolve()), sha256_bytes(path.read_bytes())


def _world_images(ctx: StageContext) -> Path | None:
    """The world's image folder, found through the predict stage's manifest (the score stage
    has no world input of its own; stage folders of one cache are siblings)."""
    from harness.core.io import read_json
    from harness.stages.runner import _dir_name

    pred = ctx.input_path("pred")
    key = read_json(pred / MANIFEST).get("inputs", {}).get("world") if (pred / MANIFEST).is_file() else None
    folder = WorldLayout(pred.parent / _dir_name("world", key)).images if key else None
    return folder if folder is not None and folder.is_dir() else None


def read_results(score_out: Any) -> list[ResultRecord]:
    """The result records of a finished score stage."""
    return read_jsonl(score_out.path / RESULTS_FILE, ResultRecord)
