"""What a generator gets and gives: images with what is known of them in, records out.

A generator sees an `ImageInfo` per image. What it may use is its own business and is what
makes data sources differ: a language-only generator reads captions and boxes and never the
pixels; a VIGC model reads the pixels; the gold generator reads the complete ground truth.
Every generator returns `GenerationRecord`s, which `to_llava` turns into LLaVA conversations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from harness.core.records import Conversation, GenerationRecord, Scene, Turn
from harness.core.progress import ProgressFactory, silent_progress
from harness.core.sharding import BatchSplit
from harness.world.qa import split_options

DATA_TYPES = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")


@dataclass(frozen=True)
class Box:
    """One COCO annotation: category name and box (x, y, w, h) in pixels."""

    category: str
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageInfo:
    """An image and what its annotations say about it."""

    image_id: int
    file_name: str  # relative to the image root; what LLaVA JSON's `image` holds
    path: Path
    width: int
    height: int
    captions: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    scene: Scene | None = None  # complete ground truth: the embedded world only


@dataclass
class GenerationContext:
    """Inputs of one generation run."""

    images: Sequence[ImageInfo]
    data_types: Sequence[str]
    seed: int
    per_image: int = 1
    progress: ProgressFactory = silent_progress
    model: Any = None  # a VLM adapter, for generators that read pixels
    options: dict[str, Any] = field(default_factory=dict)
    # The processes sharing the model's batches (under torchrun, each computes its share and all
    # get every result, so every process returns the same records); default: this one alone.
    split: BatchSplit = field(default_factory=BatchSplit)


class Generator(ABC):
    """Base class of data generators; subclasses register with `@register_generator`."""

    name: ClassVar[str]
    reads_pixels: ClassVar[bool] = False
    needs_ground_truth: ClassVar[bool] = False
    data_types: ClassVar[tuple[str, ...]] = DATA_TYPES[:3]

    @abstractmethod
    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        """Generate records for every image and data type of `ctx`, in image order."""


def conversation_key(rec: GenerationRecord) -> str:
    """Records of one conversation share the id up to the last '#' (turn index after it)."""
    return rec.id.rsplit("#", 1)[0]


def to_llava(records: Sequence[GenerationRecord]) -> list[Conversation]:
    """Parsed records to LLaVA conversations; turns of a conversation are grouped in order.

    Records that did not parse are left out (they stay in the generation records, counted).
    """
    groups: dict[str, list[GenerationRecord]] = {}
    for r in records:
        if r.parse_status == "ok":
            groups.setdefault(conversation_key(r), []).append(r)
    out = []
    for key, recs in groups.items():
        turns: list[Turn] = []
        for i, r in enumerate(recs):
            # The image follows the first question (LLaVA's data has it before or after): a
            # model that reads the question first can look at the image for it. Lettered
            # options come after the image, so that each option can look at it too.
            q = r.question
            if i == 0:
                question, options = split_options(r.question)
                q = question + "\n<image>" + (f"\n{options}" if options else "")
            turns.append(Turn(**{"from": "human", "value": q}))
            turns.append(Turn(**{"from": "gpt", "value": r.answer}))
        out.append(Conversation(id=key, image=recs[0].image, conversations=tuple(turns)))
    return out
