"""Human-like captions: they mention the salient objects, not every detail.

Like COCO captions, they name the big objects first, give colours only some of the time,
use synonyms now and then, and rarely list everything; so a generator that sees only
captions and boxes misses attributes that a model looking at the pixels could see.
"""

from __future__ import annotations

import random

from harness.core.records import Scene, SceneObject
from harness.world.spec import NUMBER_WORDS, SHAPES


def quadrant(obj: SceneObject, grid: int) -> str:
    """The image quadrant that holds the object's cell: 'top left', ..., 'bottom right'."""
    v = "top" if obj.row < grid / 2 else "bottom"
    h = "left" if obj.col < grid / 2 else "right"
    return f"{v} {h}"


def salient_order(scene: Scene) -> list[SceneObject]:
    """Objects in the order a person would mention them: big first, then top-to-bottom."""
    return sorted(scene.objects, key=lambda o: (o.size != "big", o.row, o.col))


def _noun(rng: random.Random, shape: str) -> str:
    info = SHAPES[shape]
    return rng.choice(info.synonyms) if rng.random() < 0.15 and info.synonyms else info.name


def _np(rng: random.Random, obj: SceneObject, p_colour: float, p_size: float) -> str:
    words = []
    if rng.random() < p_size:
        words.append(obj.size)
    if rng.random() < p_colour:
        words.append(obj.colour)
    words.append(_noun(rng, obj.shape))
    w = " ".join(words)
    return ("an " if w[0] in "aeiou" else "a ") + w


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def make_captions(scene: Scene, seed: int, n: int = 5) -> list[str]:
    """`n` captions of the scene, deterministic in (seed, image_id)."""
    rng = random.Random(f"vigc-captions/{seed}/{scene.image_id}")
    objs = salient_order(scene)
    out: list[str] = []
    for k in range(n):
        style = (k + rng.randrange(5)) % 5
        m = min(len(objs), rng.choice((1, 2, 2, 3)))
        named = [_np(rng, o, 0.6, 0.25) for o in objs[:m]]
        if style == 0:
            cap = f"{_join(named)} on a white background."
        elif style == 1:
            cnt = NUMBER_WORDS[len(objs)] if len(objs) <= 10 else str(len(objs))
            cap = f"{cnt} shapes, including {_join(named)}."
        elif style == 2:
            o = objs[0]
            cap = f"a white picture with {_np(rng, o, 0.8, 0.3)} in the {quadrant(o, scene.grid)}."
        elif style == 3 and len(objs) >= 2:
            a, b = objs[0], objs[1]
            if a.col != b.col:
                rel = "to the left of" if a.col < b.col else "to the right of"
            elif a.row < b.row:
                rel = "above"
            else:
                rel = "below"
            cap = f"{_np(rng, a, 0.7, 0.2)} {rel} {_np(rng, b, 0.5, 0.2)}."
        else:
            cap = f"some shapes: {_join(named)}."
        out.append(cap[0].upper() + cap[1:])
    return out
