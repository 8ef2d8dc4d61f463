"""The narrow interface between benchmarks and the rest of the harness.

A benchmark turns official files into `BenchItem`s (what a model is asked), turns the model's
answers back into the official prediction file, and scores a prediction file by the official
protocol. Scoring is split into per-item outcomes and an aggregate so that every metric can
get a bootstrap confidence interval by resampling items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Sequence, TypeVar

from harness.core.records import Scene

O = TypeVar("O")


@dataclass(frozen=True)
class BenchItem:
    """One request to a model: an image (or none) and the full prompt text."""

    id: str  # the official id (question_id, MMBench index, ...), as a string
    prompt: str  # exactly what the user turn says, options and answer-format suffix included
    image: str | bytes | None  # image file path, encoded image bytes (MMBench's base64), or None
    max_new_tokens: int = 32
    # A multiple-choice item's option texts in letter order, and the question they answer as a
    # short-answer prompt: what the rank protocol scores (see `harness.stages.predict`).
    choices: tuple[str, ...] = ()
    rank_prompt: str = ""


@dataclass(frozen=True)
class ScoreResult(Generic[O]):
    """Per-item outcomes and the metrics aggregated over them (percentages on 0-100)."""

    metrics: dict[str, float]
    outcomes: list[O]
    n: int
    protocol: str
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemScore:
    """One item's part of the primary metric, with what the model said (for per-sample records).

    The primary metric is 100 * sum(unit score * unit weight) / sum(unit weight) over units: an
    item, or all items sharing `group` (CircularEval: the question scores the minimum of its
    passes, weight 1). `score` is on a 0-1 scale.
    """

    id: str  # the BenchItem id this item was asked under
    score: float
    prediction: str | None  # the answer as the prediction file holds it; None when missing
    extracted: str | None = None  # what the protocol read from it (letter, yes/no, choice text, ...)
    reference: str | None = None  # the right answer where the data has one
    group: str | None = None  # CircularEval group (the original question), else None
    categories: tuple[str, ...] = ()  # breakdown metric keys of `aggregate` the item counts in
    weight: float = 1.0  # weight of `score` (CHAIRi: the caption's mentions)


class Benchmark(ABC, Generic[O]):
    """Base class of every benchmark. Subclasses are registered with `@register_benchmark`."""

    name: ClassVar[str]
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    # Splits the embedded world writes (one data file set per split).
    splits: ClassVar[tuple[str, ...]] = ("test",)
    protocol: ClassVar[str] = "official"
    # Whether its items are multiple choice (`BenchItem.choices` set), so the rank protocol applies.
    multiple_choice: ClassVar[bool] = False

    @abstractmethod
    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write the benchmark's official files for the embedded world into `out_dir`.

        `scenes` are held-out world scenes whose images live under `image_root`. Returns, per
        split, the list of files that `--data` takes.
        """

    @abstractmethod
    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """Read official files into the requests a model answers (in file order)."""

    @abstractmethod
    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """Write the model's raw answers in the official prediction format."""

    @abstractmethod
    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[O]:
        """Score a prediction file against official files by the official protocol."""

    @abstractmethod
    def aggregate(self, outcomes: Sequence[O]) -> dict[str, float]:
        """Metrics (0-100) from per-item outcomes; used again on bootstrap resamples."""

    @abstractmethod
    def item_scores(self, data: Sequence[Path], predictions: Path, result: ScoreResult[O]) -> list[ItemScore]:
        """Per-item scores of `result` (from `score` on the same files) for the primary metric.

        Read back with the benchmark's own readers: every outcome of `score` paired with the raw
        answer, what the protocol extracted and the right answer, such that `primary_from_items`
        of the list equals `result.metrics[primary_metric]` (a contract test checks this for
        every registered benchmark). The study writes them as per-sample records.
        """


def primary_from_items(items: Sequence[ItemScore]) -> float:
    """The primary metric (0-100) recomputed from item scores: groups score their minimum."""
    units: dict[str, tuple[float, float]] = {}
    for it in items:
        if it.group is None:
            units[f"item:{it.id}"] = (it.score * it.weight, it.weight)
        else:
            prev = units.get(f"group:{it.group}", (1.0, 1.0))
            units[f"group:{it.group}"] = (min(prev[0], it.score), 1.0)
    den = sum(d for _, d in units.values())
    return 100.0 * sum(n for n, _ in units.values()) / den if den else 0.0
