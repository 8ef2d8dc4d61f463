"""A scene read out: what the language model learns about scenes before instruction tuning.

The embedded LM is the stand-in for an LLM that can read an object list: it learns the world's
words and facts, and to read a scene written as object slots (`harness.models.slots`). It does
not learn the visual question formats that instruction data teaches (yes/no questions about
the image, lettered options, short VQA answers, knowledge questions about a seen object,
detailed descriptions in LLaVA's layout). So the scene is read out in two forms only:

- **Statements** (`statements`): true sentences about the scene, each keyed by what it is
  about, in the order a lookup runs: the object first, then its attribute ("The star is red.",
  "The yellow object is a star."), the category first, then whether it is there ("A heart is
  not in the image.", "The number of stars is two."), the pair first, then how they compare
  ("Of the star and the circle, the star is bigger."). An LLM reads such facts from a
  description; here they are read from slots.
- **Quizzes** (`quiz`): a question with numbered options, answered with the option's number,
  an exam format ("Quiz: ... Options: (1) red (2) blue ... Reply with the option number.").
  Instruction data teaches LLaVA's own format (lettered options, "Answer with the option's
  letter from the given choices directly.").

Why any of it is in pretraining (pilots, 2 cores, LM 4,000 steps, llava target finetuned on
3,000 seed images): an LM that only described scenes (captions, object lists) and answered
questions about scenes written as text answered POPE at 48-50% and MMBench at 1-2% after one
or two epochs of seed data; finetuning cannot teach lookups in slots in this budget (earlier
pilots: ~60k questions). With keyed statements about colours, the finetuned model answered
colour questions at 96% on held-out images; without keyed existence statements, existence
stayed at the 'no' prior.
"""

from __future__ import annotations

import random
from typing import Any

from harness.core.records import Scene
from harness.world.qa import (QA, article, as_multiple_choice, cap, known_from_scene, number, quadrant_of, refer,
                              relation, split_options, unique_mode)
from harness.world.spec import SHAPES

QUIZ_SUFFIX = "Reply with the option number."


def statements(scene: Scene, rng: random.Random) -> list[tuple[str, str]]:
    """Every keyed statement about the scene as (kind, sentence); kinds as `harness.world.qa`'s."""
    objs = known_from_scene(scene)
    out: list[tuple[str, str]] = []
    for o in objs:
        if r := refer(o, objs, avoid="colour"):
            out.append(("colour", f"{cap(r)} is {o.colour}."))
        if r := refer(o, objs, avoid="size"):
            out.append(("size", f"{cap(r)} is {o.size}."))
        if r := refer(o, objs):
            out.append(("where", f"{cap(r)} is in the {quadrant_of(o)} of the image."))
        if sum(p.colour == o.colour for p in objs) == 1:
            out.append(("shape", f"The {o.colour} object is {article(o.shape)} {o.shape}."))
    present = {o.shape for o in objs}
    for s in SHAPES:
        out.append(("exists", f"{cap(article(s))} {s} is {'' if s in present else 'not '}in the image."))
        if s in present or rng.random() < 0.3:
            out.append(("count_shape", f"The number of {SHAPES[s].plural} is {number(sum(o.shape == s for o in objs))}."))
    out.append(("count", f"The number of shapes is {number(len(objs))}."))
    out.append(("crowded", "Counting four or more shapes as crowded, the picture is "
                           f"{'crowded' if len(objs) >= 4 else 'sparse'}."))
    if m := unique_mode([o.shape for o in objs]):
        out.append(("most_shape", f"The most common shape is the {m}."))
    if m := unique_mode([str(o.colour) for o in objs]):
        out.append(("most_colour", f"The most common colour is {m}."))
    refs = [(o, r) for o in objs if (r := refer(o, objs))]
    for a, ra in refs:
        for b, rb in refs:
            if a is b:
                continue
            if rel := relation(a, b):
                side = rel.replace("to the ", "on the ").replace(" of", "")
                out.append(("relation", rng.choice((f"Relative to {rb}, {ra} is {side}.", f"{cap(ra)} is {rel} {rb}."))))
            if a.size == "big" and b.size == "small":
                out.append(("bigger", f"Of {ra} and {rb}, {ra} is bigger."))
            ca, cb = refer(a, objs, avoid="colour"), refer(b, objs, avoid="colour")
            if ca and cb:
                out.append(("same_colour", f"{cap(ca)} and {cb} are both {a.colour}." if a.colour == b.colour
                            else f"{cap(ca)} and {cb} have different colours."))
    return out


def statements_text(scene: Scene, rng: random.Random, n: tuple[int, int] = (2, 5)) -> str:
    """A few statements about the scene, drawn kind-first (the rarer kinds are the harder ones)."""
    by_kind: dict[str, list[str]] = {}
    for kind, s in statements(scene, rng):
        by_kind.setdefault(kind, []).append(s)
    kinds = sorted(by_kind)
    picked: list[str] = []
    for _ in range(rng.randint(*n)):
        s = rng.choice(by_kind[rng.choice(kinds)])
        if s not in picked:
            picked.append(s)
    return " ".join(picked)


def quiz(qa: QA, rng: random.Random) -> tuple[str, str, str] | None:
    """(question, options line with the suffix, answer such as '(2)') of a numbered quiz; None
    for a question kind without options. The image goes between question and options."""
    mc = as_multiple_choice(qa, rng)
    if mc is None:
        return None
    prompt, letter = mc
    question, opts = split_options(prompt)
    lines = [line[3:] for line in opts.splitlines() if len(line) > 3 and line[1:3] == ". "]
    options = " ".join(f"({i + 1}) {text}" for i, text in enumerate(lines))
    return f"Quiz: {question}", f"Options: {options}\n{QUIZ_SUFFIX}", f"({'ABCDEFGH'.index(letter) + 1})"


def quiz_messages(qa: QA, rng: random.Random) -> list[dict[str, Any]] | None:
    """A numbered quiz as chat messages, the scene's slots between question and options."""
    q = quiz(qa, rng)
    if q is None:
        return None
    question, options, answer = q
    content = [{"type": "text", "text": question}, {"type": "image"}, {"type": "text", "text": options}]
    return [{"role": "user", "content": content}, {"role": "assistant", "content": answer}]
