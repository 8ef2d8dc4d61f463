"""Stages `foundation/vision-<arch>` and `foundation/lm`: the pretrained parts of every tiny model."""

from __future__ import annotations

from typing import Any

from harness.stages import StageContext
from harness.world.export import read_scenes

VERSION = 1


def run_vision(ctx: StageContext) -> dict[str, Any]:
    """Pretrain a vision tower on per-patch attributes of the foundation images; save it."""
    import torch

    from harness.models.adapter import make_processor, open_image
    from harness.models.foundation import patch_labels, pretrain_vision
    from harness.models.tiny import VisionSpec, build_vision

    c = ctx.config
    v = c["vision"]
    spec = VisionSpec(**{k: v[k] for k in VisionSpec.model_fields})
    world = ctx.input_path("world")
    scenes = read_scenes(world, "foundation")
    # The processor is the one the assembled VLM will use, so features match at train time.
    ip = make_processor(c["arch"], _DummyTok(), spec.image_size, spec.patch_size).image_processor \
        if False else _image_processor(c["arch"], spec.image_size)
    task = ctx.progress(f"foundation: vision ({c['arch']}) pretraining", v["steps"])
    pix = torch.cat([ip([open_image(world / "images" / s.file_name) for s in scenes[i:i + 512]],
                        return_tensors="pt")["pixel_values"] for i in range(0, len(scenes), 512)])
    labels = torch.tensor([patch_labels(s) for s in scenes])
    torch.manual_seed(c["seed"])
    model = build_vision(c["arch"], spec)
    acc = pretrain_vision(model, pix, labels, scenes[0].grid, v["steps"], v["batch"], v["lr"], c["seed"],
                          lambda s, t, m: task.advance(1, loss=m["loss"]))
    task.close()
    model.save_pretrained(ctx.out_dir / "vision", safe_serialization=True)
    return {"train_accuracy": {k: round(x, 4) for k, x in acc.items()}, "images": len(scenes)}


class _DummyTok:  # pragma: no cover - placeholder kept out of the processor path
    pass


def _image_processor(arch: str, image_size: int) -> Any:
    """The PIL image processor of a tiny model family (no torchvision)."""
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    if arch == "clip":
        from transformers import CLIPImageProcessorPil

        return CLIPImageProcessorPil(size={"height": image_size, "width": image_size}, do_center_crop=False,
                                     image_mean=mean, image_std=std)
    from transformers import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std)
