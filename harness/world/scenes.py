"""Sampling scenes: objects on a grid, with themes that create co-occurrence structure."""

from __future__ import annotations

import random

from harness.core.records import Scene, SceneObject
from harness.world.spec import COLOURS, SHAPES, SIZES, THEMES


def scene_rng(seed: int, image_id: int) -> random.Random:
    """A random generator for one image, independent of every other image (so shards agree)."""
    return random.Random(f"vigc-world/{seed}/{image_id}")


def sample_scene(
    seed: int,
    image_id: int,
    split: str,
    image_size: int = 96,
    grid: int = 4,
    min_objects: int = 2,
    max_objects: int = 5,
    theme_weight: float = 0.7,
) -> Scene:
    """Sample one scene's ground truth; deterministic in (seed, image_id)."""
    rng = scene_rng(seed, image_id)
    theme = rng.choice(sorted(THEMES))
    n = rng.randint(min_objects, max_objects)
    cells = rng.sample(range(grid * grid), n)
    shapes = list(SHAPES)
    pop = [SHAPES[s].popularity for s in shapes]
    cell_px = image_size / grid
    colours = list(COLOURS)
    objects = []
    for i, cell in enumerate(cells):
        if rng.random() < theme_weight:
            shape = rng.choice(THEMES[theme])
        else:
            shape = rng.choices(shapes, weights=pop)[0]
        # Repeat an earlier object's colour now and then, so that a colour alone rarely
        # identifies an object and answering needs colour and shape bound together.
        if objects and rng.random() < 0.3:
            colour = rng.choice(objects).colour
        else:
            colour = rng.choice(colours)
        size = rng.choice(SIZES)
        row, col = divmod(cell, grid)
        frac = 0.45 if size == "small" else 0.8
        side = round(cell_px * frac)
        slack = cell_px - side
        x = col * cell_px + slack / 2 + rng.uniform(-slack / 2.5, slack / 2.5)
        y = row * cell_px + slack / 2 + rng.uniform(-slack / 2.5, slack / 2.5)
        objects.append(SceneObject(id=i, shape=shape, colour=colour, size=size, row=row, col=col,
                                   bbox=(round(x, 1), round(y, 1), float(side), float(side))))
    objects.sort(key=lambda o: (o.row, o.col))
    objects = [o.model_copy(update={"id": i}) for i, o in enumerate(objects)]
    return Scene(image_id=image_id, file_name=f"{split}/{image_id:07d}.png", split=split,
                 width=image_size, height=image_size, grid=grid, theme=theme, objects=tuple(objects))
