"""Tiny models for tests: a trained tokenizer and LLaVA / InstructBLIP VLMs (random weights)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from harness.world.corpus import knowledge_sentences

TEXTS = knowledge_sentences() + [
    "What colour is the star? The star is red.",
    "Is there a circle in the image? Yes, there is a circle in the image.",
    "How many shapes are in the image? There are three shapes in the image.",
    "Describe this image in detail. A big blue square in the top left.",
] * 5


def cut_at_stop(text: str, stop: Any) -> str:
    """What `VLM.generate(stop=...)` returns for a row that would say `text`: its shortest prefix
    satisfying `stop` (the whole text when none does); for stand-in VLMs."""
    return next((text[:n] for n in range(1, len(text) + 1) if stop(text[:n])), text)


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """A small BPE tokenizer with the chat template."""
    from harness.models.tokenizer import train_tokenizer

    return train_tokenizer(TEXTS, 400)


def tiny_vlm(arch: str = "llava", seed: int = 0) -> Any:
    """A freshly built tiny VLM of `arch` (deterministic in `seed`)."""
    import torch

    from harness.models.adapter import VLM, make_processor
    from harness.models.tiny import LMSpec, VisionSpec, build_instructblip, build_llava

    vspec = VisionSpec(hidden=32, layers=1, heads=2, mlp=64, image_size=48, patch_size=24)
    lspec = LMSpec(hidden=32, layers=2, heads=2, intermediate=64, max_positions=256)
    tok = tokenizer()
    torch.manual_seed(seed)
    if arch == "llava":
        model = build_llava(tok, vspec, lspec)
    else:
        model = build_instructblip(tok, vspec, lspec, num_query_tokens=4, qformer_layers=1)
    model.eval()
    return VLM(model, make_processor(arch, tok, vspec.image_size, vspec.patch_size, 4), arch)


def images(n: int, size: int = 48) -> list[Any]:
    """`n` distinct small RGB images."""
    from PIL import Image

    return [Image.new("RGB", (size, size), ((40 * i) % 256, (90 * i) % 256, (150 + 30 * i) % 256)) for i in range(n)]
