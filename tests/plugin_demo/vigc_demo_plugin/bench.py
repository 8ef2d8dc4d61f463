"""`demo_count`: "How many objects are in the image?", scored by exact match of the number."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from harness.core.records import Scene

QUESTION = "How many objects are in the image?"


@dataclass(frozen=True)
class Outcome:
    id: str
    hit: bool


def _rows(data: Sequence[Path]) -> list[dict]:
    return [json.loads(line) for p in data for line in Path(p).read_text(encoding="utf-8").splitlines() if line]


def _answers(predictions: Path) -> dict[str, str]:
    return {r["id"]: r["answer"] for r in _rows([predictions])}


class CountBench(Benchmark[Outcome]):
    name = "demo_count"
    primary_metric = "accuracy"

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "demo_count.jsonl"
        rows = [{"id": str(s.image_id), "image": s.file_name, "question": QUESTION, "answer": str(len(s.objects))}
                for s in scenes]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return {"test": [path]}

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        root = image_root or Path(data[0]).parent
        return [BenchItem(r["id"], r["question"], str(root / r["image"]), max_new_tokens=8) for r in _rows(data)]

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        out.write_text("".join(json.dumps({"id": it.id, "answer": a}) + "\n" for it, a in zip(items, answers)),
                       encoding="utf-8")

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[Outcome]:
        preds = _answers(predictions)
        outcomes = [Outcome(r["id"], preds.get(r["id"], "").strip().rstrip(".") == r["answer"]) for r in _rows(data)]
        return ScoreResult(self.aggregate(outcomes), outcomes, len(outcomes), self.protocol)

    def aggregate(self, outcomes: Sequence[Outcome]) -> dict[str, float]:
        return {"accuracy": 100.0 * sum(o.hit for o in outcomes) / max(1, len(outcomes))}

    def item_scores(self, data: Sequence[Path], predictions: Path, result: ScoreResult[Outcome]) -> list[ItemScore]:
        preds, ref = _answers(predictions), {r["id"]: r["answer"] for r in _rows(data)}
        return [ItemScore(o.id, float(o.hit), preds.get(o.id), preds.get(o.id), ref[o.id]) for o in result.outcomes]
