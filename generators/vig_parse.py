"""Parsing VIG outputs ("Question: ... Answer: ...") into question and answer.

Written once and used by the VIGC generator and its tests; the rules are deliberately strict
about structure (an output without both parts is dropped and counted) and lenient about
spacing and case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_Q = re.compile(r"question\s*:", re.IGNORECASE)
_A = re.compile(r"answer\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedVIG:
    """A parsed VIG output: status is ok, no_question, no_answer or empty."""

    status: str
    question: str = ""
    answer: str = ""


def parse_vig(text: str) -> ParsedVIG:
    """Split a VIG output into question and answer.

    - empty: nothing but whitespace;
    - no_question: no "Question:" marker, or nothing between it and "Answer:";
    - no_answer: no "Answer:" after the question, or nothing after it.
    A second "Question:" after the answer (the model starting another pair) ends the answer.
    """
    t = text.strip()
    if not t:
        return ParsedVIG("empty")
    q = _Q.search(t)
    if q is None:
        return ParsedVIG("no_question")
    a = _A.search(t, q.end())
    if a is None:
        question = t[q.end():].strip()
        return ParsedVIG("no_answer" if question else "no_question", question=question)
    question = t[q.end():a.start()].strip()
    rest = t[a.end():]
    nxt = _Q.search(rest)
    answer = (rest[: nxt.start()] if nxt else rest).strip()
    if not question:
        return ParsedVIG("no_question", answer=answer)
    if not answer:
        return ParsedVIG("no_answer", question=question)
    return ParsedVIG("ok", question, answer)

