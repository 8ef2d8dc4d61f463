"""Training recipes: the pretraining schedules of the foundation (vision tower, LM, connector)
and instruction finetuning. Sections of a study config, and parts of the training stages' configs."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from harness.core.config import Section
from harness.models.tiny import LMSpec, VisionSpec


class VisionPretrain(VisionSpec):
    """Vision tower size and its pretraining schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    steps: int = Field(600, ge=0)
    batch: int = Field(128, ge=1)
    lr: float = Field(2e-3, gt=0)


class LMPretrain(LMSpec):
    """Language model size and its pretraining schedule on world text."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    steps: int = Field(300, ge=0)
    batch: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)
    vocab_size: int = Field(1200, ge=300)


class AlignConfig(Section):
    """Connector pretraining (LLaVA's stage 1): patch features onto the LM's slot vectors."""

    steps: int = Field(600, ge=0)
    batch: int = Field(256, ge=1)
    lr: float = Field(3e-3, gt=0)
    # The Q-Former (InstructBLIP) costs ~10x the projector per step and is post-LN BERT,
    # unstable above ~1e-3 (measured), so it has its own budget.
    qformer_steps: int = Field(400, ge=0)
    qformer_batch: int = Field(128, ge=1)
    qformer_lr: float = Field(1e-3, gt=0)


class FinetuneConfig(Section):
    """Instruction finetuning of a target model."""

    steps: int = Field(600, ge=1, description="optimizer steps (unless `epochs` is set)")
    epochs: float | None = Field(None, gt=0, le=1000, description="passes over the training examples; when set, "
                                                                  "steps = ceil(epochs * examples / batch)")
    batch: int = Field(32, ge=1, description="examples per optimizer step, over all data-parallel ranks")
    lr: float = Field(1e-3, gt=0, description="peak learning rate (AdamW): linear warm-up, then cosine decay to 10%")
    warmup: int = Field(30, ge=0, description="steps of linear learning-rate warm-up")
    train_lm: bool = Field(True, description="train the LM too (else only the connector: the projector, or the "
                                             "Q-Former, its queries and projection)")
    bf16: bool = Field(True, description="autocast to bfloat16 over float32 weights (CPUs without AVX512-BF16 or "
                                         "AMX emulate it, slowly)")
    max_length: int = Field(384, ge=16, description="tokens per example, image tokens included; longer ones are cut")
    checkpoint_every: int = Field(100, ge=1, description="steps between resumable checkpoints")
