"""Drawing a scene with Pillow. Rendering is nearly free (thousands of images a second)."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from harness.core.records import Scene, SceneObject
from harness.world.spec import COLOURS


def _regular(cx: float, cy: float, r: float, n: int, rot: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(rot + 2 * math.pi * k / n), cy + r * math.sin(rot + 2 * math.pi * k / n))
            for k in range(n)]


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        rr = r if k % 2 == 0 else r * 0.45
        a = -math.pi / 2 + math.pi * k / 5
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject, fill: tuple[int, int, int]) -> None:
    """Draw one object inside its bounding box."""
    x, y, w, h = obj.bbox
    cx, cy, r = x + w / 2, y + h / 2, w / 2
    s = obj.shape
    if s == "circle":
        draw.ellipse([x, y, x + w, y + h], fill=fill)
    elif s == "square":
        draw.rectangle([x + w * 0.08, y + h * 0.08, x + w * 0.92, y + h * 0.92], fill=fill)
    elif s == "triangle":
        draw.polygon([(cx, y), (x + w, y + h * 0.92), (x, y + h * 0.92)], fill=fill)
    elif s == "star":
        draw.polygon(_star(cx, cy + r * 0.08, r), fill=fill)
    elif s == "heart":
        q = w / 4
        draw.ellipse([x, y + h * 0.05, x + 2 * q + 1, y + h * 0.05 + 2 * q + 1], fill=fill)
        draw.ellipse([x + 2 * q - 1, y + h * 0.05, x + w, y + h * 0.05 + 2 * q + 1], fill=fill)
        draw.polygon([(x + w * 0.02, y + h * 0.05 + q * 1.3), (x + w * 0.98, y + h * 0.05 + q * 1.3),
                      (cx, y + h)], fill=fill)
    elif s == "cross":
        t = w * 0.17
        draw.rectangle([cx - t, y, cx + t, y + h], fill=fill)
        draw.rectangle([x, cy - t, x + w, cy + t], fill=fill)
    elif s == "diamond":
        draw.polygon([(cx, y), (x + w, cy), (cx, y + h), (x, cy)], fill=fill)
    elif s == "hexagon":
        draw.polygon(_regular(cx, cy, r, 6, 0.0), fill=fill)
    else:  # pragma: no cover - spec and renderer are kept in step by tests
        raise AssertionError(f"no drawing for shape {s!r}")


def render_scene(scene: Scene, seed: int) -> Image.Image:
    """Render `scene` as an RGB image; colour jitter is deterministic in (seed, image_id)."""
    rng = random.Random(f"vigc-render/{seed}/{scene.image_id}")
    img = Image.new("RGB", (scene.width, scene.height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        base = COLOURS[obj.colour]
        fill = tuple(max(0, min(255, c + rng.randint(-12, 12))) for c in base)
        draw_object(draw, obj, fill)  # type: ignore[arg-type]
    return img
