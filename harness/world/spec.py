"""Vocabulary of the embedded world and its knowledge base (facts not visible in pixels).

Shapes play the role of COCO categories (POPE and CHAIR count them as objects); each has
several names, as COCO classes have synonyms. Colours and sizes are attributes. The
knowledge facts are what OK-VQA / ScienceQA-style questions need beyond the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

# RGB values are far apart so that colour is learnable at 10 px; each object gets a little
# jitter around them so that images are not palette-exact.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 145, 30),
    "yellow": (235, 215, 40),
    "green": (45, 165, 70),
    "blue": (45, 85, 225),
    "purple": (145, 60, 190),
    "brown": (125, 75, 35),
    "black": (35, 35, 35),
}

SIZES: tuple[str, ...] = ("small", "big")


@dataclass(frozen=True)
class ShapeInfo:
    """A shape category: its canonical name, other names, and knowledge about it."""

    name: str
    plural: str
    synonyms: tuple[str, ...]
    sides: int  # 0 for round shapes; what "how many sides" questions ask
    corners: int
    facts: tuple[str, ...]  # sentences a lecture or rationale can cite
    symbol_of: str  # what the shape stands for in the world's culture (not visible)
    popularity: float  # relative frequency in scenes: makes POPE "popular" meaningful


SHAPES: dict[str, ShapeInfo] = {
    s.name: s
    for s in (
        ShapeInfo("circle", "circles", ("disc", "disk", "dot"), 0, 0,
                  ("A circle has no sides and no corners.", "Every point of a circle is the same distance from its centre."),
                  "the sun", 0.22),
        ShapeInfo("square", "squares", ("box",), 4, 4,
                  ("A square has four equal sides.", "A square has four right angles."), "a window", 0.18),
        ShapeInfo("triangle", "triangles", ("wedge",), 3, 3,
                  ("A triangle has three sides.", "The angles of a triangle add up to 180 degrees."), "a mountain", 0.15),
        ShapeInfo("star", "stars", ("asterisk",), 10, 10,
                  ("A star has five points.", "A five-pointed star has ten sides."), "the night sky", 0.12),
        ShapeInfo("heart", "hearts", ("valentine",), 0, 1,
                  ("A heart has one point at the bottom.", "A heart is a symbol of love."), "love", 0.10),
        ShapeInfo("cross", "crosses", ("plus",), 12, 12,
                  ("A cross has twelve sides.", "A cross looks like a plus sign."), "first aid", 0.09),
        ShapeInfo("diamond", "diamonds", ("rhombus", "lozenge"), 4, 4,
                  ("A diamond has four equal sides.", "A diamond is a square turned on its corner."), "a gem", 0.08),
        ShapeInfo("hexagon", "hexagons", ("honeycomb",), 6, 6,
                  ("A hexagon has six sides.", "Bees build hexagons in their honeycombs."), "a beehive", 0.06),
    )
}

# Scenes are drawn from themes: each theme favours some shapes, which gives the world the
# co-occurrence structure that POPE's adversarial split samples from.
THEMES: dict[str, tuple[str, ...]] = {
    "sky": ("star", "circle", "heart"),
    "blocks": ("square", "triangle", "diamond"),
    "signs": ("cross", "hexagon", "circle"),
}


@dataclass(frozen=True)
class ColourInfo:
    """Knowledge about a colour that the pixels do not show."""

    name: str
    warm: bool
    thing: str  # a familiar thing of that colour
    mix: tuple[str, str] | None  # the two primary colours that make it, if any


COLOUR_INFO: dict[str, ColourInfo] = {
    c.name: c
    for c in (
        ColourInfo("red", True, "a fire truck", None),
        ColourInfo("orange", True, "a pumpkin", ("red", "yellow")),
        ColourInfo("yellow", True, "a banana", None),
        ColourInfo("green", False, "grass", ("blue", "yellow")),
        ColourInfo("blue", False, "the sky", None),
        ColourInfo("purple", False, "a grape", ("red", "blue")),
        ColourInfo("brown", True, "chocolate", None),
        ColourInfo("black", False, "coal", None),
    )
}

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def all_object_words() -> dict[str, str]:
    """Every word that names a shape (canonical, plural, synonyms) mapped to its category."""
    out: dict[str, str] = {}
    for s in SHAPES.values():
        out[s.name] = s.name
        out[s.plural] = s.name
        for syn in s.synonyms:
            out[syn] = s.name
    return out
