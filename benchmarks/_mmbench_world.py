"""MMBench-style questions about embedded-world scenes (used by `benchmarks.mmbench.synthesize`).

Every question is answerable only from the image and has exactly one right option under the
scene's ground truth. Each template is tagged with MMBench's own l2-category and category
names. Objects are named with `qa.refer`; when the answer follows from an object's shape
(which shape, what it symbolises, how many corners) the shape is masked before `refer`, giving
"the red object" / "the big object", so the question does not name its own answer.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any, Callable, Sequence

from harness.core.records import Scene
from harness.world.qa import Known, known_from_scene, quadrant_of, refer, relation, unique_mode
from harness.world.spec import COLOURS, SHAPES

# MMBench's l2-category names, as its TSVs spell them.
CP, FPS, FPC = "coarse_perception", "finegrained_perception (instance-level)", "finegrained_perception (cross-instance)"
AR, RR, LR = "attribute_reasoning", "relation_reasoning", "logic_reasoning"
L2_ORDER = (CP, FPS, FPC, AR, RR, LR)

CROWDED = 4  # objects from which a picture counts as crowded; stated in the question's hint
CROWDED_HINT = f"A picture with {CROWDED} or more shapes is crowded; one with fewer is sparse."
LETTERS = "ABCD"

# (question, right option text, wrong option texts, hint or None)
Draft = tuple[str, str, list[str], "str | None"]
Template = Callable[[list[Known], random.Random], "Draft | None"]


def _shuffled(xs: Sequence[Any], rng: random.Random) -> list[Any]:
    out = list(xs)
    rng.shuffle(out)
    return out


def _others(right: str, present: Sequence[str], universe: Sequence[str], k: int, rng: random.Random) -> list[str]:
    """k wrong options, those seen in the image first (so that binding, not presence, is tested)."""
    seen = sorted(set(present) - {right})
    unseen = sorted(set(universe) - set(present) - {right})
    return (_shuffled(seen, rng) + _shuffled(unseen, rng))[:k]


def _counts(right: int, lo: int, rng: random.Random) -> tuple[str, list[str]]:
    """Four consecutive counts containing `right` (all >= lo), its rank among them uniform when
    `right - 3 >= lo` (nearer `lo`, the window is cut off below, so `right` is more often first)."""
    start = rng.randint(max(lo, right - 3), right)
    return str(right), [str(v) for v in range(start, start + 4) if v != right]


def _masked_refs(objs: list[Known]) -> list[str | None]:
    """Shape-free references ('the red object', 'the big object') by `refer` on shape-masked objects."""
    masked = [Known("object", o.size, o.cx, o.cy, o.colour) for o in objs]
    return [refer(m, masked) for m in masked]


def t_count(objs: list[Known], rng: random.Random) -> Draft | None:
    """How many objects in all (image_scene)."""
    right, wrong = _counts(len(objs), 1, rng)
    return "How many shapes are there in the image?", right, wrong, None


def t_crowded(objs: list[Known], rng: random.Random) -> Draft | None:
    """Crowded or sparse, by the threshold the hint states (image_scene)."""
    right, wrong = ("crowded", "sparse") if len(objs) >= CROWDED else ("sparse", "crowded")
    return "Is this picture crowded or sparse?", right, [wrong], CROWDED_HINT


def t_main_shape(objs: list[Known], rng: random.Random) -> Draft | None:
    """The shape that appears most often, when unique (image_topic)."""
    m = unique_mode([o.shape for o in objs])
    if m is None:
        return None
    wrong = _others(m, [o.shape for o in objs], list(SHAPES), 3, rng)
    return "Which shape appears most often in the image?", m, wrong, None


def t_main_colour(objs: list[Known], rng: random.Random) -> Draft | None:
    """The most common colour, when unique (image_topic)."""
    cols = [str(o.colour) for o in objs]
    m = unique_mode(cols)
    if m is None:
        return None
    return "Which colour is the most common in the image?", m, _others(m, cols, list(COLOURS), 3, rng), None


def t_colour(objs: list[Known], rng: random.Random) -> Draft | None:
    """The colour of a named object; the name leaves colour out (attribute_recognition)."""
    for o in _shuffled(objs, rng):
        ref = refer(o, objs, avoid="colour")
        if ref is not None:
            c = str(o.colour)
            return f"What colour is {ref}?", c, _others(c, [str(p.colour) for p in objs], list(COLOURS), 3, rng), None
    return None


def t_size(objs: list[Known], rng: random.Random) -> Draft | None:
    """Big or small; the name leaves size out (attribute_recognition)."""
    for o in _shuffled(objs, rng):
        ref = refer(o, objs, avoid="size")
        if ref is not None:
            return f"Is {ref} big or small?", o.size, ["small" if o.size == "big" else "big"], None
    return None


def t_shape(objs: list[Known], rng: random.Random) -> Draft | None:
    """The shape of a shape-free named object (attribute_recognition)."""
    refs = _masked_refs(objs)
    for i in _shuffled(range(len(objs)), rng):
        if refs[i] is not None:
            s = objs[i].shape
            return f"What shape is {refs[i]}?", s, _others(s, [o.shape for o in objs], list(SHAPES), 3, rng), None
    return None


def t_where(objs: list[Known], rng: random.Random) -> Draft | None:
    """The quadrant an object is in (object_localization)."""
    quads = ["top left", "top right", "bottom left", "bottom right"]
    for o in _shuffled(objs, rng):
        ref = refer(o, objs)
        # An object straddling a midline has no single quadrant.
        if ref is not None and abs(o.cx - 0.5) >= 0.05 and abs(o.cy - 0.5) >= 0.05:
            q = quadrant_of(o)
            return f"Which part of the image is {ref} in?", q, _shuffled([x for x in quads if x != q], rng), None
    return None


def _pairs(objs: list[Known], rng: random.Random) -> list[tuple[Known, Known]]:
    return _shuffled(list(itertools.permutations(objs, 2)), rng)


def t_relation(objs: list[Known], rng: random.Random) -> Draft | None:
    """Left/right or above/below between two objects, clear-cut cases only (spatial_relationship)."""
    for a, b in _pairs(objs, rng):
        ra, rb, rel = refer(a, objs), refer(b, objs), relation(a, b)
        if ra is None or rb is None or rel is None:
            continue
        if rel in ("to the left of", "to the right of"):
            right, wrong = ("left", "right") if rel == "to the left of" else ("right", "left")
            return f"Is {ra} to the left or to the right of {rb}?", right, [wrong], None
        return f"Is {ra} above or below {rb}?", rel, ["below" if rel == "above" else "above"], None
    return None


def t_bigger(objs: list[Known], rng: random.Random) -> Draft | None:
    """Which of two objects of different sizes is bigger; names leave size out (attribute_comparison)."""
    for a, b in _pairs(objs, rng):
        ra, rb = refer(a, objs, avoid="size"), refer(b, objs, avoid="size")
        if a.size != b.size and ra is not None and rb is not None:
            big, small = (ra, rb) if a.size == "big" else (rb, ra)
            return f"Which is bigger, {ra} or {rb}?", big, [small], None
    return None


def t_same_colour(objs: list[Known], rng: random.Random) -> Draft | None:
    """Whether two objects share a colour, yes and no equally often (attribute_comparison)."""
    want = rng.random() < 0.5  # aim for as many 'yes' as 'no' answers
    pairs = [(a, b) for a, b in _pairs(objs, rng) if refer(a, objs, "colour") and refer(b, objs, "colour")]
    pairs.sort(key=lambda ab: (ab[0].colour == ab[1].colour) != want)  # stable: wanted answers first
    if not pairs:
        return None
    a, b = pairs[0]
    same = a.colour == b.colour
    q = f"Are {refer(a, objs, 'colour')} and {refer(b, objs, 'colour')} the same colour?"
    return q, "yes" if same else "no", ["no" if same else "yes"], None


def t_most_corners(objs: list[Known], rng: random.Random) -> Draft | None:
    """Which of 2-4 shape-free named objects has the most sides or corners (physical_property_reasoning)."""
    refs = _masked_refs(objs)
    named = [i for i in range(len(objs)) if refs[i] is not None]
    attr = rng.choice(("sides", "corners"))
    for _ in range(5):
        if len(named) < 2:
            return None
        pick = rng.sample(named, min(len(named), rng.randint(2, 4)))
        vals = [getattr(SHAPES[objs[i].shape], attr) for i in pick]
        best = max(vals)
        if vals.count(best) == 1:
            i = pick[vals.index(best)]
            return f"Which object has the most {attr}?", str(refs[i]), [str(refs[j]) for j in pick if j != i], None
    return None


def t_symbol(objs: list[Known], rng: random.Random) -> Draft | None:
    """What a shape-free named object's shape stands for in the world's lore (identity_reasoning)."""
    refs = _masked_refs(objs)
    for i in _shuffled(range(len(objs)), rng):
        if refs[i] is not None:
            sym = SHAPES[objs[i].shape].symbol_of
            seen = [SHAPES[o.shape].symbol_of for o in objs]
            wrong = _others(sym, seen, [s.symbol_of for s in SHAPES.values()], 3, rng)
            return f"What is the shape of {refs[i]} a symbol of?", sym, wrong, None
    return None


def t_closest(objs: list[Known], rng: random.Random) -> Draft | None:
    """Which object is nearest to a named one, the nearest being clearly nearest (physical_relation)."""
    for o in _shuffled(objs, rng):
        ref = refer(o, objs)
        rest = sorted((p for p in objs if p is not o), key=lambda p: math.dist((p.cx, p.cy), (o.cx, o.cy)))
        if ref is None or len(rest) < 2:
            continue
        d1, d2 = (math.dist((p.cx, p.cy), (o.cx, o.cy)) for p in rest[:2])
        near = refer(rest[0], objs)
        wrong = [r for r in (refer(p, objs) for p in rest[1:]) if r is not None]
        # Clear-cut only: the nearest must be much nearer than the runner-up.
        if near is not None and wrong and d1 < 0.8 * d2:
            return f"Which object is closest to {ref}?", near, _shuffled(wrong, rng)[:3], None
    return None


# Counts that may be zero are asked only up to this (three of one colour is rare in a scene of
# at most five shapes), with the options always 0, 1, 2 and 3 in a random order, and the right
# answers balanced over the benchmark (`balance_answers`). With the right answer taken from what
# a scene offers and the options four consecutive counts from there, a blind model learned to
# pick the smallest option: right in 65% of these questions (0 alone 41%), and its logic
# reasoning score under CircularEval was 44 against 0.4 for chance.
MAX_COUNT = 2
ZERO_COUNTS = tuple(str(v) for v in range(4))


def _by_count(counts: dict[str, int], rng: random.Random) -> tuple[str, int] | None:
    """A (key, count) pair with a count of at most `MAX_COUNT`, the count drawn uniformly from
    those available; None when there is none."""
    ok = sorted({v for v in counts.values() if v <= MAX_COUNT})
    if not ok:
        return None
    n = rng.choice(ok)
    return rng.choice(sorted(k for k, v in counts.items() if v == n)), n


def _zero_counts(right: int, rng: random.Random) -> tuple[str, list[str]]:
    """The right count and the other three of 0-3, shuffled, so that their order gives nothing away."""
    return str(right), _shuffled([v for v in ZERO_COUNTS if v != str(right)], rng)


def t_count_colour(objs: list[Known], rng: random.Random) -> Draft | None:
    """How many objects of a colour, zero allowed (structuralized_imagetext_understanding)."""
    got = _by_count({c: sum(o.colour == c for o in objs) for c in COLOURS}, rng)
    if got is None:
        return None
    right, wrong = _zero_counts(got[1], rng)
    return f"How many {got[0]} shapes are there?", right, wrong, None


def t_count_big(objs: list[Known], rng: random.Random) -> Draft | None:
    """How many big objects of a shape in the image, zero allowed (structuralized_imagetext_understanding)."""
    got = _by_count({s: sum(o.shape == s and o.size == "big" for o in objs) for s in {o.shape for o in objs}}, rng)
    if got is None:
        return None
    right, wrong = _zero_counts(got[1], rng)
    return f"How many big {SHAPES[got[0]].plural} are there?", right, wrong, None


# Templates whose drafts are subsampled so that each right answer is equally common.
BALANCED = ("count_colour", "count_big")


def balance_answers(drafts: list[tuple[int, Draft]], rng: random.Random) -> list[tuple[int, Draft]]:
    """As many drafts of each right answer as of the rarest one, so that a model that never
    sees the image cannot do better than chance by betting on a common answer."""
    by: dict[str, list[int]] = {}  # right answer -> indices of its drafts
    for j, (_, d) in enumerate(drafts):
        by.setdefault(d[1], []).append(j)
    if not by:
        return []
    k = min(len(v) for v in by.values())
    return [drafts[j] for j in sorted(j for v in by.values() for j in _shuffled(v, rng)[:k])]


# (l2-category, category, template name, template): MMBench's category names throughout.
TEMPLATES: tuple[tuple[str, str, str, Template], ...] = (
    (CP, "image_scene", "count", t_count),
    (CP, "image_scene", "crowded", t_crowded),
    (CP, "image_topic", "main_shape", t_main_shape),
    (CP, "image_topic", "main_colour", t_main_colour),
    (FPS, "attribute_recognition", "colour", t_colour),
    (FPS, "attribute_recognition", "size", t_size),
    (FPS, "attribute_recognition", "shape", t_shape),
    (FPS, "object_localization", "where", t_where),
    (FPC, "spatial_relationship", "relation", t_relation),
    (FPC, "attribute_comparison", "bigger", t_bigger),
    (FPC, "attribute_comparison", "same_colour", t_same_colour),
    (AR, "physical_property_reasoning", "most_corners", t_most_corners),
    (AR, "identity_reasoning", "symbol", t_symbol),
    (RR, "physical_relation", "closest", t_closest),
    (LR, "structuralized_imagetext_understanding", "count_colour", t_count_colour),
    (LR, "structuralized_imagetext_understanding", "count_big", t_count_big),
)


def build_questions(scenes: Sequence[Scene], seed: int, per_l2: int) -> list[dict[str, Any]]:
    """MMBench TSV rows (without image and split) plus `image_id`, deterministic in `seed`.

    Each template drafts at most one question per scene; each l2-category then takes up to
    `per_l2` drafts, round-robin over its templates so no template dominates. The right
    option's position is balanced exactly (a shuffled cycle per option count), and rows come
    in a seeded order with index 0, 1, ...
    """
    drafts: dict[str, list[tuple[int, Draft]]] = {}
    for l2, cat, name, fn in TEMPLATES:
        got = []
        for s in scenes:
            d = fn(known_from_scene(s), random.Random(f"mmbench/{seed}/{s.image_id}/{name}"))
            if d is not None:
                got.append((s.image_id, d))
        drafts[name] = balance_answers(got, random.Random(f"mmbench/{seed}/balance/{name}")) if name in BALANCED else got
    rng = random.Random(f"mmbench/{seed}/select")
    chosen: list[tuple[str, str, int, Draft]] = []
    for l2 in L2_ORDER:
        queues = [(cat, _shuffled(drafts[name], rng)) for l, cat, name, _ in TEMPLATES if l == l2]
        taken = 0
        for rank in itertools.count():
            live = [(cat, q[rank]) for cat, q in queues if rank < len(q)]
            if not live or taken >= per_l2:
                break
            for cat, (image_id, d) in live[: per_l2 - taken]:
                chosen.append((l2, cat, image_id, d))
                taken += 1
    rng.shuffle(chosen)
    # Exact balance of the right letter: per option count n, a shuffled cycle of positions.
    slots: dict[int, list[int]] = {}
    for n in sorted({1 + len(d[2]) for *_, d in chosen}):
        m = sum(1 + len(d[2]) == n for *_, d in chosen)
        slots[n] = _shuffled([i % n for i in range(m)], rng)
    rows = []
    for index, (l2, cat, image_id, (question, right, wrong, hint)) in enumerate(chosen):
        n = 1 + len(wrong)
        pos = slots[n].pop()
        opts = list(wrong)
        opts.insert(pos, right)
        row = {"index": index, "question": question, "hint": hint or ""}
        row.update({LETTERS[j]: (opts[j] if j < n else "") for j in range(len(LETTERS))})
        row.update({"answer": LETTERS[pos], "category": cat, "l2-category": l2, "image_id": image_id})
        rows.append(row)
    return rows
