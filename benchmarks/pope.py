"""POPE: polling-based object probing for hallucination ("Is there a <object> in the image?").

Files follow the official release (RUCAIBox/POPE `output/coco/coco_pope_<split>.json`): JSON
lines `{"question_id", "image", "text", "label"}`, one file per negative-sampling split. The
embedded world writes `world_pope_<split>.json` the same way. Predictions are JSON lines
`{"question_id", "text"}` (LLaVA's answer files; the original script's `"answer"` key is
accepted too).

Scoring is the official `evaluate.py`: `parsing.pope_yes_no` on every reply, yes = positive,
accuracy / precision / recall / F1 / yes-ratio, here on a 0-100 scale. Two differences, both
about inputs the official script mishandles silently: predictions are paired with questions by
`question_id` (the script zips two files by line order), and a question without a prediction,
a prediction for an unknown question or a duplicate is a `BadInput` (the script would mis-pair
them). A precision or recall whose denominator is zero is 0 (the script divides by zero).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from benchmarks import register_benchmark
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from benchmarks.parsing import pope_yes_no
from harness.core.errors import BadInput, excerpt
from harness.core.io import atomic_write_text, iter_jsonl_dicts, to_jsonl
from harness.core.records import Scene
from harness.world.qa import article

SPLITS: tuple[str, ...] = ("random", "popular", "adversarial")
SAMPLE_NUM = 3  # positive (and as many negative) questions per image, as the official builder
TEMPLATE = "Is there {article} {object} in the image?"


@dataclass(frozen=True)
class PopeOutcome:
    """One question's result: the label and the parsed prediction, both 'yes' or 'no'."""

    question_id: int
    label: str
    prediction: str


def question_text(obj: str) -> str:
    """The POPE question about category `obj`; it is also the whole prompt a model sees."""
    # The official builder's a/an switch is `template.replace("a", "an")`, which also turns
    # "image" into "imnage" for vowel-initial objects; the world's shapes all start with a
    # consonant, so the correct article changes nothing on its files.
    return TEMPLATE.format(article=article(obj), object=obj)


def _distinct_categories(scene: Scene) -> list[str]:
    """The categories present in a scene, in first-appearance order (the official per-image list)."""
    return list(dict.fromkeys(o.shape for o in scene.objects))


def negative_pools(scenes: Sequence[Scene]) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(all categories, categories by frequency, co-occurring categories by frequency per category).

    Frequency counts images that contain a category (each image once), and co-occurrence
    counts images that contain both, as the official builder; ties break by name so the order
    is a function of the counts alone.
    """
    freq: Counter[str] = Counter()
    cooc: dict[str, Counter[str]] = {}
    for s in scenes:
        cats = _distinct_categories(s)
        freq.update(cats)
        for a in cats:
            cooc.setdefault(a, Counter()).update(b for b in cats if b != a)
    everything = sorted(freq)
    popular = sorted(freq, key=lambda c: (-freq[c], c))
    co = {a: sorted(c, key=lambda b: (-c[b], b)) for a, c in cooc.items()}
    return everything, popular, co


def build_questions(scenes: Sequence[Scene], split: str, seed: int) -> list[dict[str, Any]]:
    """The question records of one split, in official order (positive, negative, positive, ...).

    Per image up to `SAMPLE_NUM` present categories (a seeded sample) each get a 'yes'
    question followed by a 'no' question about an absent category picked by the split's
    strategy: random (any absent category), popular (the most frequent absent one),
    adversarial (the absent one co-occurring most with that positive). Popular and
    adversarial fall back to a random absent category when their list runs out, as the
    official builder does. Unlike it, images with fewer than `SAMPLE_NUM` categories are kept
    (with fewer questions) rather than dropped: most world scenes have two or three shapes.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown POPE split {split!r}; expected one of {SPLITS}")
    everything, popular, co = negative_pools(scenes)
    rng = random.Random(f"pope/{seed}/{split}")
    out: list[dict[str, Any]] = []
    for s in scenes:
        present = _distinct_categories(s)
        positives = rng.sample(present, min(SAMPLE_NUM, len(present)))
        used = set(present)
        for pos in positives:
            if split == "popular":
                ranked = popular
            elif split == "adversarial":
                ranked = co.get(pos, [])
            else:
                ranked = []
            neg = next((c for c in ranked if c not in used), None)
            if neg is None:
                absent = [c for c in everything if c not in used]
                if not absent:  # every category is in the image: no negative exists
                    continue
                neg = rng.choice(absent)
            used.add(neg)
            for obj, label in ((pos, "yes"), (neg, "no")):
                out.append({"question_id": len(out) + 1, "image": s.file_name, "text": question_text(obj),
                            "label": label})
    return out


def _read_questions(path: Path) -> list[dict[str, Any]]:
    """A POPE question file, checked: each line needs question_id (int), image, text and a yes/no label."""
    rows = []
    for n, d in enumerate(iter_jsonl_dicts(path), 1):
        for key in ("question_id", "image", "text", "label"):
            if key not in d:
                raise BadInput(f"{path}: question {n} has no {key!r} field")
        if not isinstance(d["question_id"], int) or isinstance(d["question_id"], bool):
            raise BadInput(f"{path}: question {n}: question_id must be an integer, got {excerpt(d['question_id'])}")
        if d["label"] not in ("yes", "no"):
            raise BadInput(f"{path}: question {n}: label must be 'yes' or 'no', got {excerpt(d['label'])}")
        for key in ("image", "text"):
            if not isinstance(d[key], str):
                raise BadInput(f"{path}: question {n}: {key} must be a string, got {excerpt(d[key])}")
        rows.append(d)
    if not rows:  # every metric of nothing would be a silent 0.0
        raise BadInput(f"{path}: no POPE questions in the file")
    return rows


def _read_all(data: Sequence[Path]) -> list[dict[str, Any]]:
    """Every question of the given files; question ids must be unique across them."""
    rows: list[dict[str, Any]] = []
    seen: dict[int, Path] = {}
    for path in map(Path, data):
        for d in _read_questions(path):
            qid = d["question_id"]
            if qid in seen:
                raise BadInput(f"{path}: question_id {qid} already occurs in {seen[qid]}; "
                               "score one POPE split file at a time")
            seen[qid] = path
            rows.append(d)
    return rows


def _read_predictions(path: Path) -> dict[int, str]:
    """question_id -> raw reply text of a POPE prediction file (JSON lines)."""
    preds: dict[int, str] = {}
    for n, d in enumerate(iter_jsonl_dicts(path), 1):
        qid = d.get("question_id")
        text = d.get("text", d.get("answer"))
        if not isinstance(qid, int) or isinstance(qid, bool):
            raise BadInput(f"{path}: prediction {n} has no integer 'question_id'")
        if not isinstance(text, str):
            raise BadInput(f"{path}: prediction {n} (question_id {qid}) has no 'text' string")
        if qid in preds:
            raise BadInput(f"{path}: question_id {qid} is predicted twice")
        preds[qid] = text
    return preds


def _pct(num: int, den: int) -> float:
    """100 * num / den, or 0 when den is 0."""
    return 100.0 * (num / den) if den else 0.0


def _label_prediction_counts(outcomes: Sequence[PopeOutcome]) -> Counter[tuple[str, str]]:
    """How often each (label, prediction) pair occurs: the confusion matrix, in one pass (the
    bootstrap aggregates a thousand resamples)."""
    return Counter((o.label, o.prediction) for o in outcomes)


@register_benchmark("pope")
class Pope(Benchmark[PopeOutcome]):
    """POPE with the official question format, negative sampling and metrics.

    Primary metric: accuracy. The official files are balanced (one 'no' per 'yes'), so
    accuracy is read directly against a 50% floor and punishes a yes-bias and a no-bias alike;
    F1 on the 'yes' class rewards answering yes to everything (66.7 F1 at 50% accuracy), which
    is exactly the hallucination POPE exists to catch. F1 is still reported.
    """

    name = "pope"
    primary_metric = "accuracy"
    higher_is_better = True
    splits = SPLITS
    protocol = "official"

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write `world_pope_<split>.json` per split; `image` is each scene's path under `image_root`."""
        out: dict[str, list[Path]] = {}
        for split in SPLITS:
            path = Path(out_dir) / f"world_pope_{split}.json"
            atomic_write_text(path, to_jsonl(build_questions(scenes, split, seed)))
            out[split] = [path]
        return out

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per question; images resolve against `image_root`, else the data file's folder."""
        items = []
        for path in map(Path, data):
            root = Path(image_root) if image_root is not None else path.parent
            for d in _read_questions(path):
                items.append(BenchItem(id=str(d["question_id"]), prompt=d["text"], image=str(root / d["image"])))
        return items

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """JSON lines `{"question_id": int, "text": str}`, as LLaVA's POPE answer files."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        atomic_write_text(out, to_jsonl({"question_id": int(i.id), "text": a} for i, a in zip(items, answers)))

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[PopeOutcome]:
        """Official POPE metrics; every question needs exactly one prediction (else `BadInput`)."""
        questions = _read_all(data)
        preds = _read_predictions(Path(predictions))
        missing = [d["question_id"] for d in questions if d["question_id"] not in preds]
        if missing:
            raise BadInput(f"{predictions}: {len(missing)} of {len(questions)} questions have no prediction "
                           f"(first missing question_id: {missing[0]})")
        known = {d["question_id"] for d in questions}
        extra = sorted(q for q in preds if q not in known)
        if extra:
            raise BadInput(f"{predictions}: {len(extra)} predictions are for question_ids not in the data "
                           f"(first: {extra[0]})")
        outcomes = [PopeOutcome(d["question_id"], d["label"], pope_yes_no(preds[d["question_id"]]))
                    for d in questions]
        pairs = _label_prediction_counts(outcomes)
        tp, fp, tn, fn = pairs["yes", "yes"], pairs["no", "yes"], pairs["no", "no"], pairs["yes", "no"]
        return ScoreResult(metrics=self.aggregate(outcomes), outcomes=outcomes, n=len(outcomes),
                           protocol=self.protocol, notes={"TP": tp, "FP": fp, "TN": tn, "FN": fn})

    def aggregate(self, outcomes: Sequence[PopeOutcome]) -> dict[str, float]:
        """accuracy, precision, recall, f1 (positive class 'yes') and yes_ratio, all 0-100."""
        pairs = _label_prediction_counts(outcomes)
        tp, fp, fn = pairs["yes", "yes"], pairs["no", "yes"], pairs["yes", "no"]
        n = len(outcomes)
        correct = sum(c for (label, pred), c in pairs.items() if label == pred)
        # Fractions first, then x100, in the official order of operations (same printed digits).
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"accuracy": _pct(correct, n), "precision": 100.0 * precision, "recall": 100.0 * recall,
                "f1": 100.0 * f1, "yes_ratio": _pct(tp + fp, n)}

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[PopeOutcome]) -> list[ItemScore]:
        """Per question: hit or miss, the raw answer and the yes / no the protocol read from it."""
        preds = _read_predictions(Path(predictions))
        return [ItemScore(str(o.question_id), float(o.label == o.prediction), preds.get(o.question_id), o.prediction,
                          o.label) for o in result.outcomes]
