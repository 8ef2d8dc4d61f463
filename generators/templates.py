"""Phrasings shared by the template-based generators (language-only and gold).

They differ only in the `Known` objects they are given: gold knows everything, the
language-only generator knows what annotations tell. Conversation questions follow the
kinds of LLaVA-Instruct's conversations about an image: what, how many, where, which.
"""

from __future__ import annotations

import random
from typing import Sequence

from harness.world.qa import (QA, Known, article, as_multiple_choice, cap, number, object_questions, qa_bigger, qa_count,
                              qa_count_shape, qa_crowded, qa_exists, qa_most_colour, qa_most_shape, qa_relation,
                              qa_same_colour, quadrant_of, refer)
from harness.world.spec import COLOUR_INFO, SHAPES

DETAIL_PROMPTS = (
    "Describe the following image in detail.",
    "Provide a detailed description of the given image.",
    "Give an elaborate explanation of the image you see.",
    "Explain the visual content of the image in great detail.",
    "What do you see in this image? Describe it in detail.",
)


def object_qas(objs: Sequence[Known], rng: random.Random) -> list[QA]:
    """Every single-object and pairwise question the known facts support."""
    objs = list(objs)
    out: list[QA] = [qa_count(objs, rng)]
    shapes = list(SHAPES)
    present = sorted({o.shape for o in objs})
    absent = [s for s in shapes if s not in present]
    if present:
        out.append(qa_exists(objs, rng.choice(present), rng))
    if absent:
        out.append(qa_exists(objs, rng.choice(absent), rng))
    out.append(qa_count_shape(objs, rng.choice(present if rng.random() < 0.7 and present else shapes), rng))
    out.append(qa_crowded(objs, rng))
    out += [q for q in (qa_most_shape(objs, rng), qa_most_colour(objs, rng)) if q is not None]
    for o in objs:
        out += object_questions(o, objs, rng)
    refs = [(o, r) for o in objs if (r := refer(o, objs))]
    pairs = [(a, b) for a in refs for b in refs if a[0] is not b[0]]
    rng.shuffle(pairs)
    for (a, ra), (b, rb) in pairs[:4]:
        for q in (qa_relation(a, ra, b, rb, rng), qa_bigger(a, ra, b, rb, rng)):
            if q is not None:
                out.append(q)
        # Named without their colours, or the question would give its own answer away.
        ca, cb = refer(a, objs, avoid="colour"), refer(b, objs, avoid="colour")
        if ca and cb and (q := qa_same_colour(a, ca, b, cb, rng)):
            out.append(q)
    return out


def conversation_qas(objs: Sequence[Known], rng: random.Random, turns: tuple[int, int] = (2, 4),
                     mc_fraction: float = 0.2) -> list[tuple[str, str]]:
    """A multi-turn conversation: a random selection of the supported questions.

    A share `mc_fraction` of the turns is asked as a multiple-choice question answered with
    the option's letter, as LLaVA-1.5's training mix does.
    """
    qas = object_qas(objs, rng)
    rng.shuffle(qas)
    n = rng.randint(*turns)
    # Keep the kinds varied: at most two questions of one kind per conversation.
    picked: list[QA] = []
    seen: dict[str, int] = {}
    for qa in qas:
        if seen.get(qa.kind, 0) < 2:
            picked.append(qa)
            seen[qa.kind] = seen.get(qa.kind, 0) + 1
        if len(picked) == n:
            break
    out = []
    for qa in picked:
        mc = as_multiple_choice(qa, rng) if rng.random() < mc_fraction else None
        out.append(mc if mc is not None else (qa.question, qa.answer))
    return out


def _describe(o: Known) -> str:
    words = [o.size] + ([o.colour] if o.colour else []) + [o.shape]
    return f"{article(words[0])} {' '.join(words)}"


def detail_description(objs: Sequence[Known], rng: random.Random) -> str:
    """A detailed description: the count, then each object with its place, top to bottom."""
    objs = sorted(objs, key=lambda o: (round(o.cy, 1), o.cx))
    n = len(objs)
    parts = [f"The image shows {number(n)} {'shape' if n == 1 else 'shapes'} on a white background."]
    for o in objs:
        parts.append(f"In the {quadrant_of(o)} there is {_describe(o)}.")
    return " ".join(parts)


def reasoning_qa(objs: Sequence[Known], rng: random.Random) -> tuple[str, str] | None:
    """A question that needs a step of reasoning over the objects, answered with the reason."""
    objs = list(objs)
    kinds = ["remove", "most_sides", "corner"]
    if any(o.colour for o in objs):
        kinds.append("warm")
    kind = rng.choice(kinds)
    if kind == "remove":
        shape = rng.choice(sorted({o.shape for o in objs}))
        k = sum(o.shape == shape for o in objs)
        left = len(objs) - k
        return (f"If all the {SHAPES[shape].plural} were taken away, how many shapes would be left?",
                f"There {'is' if k == 1 else 'are'} {number(k)} {shape if k == 1 else SHAPES[shape].plural} among the "
                f"{number(len(objs))} shapes, so {number(left)} {'shape' if left == 1 else 'shapes'} would be left.")
    if kind == "most_sides":
        best = max(SHAPES[o.shape].sides for o in objs)
        top = sorted({o.shape for o in objs if SHAPES[o.shape].sides == best})
        if len(top) != 1:
            return None
        s = top[0]
        return ("Which shape in the image has the most sides?",
                f"The {s} has the most sides: {SHAPES[s].facts[0][0].lower() + SHAPES[s].facts[0][1:]}")
    if kind == "corner":
        o = min(objs, key=lambda p: p.cx + p.cy)
        r = refer(o, objs) or f"the {o.shape}"
        return ("Which object is closest to the top left corner of the image?",
                f"{cap(r)} is closest to the top left corner, because it is in the {quadrant_of(o)} of the image.")
    warm = [o for o in objs if o.colour and COLOUR_INFO[o.colour].warm]
    if not warm:
        return ("Is there anything in a warm colour in the image?",
                "No, none of the shapes I can name the colour of is in a warm colour such as red, orange or yellow.")
    o = warm[0]
    return ("Is there anything in a warm colour in the image?",
            f"Yes, there is {_describe(o)}, and {o.colour} is a warm colour.")


def knowledge_qa(objs: Sequence[Known], rng: random.Random) -> tuple[str, str] | None:
    """An OK-VQA-style question needing a fact about a visible object; short answer."""
    objs = list(objs)
    o = rng.choice(objs)
    r = refer(o, objs)
    if r is None:
        return None
    kind = rng.choice(("sides", "symbol", "thing") if o.colour else ("sides", "symbol"))
    if kind == "sides":
        return f"How many sides does a shape like {r} have?", str(SHAPES[o.shape].sides)
    if kind == "symbol":
        return f"What is a shape like {r} often a symbol of?", SHAPES[o.shape].symbol_of
    assert o.colour is not None
    return f"Name something that has the same colour as {r}.", COLOUR_INFO[o.colour].thing
