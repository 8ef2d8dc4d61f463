"""Writing the embedded world to disk: image folders, ground-truth scenes, COCO JSON.

Layout of a world directory:
  images/<split>/<id>.png            the drawn images
  scenes/<split>.jsonl               complete ground truth (`Scene` records)
  annotations/instances_<split>.json COCO instances (categories are the world's shapes)
  annotations/captions_<split>.json  COCO captions (human-like: salient objects only)
A files world (`harness.world.files`) is brought into the same layout, so the stages after the
world read one layout whatever the world (DESIGN §2 "A world is files").
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Sequence

from harness.core.io import atomic_write_bytes, read_jsonl, write_json, write_jsonl
from harness.core.records import Scene, WorldLayout
from harness.world.captions import make_captions
from harness.world.render import render_scene
from harness.world.scenes import sample_scene
from harness.world.spec import SHAPES

SPLITS = ("foundation", "seed", "extra", "bench")
# Image ids are unique across splits so that COCO files of different splits never collide.
SPLIT_OFFSET = {"foundation": 0, "seed": 1_000_000, "extra": 2_000_000, "bench": 3_000_000}


def category_ids() -> dict[str, int]:
    """COCO category id of each shape (1-based, in spec order)."""
    return {name: i + 1 for i, name in enumerate(SHAPES)}


def split_scenes(seed: int, split: str, n: int, image_size: int, grid: int, min_objects: int,
                 max_objects: int, occlusion: float = 0.0) -> list[Scene]:
    """The `n` scenes of one split; deterministic in the arguments."""
    off = SPLIT_OFFSET[split]
    return [sample_scene(seed, off + i, split, image_size, grid, min_objects, max_objects, occlusion=occlusion)
            for i in range(n)]


def png_bytes(scene: Scene, seed: int) -> bytes:
    """The scene rendered and encoded as PNG."""
    buf = io.BytesIO()
    render_scene(scene, seed).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def coco_instances(scenes: Sequence[Scene]) -> dict:
    """COCO `instances` JSON for the scenes: boxes and categories, no colours (COCO has none)."""
    cats = category_ids()
    images, anns = [], []
    for s in scenes:
        images.append({"id": s.image_id, "file_name": s.file_name, "width": s.width, "height": s.height})
        for o in s.objects:
            x, y, w, h = o.bbox
            anns.append({"id": s.image_id * 100 + o.id, "image_id": s.image_id, "category_id": cats[o.shape],
                         "bbox": [x, y, w, h], "area": round(w * h, 2), "iscrowd": 0,
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    categories = [{"id": i, "name": n, "supercategory": "shape"} for n, i in cats.items()]
    return {"info": {"description": "vigc-bench embedded world"}, "images": images, "annotations": anns,
            "categories": categories}


def coco_captions(scenes: Sequence[Scene], seed: int, per_image: int) -> dict:
    """COCO `captions` JSON: `per_image` human-like captions per image."""
    if per_image > 10:  # caption ids are image_id * 10 + k: more would collide across images
        raise ValueError(f"at most 10 captions per image, not {per_image}")
    images, anns = [], []
    for s in scenes:
        images.append({"id": s.image_id, "file_name": s.file_name, "width": s.width, "height": s.height})
        for k, cap in enumerate(make_captions(s, seed, per_image)):
            anns.append({"id": s.image_id * 10 + k, "image_id": s.image_id, "caption": cap})
    return {"info": {"description": "vigc-bench embedded world"}, "images": images, "annotations": anns}


def write_world(out: Path, seed: int, counts: dict[str, int], image_size: int = 96, grid: int = 4,
                min_objects: int = 2, max_objects: int = 5, captions_per_image: int = 5,
                advance: Callable[[int], None] | None = None, occlusion: float = 0.0) -> dict[str, int]:
    """Draw and write every split; returns the number of images per split.

    Images already on disk (from an interrupted run of the same stage) are kept: a scene is
    a pure function of its id, so an existing file is the file that would be written.
    """
    written = {}
    layout = WorldLayout(out)
    for split in SPLITS:
        n = counts.get(split, 0)
        scenes = split_scenes(seed, split, n, image_size, grid, min_objects, max_objects, occlusion)
        for s in scenes:
            p = layout.images / s.file_name
            if not p.exists():
                atomic_write_bytes(p, png_bytes(s, seed))
            if advance is not None:
                advance(1)
        write_jsonl(layout.scenes(split), scenes)
        write_json(layout.instances(split), coco_instances(scenes), indent=None)
        write_json(layout.captions(split), coco_captions(scenes, seed, captions_per_image),
                   indent=None)
        written[split] = n
    return written


def read_scenes(world_dir: Path, split: str) -> list[Scene]:
    """The ground-truth scenes of one split of a written world."""
    return read_jsonl(WorldLayout(world_dir).scenes(split), Scene)
