"""Phrasings shared by the template-based generators (language-only and gold).

They differ only in the `Known` objects they are given: gold knows everything, the
language-only generator knows what annotations tell. Conversation questions follow the
kinds of LLaVA-Instruct's conversations about an image: what, how many, where, which.
"""

from __future__ import annotations

import random
from typing import Sequence

from harness.world.qa import (QA, VQA_SUFFIX, Known, article, as_multiple_choice, cap, multiple_choice, number, object_questions, qa_bigger, qa_count,
                              qa_count_shape, qa_crowded, qa_exists, qa_most_colour, qa_most_shape, qa_relation,
                              qa_same_colour, quadrant_of, refer)
from harness.world.spec import COLOUR_INFO, SHAPES

# Detailed-description instructions, as varied as LLaVA's (16 phrasings), one of them CHAIR's
# prompt, as the other benchmarks' prompts are instruction formats the data teaches (POPE's
# question, the VQA and lettered-option suffixes). A 4-layer LM does not carry a request across
# wordings as a 7B one does: with CHAIR's prompt left out, targets trained on knowledge VQA
# answered it with a short, garbled reply ("The cross is no cross.") 88 times in 300 (gold;
# seed 18), and 0 times for any phrasing here; CHAIRi then measured following an unseen
# prompt rather than hallucination (gold 9.6 against seed 2.6; 1.3 and 1.4 with this list's
# first phrasing). With only five phrasings, it was about half of all replies.
DETAIL_PROMPTS = (
    "Describe the following image in detail.",
    "Provide a detailed description of the given image.",
    "Give an elaborate explanation of the image you see.",
    "Explain the visual content of the image in great detail.",
    "What do you see in this image? Describe it in detail.",
    "Tell me about this picture in detail.",
    "Write a detailed account of what the picture shows.",
    "Describe everything you can see in the picture.",
    "Give a thorough description of this image.",
    "What is in this picture? Describe it fully.",
    "Please describe the picture in detail.",
    "Walk me through the contents of this image.",
    "Describe this image in detail.",
    "Write a detailed description of this scene.",
    "Write a full description of the image.",
    "Describe the objects in this image and where they are.",
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


def _by_colour_or_place(o: Known, objs: Sequence[Known]) -> list[str]:
    """Ways to point at `o` without naming its shape: its colour or its quadrant, when unique."""
    refs = []
    if o.colour is not None and all(p.colour is not None for p in objs) and sum(p.colour == o.colour for p in objs) == 1:
        refs.append(f"the {o.colour} shape")
    if sum(quadrant_of(p) == quadrant_of(o) for p in objs) == 1:
        refs.append(f"the shape in the {quadrant_of(o)}")
    return refs


def _by_shape_or_place(o: Known, objs: Sequence[Known]) -> list[str]:
    """Ways to point at `o` without naming its colour: its shape (and size), or its quadrant."""
    refs = [r] if (r := refer(o, list(objs), avoid="colour")) else []
    if sum(quadrant_of(p) == quadrant_of(o) for p in objs) == 1:
        refs.append(f"the shape in the {quadrant_of(o)}")
    return refs


def _knowledge_options(kind: str) -> list[str]:
    """Every answer the world's knowledge base gives to a knowledge question of `kind`."""
    if kind in ("sides", "corners"):
        return sorted({str(getattr(s, kind)) for s in SHAPES.values()}, key=int)
    if kind == "symbol":
        return sorted({s.symbol_of for s in SHAPES.values()})
    if kind == "warm":
        return ["cool", "warm"]
    if kind == "mix":
        return sorted({f"{c.mix[0]} and {c.mix[1]}" for c in COLOUR_INFO.values() if c.mix})
    return sorted({c.thing for c in COLOUR_INFO.values()})


def knowledge_qa(objs: Sequence[Known], rng: random.Random, mc_fraction: float = 0.5) -> tuple[str, str] | None:
    """A knowledge question about an object that must be seen, in a knowledge-VQA set's format.

    The object is pointed at so that the question does not give away what the fact is about:
    a question on its shape (sides, corners, symbol) names its colour or place, one on its
    colour (warm or cool, the colours that make it, a thing of that colour) names its shape or
    place. A question needs what is known: an object whose colour is unknown gets no colour
    question, and one that cannot be pointed at gets none.

    Asked as the real knowledge-VQA training sets are in LLaVA-1.5's mix: a share
    `mc_fraction` as A-OKVQA's multiple choice (four lettered options, answered with the
    letter), the rest as OK-VQA's direct answer (a word or phrase, the prompt saying so).
    Without the prompts' instructions, targets answered OK-VQA's prompt with a description
    (accuracy 0.0 for every source, gold included).
    """
    objs = list(objs)
    cands: list[tuple[str, Known, str]] = []
    for o in objs:
        cands += [(k, o, r) for r in _by_colour_or_place(o, objs) for k in ("sides", "corners", "symbol")]
        if o.colour is not None:
            kinds = ("warm", "thing") + (("mix",) if COLOUR_INFO[o.colour].mix else ())
            cands += [(k, o, r) for r in _by_shape_or_place(o, objs) for k in kinds]
    if not cands:
        return None
    kind, o, r = rng.choice(cands)
    s = SHAPES[o.shape]
    if kind in ("sides", "corners"):
        question, answer = f"How many {kind} does {r} have?", str(s.sides if kind == "sides" else s.corners)
    elif kind == "symbol":
        question, answer = f"What is {r} often a symbol of?", s.symbol_of
    else:
        assert o.colour is not None
        c = COLOUR_INFO[o.colour]
        if kind == "warm":
            question, answer = f"Is the colour of {r} warm or cool?", "warm" if c.warm else "cool"
        elif kind == "mix":
            assert c.mix is not None
            question, answer = f"Which two colours make the colour of {r}?", f"{c.mix[0]} and {c.mix[1]}"
        else:
            question, answer = f"Name something that has the same colour as {r}.", c.thing
    if rng.random() < mc_fraction:
        wrong = [a for a in _knowledge_options(kind) if a != answer]
        options = rng.sample(wrong, min(3, len(wrong))) + [answer]
        rng.shuffle(options)
        return multiple_choice(question, options, options.index(answer))
    return f"{question}\n{VQA_SUFFIX}", answer
