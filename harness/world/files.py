"""A world of files: checking the files a `kind: files` world names, and bringing them into the
world stage's folder in the layout every other stage reads (`WorldLayout`).

The world stage is the only place that knows which kind of world a study runs on: after it,
an embedded world and a files world are the same folder of images, COCO JSON and (where the
world has them) scene lines, so no later stage can tell them apart.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from harness.core.errors import BadInput, MissingResource
from harness.core.io import read_json, sha256_file
from harness.core.records import WorldLayout
from harness.world.config import SplitFiles, WorldConfig


def _coco(path: Path, what: str) -> dict[str, Any]:
    """A COCO JSON file read and checked for the keys the world reads (one line naming the file)."""
    doc = read_json(path)
    keys = ("images", "annotations", "categories") if what == "instances" else ("images", "annotations")
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: not COCO {what} JSON (the top level is a {type(doc).__name__}, not an object)")
    for key in keys:
        if not isinstance(doc.get(key), list):
            raise BadInput(f"{path}: not COCO {what} JSON (no '{key}' list)")
    for im in doc["images"]:
        if not isinstance(im, dict) or not isinstance(im.get("id"), int) or not isinstance(im.get("file_name"), str):
            raise BadInput(f"{path}: not COCO {what} JSON (an image without an integer 'id' and a 'file_name')")
    return doc


def _existing(path: str, label: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise MissingResource(f"{p}: file not found (world.{label})")
    return p


def _digest(path: Path, what: str | None = None) -> str:
    """sha256 of `path`, a COCO file checked first (`what`); one read per file version."""
    st = path.stat()
    return _digest_of(str(path.resolve()), st.st_size, st.st_mtime_ns, what)


@functools.lru_cache(maxsize=None)
def _digest_of(path: str, size: int, mtime_ns: int, what: str | None) -> str:
    # A study checks its world's files when it starts, when it plans the world stage and in
    # the CLI before its note: COCO's instances JSON is hundreds of MB, so each version of a
    # file (its size and mtime in the key) is parsed and hashed once per process. A failed
    # check raises, and lru_cache keeps no result for it.
    if what is not None:
        _coco(Path(path), what)
    return sha256_file(path)


def file_digests(world: WorldConfig, fresh: bool = False) -> dict[str, str]:
    """The sha256 of every file a files world names, by its config key (`splits.seed.instances`,
    `benchmark_files.pope.random.0`); a missing file or a COCO file of the wrong shape is one
    `VigcError` naming it, raised before any work. Scene files that are absent are left out
    (the study then skips its ground-truth parts). `fresh`: read every file again, even one
    whose size and mtime are unchanged since this process last read it."""
    if fresh:
        _digest_of.cache_clear()
    out: dict[str, str] = {}
    for name, split in sorted(world.splits.items()):
        if not Path(split.images).is_dir():
            raise MissingResource(f"{split.images}: image folder not found (world.splits.{name}.images)")
        for what in ("instances", "captions"):
            out[f"splits.{name}.{what}"] = _digest(_existing(getattr(split, what), f"splits.{name}.{what}"), what)
        if split.scenes is not None and Path(split.scenes).is_file():
            out[f"splits.{name}.scenes"] = _digest(Path(split.scenes))
    for bench, per_split in sorted(world.benchmark_files.items()):
        for split_name, paths in sorted(per_split.items()):
            for i, p in enumerate(paths):
                label = f"benchmark_files.{bench}.{split_name}.{i}"
                out[label] = _digest(_existing(p, label))
    return out


def _safe_name(file_name: str, source: Path) -> str:
    """A COCO `file_name` that stays inside the image folder (no absolute path, no '..')."""
    parts = PurePosixPath(file_name.replace("\\", "/")).parts
    if not parts or file_name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise BadInput(f"{source}: image file_name {file_name!r} leaves the image folder")
    return "/".join(parts)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link `src` to `dst` (free on one filesystem: a COCO image folder is ~20 GB), else copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _import_images(split: SplitFiles, doc: dict[str, Any], layout: WorldLayout, source: Path) -> int:
    root = Path(split.images)
    for im in doc["images"]:
        name = _safe_name(im["file_name"], source)
        src, dst = root / name, layout.images / name
        if not src.is_file():
            raise MissingResource(f"{src}: image not found (listed in {source})")
        if dst.exists():
            # Two splits may list one image (one folder, two annotation files): the same bytes
            # are fine, a different image under the same name is not.
            if dst.stat().st_size != src.stat().st_size or dst.read_bytes() != src.read_bytes():
                raise BadInput(f"{source}: image {name!r} differs from another split's image of that name")
        else:
            _link_or_copy(src, dst)
    return len(doc["images"])


def import_world(world: WorldConfig, out: Path, advance: Callable[[int], None] | None = None) -> dict[str, int]:
    """Bring a files world into `out` in the world layout: each split's COCO JSON and scenes
    copied byte for byte, its images linked (or copied) under `images/` by `file_name`.
    `advance(1)` is called after each split. Returns the number of images per split."""
    layout = WorldLayout(out)
    written: dict[str, int] = {}
    for name, split in sorted(world.splits.items()):
        inst_path = Path(split.instances)
        inst = _coco(inst_path, "instances")
        _coco(Path(split.captions), "captions")
        for src, dst in ((inst_path, layout.instances(name)), (Path(split.captions), layout.captions(name))):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        if split.scenes is not None and Path(split.scenes).is_file():
            layout.scenes(name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(split.scenes, layout.scenes(name))
        written[name] = _import_images(split, inst, layout, inst_path)
        if advance is not None:
            advance(1)
    return written



def files_world_section(world: WorldConfig, splits: list[str], benchmark_files: dict[str, dict[str, list[str]]]
                        ) -> dict[str, Any]:
    """The `world:` section of a study config for a world folder in the world layout (as
    `vigc-bench world` writes it): its geometry, each split's files and the benchmark files,
    all paths relative to the folder (where the study YAML lies)."""
    root = Path(".")
    layout = WorldLayout(root)
    return {
        "kind": "files",
        **{k: getattr(world, k) for k in ("image_size", "grid", "min_objects", "max_objects", "captions_per_image")},
        "splits": {s: {"images": layout.images.as_posix(), "instances": layout.instances(s).as_posix(),
                       "captions": layout.captions(s).as_posix(), "scenes": layout.scenes(s).as_posix()}
                   for s in splits},
        "benchmark_files": benchmark_files,
    }
