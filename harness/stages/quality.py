"""Stage `quality/<part>`: data-quality metrics of one data part (and VIC's paired effect)."""

from __future__ import annotations

from typing import Literal

from harness.core.config import Section
from harness.core.io import read_jsonl, write_json, write_jsonl
from harness.core.records import PART_QUALITY_FILE, RECORDS_FILE, VIC_EFFECT_FILE, GenerationRecord, QualityRecord
from harness.stages.runner import StageContext, StageOutput, StageSpec

VERSION = 1


class QualityStageConfig(Section):
    """One data part: its name and world split, which answer to measure, what to measure it with."""

    part: str
    split: str | None  # None: every split (a data file from outside the study may use any image)
    answer: Literal["final", "vig"]  # the records' corrected answer, or their VIG answer (seed+vig)
    ground_truth: bool  # the world has scene files (embedded): claims and hallucination are measured
    meteor: bool
    bootstrap: int
    seed: int


class QualityStageResult(Section):
    """Quality rows written, and whether VIC's paired effect was measured (vic_effect.json)."""

    rows: int
    vic_effect: bool = False


def run_quality(ctx: StageContext[QualityStageConfig]) -> QualityStageResult:
    """Metrics of the part's records against the world's ground truth and captions."""
    from harness.quality.metrics import quality_metrics
    from harness.quality.readers import load_scenes, world_references
    from harness.quality.vic_effect import vic_effect
    from harness.world.export import read_scenes

    c = ctx.config
    data = ctx.input_path("data")
    records = read_jsonl(data / RECORDS_FILE, GenerationRecord)
    if c.answer == "vig":
        records = [r.model_copy(update={"answer": r.vig_answer}) for r in records]
    world = ctx.input_path("world")
    scenes = (read_scenes(world, c.split) if c.split else load_scenes(world)) if c.ground_truth else None
    refs = world_references(world, c.split)
    rows = quality_metrics(records, scenes=scenes, references=refs, source=c.part, n_boot=c.bootstrap,
                           seed=c.seed, meteor=c.meteor)
    write_jsonl(ctx.out_dir / PART_QUALITY_FILE, rows)
    if c.answer == "final" and scenes is not None and any(r.vig_answer for r in records):
        effect = vic_effect(records, scenes, n_boot=c.bootstrap, seed=c.seed)
        write_json(ctx.out_dir / VIC_EFFECT_FILE, effect)
        return QualityStageResult(rows=len(rows), vic_effect=True)
    return QualityStageResult(rows=len(rows))


def read_quality(out: StageOutput) -> list[QualityRecord]:
    """The quality records of a finished quality stage."""
    return read_jsonl(out.path / PART_QUALITY_FILE, QualityRecord)


QUALITY = StageSpec("quality", VERSION, run_quality, QualityStageConfig, QualityStageResult, inputs=("data", "world"),
                    cost=6)
