"""Stage `finetune/<target>/<source>`: assemble (or load) a target model and finetune it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.io import read_json, write_json
from harness.core.records import TRAIN_LOG, Conversation, WorldLayout
from harness.stages.runner import StageContext, resume_dir

VERSION = 1


def load_conversations(path: Path) -> list[Conversation]:
    """A LLaVA JSON file as typed conversations."""
    return [Conversation.model_validate(d) for d in read_json(path)]


def run_finetune(ctx: StageContext) -> dict[str, Any]:
    """Finetune one target on one data source; save the model and the training log."""
    import torch

    from harness.models.adapter import load_vlm
    from harness.models.assemble import assemble_tiny
    from harness.models.features import feature_table
    from harness.training.finetune import examples_from_conversations, finetune

    c = ctx.config
    ft = c["finetune"]
    torch.manual_seed(c["seed"])
    if c.get("checkpoint"):
        vlm = load_vlm(c["checkpoint"])
    else:
        vlm = assemble_tiny(c["arch"], ctx.input_path("lm"), ctx.input_path("vision"),
                            num_query_tokens=c.get("num_query_tokens", 16),
                            align_dir=ctx.input_path("align") if "align" in ctx.inputs else None)
    convs: list[Conversation] = []
    for role, fname in sorted(c["files"].items()):
        convs.extend(load_conversations(ctx.input_path(role) / fname))
    image_root = WorldLayout(ctx.input_path("world")).images
    images = sorted({cv.image for cv in convs})
    feats, rows = feature_table(vlm, [image_root / im for im in images], blind=c.get("blind", False))
    examples = examples_from_conversations(vlm, convs, dict(zip(images, rows)), ft["max_length"])
    task = ctx.progress(f"finetune {c['label']}", ft["steps"])
    log = finetune(vlm, feats, examples, steps=ft["steps"], batch=ft["batch"], lr=ft["lr"], warmup=ft["warmup"],
                   train_lm=ft["train_lm"], bf16=ft["bf16"], seed=c["seed"], resume=resume_dir(ctx),
                   checkpoint_every=ft["checkpoint_every"],
                   advance=lambda step, loss: task.advance(1, loss=loss))
    task.close()
    vlm.save(ctx.out_dir / "model")
    write_json(ctx.out_dir / TRAIN_LOG, {"losses": log.losses, "seconds": round(log.seconds, 2),
                                                "trainable_params": log.trainable_params, "examples": log.examples,
                                                "conversations": len(convs), "resumed_from": log.resumed_from})
    return {"examples": log.examples, "final_loss": log.losses[-1][1] if log.losses else None,
            "resumed_from": log.resumed_from}
