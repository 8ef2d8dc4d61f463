"""Stage `finetune/<target>/<source>`: assemble (or load) a target model and finetune it."""

from __future__ import annotations

from typing import Literal

from harness.core.config import Section
from harness.core.io import write_json
from harness.core.records import TRAIN_LOG, Conversation, WorldLayout
from harness.stages.runner import StageContext, StageSpec, resume_dir
from harness.training.recipes import FinetuneConfig

VERSION = 1


class FinetuneStageConfig(Section):
    """One target on one data source: its architecture (or checkpoint), the data files by input
    role, the recipe, and a label for progress bars."""

    arch: Literal["llava", "instructblip"]
    checkpoint: str | None
    blind: bool
    untuned: bool = False  # the untuned control: assembled and aligned, never finetuned
    files: dict[str, str]  # input role (data:<part>) -> its LLaVA file
    num_query_tokens: int
    finetune: FinetuneConfig
    seed: int
    label: str


class FinetuneResult(Section):
    """Training examples, the final loss, and the step training resumed from (0: a fresh start)."""

    examples: int
    final_loss: float | None
    resumed_from: int


def run_finetune(ctx: StageContext[FinetuneStageConfig]) -> FinetuneResult:
    """Finetune one target on one data source; save the model and the training log.

    An untuned control (`untuned`) is the assembled model saved as it is: foundation towers and
    LM with the aligned connector, no instruction data, so the study can show what the data teaches.
    """
    import torch

    from harness.models.adapter import load_vlm
    from harness.models.assemble import assemble_tiny
    from harness.training.finetune import load_conversations, train_log, train_on_conversations

    c = ctx.config
    torch.manual_seed(c.seed)
    if c.checkpoint:
        vlm = load_vlm(c.checkpoint, ctx.device)
    else:
        vlm = assemble_tiny(c.arch, ctx.input_path("lm"), ctx.input_path("vision"),
                            num_query_tokens=c.num_query_tokens,
                            align_dir=ctx.input_path("align") if "align" in ctx.inputs else None, device=ctx.device)
    if c.untuned:
        vlm.save(ctx.out_dir / "model")
        write_json(ctx.out_dir / TRAIN_LOG, {"losses": [], "seconds": 0.0, "examples": 0, "conversations": 0,
                                             "untuned": True})
        return FinetuneResult(examples=0, final_loss=None, resumed_from=0)
    convs: list[Conversation] = []
    for role, fname in sorted(c.files.items()):
        convs.extend(load_conversations(ctx.input_path(role) / fname))
    log = train_on_conversations(vlm, convs, WorldLayout(ctx.input_path("world")).images, c.finetune, c.seed,
                                 resume_dir(ctx), ctx.progress, c.label, blind=c.blind)
    vlm.save(ctx.out_dir / "model")
    write_json(ctx.out_dir / TRAIN_LOG, train_log(log, len(convs)))
    return FinetuneResult(examples=log.examples, final_loss=log.losses[-1][1] if log.losses else None,
                          resumed_from=log.resumed_from)


FINETUNE = StageSpec("finetune", VERSION, run_finetune, FinetuneStageConfig, FinetuneResult,
                     inputs=("world",), optional=("data:", "lm", "vision", "align"),  # untuned: no data
                     collective=True, cost=100)
