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
from typing import Any, Callable, Iterable, Mapping, Sequence

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


class _Ids(dict):  # type: ignore[type-arg]
    """Text -> a small int naming `fn(text)`: equal ids, equal prepared strings.

    A miss computes `fn` once (`__missing__`); hits stay in C, so `[ids[t] for t in texts]`
    over a million answers costs tens of milliseconds.
    """

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self._fn = fn
        self.names: dict[str, int] = {}  # prepared string -> its id

    def __missing__(self, text: str) -> int:
        value = self[text] = self.names.setdefault(self._fn(text), len(self.names))
        return value


def _distinct_ids(answers: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every answer dict has an `answer_id` and no two share one (then no two dicts are equal)."""
    ids = [a.get("answer_id") for a in answers]
    try:
        return None not in ids and len(set(ids)) == len(ids)
    except TypeError:  # an unhashable answer_id
        return False


class VqaScorer:
    """The official accuracy of many (answers, prediction) pairs, each distinct string prepared once.

    Equal to `vqa_accuracy(prediction, prepare_ground_truth(answers))` (a test checks it on random
    inputs): every distinct text is cleaned and normalized once and named by an int, then the
    questions with the same number of answers are scored together as int arrays. The annotator
    sum runs column by column, annotator by annotator in file order, so each question's float is
    the official loop's bit for bit. Questions whose answer dicts may compare equal (missing or
    repeated `answer_id`) take the general path.
    """

    def __init__(self) -> None:
        self._cleaned = _Ids(clean_whitespace)  # raw text -> id of its cleaned string
        self._normalized = _Ids(normalize_answer)  # cleaned string -> id of its normalization

    def accuracy(self, answers: Sequence[Mapping[str, Any]], prediction: str) -> float:
        """The official accuracy (0-1) of `prediction` against one question's answer dicts."""
        return self.accuracies([answers], [prediction])[0]

    def accuracies(self, questions: Sequence[Sequence[Mapping[str, Any]]],
                   predictions: Sequence[str | None]) -> list[float]:
        """The accuracy (0-1) of each prediction against its question's answer dicts; None scores 0."""
        import numpy as np

        out = [0.0] * len(questions)
        sizes = np.array([len(q) for q in questions], dtype=np.int64)
        asked = np.array([p is not None for p in predictions], dtype=bool)
        if (sizes[asked] == 0).any():
            raise ValueError("a VQA question needs at least one ground-truth answer")
        for n in np.unique(sizes[asked]).tolist():
            rows = np.flatnonzero(asked & (sizes == n)).tolist()
            for i, acc in zip(rows, self._same_size([questions[i] for i in rows], [predictions[i] for i in rows], n)):
                out[i] = acc
        return out

    def _same_size(self, questions: list[Sequence[Mapping[str, Any]]], predictions: list[Any], n: int) -> list[float]:
        """Accuracies of questions that all have `n` answers, each with a prediction."""
        import numpy as np

        ids = self._cleaned
        cleaned = np.array([ids[a["answer"]] for q in questions for a in q], dtype=np.int64).reshape(-1, n)
        pred_cleaned = np.array([ids[p] for p in predictions], dtype=np.int64)
        # Normalize each distinct cleaned string once; the table maps cleaned id -> normalized id.
        norm = self._normalized
        table = np.array([norm[t] for t in ids.names], dtype=np.int64)
        # Normalized only when the cleaned answers are not all equal (the official quirk).
        unanimous = (cleaned == cleaned[:, :1]).all(axis=1)
        answers = np.where(unanimous[:, None], cleaned, table[cleaned])
        pred = np.where(unanimous, pred_cleaned, table[pred_cleaned])
        hit = answers == pred[:, None]
        matches = hit.sum(axis=1)
        total = np.zeros(len(questions))
        for j in range(n):  # annotator by annotator, as the official loop sums
            total += np.minimum(1.0, (matches - hit[:, j]) / 3)
        accs = (total / n).tolist()
        # A question no answer matches scores 0 whatever its ids; the others must have distinct ids.
        matched = np.flatnonzero(matches > 0).tolist()
        for k in np.flatnonzero(~self._distinct([questions[k] for k in matched], n)).tolist():
            k = matched[k]
            accs[k] = vqa_accuracy(predictions[k], prepare_ground_truth(questions[k]))
        return accs

    @staticmethod
    def _distinct(questions: list[Sequence[Mapping[str, Any]]], n: int) -> Any:
        """Per question, whether its `n` answer dicts carry distinct `answer_id`s (bool array)."""
        import numpy as np

        try:
            ids = [a["answer_id"] for q in questions for a in q]
        except KeyError:  # some answer has no id: ask question by question
            ids = [None]
        if ids and set(map(type, ids)) <= {int}:
            try:
                table = np.sort(np.array(ids, dtype=np.int64).reshape(-1, n), axis=1)
                return (table[:, 1:] != table[:, :-1]).all(axis=1)
            except OverflowError:  # an id beyond 64 bits: ask question by question
                pass
        return np.array([_distinct_ids(q) for q in questions], dtype=bool)


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
    return aggregate_columns([o.accuracy for o in outcomes], [o.answer_type for o in outcomes],
                             [o.question_type for o in outcomes])


def aggregate_columns(accuracies: Sequence[float], answer_types: Sequence[str],
                      question_types: Sequence[str]) -> dict[str, float]:
    """`aggregate_vqa` from its three columns (one entry per question, in file order)."""
    out = {"accuracy": _pct(accuracies)}
    for column, prefix in ((answer_types, "per_answer_type"), (question_types, "per_question_type")):
        groups: dict[str, list[float]] = {}
        for key, acc in zip(column, accuracies):
            groups.setdefault(key, []).append(acc)
        for name in sorted(groups):
            out[f"{prefix}/{name}"] = _pct(groups[name])
    return out
