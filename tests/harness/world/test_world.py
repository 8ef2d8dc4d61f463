"""The embedded world: deterministic files, valid ground truth, captions that only state facts."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import pytest

from harness.core.io import read_jsonl
from harness.core.records import Scene, SceneObject
from harness.world import qa
from harness.world.captions import make_captions
from harness.world.export import (SPLITS, category_ids, coco_captions, coco_instances, read_scenes, split_scenes,
                                  write_world)
from harness.world.qa import Known, known_from_scene, refer, relation
from harness.world.render import render_scene
from harness.world.scenes import sample_scene
from harness.world.spec import COLOURS, NUMBER_WORDS, SHAPES, SIZES, all_object_words

COUNTS = {"foundation": 3, "seed": 4, "extra": 2, "bench": 3}


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(out, 7, COUNTS)
    return out


def test_same_seed_gives_identical_files(world: Path, tmp_path: Path) -> None:
    write_world(tmp_path, 7, COUNTS)
    a, b = files_of(world), files_of(tmp_path)
    assert a.keys() == b.keys()
    assert sum(k.endswith(".png") for k in a) == sum(COUNTS.values())
    for split in SPLITS:
        assert f"scenes/{split}.jsonl" in a
        assert f"annotations/instances_{split}.json" in a and f"annotations/captions_{split}.json" in a
    for k in a:
        assert a[k] == b[k], k
    # No temporary files of atomic writes are left.
    assert not [k for k in a if k.endswith(".tmp")]


def test_different_seed_differs(world: Path, tmp_path: Path) -> None:
    write_world(tmp_path, 8, COUNTS)
    a, b = files_of(world), files_of(tmp_path)
    assert a.keys() == b.keys()
    assert a["scenes/seed.jsonl"] != b["scenes/seed.jsonl"]
    assert a["annotations/captions_seed.json"] != b["annotations/captions_seed.json"]
    pngs = [k for k in a if k.endswith(".png")]
    assert sum(a[k] != b[k] for k in pngs) >= len(pngs) - 1


def test_existing_images_are_kept_on_rerun(world: Path, tmp_path: Path) -> None:
    # A rerun into a directory an interrupted run left behind gives the same files.
    write_world(tmp_path, 7, {"seed": 2})
    write_world(tmp_path, 7, COUNTS)
    assert files_of(tmp_path) == files_of(world)


def test_scenes_round_trip(world: Path) -> None:
    scenes = read_scenes(world, "seed")
    assert scenes == split_scenes(7, "seed", COUNTS["seed"], 96, 4, 2, 5)
    first = json.loads((world / "scenes" / "seed.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["schema"] == 1 and "schema_" not in first
    assert read_jsonl(world / "scenes" / "seed.jsonl", Scene) == scenes


@pytest.mark.parametrize("grid, size, lo, hi", [(4, 96, 2, 5), (3, 48, 1, 9), (8, 64, 5, 12)])
def test_scene_ground_truth_is_consistent(grid: int, size: int, lo: int, hi: int) -> None:
    cell = size / grid
    for split in ("seed", "bench"):
        for s in split_scenes(3, split, 150, size, grid, lo, hi):
            assert lo <= len(s.objects) <= hi
            cells = [(o.row, o.col) for o in s.objects]
            assert len(set(cells)) == len(cells)
            assert cells == sorted(cells) and [o.id for o in s.objects] == list(range(len(s.objects)))
            assert s.split == split and s.file_name.startswith(f"{split}/")
            for o in s.objects:
                assert o.shape in SHAPES and o.colour in COLOURS and o.size in SIZES
                assert 0 <= o.row < grid and 0 <= o.col < grid
                x, y, w, h = o.bbox
                assert w > 0 and h > 0
                # The box stays in its own cell (to the rounding of its corner to 0.1 px).
                assert o.col * cell - 0.05 <= x and x + w <= (o.col + 1) * cell + 0.05
                assert o.row * cell - 0.05 <= y and y + h <= (o.row + 1) * cell + 0.05
                assert o.cx // cell == o.col and o.cy // cell == o.row


def test_scenes_are_independent_of_each_other() -> None:
    # A scene depends on (seed, image id) only, so shards agree with a single process.
    assert split_scenes(0, "extra", 5, 96, 4, 2, 5)[3] == sample_scene(0, 2_000_003, "extra")
    image_ids = [s.image_id for split in SPLITS for s in split_scenes(0, split, 5, 96, 4, 2, 5)]
    assert len(set(image_ids)) == len(image_ids)


def test_render_is_deterministic_and_draws_every_object() -> None:
    for s in split_scenes(1, "seed", 20, 96, 4, 2, 5):
        img = render_scene(s, 1)
        assert img.size == (s.width, s.height) and img.mode == "RGB"
        assert img.tobytes() == render_scene(s, 1).tobytes()
        for o in s.objects:  # every shape covers its box centre, in its colour (give or take jitter)
            px = img.getpixel((int(o.cx), int(o.cy)))
            assert max(abs(a - b) for a, b in zip(px, COLOURS[o.colour])) <= 12, (o.shape, px)


def test_coco_instances_are_valid(world: Path) -> None:
    for split in SPLITS:
        coco = json.loads((world / "annotations" / f"instances_{split}.json").read_text(encoding="utf-8"))
        cats = {c["id"]: c["name"] for c in coco["categories"]}
        assert cats == {i: n for n, i in category_ids().items()}
        images = {im["id"]: im for im in coco["images"]}
        assert len(images) == COUNTS[split]
        ann_ids = [a["id"] for a in coco["annotations"]]
        assert len(set(ann_ids)) == len(ann_ids)
        scenes = {s.image_id: s for s in read_scenes(world, split)}
        for a in coco["annotations"]:
            im = images[a["image_id"]]
            x, y, w, h = a["bbox"]
            assert w > 0 and h > 0 and x >= 0 and y >= 0
            assert x + w <= im["width"] and y + h <= im["height"]
            assert a["category_id"] in cats
            assert a["area"] == pytest.approx(w * h, abs=0.01)
            assert a["iscrowd"] == 0
        for image_id, s in scenes.items():
            shapes = sorted(cats[a["category_id"]] for a in coco["annotations"] if a["image_id"] == image_id)
            assert shapes == sorted(o.shape for o in s.objects)
            assert (world / "images" / images[image_id]["file_name"]).is_file()


def test_coco_ids_unique_over_many_images() -> None:
    scenes = split_scenes(0, "seed", 300, 64, 8, 30, 64)
    inst = coco_instances(scenes)
    assert len({a["id"] for a in inst["annotations"]}) == len(inst["annotations"])
    caps = coco_captions(scenes[:50], 0, 10)
    assert len({a["id"] for a in caps["annotations"]}) == len(caps["annotations"]) == 500
    with pytest.raises(ValueError):
        coco_captions(scenes[:2], 0, 11)


# --- captions state only facts -------------------------------------------------------------

OBJECT_WORDS = all_object_words()
ATTRS = set(COLOURS) | set(SIZES)


def noun_phrases(words: list[str]) -> list[tuple[str, set[str]]]:
    """(category, attribute words just before it) for every shape word in `words`."""
    out = []
    for i, w in enumerate(words):
        if w in OBJECT_WORDS:
            attrs = set()
            j = i - 1
            while j >= 0 and words[j] in ATTRS:
                attrs.add(words[j])
                j -= 1
            out.append((OBJECT_WORDS[w], attrs))
    return out


def matches(o: SceneObject, shape: str, attrs: set[str]) -> bool:
    return o.shape == shape and attrs <= {o.colour, o.size}


def quadrant(o: SceneObject, grid: int) -> str:
    return f"{'top' if o.row < grid / 2 else 'bottom'} {'left' if o.col < grid / 2 else 'right'}"


def check_caption(cap: str, s: Scene) -> None:
    text = cap.lower().rstrip(".")
    words = re.findall(r"[a-z]+", text)
    nps = noun_phrases(words)
    assert nps, cap  # every caption names at least one object
    for shape, attrs in nps:
        assert any(matches(o, shape, attrs) for o in s.objects), (cap, s.objects)
    m = re.match(r"(\w+) shapes, including", text)
    if m:
        assert m.group(1) == NUMBER_WORDS[len(s.objects)], cap
    m = re.search(r" in the (top|bottom) (left|right)$", text)
    if m:
        (shape, attrs), = nps
        assert any(matches(o, shape, attrs) and quadrant(o, s.grid) == f"{m.group(1)} {m.group(2)}"
                   for o in s.objects), cap
    m = re.search(r" (to the left of|to the right of|above|below) ", text)
    if m:
        (sa, aa), (sb, ab) = nps
        ok = False
        for a, b in itertools.permutations(s.objects, 2):
            if not (matches(a, sa, aa) and matches(b, sb, ab)):
                continue
            ok |= {"to the left of": a.col < b.col, "to the right of": a.col > b.col,
                   "above": a.col == b.col and a.row < b.row, "below": a.col == b.col and a.row > b.row}[m.group(1)]
        assert ok, (cap, s.objects)


def test_captions_mention_only_what_is_there(world: Path) -> None:
    scenes = split_scenes(5, "seed", 300, 96, 4, 2, 5)
    seen_styles = set()
    for s in scenes:
        caps = make_captions(s, 5, 5)
        assert len(caps) == 5 and caps == make_captions(s, 5, 5)
        for cap in caps:
            assert cap[0].isupper()
            check_caption(cap, s)
            seen_styles.add(next((k for k in ("including", "background", "picture", "left of", "right of", "above",
                                              "below", "some shapes") if k in cap.lower()), "?"))
    assert "?" not in seen_styles and len(seen_styles) >= 6
    # The written COCO captions are the same captions.
    caps = json.loads((world / "annotations" / "captions_bench.json").read_text(encoding="utf-8"))
    by_id = {s.image_id: s for s in read_scenes(world, "bench")}
    for a in caps["annotations"]:
        check_caption(a["caption"], by_id[a["image_id"]])


def test_caption_checker_catches_a_wrong_colour() -> None:
    s = sample_scene(0, 1, "seed")
    o = s.objects[0]
    wrong = next(c for c in COLOURS if all(p.colour != c for p in s.objects if p.shape == o.shape))
    with pytest.raises(AssertionError):
        check_caption(f"A {wrong} {o.shape} on a white background.", s)
    absent = next(sh for sh in SHAPES if all(p.shape != sh for p in s.objects))
    with pytest.raises(AssertionError):
        check_caption(f"A {absent} on a white background.", s)


# --- qa templates ---------------------------------------------------------------------------


def K(shape: str, colour: str | None = "red", size: str = "big", cx: float = 0.5, cy: float = 0.5) -> Known:
    return Known(shape, size, cx, cy, colour)


def test_refer_shortest_description() -> None:
    star, circle = K("star"), K("circle", "blue")
    assert refer(star, [star, circle]) == "the star"
    red, blue = K("star", "red"), K("star", "blue")
    assert refer(red, [red, blue]) == "the red star"
    assert refer(red, [red, blue], avoid="colour") is None  # same size: nothing else tells them apart
    big, small = K("star", "red", "big"), K("star", "red", "small")
    assert refer(big, [big, small]) == "the big star"
    assert refer(big, [big, small], avoid="size") is None
    a, b = K("star", "red", "big", 0.1), K("star", "red", "big", 0.9)
    assert refer(a, [a, b]) is None
    # A colour is not used when some object of that shape has an unknown colour.
    c, d = K("star", "red", "big"), K("star", None, "big")
    assert refer(c, [c, d]) is None


def test_refer_is_unambiguous_and_respects_avoid() -> None:
    rng = random.Random(0)
    for _ in range(400):
        objs = [K(rng.choice(("star", "circle", "heart")), rng.choice(("red", "blue", None)), rng.choice(SIZES),
                  rng.random(), rng.random()) for _ in range(rng.randint(1, 6))]
        for o in objs:
            for avoid in ("", "colour", "size"):
                r = refer(o, objs, avoid)
                if r is None:
                    continue
                words = r.split()
                assert words[0] == "the" and words[-1] == o.shape
                attrs = set(words[1:-1])
                if avoid == "colour":
                    assert not attrs & set(COLOURS)
                if avoid == "size":
                    assert not attrs & set(SIZES)
                fits = [p for p in objs if p.shape == o.shape and attrs <= {p.colour, p.size}]
                assert len(fits) == 1 and fits[0] == o, (r, objs)


def test_relation_clear_cut_only() -> None:
    b = K("star", cx=0.5, cy=0.5)
    assert relation(K("circle", cx=0.2, cy=0.5), b) == "to the left of"
    assert relation(K("circle", cx=0.8, cy=0.55), b) == "to the right of"
    assert relation(K("circle", cx=0.5, cy=0.2), b) == "above"
    assert relation(K("circle", cx=0.45, cy=0.8), b) == "below"
    assert relation(K("circle", cx=0.2, cy=0.2), b) is None  # diagonal
    assert relation(K("circle", cx=0.75, cy=0.3), b) is None  # nearly diagonal (0.25 vs 0.2)
    assert relation(K("circle", cx=0.55, cy=0.5), b) is None  # too near
    assert relation(K("circle", cx=0.5, cy=0.45), b) is None
    assert relation(b, b) is None
    rng = random.Random(1)
    for _ in range(500):
        a = K("circle", cx=rng.random(), cy=rng.random())
        c = K("star", cx=rng.random(), cy=rng.random())
        r, back = relation(a, c), relation(c, a)
        flip = {"to the left of": "to the right of", "to the right of": "to the left of", "above": "below",
                "below": "above", None: None}
        assert back == flip[r]


@pytest.mark.parametrize("grid, size", [(2, 96), (3, 96), (4, 96), (6, 96), (8, 96), (4, 64), (8, 16)])
def test_size_class_from_box_width(grid: int, size: int) -> None:
    for s in split_scenes(0, "seed", 100, size, grid, 1, min(5, grid * grid)):
        for o in s.objects:
            assert qa.size_class(o.bbox[2], s.width, grid) == o.size, (grid, size, o.bbox)


def test_qa_on_ground_truth() -> None:
    rng = random.Random(0)
    for s in split_scenes(2, "bench", 50, 96, 4, 2, 5):
        known = known_from_scene(s)
        assert qa.qa_count(known, rng).short == NUMBER_WORDS[len(s.objects)]
        for shape in SHAPES:
            n = sum(o.shape == shape for o in s.objects)
            assert qa.qa_count_shape(known, shape, rng).short == NUMBER_WORDS[n]
            assert qa.qa_exists(known, shape, rng).short == ("yes" if n else "no")
        for k, o in zip(known, s.objects):
            assert qa.size_class(o.bbox[2], s.width) == o.size  # the default grid
            assert qa.quadrant_of(k) == quadrant(o, s.grid)
            ref = refer(k, known, avoid="colour")
            if ref is not None:
                ans = qa.qa_colour(k, ref, rng)
                assert ans.short == o.colour and o.colour not in ans.question


def test_aggregate_questions_on_ground_truth() -> None:
    """Most-common shape/colour, crowded/sparse and same-colour answers follow the scene."""
    from collections import Counter

    rng = random.Random(1)
    seen = Counter()
    for s in split_scenes(3, "bench", 200, 96, 4, 2, 5):
        known = known_from_scene(s)
        crowded = qa.qa_crowded(known, rng)
        assert crowded.short == ("crowded" if len(s.objects) >= 4 else "sparse")
        for kind, fn, attr in (("most_shape", qa.qa_most_shape, "shape"), ("most_colour", qa.qa_most_colour, "colour")):
            got = fn(known, rng)
            top = Counter(getattr(o, attr) for o in s.objects).most_common()
            clear = top[0][1] >= 2 and (len(top) == 1 or top[1][1] < top[0][1])
            assert (got is not None) == clear, (kind, top)
            if got is not None:
                seen[kind] += 1
                assert got.kind == kind and got.short == top[0][0]
        a, b = known[0], known[1]
        same = qa.qa_same_colour(a, "the first", b, "the second", rng)
        assert same is not None and same.short == ("yes" if a.colour == b.colour else "no")
        seen[same.short] += 1
    assert seen["most_shape"] > 5 and seen["most_colour"] > 5 and seen["yes"] > 5 and seen["no"] > 5
    # Without a known colour there is no colour question to ask.
    blind = [qa.Known(k.shape, k.size, k.cx, k.cy, None) for k in known]
    assert qa.qa_most_colour(blind, rng) is None and qa.qa_same_colour(blind[0], "x", blind[1], "y", rng) is None


def test_every_templated_question_has_its_answer_among_its_options() -> None:
    """Multiple-choice versions of every template kind contain the right answer exactly once."""
    from generators.templates import object_qas

    rng = random.Random(2)
    kinds = set()
    for s in split_scenes(4, "seed", 60, 96, 4, 2, 5):
        for q in object_qas(known_from_scene(s), rng):
            kinds.add(q.kind)
            mc = qa.as_multiple_choice(q, rng)
            if mc is None:
                continue
            prompt, letter = mc
            lines = prompt.split("\n")
            options = {ln[0]: ln[3:] for ln in lines[1:-1]}
            right = str(NUMBER_WORDS.index(q.short)) if q.kind.startswith("count") else q.short
            assert options[letter] == right and list(options.values()).count(right) == 1
    assert {"most_shape", "most_colour", "same_colour", "crowded", "relation", "where"} <= kinds


def test_split_options_cuts_before_the_first_lettered_line():
    from benchmarks.mmbench import build_prompt

    prompt, _ = qa.multiple_choice("How many stars?", ["1", "2"], 0)
    assert qa.split_options(prompt) == ("How many stars?", f"A. 1\nB. 2\n{qa.MC_SUFFIX}")
    hinted = build_prompt("Is it crowded?", ["crowded", "sparse"], "A picture with 4 shapes is crowded.")
    assert qa.split_options(hinted)[0] == "A picture with 4 shapes is crowded.\nIs it crowded?"
    assert qa.split_options("Is there a star in the image?") == ("Is there a star in the image?", "")
    # A question that merely mentions "A." inside a line is not cut.
    assert qa.split_options("Is plan A. the best?") == ("Is plan A. the best?", "")
