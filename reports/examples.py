"""Example items for reports: the same question answered by every (target, source).

Items where the models disagree come first (they show what a data source changed); the
rest follow in a fixed pseudo-random order, so the same run always shows the same examples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.records import SampleRecord
from reports.run_data import RunData


@dataclass(frozen=True)
class Example:
    """One item and every model's answer to it."""

    benchmark: str
    split: str
    item_id: str
    prompt: str
    reference: str | None
    image: Path | None
    answers: tuple[tuple[str, str, SampleRecord], ...]  # (target, source, that model's sample)
    disagree: bool


def _key(benchmark: str, split: str, item_id: str) -> str:
    return hashlib.sha256(f"{benchmark}/{split}/{item_id}".encode()).hexdigest()


def pick_examples(run: RunData, per_benchmark: int = 3) -> list[Example]:
    """Up to `per_benchmark` examples of each benchmark (its first split with samples).

    For CircularEval only a question's first pass is shown (the unrotated options).
    """
    models = list(dict.fromkeys((s.target, s.source) for s in run.samples))
    out: list[Example] = []
    for bench in dict.fromkeys(s.benchmark for s in run.samples):
        split = next(s.split for s in run.samples if s.benchmark == bench)
        per_model: dict[tuple[str, str], dict[str, SampleRecord]] = {}
        for t, src in models:
            rows = [s for s in run.samples_of(t, src, bench)
                    if s.split == split and (s.group is None or s.group == s.item_id)]
            if rows:
                per_model[(t, src)] = {s.item_id: s for s in rows}
        if not per_model:
            continue
        common = set.intersection(*(set(d) for d in per_model.values()))
        cands = []
        for item in common:
            answers = tuple((t, src, d[item]) for (t, src), d in per_model.items())
            disagree = len({(round(a[2].score, 6), a[2].extracted) for a in answers}) > 1
            cands.append((not disagree, _key(bench, split, item), item, answers, disagree))
        for _, _, item, answers, disagree in sorted(cands)[:per_benchmark]:
            first = answers[0][2]
            out.append(Example(bench, split, item, first.prompt, first.reference, run.image_path(first), answers,
                               disagree))
    return out
