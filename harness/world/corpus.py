"""World text: what the language model reads before it ever sees an image.

The stand-in for the web text a real LLM is trained on: human-like captions, the knowledge
base as plain sentences and as question-answer pairs (facts a picture cannot show), and the
fixed phrases that instructions and benchmark prompts use, so the tokenizer learns them.
"""

from __future__ import annotations

import random
from typing import Iterator, Sequence

from harness.core.records import Scene
from harness.world.captions import make_captions
from harness.world.qa import MC_SUFFIX, article
from harness.world.spec import COLOUR_INFO, NUMBER_WORDS, SHAPES

# Phrases that prompts use; listed so the tokenizer gives them compact tokens.
PROMPT_PHRASES = (
    MC_SUFFIX,
    "Answer the question using a single word or phrase.",
    "Is there a {} in the image?",
    "Describe this image in detail.",
    "Generate a question based on the content of the given image and then answer it.",
    "Question: Answer:",
    "Options: A. B. C. D. E.",
    "Hint: Context: Lecture: Solution: The answer is",
)


def knowledge_sentences() -> list[str]:
    """Every fact of the knowledge base as a sentence."""
    out: list[str] = []
    for s in SHAPES.values():
        out.extend(s.facts)
        sides = NUMBER_WORDS[s.sides] if s.sides < len(NUMBER_WORDS) else str(s.sides)
        out.append(f"{article(s.name).capitalize()} {s.name} has {sides} sides and {s.corners} corners.")
        out.append(f"{article(s.name).capitalize()} {s.name} is often a symbol of {s.symbol_of}.")
        if s.synonyms:
            out.append(f"Another word for {s.name} is {s.synonyms[0]}.")
    for c in COLOUR_INFO.values():
        out.append(f"{c.name.capitalize()} is a {'warm' if c.warm else 'cool'} colour.")
        out.append(f"{c.thing[0].upper() + c.thing[1:]} is {c.name}.")
        if c.mix:
            out.append(f"Mixing {c.mix[0]} and {c.mix[1]} makes {c.name}.")
    return out


def knowledge_qa(rng: random.Random) -> tuple[str, str]:
    """One question about the knowledge base with its short answer."""
    if rng.random() < 0.6:
        s = rng.choice(list(SHAPES.values()))
        kind = rng.choice(("sides", "symbol", "corners"))
        if kind == "sides":
            return f"How many sides does {article(s.name)} {s.name} have?", str(s.sides)
        if kind == "corners":
            return f"How many corners does {article(s.name)} {s.name} have?", str(s.corners)
        return f"What is {article(s.name)} {s.name} often a symbol of?", s.symbol_of
    c = rng.choice(list(COLOUR_INFO.values()))
    kind = rng.choice(("warm", "thing") + (("mix",) if c.mix else ()))
    if kind == "warm":
        return f"Is {c.name} a warm or a cool colour?", "warm" if c.warm else "cool"
    if kind == "mix":
        assert c.mix is not None
        return f"Which two colours make {c.name}?", f"{c.mix[0]} and {c.mix[1]}"
    return f"Name something that is {c.name}.", c.thing


def corpus(scenes: Sequence[Scene], seed: int, captions_per_scene: int = 2) -> Iterator[str]:
    """Plain-text documents for tokenizer training: captions, facts and prompt phrases."""
    for s in scenes:
        yield from make_captions(s, seed, captions_per_scene)
    for _ in range(20):
        yield from knowledge_sentences()
        yield from PROMPT_PHRASES
