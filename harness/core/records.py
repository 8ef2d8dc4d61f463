"""Typed, frozen records that stages exchange as JSONL. Every field is documented here.

Records are pydantic models with `extra="forbid"`, so a misspelt field in a file is an error,
not a silently ignored key. Each JSONL file that holds records carries `schema` on each line
only where the format is ours; official formats (LLaVA JSON, benchmark files) stay official.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

# --- file names: spelled here only ---------------------------------------------------------

# The run directory (DESIGN §5).
MANIFEST = "manifest.json"  # also every stage folder's: written last, so it vouches for the rest
RESULTS_FILE = "results.jsonl"  # ResultRecord lines (also in each score stage's folder)
QUALITY_FILE = "data_quality.jsonl"  # QualityRecord lines
COMPARISONS_FILE = "comparisons.jsonl"  # ComparisonRecord lines: each source against a baseline source
VIC_EFFECT_FILE = "vic_effect.json"  # VIC against VIG on the same questions (also the quality stage's)
REPORT_FILES = ("report.md", "report.html")
# Stage folders.
SAMPLES_FILE = "samples.jsonl"  # a score stage's SampleRecord lines
RECORDS_FILE = "records.jsonl"  # a data stage's GenerationRecord lines
LLAVA_FILE = "llava.json"  # a data stage's conversations in LLaVA's JSON format
PART_QUALITY_FILE = "quality.jsonl"  # a quality stage's QualityRecord lines
TRAIN_LOG = "train_log.json"  # a training stage's losses and counts

# The data source every other is compared with: the language-only data on the seed images.
# It is also the name of that data part, which every source includes.
BASELINE_SOURCE = "seed"


class WorldLayout:
    """Where a world folder keeps its images, ground-truth scenes and COCO annotations, per split."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def images(self) -> Path:
        """The image root: LLaVA JSON `image` fields and COCO `file_name`s are relative to it."""
        return self.root / "images"

    def scenes(self, split: str) -> Path:
        """The split's `Scene` lines (complete ground truth: the embedded world, or its files)."""
        return self.root / "scenes" / f"{split}.jsonl"

    def instances(self, split: str) -> Path:
        """The split's COCO `instances` JSON."""
        return self.root / "annotations" / f"instances_{split}.json"

    def captions(self, split: str) -> Path:
        """The split's COCO `captions` JSON."""
        return self.root / "annotations" / f"captions_{split}.json"

    def all_scenes(self) -> list[Path]:
        """Every split's `Scene` lines, sorted."""
        return sorted((self.root / "scenes").glob("*.jsonl"))

    def all_captions(self) -> list[Path]:
        """Every split's COCO `captions` JSON, sorted."""
        return sorted((self.root / "annotations").glob("captions_*.json"))


def stage_dir_in_manifest(run_dir: Path, stage_dir: Path) -> str:
    """How a manifest records a stage directory: relative to the run directory when inside it,
    so a run directory can be moved or copied whole; absolute otherwise (a shared --cache)."""
    run, stage = os.path.abspath(run_dir), os.path.abspath(stage_dir)
    return os.path.relpath(stage, run) if stage.startswith(run + os.sep) else stage


def stage_dir_from_manifest(run_dir: Path, recorded: str) -> Path:
    """The stage directory a manifest entry names, read against the run directory.

    A relative entry lies under the run directory. An absolute one from an older manifest that
    points into the run directory's original place is read from this run directory's own
    `stages/` when that holds a folder of the same name, so a copied run never reads the
    original's files.
    """
    p = Path(recorded)
    if not p.is_absolute():
        return Path(run_dir) / p
    local = Path(run_dir) / "stages" / p.name
    return local if local.is_dir() else p


class Record(BaseModel):
    """Base: frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- the embedded world -------------------------------------------------------------------


class SceneObject(Record):
    """One drawn object with its complete ground truth."""

    id: int = Field(description="index of the object within its scene")
    shape: str = Field(description="category name (a key of world.spec.SHAPES)")
    colour: str = Field(description="colour name (a key of world.spec.COLOURS)")
    size: Literal["small", "big"]
    row: int = Field(description="grid row, 0 = top")
    col: int = Field(description="grid column, 0 = left")
    bbox: tuple[float, float, float, float] = Field(description="x, y, w, h in pixels (COCO order)")
    cover: tuple[float, float, float, float] | None = Field(
        None, description="x, y, w, h of a grey occluder drawn over part of the object (None: fully visible)")

    @property
    def cx(self) -> float:
        """Horizontal centre in pixels."""
        return self.bbox[0] + self.bbox[2] / 2

    @property
    def cy(self) -> float:
        """Vertical centre in pixels."""
        return self.bbox[1] + self.bbox[3] / 2


class Scene(Record):
    """A whole image's ground truth: what the renderer drew, nothing left out."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    image_id: int
    file_name: str = Field(description="path relative to the world's image root")
    split: str = Field(description="world split: foundation, seed, extra or bench")
    width: int
    height: int
    grid: int = Field(description="cells per side of the layout grid")
    theme: str
    objects: tuple[SceneObject, ...]


# --- instruction data ---------------------------------------------------------------------


class Turn(Record):
    """One turn of a LLaVA conversation."""

    from_: Literal["human", "gpt"] = Field(alias="from")
    value: str


class Conversation(Record):
    """A LLaVA-format training sample: `<image>` appears in the first human turn. Without an
    image it is a text-only conversation (LLaVA-1.5's mix has 40K from ShareGPT): trained on
    the blank image, the input a text-only problem gets at prediction (`harness.stages.predict`)."""

    id: str
    image: str | None = Field(None, description="image path relative to the dataset's image folder; none: text only")
    conversations: tuple[Turn, ...]


class GenerationRecord(Record):
    """What a generator did for one (image, data type): prompt, raw output, parse, corrections."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    id: str
    image: str
    image_sha256: str = ""
    generator: str
    data_type: str
    prompt: str = Field(description="the instruction or request given to the generator")
    raw_output: str
    parse_status: Literal["ok", "no_question", "no_answer", "empty", "error"]
    question: str = ""
    answer: str = Field("", description="the answer that goes into the dataset (final answer)")
    vig_answer: str = Field("", description="the answer before correction (VIGC only)")
    correction_steps: tuple[str, ...] = Field(
        (), description="raw output of each VIC step (up to the first character of a second sentence, where VIC stops)")
    corruption: str = Field("", description="how a calibration source corrupted the answer "
                                            "(generators/noisy.py: attribute, object, swap); empty if untouched")


# --- results --------------------------------------------------------------------------------


class ResultRecord(Record):
    """One line of RUN_DIR/results.jsonl: a metric of a target trained on a source."""

    target: str
    source: str
    benchmark: str
    split: str
    metric: str
    value: float = Field(description="0-100 where the benchmark reports percentages")
    ci_low: float | None
    ci_high: float | None
    n: int
    protocol: str


class ComparisonRecord(Record):
    """One line of RUN_DIR/comparisons.jsonl: a source against a baseline source, same target,
    same items (a paired test), on one metric of one benchmark split (`split` "all": pooled).
    With `baseline_target` the baseline is another target's model on the same items: the
    untuned control (its source `none`), which shows what the instruction finetune adds."""

    target: str
    source: str
    baseline: str = Field(description="the source compared against (`seed`, or `seed+lang`; `none`: the untuned "
                                      "control's)")
    baseline_target: str | None = Field(None, description="the baseline's target when it is not `target` (the "
                                                          "untuned control of the same architecture)")
    benchmark: str
    split: str = Field(description="a split, or 'all' for the benchmark's splits pooled (the headline)")
    metric: str = Field(description="the benchmark's primary metric, or a category key of it")
    value: float = Field(description="the source's value, 0-100")
    baseline_value: float
    delta: float = Field(description="value - baseline_value on the paired units, 0-100 scale")
    ci_low: float | None = Field(description="95% paired bootstrap interval of delta (units resampled)")
    ci_high: float | None
    p_value: float = Field(description="two-sided, paired sign-flip permutation test")
    test: str = Field(description="how delta was tested")
    n: int = Field(description="paired units (items, or CircularEval questions)")
    higher_is_better: bool
    better: bool | None = Field(description="delta in the metric's good direction and p < 0.05; None: not significant")


class QualityRecord(Record):
    """One line of RUN_DIR/data_quality.jsonl: a data-quality metric of one data source."""

    source: str
    data_type: str
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


class SampleRecord(Record):
    """One line of a score stage's samples.jsonl: one scored item and what the model said.

    `score` is the item's part of the benchmark's primary metric (`metric`) on a 0-1 scale.
    A metric is recomputed from samples as 100 * sum(unit score * unit weight) / sum(unit
    weight), where a unit is an item, or all items sharing a `group` (a CircularEval question:
    it scores the minimum of its passes, weight 1). Bootstrap intervals and paired tests
    resample units, so passes of one question always move together.
    """

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    target: str
    source: str
    benchmark: str
    split: str
    item_id: str = Field(description="the official id (POPE question_id, MMBench pass index, ScienceQA pid, ...)")
    group: str | None = Field(None, description="CircularEval group: the original question's index (MMBench)")
    categories: tuple[str, ...] = Field((), description="breakdown metric keys the item counts in "
                                                        "(MMBench l2-category; ScienceQA NAT, IMG, G1-6, ...)")
    prompt: str = Field(description="exactly what the model was asked")
    prediction: str | None = Field(description="the model's answer as in the prediction file; None when missing")
    extracted: str | None = Field(None, description="what the protocol read from it (letter, yes/no, ...)")
    reference: str | None = Field(None, description="the right answer where the data has one")
    metric: str = Field(description="the primary metric `score` contributes to")
    score: float = Field(description="0-1: a hit, a VQA accuracy, or a ratio such as hallucinated / mentions")
    weight: float = Field(1.0, description="weight of `score` in the metric (CHAIRi: the caption's mentions)")
    image: str | None = Field(None, description="image file, relative to the samples file's folder")
    image_sha256: str = ""
