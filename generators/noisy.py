"""Calibration data: gold data with a known share of its answers corrupted.

A study that cannot rank known-bad data below good data cannot judge a data source, so the
default study adds `seed+noisy50` and `seed+noisy100` beside `seed+gold`: the same images, the
same questions, with half or all of the answers made wrong in the ways generators really fail
(`CORRUPTIONS`):

- `attribute`: a wrong attribute: a colour, size, place or number replaced by another one of
  its kind ("the star is red" -> "the star is blue");
- `object`: an object that is not there: a shape word replaced by a shape the image lacks
  (an existence answer flipped; a description gains an absent object);
- `swap`: the answer written for another image (to the same question where it was asked).

Which records are corrupted, and how, is a pure function of the seed and the image ids; each
corrupted record says how in its `corruption` field, so the damage can be audited.
"""

from __future__ import annotations

import random
import re
from typing import Sequence

from generators import register_generator
from generators.base import GenerationContext, Generator
from generators.gold import Gold
from harness.core.errors import BadConfig
from harness.core.records import GenerationRecord
from harness.world.qa import article
from harness.world.spec import COLOURS, NUMBER_WORDS, SHAPES, all_object_words

CORRUPTIONS = ("attribute", "object", "swap")
_WORD = re.compile(r"[A-Za-z]+|\d+")
_SIZES = {"big": "small", "small": "big", "large": "small"}
_SIDES = {"left": "right", "right": "left", "top": "bottom", "bottom": "top", "above": "below", "below": "above"}
_NOUNS = all_object_words()


def _numbers() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i, w in enumerate(NUMBER_WORDS):
        out[w] = [NUMBER_WORDS[j] for j in (i - 1, i + 1) if 0 <= j < len(NUMBER_WORDS)]
        out[str(i)] = [str(j) for j in (i - 1, i + 1) if j >= 0]
    return out


_NUMBERS = _numbers()


def _replace_word(text: str, start: int, end: int, new: str) -> str:
    old = text[start:end]
    if old[:1].isupper():
        new = new[:1].upper() + new[1:]
    return text[:start] + new + text[end:]


def wrong_attribute(answer: str, rng: random.Random) -> str | None:
    """`answer` with one colour, size, side or number word replaced by a wrong one; None if it has none."""
    spots = []
    for m in _WORD.finditer(answer):
        w = m.group().lower()
        if w in COLOURS:
            spots.append((m, rng.choice([c for c in COLOURS if c != w])))
        elif w in _SIZES:
            spots.append((m, _SIZES[w]))
        elif w in _SIDES:
            spots.append((m, _SIDES[w]))
        elif w in _NUMBERS and _NUMBERS[w]:
            spots.append((m, rng.choice(_NUMBERS[w])))
    if not spots:
        return None
    m, new = rng.choice(spots)
    return _replace_word(answer, m.start(), m.end(), new)


def absent_object(answer: str, present: set[str], rng: random.Random) -> str | None:
    """`answer` naming a shape the image lacks; None when nothing can be swapped in."""
    absent = [s for s in SHAPES if s not in present]
    if not absent:
        return None
    first = answer.split(",")[0].split(".")[0].strip().lower()
    if first in ("yes", "no"):  # an existence answer: the opposite claim
        m = re.match(r"(yes), there (is|are) (an?|\w+) ", answer, re.I) or re.match(r"(no), there (is|are) no ", answer, re.I)
        if m is None:
            return ("No" if first == "yes" else "Yes") + answer[len(first):]
        rest = answer[m.end():]
        if first == "yes":
            return f"No, there {m.group(2)} no {rest}"
        return f"Yes, there {m.group(2)} {article(rest) if m.group(2) == 'is' else 'some'} {rest}"
    spots = [m for m in _WORD.finditer(answer) if m.group().lower() in _NOUNS]
    if not spots:
        return None
    m = rng.choice(spots)
    new = rng.choice(absent)
    if m.group().lower() != _NOUNS[m.group().lower()] and m.group().lower() == SHAPES[_NOUNS[m.group().lower()]].plural:
        new = SHAPES[new].plural
    return _replace_word(answer, m.start(), m.end(), new)


def corrupt(records: Sequence[GenerationRecord], noise: float, seed: int,
            present: dict[str, set[str]]) -> list[GenerationRecord]:
    """`records` (of several images) with round(noise * n) of them corrupted.

    `present` maps an image to the shapes it has (for `object`). The records to corrupt are a
    seeded sample; each gets a kind drawn among those that apply to it (`swap` always does
    when another image has a record of the same data type).
    """
    if not 0.0 <= noise <= 1.0:
        raise BadConfig(f"noisy: noise must be between 0 and 1, got {noise}")
    rng = random.Random(f"noisy/{seed}")
    ok = [i for i, r in enumerate(records) if r.parse_status == "ok"]
    chosen = set(rng.sample(ok, round(noise * len(ok))))
    by_type: dict[str, list[int]] = {}
    for i in ok:
        by_type.setdefault(records[i].data_type, []).append(i)
    out = list(records)
    for i in sorted(chosen):
        r = records[i]
        options: list[tuple[str, str]] = []
        if (a := wrong_attribute(r.answer, rng)) is not None:
            options.append(("attribute", a))
        if (a := absent_object(r.answer, present.get(r.image, set()), rng)) is not None:
            options.append(("object", a))
        others = [j for j in by_type[r.data_type] if records[j].image != r.image and records[j].answer != r.answer]
        if others:
            same_q = [j for j in others if records[j].question == r.question]
            options.append(("swap", records[rng.choice(same_q or others)].answer))
        if not options:
            continue
        kind, answer = rng.choice(options)
        out[i] = r.model_copy(update={"answer": answer, "raw_output": answer, "corruption": kind})
    return out


@register_generator("noisy")
class Noisy(Generator):
    """Gold data with a share (`options['noise']`, 0-1) of its answers corrupted (embedded world only)."""

    name = "noisy"
    needs_ground_truth = True
    data_types = Gold.data_types

    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        """Gold's records for the same images, then `corrupt`; records keep gold's ids and questions."""
        noise = float(ctx.options.get("noise", 0.5))
        gold = Gold().generate(ctx)
        present = {info.file_name: {o.shape for o in info.scene.objects} for info in ctx.images
                   if info.scene is not None}
        recs = corrupt(gold, noise, ctx.seed, present)
        return [r.model_copy(update={"generator": self.name}) for r in recs]
