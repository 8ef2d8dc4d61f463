"""Stage `world`: draw the embedded world, or bring in a world of files (images, COCO JSON, scene
lines where the world has them; DESIGN §2 "A world is files"). Either way its folder has the
`WorldLayout`, so the stages after it read files and never know which world they are in."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from generators.base import Box, ImageInfo
from harness.core.config import Section
from harness.core.errors import BadInput
from harness.core.io import read_json
from harness.core.records import WorldLayout
from harness.stages.runner import StageContext, StageSpec
from harness.world.config import WorldConfig
from harness.world.export import read_scenes, write_world

VERSION = 1


class WorldStageConfig(Section):
    """The world's settings and the seed it is drawn with; for a files world, the sha256 of each
    file it names (so that a changed file is a changed cache key)."""

    world: WorldConfig
    seed: int
    files: dict[str, str] = {}


class WorldResult(Section):
    """Images written per split; the benchmark files the world provides (absolute paths, per
    benchmark and split: a files world's official files, read where they lie)."""

    images: dict[str, int]
    benchmark_files: dict[str, dict[str, list[str]]] = {}


def run_world(ctx: StageContext[WorldStageConfig]) -> WorldResult:
    """Write every split of the world into the stage directory."""
    w = ctx.config.world
    if w.kind == "files":
        from harness.world.files import file_digests, import_world

        if file_digests(w, fresh=True) != ctx.config.files:  # changed since the study was planned
            raise BadInput("world: a file of the files world changed while the study ran; run it again")
        task = ctx.progress("world: bringing in the files", len(w.splits))
        written = import_world(w, ctx.out_dir, advance=task.advance)
        task.close()
        return WorldResult(images=written, benchmark_files=w.benchmark_files)
    counts = w.images.model_dump()
    task = ctx.progress("world: drawing images", sum(counts.values()))
    written = write_world(ctx.out_dir, ctx.config.seed, counts, w.image_size, w.grid, w.min_objects,
                          w.max_objects, w.captions_per_image, advance=task.advance, occlusion=w.occlusion)
    task.close()
    return WorldResult(images=written)


WORLD = StageSpec("world", VERSION, run_world, WorldStageConfig, WorldResult, cost=6)


def image_infos(world_dir: Path, split: str, with_scenes: bool = True) -> list[ImageInfo]:
    """Images of one split with their COCO boxes and captions (and ground truth if asked).

    A COCO file of the wrong shape (no 'categories', a list where an object belongs, a box that
    is not four numbers) is a `BadInput` naming it.
    """
    layout = WorldLayout(world_dir)
    inst_path, caps_path = layout.instances(split), layout.captions(split)
    inst, caps = read_json(inst_path), read_json(caps_path)
    try:
        return _image_infos(world_dir, split, with_scenes, inst, caps)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        raise BadInput(f"{inst_path} / {caps_path.name}: not COCO instances and captions JSON ({what})") from e


def _image_infos(world_dir: Path, split: str, with_scenes: bool, inst: Any, caps: Any) -> list[ImageInfo]:
    """`image_infos` from the parsed files (their shape errors are the caller's to name)."""
    layout = WorldLayout(world_dir)
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    boxes: dict[int, list[Box]] = {}
    for a in inst["annotations"]:
        boxes.setdefault(a["image_id"], []).append(Box(cats[a["category_id"]], tuple(a["bbox"])))  # type: ignore[arg-type]
    captions: dict[int, list[str]] = {}
    for a in caps["annotations"]:
        captions.setdefault(a["image_id"], []).append(a["caption"])
    scenes = {s.image_id: s for s in read_scenes(world_dir, split)} if with_scenes else {}
    root = layout.images
    return [ImageInfo(image_id=im["id"], file_name=im["file_name"], path=root / im["file_name"], width=im["width"],
                      height=im["height"], captions=tuple(captions.get(im["id"], ())),
                      boxes=tuple(boxes.get(im["id"], ())), scene=scenes.get(im["id"]))
            for im in inst["images"]]
