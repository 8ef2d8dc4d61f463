"""Stages `bench-files` (write official benchmark files from the world), `predict` and `score`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from harness.core.config import Section
from harness.core.errors import BadInput
from harness.core.io import read_jsonl, write_jsonl
from harness.core.records import MANIFEST, RESULTS_FILE, SAMPLES_FILE, ResultRecord, SampleRecord, WorldLayout
from harness.stages.runner import StageContext, StageOutput, StageSpec
from harness.world.export import read_scenes

VERSION = 2  # 2: score writes samples.jsonl


class BenchFilesConfig(Section):
    """The benchmarks whose official files are written, and the seed they are drawn with."""

    benchmarks: tuple[str, ...]
    seed: int


class BenchFilesResult(Section):
    """Per benchmark and split, its data files: relative to the stage folder (which is renamed
    when it finishes) where the stage wrote them, absolute where the world provides them."""

    files: dict[str, dict[str, list[str]]]


class PredictStageConfig(Section):
    """One benchmark answered by one model: inference settings, and a label for progress bars."""

    benchmark: str
    blind: bool
    batch_size: int
    num_beams: int
    label: str
    rank: bool = False  # multiple-choice items by the rank protocol (`harness.stages.predict`)


class PredictResult(Section):
    """The prediction file of each split, relative to the stage folder, and whether its
    multiple-choice items were ranked (the protocol its scores record)."""

    predictions: dict[str, str]
    ranked: bool = False


class ScoreStageConfig(Section):
    """Whose predictions these are, the bootstrap resamples for intervals, and their seed."""

    benchmark: str
    target: str
    source: str
    bootstrap: int
    seed: int


class ScoreStageResult(Section):
    """Result rows and per-item samples written, and the protocol's notes per split."""

    rows: int
    samples: int
    notes: dict[str, Any]


def run_bench_files(ctx: StageContext[BenchFilesConfig]) -> BenchFilesResult:
    """Each benchmark's official files: the ones the world provides (a files world), else
    synthesized from the held-out world split's scenes."""
    from harness.stages.world import WORLD

    world = ctx.input_path("world")
    provided = WORLD.read(ctx.inputs["world"]).benchmark_files
    files = {name: provided[name] for name in ctx.config.benchmarks if name in provided}
    todo = tuple(name for name in ctx.config.benchmarks if name not in provided)
    if todo:
        written = write_bench_files(world, todo, ctx.config.seed, ctx.out_dir)
        # Relative paths: the stage directory is renamed when it finishes.
        files.update({name: {split: [str(Path(p).resolve().relative_to(ctx.out_dir.resolve())) for p in ps]
                             for split, ps in per_split.items()} for name, per_split in written.items()})
    return BenchFilesResult(files={name: files[name] for name in ctx.config.benchmarks})


def write_bench_files(world: Path, benchmarks: tuple[str, ...], seed: int, out: Path) -> dict[str, dict[str, list[Path]]]:
    """Synthesize the official files of `benchmarks` from the bench split of the world folder
    `world` into `out/<benchmark>/`; the files per benchmark and split."""
    layout = WorldLayout(world)
    if not layout.scenes("bench").is_file():
        raise BadInput(f"benchmarks {', '.join(benchmarks)}: the world provides no files for them and has no bench "
                       f"scenes to draw them from (world.benchmark_files)")
    scenes = read_scenes(world, "bench")
    return {name: BENCHMARKS.get(name)().synthesize(scenes, layout.images, out / name, seed) for name in benchmarks}


def bench_files(bench_out: StageOutput, name: str) -> dict[str, list[Path]]:
    """Absolute data files per split of benchmark `name` from a finished bench-files stage (its
    relative paths resolve against the stage folder; a files world's are absolute already)."""
    return {split: [bench_out.path / p for p in ps] for split, ps in BENCH_FILES.read(bench_out).files[name].items()}


def run_predict(ctx: StageContext[PredictStageConfig]) -> PredictResult:
    """Answer every item of one benchmark (all splits) with one finetuned model."""
    from harness.models.adapter import load_vlm
    from harness.stages.predict import predict_items
    from harness.training import distributed

    c = ctx.config
    bench = BENCHMARKS.get(c.benchmark)()
    # float32 on every device (see run_vigc_generate): the device is not part of the key.
    vlm = load_vlm(ctx.input_path("model") / "model", ctx.device)
    world = ctx.input_path("world")
    written = {}
    for split, files in bench_files(ctx.inputs["bench"], c.benchmark).items():
        items = bench.load(files, image_root=WorldLayout(world).images)
        # Under torchrun every rank runs this stage (it is collective) and answers its share
        # of the batches; each gets every answer, and rank 0's file is the stage's output.
        answers = predict_items(vlm, items, c.batch_size, c.num_beams, blind=c.blind,
                                progress=ctx.progress, description=f"predict {c.label} {c.benchmark}/{split}",
                                split=distributed.batch_split(), rank=c.rank)
        pred = ctx.out_dir / f"{split}.predictions"
        bench.write_predictions(items, answers, pred)
        written[split] = pred.name
    return PredictResult(predictions=written, ranked=c.rank)


def run_score(ctx: StageContext[ScoreStageConfig]) -> ScoreStageResult:
    """Score predictions by the official protocol, with bootstrap CIs, as result records.

    Also writes samples.jsonl: one `SampleRecord` per item (prompt, raw answer, extracted
    answer, score), for examples in reports, cluster bootstraps and paired tests.
    """
    from harness.core.stats import bootstrap_many

    c = ctx.config
    bench = BENCHMARKS.get(c.benchmark)()
    files = bench_files(ctx.inputs["bench"], c.benchmark)
    rows: list[ResultRecord] = []
    samples: list[SampleRecord] = []
    notes = {}
    images = _ImageRefs(ctx.out_dir)
    world_images = _world_images(ctx)
    predicted = PREDICT.read(ctx.inputs["pred"])
    for split, pred_name in predicted.predictions.items():
        res = bench.score(files[split], ctx.input_path("pred") / pred_name)
        protocol = f"{res.protocol}+rank" if predicted.ranked else res.protocol
        cis = bootstrap_many(res.outcomes, bench.aggregate, c.bootstrap, c.seed)
        for metric, value in res.metrics.items():
            lo, hi = cis.get(metric, (None, None))
            rows.append(ResultRecord(target=c.target, source=c.source, benchmark=c.benchmark, split=split,
                                     metric=metric, value=round(value, 2), ci_low=None if lo is None else round(lo, 2),
                                     ci_high=None if hi is None else round(hi, 2), n=res.n, protocol=protocol))
        items = {it.id: it for it in bench.load(files[split], image_root=world_images)}
        for s in bench.item_scores(files[split], ctx.input_path("pred") / pred_name, res):
            it = items.get(s.id)
            ref, sha = images.ref(it.image if it is not None else None)
            samples.append(SampleRecord(
                target=c.target, source=c.source, benchmark=c.benchmark, split=split, item_id=s.id,
                group=s.group, categories=s.categories, prompt=it.prompt if it is not None else "",
                prediction=s.prediction, extracted=s.extracted, reference=s.reference, metric=bench.primary_metric,
                score=s.score, weight=s.weight, image=ref, image_sha256=sha))
        notes[split] = res.notes
    write_jsonl(ctx.out_dir / RESULTS_FILE, rows)
    write_jsonl(ctx.out_dir / SAMPLES_FILE, samples)
    return ScoreStageResult(rows=len(rows), samples=len(samples), notes=notes)


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


def read_results(score_out: StageOutput) -> list[ResultRecord]:
    """The result records of a finished score stage."""
    return read_jsonl(score_out.path / RESULTS_FILE, ResultRecord)


BENCH_FILES = StageSpec("bench-files", VERSION, run_bench_files, BenchFilesConfig, BenchFilesResult, inputs=("world",),
                        cost=1)
PREDICT = StageSpec("predict", VERSION, run_predict, PredictStageConfig, PredictResult, inputs=("model", "bench", "world"),
                    collective=True, cost=5)  # under torchrun the ranks share the batches
SCORE = StageSpec("score", VERSION, run_score, ScoreStageConfig, ScoreStageResult, inputs=("pred", "bench"),
                  cost=1)
