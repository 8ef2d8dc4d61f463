"""Example items for reports: the same question answered by every (target, source).

Items where the models disagree come first (they show what a data source changed); the
rest follow in a fixed pseudo-random order, so the same run always shows the same examples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.core.records import SampleRecord
from reports.run_data import RunData


@dataclass(frozen=True)
class Answer:
    """One model's answer to an example item (for CircularEval: to the whole question)."""

    target: str
    source: str
    prediction: str | None  # the raw answer (CircularEval: to the first, unrotated pass)
    extracted: str | None  # what the protocol read (CircularEval: each pass's letter, in pass order)
    score: float  # 0-1 (CircularEval: the minimum over passes, the question's result)
    rate: bool  # the score is a pooled rate's per-item value (CHAIRi), not a hit
    metric: str


@dataclass(frozen=True)
class Example:
    """One item and every model's answer to it."""

    benchmark: str
    split: str
    item_id: str
    prompt: str
    reference: str | None
    image: Path | None
    answers: tuple[Answer, ...]
    disagree: bool
    passes: int = 1  # CircularEval passes behind each answer


def _answer(t: str, src: str, rows: list[SampleRecord]) -> Answer:
    """A model's answer from its samples of one item: one sample, or a CircularEval group."""
    first = rows[0]
    extracted = first.extracted if len(rows) == 1 else " / ".join(r.extracted or "?" for r in rows)
    return Answer(t, src, first.prediction, extracted, min(r.score for r in rows), first.weight != 1.0, first.metric)


def _pass_order(s: SampleRecord) -> tuple[int, str]:
    """Passes of a CircularEval question in index order (copy 0, the unrotated one, first)."""
    return (int(s.item_id), "") if s.item_id.isdigit() else (0, s.item_id)


def _key(benchmark: str, split: str, item_id: str) -> str:
    return hashlib.sha256(f"{benchmark}/{split}/{item_id}".encode()).hexdigest()


def pick_examples(run: RunData, per_benchmark: int = 3) -> list[Example]:
    """Up to `per_benchmark` examples of each benchmark (its first split with samples).

    A CircularEval question is one example: its first (unrotated) pass with every model's
    answer to it, each pass's letter, and the question's result (right only if every pass is).
    """
    models = list(dict.fromkeys((s.target, s.source) for s in run.samples))
    out: list[Example] = []
    for bench in dict.fromkeys(s.benchmark for s in run.samples):
        split = next(s.split for s in run.samples if s.benchmark == bench)
        per_model: dict[tuple[str, str], dict[str, list[SampleRecord]]] = {}
        for t, src in models:
            units: dict[str, list[SampleRecord]] = {}
            for s in run.samples_of(t, src, bench):
                if s.split == split:  # a CircularEval question is shown once, keyed by its group
                    units.setdefault(s.item_id if s.group is None else s.group, []).append(s)
            if units:
                per_model[(t, src)] = units
        if not per_model:
            continue
        common = set.intersection(*(set(d) for d in per_model.values()))
        cands = []
        for unit in common:
            answers = tuple(_answer(t, src, sorted(d[unit], key=_pass_order)) for (t, src), d in per_model.items())
            disagree = len({(round(a.score, 6), a.extracted) for a in answers}) > 1
            cands.append((not disagree, _key(bench, split, unit), unit, answers, disagree))
        for _, _, unit, answers, disagree in sorted(cands)[:per_benchmark]:
            rows = sorted(next(iter(per_model.values()))[unit], key=_pass_order)
            first = rows[0]
            out.append(Example(bench, split, first.item_id, first.prompt, first.reference, run.image_path(first),
                               answers, disagree, len(rows)))
    return out
