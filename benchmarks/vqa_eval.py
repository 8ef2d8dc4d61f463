"""VQA accuracy: the official answer normalization and leave-one-out score, quirks included.

Follows GT-Vision-Lab/VQA `PythonEvaluationTools/vqaEvaluation/vqaEval.py` at a013f004 (the
version that OK-VQA, LAVIS and InstructBLIP score with). Per question:

1. Every ground-truth answer and the prediction: newlines and tabs become spaces, then strip.
2. Only when the (cleaned) ground-truth answers are *not* all equal are the prediction and every
   ground-truth answer normalized (`normalize_answer`). So when ten annotators all wrote "yes",
   a prediction "Yes." stays "Yes." and scores 0: the official script's best-known quirk.
3. Annotator i scores min(1, (matches among the *other* answers) / 3); the question's accuracy
   is the mean over annotators. "Other" is decided by comparing whole answer dicts, as the
   official `item != gtAnsDatum` does: official files give each answer a distinct
   `answer_id`, so this is the other nine; answers without ids whose dicts are identical
   exclude one another, which the official script does too.
4. Overall, per answer type and per question type: round(100 * sum / n, 2) in that order of
   operations, over questions in annotation-file order (the same printed digits).

Normalization quirks kept (`process_punctuation`): a punctuation mark is deleted everywhere,
not replaced by a space, when the text has that mark next to a space *anywhere* or has a
digit-comma-digit anywhere (so "1,000" -> "1000" and then "a-b" in the same text -> "ab");
periods not followed by a digit are deleted, but at most 32 of them, because the official
call passes `re.UNICODE` (= 32) where `re.sub` expects its count; the regex's `(?!<=\\d)` is a
misspelt lookbehind that never fires; `\\d` means ASCII digits only (Python 2 `re`, no
UNICODE flag). In `process_digit_article` contractions are looked up after lower-casing, so
the table's capitalised keys ("Im", "Ive") never match. Tables come from
`data/vqa_normalization.json`, read once on first use.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

# re.ASCII: the official script ran on Python 2, where `\d` without re.UNICODE is [0-9] only.
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)", re.ASCII)
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)", re.ASCII)
# What the official `periodStrip.sub("", text, re.UNICODE)` really passes as `count`.
_MAX_PERIODS = int(re.UNICODE)


@dataclass(frozen=True)
class _Tables:
    """The normalization tables of the official script."""

    contractions: dict[str, str]
    number_words: dict[str, str]
    articles: frozenset[str]
    punctuation: tuple[str, ...]


@functools.cache
def _tables() -> _Tables:
    """The tables from the packaged JSON, loaded on first use (never at import time)."""
    raw = json.loads((Path(__file__).parent / "data" / "vqa_normalization.json").read_text(encoding="utf-8"))
    return _Tables(dict(raw["contractions"]), dict(raw["number_words"]), frozenset(raw["articles"]),
                   tuple(raw["punctuation"]))


def clean_whitespace(text: str) -> str:
    """Newlines and tabs to spaces, then strip: applied to every answer before anything else."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """The official `processPunctuation` (see the module docstring for its quirks)."""
    out = text
    # Tested on the original text, not on the partly processed one: as the official loop does.
    digit_comma = _COMMA_STRIP.search(text) is not None
    for p in _tables().punctuation:
        if p + " " in text or " " + p in text or digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=_MAX_PERIODS)


def process_digit_article(text: str) -> str:
    """The official `processDigitArticle`: lower-case, number words to digits, drop articles,
    expand contractions, single spaces."""
    t = _tables()
    words = [t.number_words.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in t.articles]
    return " ".join(t.contractions.get(w, w) for w in words)


@functools.lru_cache(maxsize=1 << 16)
def normalize_answer(text: str) -> str:
    """Punctuation then digit/article processing: the full normalization of one answer.

    Cached: answers repeat heavily across questions and annotators.
    """
    return process_digit_article(process_punctuation(text))


@dataclass(frozen=True)
class VqaGroundTruth:
    """One question's ground truth, prepared once so scoring a prediction is a lookup."""

    normalize: bool  # whether predictions are normalized (the answers were not all equal)
    answers: tuple[str, ...]  # the answers as compared: cleaned, and normalized when `normalize`
    # accuracy (0-1) of each prepared answer string; any other prediction scores 0.0
    table: Mapping[str, float]


def _duplicates(answers: Sequence[Mapping[str, Any]], prepared: Sequence[str]) -> list[int]:
    """Per answer, how many answer dicts (itself included) compare equal to it after preparation.

    The official script leaves out of "the others" every dict equal to the annotator's own.
    """
    ids = [a.get("answer_id") for a in answers]
    try:
        if None not in ids and len(set(ids)) == len(ids):
            return [1] * len(answers)  # distinct answer_ids: every dict differs (the usual case)
    except TypeError:  # an unhashable answer_id: fall back to comparing dicts
        pass
    dicts = [{**a, "answer": p} for a, p in zip(answers, prepared)]
    return [sum(d == e for e in dicts) for d in dicts]


def prepare_ground_truth(answers: Sequence[Mapping[str, Any]]) -> VqaGroundTruth:
    """Prepare a question's answer dicts (each with an 'answer' string); needs at least one."""
    if not answers:
        raise ValueError("a VQA question needs at least one ground-truth answer")
    cleaned = [clean_whitespace(a["answer"]) for a in answers]
    normalize = len(set(cleaned)) > 1
    prepared = [normalize_answer(c) for c in cleaned] if normalize else cleaned
    dup = _duplicates(answers, prepared)
    counts = Counter(prepared)
    n = len(prepared)
    table: dict[str, float] = {}
    for cand, total in counts.items():
        # Summed annotator by annotator, in file order, as the official loop: same float bits.
        acc = 0.0
        for ans, d in zip(prepared, dup):
            acc += min(1, float(total - (d if ans == cand else 0)) / 3)
        table[cand] = acc / n
    return VqaGroundTruth(normalize, tuple(prepared), table)


def vqa_accuracy(prediction: str, gt: VqaGroundTruth) -> float:
    """The official accuracy (0-1) of one predicted answer against prepared ground truth."""
    pred = clean_whitespace(prediction)
    if gt.normalize:
        pred = normalize_answer(pred)
    return gt.table.get(pred, 0.0)


@dataclass(frozen=True)
class VqaOutcome:
    """One question's result: its types and its VQA accuracy on a 0-1 scale."""

    question_id: int
    answer_type: str
    question_type: str
    accuracy: float
    answered: bool  # False when the prediction file had no answer (scored 0)


def _pct(values: Iterable[float]) -> float:
    """round(100 * sum / n, 2) in the official order of operations; 0.0 when empty."""
    vals = list(values)
    return round(100 * float(sum(vals)) / len(vals), 2) if vals else 0.0


def aggregate_vqa(outcomes: Sequence[VqaOutcome]) -> dict[str, float]:
    """`accuracy`, `per_answer_type/<type>` and `per_question_type/<type>`, each 0-100, 2 decimals.

    Metric values must be numbers (results are one float per metric), so the official
    `perAnswerType` / `perQuestionType` dicts are flattened into slash-named keys, sorted.
    """
    out = {"accuracy": _pct(o.accuracy for o in outcomes)}
    for attr, prefix in (("answer_type", "per_answer_type"), ("question_type", "per_question_type")):
        groups: dict[str, list[float]] = {}
        for o in outcomes:
            groups.setdefault(getattr(o, attr), []).append(o.accuracy)
        for name in sorted(groups):
            out[f"{prefix}/{name}"] = _pct(groups[name])
    return out
