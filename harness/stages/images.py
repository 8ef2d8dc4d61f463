"""The images of a plain folder as `ImageInfo`s, with what optional COCO files say of them.

`vigc-bench generate` runs on any folder of images (COCO's train2017, a phone's camera roll):
no world directory, no annotations needed. COCO `instances` / `captions` files, when given,
add boxes and captions to the images they list by `file_name` (what the language-only
generator reads; VIGC reads pixels only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.core.errors import BadInput, MissingResource
from generators.base import Box, ImageInfo

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively, by suffix), sorted by relative path; a folder
    that is missing or holds none is an error naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingResource(f"{folder}: image folder not found")
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise BadInput(f"{folder}: no images in it (looked for {', '.join(IMAGE_SUFFIXES)})")
    return found


def _annotations(files: Sequence[Path]) -> tuple[dict[str, list[Box]], dict[str, list[str]]]:
    """Boxes and captions by image `file_name` from COCO instances / captions files."""
    from harness.core.io import read_json

    boxes: dict[str, list[Box]] = {}
    captions: dict[str, list[str]] = {}
    for f in files:
        doc = read_json(f)
        try:
            names = {im["id"]: im["file_name"] for im in doc["images"]}
            cats = {c["id"]: c["name"] for c in doc.get("categories", [])}
            for a in doc["annotations"]:
                name = names[a["image_id"]]
                if "caption" in a:
                    captions.setdefault(name, []).append(str(a["caption"]))
                else:
                    x, y, w, h = (float(v) for v in a["bbox"])
                    boxes.setdefault(name, []).append(Box(cats[a["category_id"]], (x, y, w, h)))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            what = f"missing key {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            raise BadInput(f"{f}: not a COCO instances or captions file ({what})") from None
    return boxes, captions


def folder_image_infos(folder: Path, annotations: Sequence[Path] = ()) -> list[ImageInfo]:
    """Every image under `folder` (sorted; ids are positions in that order, so shards of one
    folder agree on them), with boxes and captions from `annotations` where they name it.
    Each image's header is read: an unreadable file fails here, before any model loads."""
    from PIL import Image

    from harness.models.adapter import check_image

    folder = Path(folder)
    boxes, captions = _annotations([Path(a) for a in annotations])
    out = []
    for i, path in enumerate(list_images(folder)):
        check_image(path)
        with Image.open(path) as im:
            width, height = im.size
        rel = path.relative_to(folder).as_posix()
        out.append(ImageInfo(image_id=i, file_name=rel, path=path, width=width, height=height,
                             captions=tuple(captions.get(rel, ())), boxes=tuple(boxes.get(rel, ()))))
    return out

