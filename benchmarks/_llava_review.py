"""LLaVA-Bench's review protocol: the judge's message, reading its reply, and the summary.

Rules of LLaVA's `llava/eval/eval_gpt_review_visual.py` and `summarize_gpt_review.py`
(haotian-liu/LLaVA), which the scores of the LLaVA and VIGC papers come from:

- The judge gets a system message (`SYSTEM_PROMPT`) and one user message: `[Context]`, the
  image's captions one per line, a blank line, one `category: bbox` line per instance (the box
  as Python prints the list read from the context file), then `[Question]`, `[Assistant 1]`
  (the reference answer) ... `[End of Assistant 1]`, `[Assistant 2]` (the model's answer) ...
  `[End of Assistant 2]` and `[System]` with the category's rule prompt, every section
  followed by a blank line (`Assistant` is the rule's `role`). Temperature 0.2, at most 1024
  tokens.
- The reply's first line, commas replaced by spaces, is split on single spaces; exactly two
  parts that Python's `float` reads give the pair (reference, model), anything else gives
  [-1, -1]. So "7/10 5/10", "Scores: 5 6", "8, 7" (two spaces once the comma goes), a trailing
  space and a double space all give [-1, -1]; "8,7" and "8.5 7" parse.
- The summary groups rows by category and all together; per group the two column means (numpy's
  mean), each rounded to 3 decimals, give the relative score round(model / reference * 100, 1)
  and the means x 10 rounded to 1. Rows of [-1, -1] stay in the means: that is the official
  protocol (`official`), and their count is reported as `unparsed`. The named alternative
  `drop-unparsed` leaves them out; it is used only when asked for.

Differences, all about inputs the official scripts crash on: a group whose reference mean is 0
gets relative score 0 (the script divides by zero), and a review row without a two-number
`tuple` is a `BadInput` naming the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.core.errors import BadInput

SYSTEM_PROMPT = "You are a helpful and precise assistant for checking the quality of the answer."
TEMPERATURE = 0.2
MAX_TOKENS = 1024
UNPARSED = (-1.0, -1.0)
PROTOCOLS = ("official", "drop-unparsed")

# The question file's categories and the metric keys of their relative scores. Review files of
# LLaVA-Bench (In-the-Wild) prefix them with "llava_bench_".
CATEGORY_KEYS = {"conv": "conversation", "detail": "detail", "complex": "complex_reasoning"}
OVERALL = "overall"
_PREFIX = "llava_bench_"


def metric_key(category: str | None) -> str | None:
    """The metric key of a question category ('conv' -> 'conversation'); None for no category.

    An unknown category keeps its own name, as the official summary prints every category.
    """
    if category is None:
        return None
    name = category[len(_PREFIX):] if category.startswith(_PREFIX) else category
    return CATEGORY_KEYS.get(name, name)


def context_text(captions: Sequence[str], instances: Sequence[Mapping[str, Any]]) -> str:
    """The `[Context]` body: captions one per line, a blank line, `category: bbox` lines."""
    caps = "\n".join(captions)
    boxes = "\n".join(f"{inst['category']}: {inst['bbox']}" for inst in instances)
    return f"{caps}\n\n{boxes}"


def judge_message(context: str, question: str, reference: str, answer: str, rule: Mapping[str, str]) -> str:
    """The judge's user message for one question; `context` as `context_text` writes it."""
    role, prompt = rule["role"], rule["prompt"]
    return (f"[Context]\n{context}\n\n"
            f"[Question]\n{question}\n\n"
            f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n"
            f"[{role} 2]\n{answer}\n\n[End of {role} 2]\n\n"
            f"[System]\n{prompt}\n\n")


def judge_messages(user: str) -> list[dict[str, str]]:
    """The chat messages sent to a judge: the official system message, then `user`."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_score(review: str) -> tuple[float, float]:
    """(reference score, model score) from the reply's first line, else (-1, -1)."""
    if not isinstance(review, str):
        return UNPARSED
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    if len(parts) != 2:
        return UNPARSED
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        return UNPARSED


@dataclass(frozen=True)
class Review:
    """One review row as LLaVA's review files hold it (plus the texts judged, for samples)."""

    question_id: Any  # int in LLaVA's files; kept as read
    category: str | None  # the question file's category ("conv", ...); None: counts in overall only
    scores: tuple[float, float]  # the row's `tuple`: (reference, model), (-1, -1) when unparsed
    content: str = ""  # the judge's reply
    answer1_id: Any = None
    answer2_id: Any = None

    @property
    def unparsed(self) -> bool:
        """Whether the row is the [-1, -1] that an unreadable reply gives."""
        return tuple(self.scores) == UNPARSED

    def as_json(self, index: int) -> dict[str, Any]:
        """The row as `eval_gpt_review_visual.py` writes it (`id` is 1-based)."""
        row: dict[str, Any] = {"id": index, "question_id": self.question_id, "answer1_id": self.answer1_id,
                               "answer2_id": self.answer2_id}
        if self.category is not None:
            row["category"] = self.category
        row.update(content=self.content, tuple=list(self.scores))
        return row


def write_reviews(reviews: Sequence[Review], out: Path) -> None:
    """A review JSONL file in LLaVA's format (one `json.dumps` line per row, as the script writes)."""
    from harness.core.io import atomic_write_text

    atomic_write_text(out, "".join(json.dumps(r.as_json(i + 1)) + "\n" for i, r in enumerate(reviews)))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_reviews(path: Path) -> list[Review]:
    """The rows of a LLaVA review file; the scores are each row's `tuple` (or `score`), as the
    summary script reads them: the content is not parsed again."""
    from harness.core.io import iter_jsonl_dicts

    out = []
    for n, d in enumerate(iter_jsonl_dicts(path), 1):
        pair = d.get("tuple", d.get("score"))
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(_number(v) for v in pair):
            raise BadInput(f"{path}: review {n} has no 'tuple' of two numbers (got {pair!r})")
        cat = d.get("category")
        if cat is not None and not isinstance(cat, str):
            raise BadInput(f"{path}: review {n}: 'category' must be a string, got {cat!r}")
        content = d.get("content", "")
        out.append(Review(d.get("question_id"), cat, (pair[0], pair[1]),
                          content if isinstance(content, str) else json.dumps(content),
                          d.get("answer1_id"), d.get("answer2_id")))
    if not out:
        raise BadInput(f"{path}: no reviews")
    return out


@dataclass(frozen=True)
class GroupSummary:
    """One printed line of the summary: relative score and both means x 10."""

    relative: float  # round(model mean / reference mean * 100, 1)
    reference: float  # round(reference mean * 10, 1)
    model: float  # round(model mean * 10, 1)


def _group(pairs: Sequence[tuple[float, float]]) -> GroupSummary:
    import numpy as np

    ref, mod = (round(x, 3) for x in np.asarray(pairs).mean(0).tolist())
    rel = round(mod / ref * 100, 1) if ref != 0 else 0.0
    return GroupSummary(rel, round(ref * 10, 1), round(mod * 10, 1))


def summarize(reviews: Sequence[Review], protocol: str = "official") -> dict[str, GroupSummary]:
    """Summary lines by group: the official category names sorted, 'all' among them.

    `protocol` 'official' averages [-1, -1] rows in; 'drop-unparsed' leaves them out. A group
    with no rows left has no line.
    """
    if protocol not in PROTOCOLS:
        raise BadInput(f"unknown LLaVA-Bench protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
    groups: dict[str, list[tuple[float, float]]] = {}
    for r in reviews:
        if protocol == "drop-unparsed" and r.unparsed:
            continue
        if r.category is not None:
            groups.setdefault(r.category, []).append(r.scores)
        groups.setdefault("all", []).append(r.scores)
    return {k: _group(v) for k, v in sorted(groups.items())}


def summary_metrics(reviews: Sequence[Review], protocol: str = "official") -> dict[str, float]:
    """Metric keys from the summary: `overall` and one per category (relative scores), each with
    `_reference` and `_model` means x 10, and `unparsed` (rows of [-1, -1], whatever the protocol)."""
    out: dict[str, float] = {}
    for name, g in summarize(reviews, protocol).items():
        key = OVERALL if name == "all" else metric_key(name)
        out[f"{key}"] = g.relative
        out[f"{key}_reference"] = g.reference
        out[f"{key}_model"] = g.model
    out["unparsed"] = float(sum(r.unparsed for r in reviews))
    return out


def summary_lines(reviews: Sequence[Review], title: str, protocol: str = "official") -> list[str]:
    """The lines `summarize_gpt_review.py` prints for one review file (title = its config name)."""
    lines = [title] + [f"{k} {g.relative} {g.reference} {g.model}" for k, g in summarize(reviews, protocol).items()]
    return lines + ["================================="]
