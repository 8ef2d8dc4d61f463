"""Typed, frozen records that stages exchange as JSONL. Every field is documented here.

Records are pydantic models with `extra="forbid"`, so a misspelt field in a file is an error,
not a silently ignored key. Each JSONL file that holds records carries `schema` on each line
only where the format is ours; official formats (LLaVA JSON, benchmark files) stay official.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


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
    """A LLaVA-format training sample: `<image>` appears in the first human turn."""

    id: str
    image: str = Field(description="image path relative to the dataset's image folder")
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
    correction_steps: tuple[str, ...] = Field((), description="raw output of each VIC step")


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


class QualityRecord(Record):
    """One line of RUN_DIR/data_quality.jsonl: a data-quality metric of one data source."""

    source: str
    data_type: str
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
