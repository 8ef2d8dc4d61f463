"""A small benchmark world for prediction tests: world images, POPE and MMBench files, a tiny checkpoint.

Built once per test session (both test_predict and test_lm_eval_tasks use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BENCH_SCENES = 3


@dataclass(frozen=True)
class BenchWorld:
    """Paths of the small world: images, official files per benchmark, a saved tiny checkpoint."""

    images: Path  # the world's images/ folder (POPE file names resolve against it)
    pope: Path  # world_pope_random.json
    mmbench: Path  # world_mmbench_dev.tsv (images inlined as base64)
    ckpt: Path


def _answering_tiny_llava() -> object:
    """A tiny random LLaVA whose greedy answers are non-empty and depend on the image.

    Freshly initialised, the tiny LM's residual stream is its input embedding, so greedy
    decoding repeats the chat header token (decoded: ""); louder layers and projector make
    answers differ by prompt and image, which is what a comparison of two paths needs.
    """
    import torch

    from tests.harness._tiny_models import tiny_vlm

    vlm = tiny_vlm("llava", seed=0)
    with torch.no_grad():
        for name, p in vlm.model.named_parameters():
            if "language_model.layers" in name and ("o_proj" in name or "down_proj" in name):
                p.mul_(4.0)
            if "multi_modal_projector" in name:
                p.mul_(8.0)
    return vlm


@lru_cache(maxsize=1)
def bench_world(root: Path) -> BenchWorld:
    """Write the world under `root` (once per session: cached on the root)."""
    from benchmarks import BENCHMARKS
    from harness.world.export import read_scenes, write_world

    write_world(root / "world", 3, {"foundation": 1, "seed": 1, "extra": 1, "bench": BENCH_SCENES})
    scenes = read_scenes(root / "world", "bench")
    images = root / "world" / "images"
    pope = BENCHMARKS.get("pope")().synthesize(scenes, images, root / "pope", 1)["random"][0]
    mmbench = BENCHMARKS.get("mmbench")(questions_per_l2=1).synthesize(scenes, images, root / "mmbench", 1)["dev"][0]
    _answering_tiny_llava().save(root / "ckpt")  # type: ignore[attr-defined]
    return BenchWorld(images, pope, mmbench, root / "ckpt")
