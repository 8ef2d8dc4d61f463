"""The scoring commands: score prediction or review files, measure data quality, render a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from harness.core.errors import BadInput, MissingResource

if TYPE_CHECKING:
    from benchmarks.base import ScoreResult
    from harness.core.records import GenerationRecord, QualityRecord


def benchmark_judge(benchmark: str, url: str | None, model: str | None, key_env: str | None = None,
                    cache: str | None = None, rpm: float | None = None) -> Any:
    """An LLM judge (OpenAI-compatible endpoint) built by the benchmark itself: MMBench's for the
    answers its heuristics cannot read, LLaVA-Bench's reviewer. Other benchmarks take none."""
    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    if not hasattr(cls, "build_judge"):
        raise BadInput(f"--judge-* options: {benchmark} has no LLM judge (mmbench and llava_bench have)")
    return cls.build_judge(url, model, key_env, cache, rpm)


def score_reviews(benchmark: str, reviews: Path, judge_model: str | None = None,
                  protocol: str | None = None) -> ScoreResult[Any]:
    """Summarize a review file judged elsewhere (LLaVA-Bench's `question_id, category, content,
    tuple` lines) by the benchmark's protocol."""
    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    if not hasattr(cls, "score_reviews"):
        raise BadInput(f"--reviews: {benchmark} has no review files (llava_bench has)")
    if not Path(reviews).is_file():
        raise MissingResource(f"{reviews}: file not found")
    return cls(**({} if protocol is None else {"protocol": protocol})).score_reviews(Path(reviews), judge=judge_model)


def score_files(benchmark: str, data: Sequence[Path], predictions: Path, split: str | None = None,
                judge: Any = None, protocol: str | None = None, reviews_out: Path | None = None) -> ScoreResult[Any]:
    """Score a prediction file against a benchmark's official files by the official protocol
    (metrics 0-100, per-item outcomes, n, protocol). `protocol` names an alternative where the
    benchmark offers one; `reviews_out` (LLaVA-Bench) also writes the judge's reviews."""
    import inspect

    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    params = inspect.signature(cls).parameters
    for option, value, param in (("--split", split, "split"), ("--protocol", protocol, "protocol")):
        if value is not None and param not in params:
            raise BadInput(f"{option} is not an option of {benchmark}")
    if judge is not None and "judge" not in params:
        raise BadInput(f"--judge-* options: {benchmark} has no LLM judge (mmbench and llava_bench have)")
    kwargs: dict[str, Any] = {k: v for k, v in (("split", split), ("protocol", protocol), ("judge", judge))
                              if v is not None}
    bench = cls(**kwargs)
    if reviews_out is not None and not hasattr(bench, "write_reviews"):
        raise BadInput(f"--reviews-out: {benchmark} writes no reviews (llava_bench does)")
    for p in (*data, predictions):
        if not Path(p).is_file():
            raise MissingResource(f"{p}: file not found")
    res = bench.score([Path(p) for p in data], Path(predictions))
    if reviews_out is not None:
        bench.write_reviews(res, Path(reviews_out))
    return res


@dataclass(frozen=True)
class QualityReport:
    """Data-quality rows of a dataset, with the notes the metrics raised and the records read."""

    rows: list[QualityRecord]
    notes: list[str]
    records: int


def measure_quality(file: Path, world: Path | None = None, split: str | None = None,
                    references: Path | None = None, data_type: str = "conversation", source: str | None = None,
                    n_boot: int = 1000, seed: int = 0, meteor: bool = True, instances: Sequence[Path] = (),
                    captions: Sequence[Path] = ()) -> QualityReport:
    """Data-quality metrics of a dataset (generation records or LLaVA JSON), with 95% CIs; with
    `world`, against its ground truth; with references (or the world's captions), caption metrics;
    with COCO `instances` (and `captions`), CHAIR-style hallucination and coverage against them."""
    import warnings

    from harness.quality.metrics import quality_metrics
    from harness.quality.readers import load_dataset, load_references, load_scenes, scene_index, world_references
    from harness.quality.text import QualityNote

    if captions and not instances:
        raise BadInput("--captions needs --instances (the COCO instances file they go with)")
    records = load_dataset(file, data_type)
    scenes = load_scenes(world, split) if world else None
    if scenes is not None:
        index = scene_index(scenes)
        if not any(index.get(r.image) is not None for r in records):
            where = f"split {split!r} of {world}" if split else world
            raise BadInput(f"{file}: none of its images is in the scenes of {where}")
    refs = load_references(references) if references else (world_references(world, split) or None) if world else None
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QualityNote)
        rows = quality_metrics(records, scenes, refs, source=source or Path(file).stem, n_boot=n_boot, seed=seed,
                               meteor=meteor)
    for w in caught:
        if issubclass(w.category, QualityNote):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if instances:
        rows = _coco_quality(records, Path(file), instances, captions, rows, source or Path(file).stem, n_boot, seed)
    return QualityReport(rows, notes, len(records))


def _coco_quality(records: Sequence[GenerationRecord], file: Path, instances: Sequence[Path],
                  captions: Sequence[Path], rows: list[QualityRecord], source: str, n_boot: int,
                  seed: int) -> list[QualityRecord]:
    """`rows` with the COCO object metrics of each data type added to its group."""
    from benchmarks.chair import mentions, read_coco_objects
    from harness.quality.coco import ImageObjects, coco_object_metrics, image_ids, merge_rows

    coco = read_coco_objects([Path(p) for p in instances], [Path(p) for p in captions])
    ids = image_ids(records, coco.images, file, Path(instances[0]))
    objects = {image: ImageObjects(frozenset(coco.segment_objects.get(i, ())), frozenset(coco.truth(i)))
               for image, i in ids.items()}
    coco_rows = coco_object_metrics(records, objects, lambda text: [c for _, c in mentions(text, coco.vocab)],
                                    source, n_boot, seed)
    return merge_rows(rows, coco_rows)


def render_report(run_dir: Path, fmt: str = "md") -> str:
    """A run directory's report as markdown or one self-contained HTML page."""
    from reports.run_data import load_run

    run = load_run(run_dir)
    title = f"vigc-bench report: {run.name}"
    if fmt == "html":
        from reports.html import render_html

        return render_html(run, title)
    from reports.markdown import render_run_markdown

    return render_run_markdown(run, title)
