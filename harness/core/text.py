"""Text helpers shared across layers: sentence splitting.

VIC keeps the first sentence of each step (generators), the VIGC model is trained on answers
cut into sentences (stages), and the quality metrics count sentences: one rule for all.
"""

from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by whitespace (keeps the punctuation)."""
    t = text.strip()
    return [s.strip() for s in _SENT.split(t) if s.strip()] if t else []


def first_sentence(text: str) -> str:
    """The first sentence of `text` ('' for empty text)."""
    ss = sentences(text)
    return ss[0] if ss else ""
