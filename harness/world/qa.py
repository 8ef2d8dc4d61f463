"""Question-answer templates over what a generator knows about an image.

A `Known` object is what some source of knowledge says about one object: ground truth knows
everything, a language-only generator knows boxes and categories (from the annotations) but
a colour only when a caption states it. The same templates serve the seed, gold and
language-only data, so the data sources differ in what they know, not in how they phrase it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from typing import TYPE_CHECKING, Sequence

from harness.world.spec import NUMBER_WORDS, SHAPES

if TYPE_CHECKING:
    from harness.core.records import Scene

MC_SUFFIX = "Answer with the option's letter from the given choices directly."
# LLaVA-1.5's prompt for short-answer VQA data (VQAv2, OK-VQA): the reply is a word or phrase.
VQA_SUFFIX = "Answer the question using a single word or phrase."


@dataclass(frozen=True)
class Known:
    """What is known of one object: category, size class, box centre, and maybe its colour.

    `cx`, `cy` are the box centre as fractions of the image width and height, so the same
    templates work on any image size (and on real COCO boxes).
    """

    shape: str
    size: str
    cx: float
    cy: float
    colour: str | None = None


@dataclass(frozen=True)
class QA:
    """One question with its answer; `kind` names the template (for stratified statistics)."""

    kind: str
    question: str
    answer: str
    short: str  # the answer as a word or phrase (option text, VQA answer)


def article(word: str) -> str:
    """'a' or 'an' for `word`."""
    return "an" if word[0] in "aeiou" else "a"


def quadrant_of(o: Known) -> str:
    """'top left' ... 'bottom right'."""
    return f"{'top' if o.cy < 0.5 else 'bottom'} {'left' if o.cx < 0.5 else 'right'}"


def number(n: int) -> str:
    """A count as a word (zero..ten), else digits."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def refer(o: Known, objs: list[Known], avoid: str = "") -> str | None:
    """The shortest unambiguous description of `o` among `objs` ('the star', 'the red star', ...).

    `avoid` ("colour" or "size") keeps that attribute out, so the question does not give
    away its own answer.
    """
    same = [p for p in objs if p.shape == o.shape]
    if len(same) == 1:
        return f"the {o.shape}"
    if avoid != "colour" and o.colour is not None and all(p.colour is not None for p in same):
        if sum(p.colour == o.colour for p in same) == 1:
            return f"the {o.colour} {o.shape}"
    if avoid != "size" and sum(p.size == o.size for p in same) == 1:
        return f"the {o.size} {o.shape}"
    return None


def relation(a: Known, b: Known) -> str | None:
    """Where `a` is relative to `b` when it is clear-cut: 'to the left of', 'above', ...

    Clear-cut means the offset along one axis is at least 1.5 times the other and at least
    a tenth of the image; otherwise a person would hesitate too.
    """
    dx, dy = a.cx - b.cx, a.cy - b.cy
    if abs(dx) >= 0.1 and abs(dx) >= 1.5 * abs(dy):
        return "to the left of" if dx < 0 else "to the right of"
    if abs(dy) >= 0.1 and abs(dy) >= 1.5 * abs(dx):
        return "above" if dy < 0 else "below"
    return None


def cap(s: str) -> str:
    """Upper-case the first letter."""
    return s[:1].upper() + s[1:]


def qa_count(objs: list[Known], rng: random.Random) -> QA:
    """How many shapes in total."""
    n = len(objs)
    return QA("count", rng.choice(("How many shapes are in the image?", "How many objects are there in the picture?")),
              f"There {'is' if n == 1 else 'are'} {number(n)} {'shape' if n == 1 else 'shapes'} in the image.", number(n))


def qa_count_shape(objs: list[Known], shape: str, rng: random.Random) -> QA:
    """How many of one category."""
    n = sum(o.shape == shape for o in objs)
    word = SHAPES[shape].plural
    if n == 0:
        ans = f"There are no {word}."
    elif n == 1:
        ans = f"There is one {shape}."
    else:
        ans = f"There are {number(n)} {word}."
    return QA("count_shape", f"How many {word} are there?", ans, number(n))


def qa_exists(objs: list[Known], shape: str, rng: random.Random) -> QA:
    """Is there a <category>: the POPE question."""
    yes = any(o.shape == shape for o in objs)
    a = article(shape)
    ans = f"Yes, there is {a} {shape} in the image." if yes else f"No, there is no {shape} in the image."
    return QA("exists", f"Is there {a} {shape} in the image?", ans, "yes" if yes else "no")


def qa_where(o: Known, ref: str, rng: random.Random) -> QA:
    """Which quadrant an object is in."""
    q = quadrant_of(o)
    return QA("where", f"Where is {ref}?", f"{cap(ref)} is in the {q} of the image.", q)


def qa_size(o: Known, ref: str, rng: random.Random) -> QA:
    """Big or small."""
    return QA("size", f"Is {ref} big or small?", f"{cap(ref)} is {o.size}.", o.size)


def qa_colour(o: Known, ref: str, rng: random.Random) -> QA:
    """The colour of an object whose colour is known."""
    assert o.colour is not None
    q = rng.choice((f"What colour is {ref}?", f"What is the colour of {ref}?"))
    return QA("colour", q, f"{cap(ref)} is {o.colour}.", o.colour)


def qa_shape_of_colour(o: Known, objs: list[Known], rng: random.Random) -> QA | None:
    """The shape of the only object of some colour."""
    if o.colour is None or any(p.colour is None for p in objs) or sum(p.colour == o.colour for p in objs) != 1:
        return None
    return QA("shape", f"What shape is the {o.colour} object?", f"The {o.colour} object is {article(o.shape)} {o.shape}.",
              o.shape)


def qa_relation(a: Known, ra: str, b: Known, rb: str, rng: random.Random) -> QA | None:
    """Where one object is relative to another."""
    rel = relation(a, b)
    if rel is None:
        return None
    if rel in ("to the left of", "to the right of"):
        q = f"Is {ra} to the left or to the right of {rb}?"
    else:
        q = f"Is {ra} above or below {rb}?"
    return QA("relation", q, f"{cap(ra)} is {rel} {rb}.", rel.replace("to the ", "").replace(" of", ""))


def qa_bigger(a: Known, ra: str, b: Known, rb: str, rng: random.Random) -> QA | None:
    """Which of two objects of different sizes is bigger."""
    if a.size == b.size:
        return None
    big, small = (ra, rb) if a.size == "big" else (rb, ra)
    return QA("bigger", f"Which is bigger, {ra} or {rb}?", f"{cap(big)} is bigger than {small}.", big)


def object_questions(o: Known, objs: list[Known], rng: random.Random) -> list[QA]:
    """The single-object questions about `o` that the known facts support, in a fixed order:
    its colour (when known), where it is, its size, and its shape when its colour is unique."""
    out: list[QA] = []
    if (r := refer(o, objs, avoid="colour")) and o.colour is not None:
        out.append(qa_colour(o, r, rng))
    if r := refer(o, objs):
        out.append(qa_where(o, r, rng))
    if r := refer(o, objs, avoid="size"):
        out.append(qa_size(o, r, rng))
    if q := qa_shape_of_colour(o, objs, rng):
        out.append(q)
    return out


def unique_mode(values: Sequence[str]) -> str | None:
    """The value occurring most often, when it is unique and occurs at least twice."""
    top = Counter(values).most_common()
    if not top or top[0][1] < 2 or (len(top) > 1 and top[1][1] == top[0][1]):
        return None
    return top[0][0]


def qa_most_shape(objs: list[Known], rng: random.Random) -> QA | None:
    """The shape that appears most often, when one clearly does."""
    m = unique_mode([o.shape for o in objs])
    if m is None:
        return None
    return QA("most_shape", "Which shape appears most often in the image?",
              f"The {m} appears most often: there are {number(sum(o.shape == m for o in objs))} {SHAPES[m].plural}.", m)


def qa_most_colour(objs: list[Known], rng: random.Random) -> QA | None:
    """The most common colour, when every colour is known and one clearly dominates."""
    if any(o.colour is None for o in objs):
        return None
    m = unique_mode([str(o.colour) for o in objs])
    if m is None:
        return None
    return QA("most_colour", "Which colour is the most common in the image?", f"Most of the shapes are {m}.", m)


def qa_same_colour(a: Known, ra: str, b: Known, rb: str, rng: random.Random) -> QA | None:
    """Whether two objects share a colour (both colours known)."""
    if a.colour is None or b.colour is None:
        return None
    same = a.colour == b.colour
    ans = f"Yes, both are {a.colour}." if same else f"No, {ra} is {a.colour} and {rb} is {b.colour}."
    return QA("same_colour", f"Are {ra} and {rb} the same colour?", ans, "yes" if same else "no")


def qa_crowded(objs: list[Known], rng: random.Random) -> QA:
    """Crowded (four or more shapes) or sparse, the rule stated in the question."""
    crowded = len(objs) >= 4
    word = "crowded" if crowded else "sparse"
    return QA("crowded", "Counting four or more shapes as crowded, is the picture crowded or sparse?",
              f"The picture is {word}: it has {number(len(objs))} {'shape' if len(objs) == 1 else 'shapes'}.", word)


def multiple_choice(question: str, options: list[str], correct: int) -> tuple[str, str]:
    """Format a question with lettered options (LLaVA-1.5 style); returns (prompt, letter)."""
    letters = "ABCDEFGH"
    lines = [question] + [f"{letters[i]}. {opt}" for i, opt in enumerate(options)] + [MC_SUFFIX]
    return "\n".join(lines), letters[correct]


def split_options(text: str) -> tuple[str, str]:
    """A prompt cut before its lettered options: (question, "A. ..." lines and what follows them),
    or (text, "") when it has none.

    The tiny models see the image between the two (`harness.models.encode.image_after_question`).
    A causal LM reads left to right: with the image after the options, an option's tokens cannot
    look at the image, and the whole match (find the answer in the image, then the option that
    says it, then its letter) falls to the last position. Pilot, continuing the shipped LM on
    lettered questions for 500 steps: with the image last, colour options stayed at 0.50 and
    counts at 0.25; with the image before the options, 0.99 and 0.72.
    """
    if text.startswith("A. "):
        return "", text
    i = text.find("\nA. ")
    if i < 0:
        return text, ""
    return text[:i].rstrip(), text[i + 1:]


def size_class(w: float, image_w: float, grid: int = 4) -> str:
    """'big' or 'small' from a box's width as a share of its grid cell (the world's two sizes
    are 0.8 and 0.45 of a cell; 0.6 splits them, i.e. 0.15 of the width on the default 4x4 grid)."""
    return "big" if w * grid / image_w >= 0.6 else "small"


def known_from_scene(scene: "Scene") -> list[Known]:
    """Ground truth as `Known` objects: everything, colours included."""
    return [Known(o.shape, o.size, o.cx / scene.width, o.cy / scene.height, o.colour) for o in scene.objects]


QUADRANTS = ("top left", "top right", "bottom left", "bottom right")


def _option_pool(qa: QA) -> list[str] | None:
    from harness.world.spec import COLOURS

    if qa.kind in ("count", "count_shape"):
        return [str(i) for i in range(0 if qa.kind == "count_shape" else 1, 7)]
    if qa.kind == "colour":
        return list(COLOURS)
    if qa.kind == "shape":
        return list(SHAPES)
    if qa.kind == "where":
        return list(QUADRANTS)
    if qa.kind == "size":
        return ["small", "big"]
    if qa.kind in ("exists", "same_colour"):
        return ["yes", "no"]
    if qa.kind == "most_shape":
        return list(SHAPES)
    if qa.kind == "most_colour":
        return list(COLOURS)
    if qa.kind == "crowded":
        return ["crowded", "sparse"]
    if qa.kind == "relation":
        return ["left", "right"] if qa.short in ("left", "right") else ["above", "below"]
    if qa.kind == "bigger":
        inner = qa.question[len("Which is bigger, "):-1]
        a, _, b = inner.partition(" or ")
        return [a, b]
    return None


def as_multiple_choice(qa: QA, rng: random.Random, n_options: int = 4) -> tuple[str, str] | None:
    """The question with lettered options (LLaVA-1.5 layout) and the correct letter.

    Counts become digits, as benchmark options write them; None for kinds without options.
    """
    pool = _option_pool(qa)
    if pool is None:
        return None
    correct = qa.short
    if qa.kind in ("count", "count_shape"):
        correct = str(NUMBER_WORDS.index(qa.short)) if qa.short in NUMBER_WORDS else qa.short
    if correct not in pool:
        return None
    wrong = [p for p in pool if p != correct]
    options = rng.sample(wrong, min(n_options - 1, len(wrong))) + [correct]
    rng.shuffle(options)
    return multiple_choice(qa.question, options, options.index(correct))
