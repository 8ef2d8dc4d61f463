"""Vision features of image sets, computed once per process and model tower.

The vision tower is frozen in every recipe, so its output for an image never changes; a
study that finetunes several targets on overlapping images computes each image once.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

_MEMO: dict[tuple[str, str], Any] = {}


def _tower_key(vlm: Any) -> str:
    # The weights identify the tower: hash a few of its tensors (cheap, and exact enough
    # that two different towers never share a key in practice).
    h = hashlib.sha256()
    for i, (name, p) in enumerate(sorted(vlm.vision_tower.state_dict().items())):
        if i % 7 == 0:
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes()[:4096])
    return h.hexdigest()


def _image_key(img: Any) -> str:
    if isinstance(img, (bytes, bytearray)):
        return "b:" + hashlib.sha256(img).hexdigest()
    return "p:" + str(img)


def feature_table(vlm: Any, images: Sequence[Any], blind: bool = False) -> tuple[Any, list[int]]:
    """Features of the distinct images and, per input, its row in that table.

    `blind` replaces every image by a blank white one: the text-only control. An image of None
    is the blank one too (a text-only item or conversation).
    """
    import torch
    from PIL import Image

    tower = _tower_key(vlm)
    keys = ["blank" if blind or i is None else _image_key(i) for i in images]
    distinct = list(dict.fromkeys(keys))
    todo = [k for k in distinct if (tower, k) not in _MEMO]
    if todo:
        first = {k: img for k, img in zip(keys, images)}
        size = vlm.model.config.vision_config.image_size
        srcs = [Image.new("RGB", (size, size), (255, 255, 255)) if k == "blank" else first[k] for k in todo]
        feats = vlm.image_features(srcs)
        for k, f in zip(todo, feats):
            _MEMO[(tower, k)] = f
    table = torch.stack([_MEMO[(tower, k)] for k in distinct])
    row = {k: i for i, k in enumerate(distinct)}
    return table, [row[k] for k in keys]


def clear() -> None:
    """Forget cached features (tests)."""
    _MEMO.clear()
