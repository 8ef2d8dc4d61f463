"""Tiny transformers VLMs built from configs: LLaVA-style and InstructBLIP-style.

Both share the same parts: a small ViT (CLIP's for LLaVA, BLIP's for InstructBLIP, the
classes transformers uses for the real models) and a small Llama LM. The foundation stage
pretrains those parts; these builders assemble a VLM around them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class VisionSpec(BaseModel):
    """Size of the tiny ViT. One patch per grid cell keeps the image-token count small."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    mlp: int = 512
    image_size: int = 96
    patch_size: int = 24


class LMSpec(BaseModel):
    """Size and family of the tiny language model.

    `qwen3` (the default) normalises queries and keys per head, so attention can be sharp
    from the start; in pilots that made attribute lookup ("what colour is the star?") and
    localisation learn several times faster than the same-sized Llama.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    family: Literal["qwen3", "llama"] = "qwen3"
    hidden: int = 192
    layers: int = 4
    heads: int = 4
    intermediate: int = 512
    max_positions: int = 512


def vision_config(arch: str, spec: VisionSpec) -> Any:
    """A transformers vision config: `clip` (LLaVA's tower) or `blip` (InstructBLIP's)."""
    common = dict(hidden_size=spec.hidden, num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                  intermediate_size=spec.mlp, image_size=spec.image_size, patch_size=spec.patch_size)
    if arch == "clip":
        from transformers import CLIPVisionConfig

        return CLIPVisionConfig(**common)
    if arch == "blip":
        from transformers import InstructBlipVisionConfig

        return InstructBlipVisionConfig(**common)
    raise ValueError(f"unknown vision arch {arch!r}")


def build_vision(arch: str, spec: VisionSpec) -> Any:
    """A randomly initialised vision tower of the given family."""
    import torch

    from transformers import CLIPVisionModel, InstructBlipVisionModel

    cls = CLIPVisionModel if arch == "clip" else InstructBlipVisionModel
    with torch.random.fork_rng():
        return cls(vision_config(arch, spec))


def lm_config(vocab_size: int, spec: LMSpec, tokenizer: Any) -> Any:
    """A Qwen3 or Llama config sized by `spec`, with the tokenizer's special ids.

    Attention is "eager": at these sizes plain matmul attention trains about 1.8x faster in
    bf16 on CPU than the fused SDPA kernel, whose bf16 backward dominates the step.
    """
    from transformers import LlamaConfig, Qwen3Config

    common = dict(vocab_size=vocab_size, hidden_size=spec.hidden, intermediate_size=spec.intermediate,
                  num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
                  max_position_embeddings=spec.max_positions, tie_word_embeddings=True,
                  bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    if spec.family == "qwen3":
        cfg = Qwen3Config(head_dim=spec.hidden // spec.heads, **common)
    else:
        cfg = LlamaConfig(**common)
    cfg._attn_implementation = "eager"
    return cfg


def build_llava(tokenizer: Any, vspec: VisionSpec, lspec: LMSpec, vision_state: dict | None = None,
                lm_state: dict | None = None) -> Any:
    """A tiny `LlavaForConditionalGeneration`, optionally from pretrained vision / LM weights."""
    from transformers import GenerationConfig, LlavaConfig, LlavaForConditionalGeneration

    cfg = LlavaConfig(vision_config=vision_config("clip", vspec),
                      text_config=lm_config(len(tokenizer), lspec, tokenizer),
                      image_token_id=tokenizer.convert_tokens_to_ids(tokenizer.image_token),
                      vision_feature_layer=-1, vision_feature_select_strategy="default",
                      projector_hidden_act="gelu", tie_word_embeddings=True)
    model = LlavaForConditionalGeneration(cfg)
    _use_eager(model)
    if vision_state is not None:
        model.model.vision_tower.load_state_dict(vision_state)
    if lm_state is not None:
        _load_lm(model.model.language_model, model.lm_head, lm_state)
    model.generation_config = _generation_config(tokenizer)
    return model


def build_instructblip(tokenizer: Any, vspec: VisionSpec, lspec: LMSpec, num_query_tokens: int,
                       qformer_layers: int = 2, vision_state: dict | None = None,
                       lm_state: dict | None = None) -> Any:
    """A tiny `InstructBlipForConditionalGeneration` whose Q-Former reads the text prompt."""
    import torch
    from transformers import InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipQFormerConfig

    qcfg = InstructBlipQFormerConfig(vocab_size=len(tokenizer), hidden_size=vspec.hidden,
                                     num_hidden_layers=qformer_layers, num_attention_heads=vspec.heads,
                                     intermediate_size=vspec.mlp, encoder_hidden_size=vspec.hidden,
                                     max_position_embeddings=lspec.max_positions,
                                     pad_token_id=tokenizer.pad_token_id, cross_attention_frequency=1,
                                     # No dropout anywhere: training is then a pure function of
                                     # (data order, weights), which makes resume exact.
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cfg = InstructBlipConfig(vision_config=vision_config("blip", vspec).to_dict(), qformer_config=qcfg.to_dict(),
                             text_config=lm_config(len(tokenizer), lspec, tokenizer).to_dict(),
                             num_query_tokens=num_query_tokens,
                             image_token_index=tokenizer.convert_tokens_to_ids(tokenizer.image_token))
    model = InstructBlipForConditionalGeneration(cfg)
    _use_eager(model)
    # Query tokens start at zero, which makes every query identical: break the symmetry.
    with torch.no_grad():
        model.query_tokens.normal_(0.0, 0.02)
    if vision_state is not None:
        model.vision_model.load_state_dict(vision_state)
    if lm_state is not None:
        model.language_model.load_state_dict(lm_state)
    model.generation_config = _generation_config(tokenizer)
    return model


def _use_eager(model: Any) -> None:
    # Recorded in config.json so that a reload uses the same kernels (and the same floats).
    model.set_attn_implementation("eager")
    model.config.vigc_attn_implementation = "eager"
    # Our data puts the image after the first question; prompts at inference do the same.
    model.config.vigc_image_after_text = True


def _load_lm(backbone: Any, lm_head: Any, lm_state: dict) -> None:
    # LlamaForCausalLM keys are "model.*" and "lm_head.*"; LLaVA splits them across modules.
    backbone.load_state_dict({k[len("model."):]: v for k, v in lm_state.items() if k.startswith("model.")})
    head = {k[len("lm_head."):]: v for k, v in lm_state.items() if k.startswith("lm_head.")}
    if head:
        lm_head.load_state_dict(head)


def _generation_config(tokenizer: Any) -> Any:
    from transformers import GenerationConfig

    return GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                            bos_token_id=tokenizer.bos_token_id, do_sample=False, max_new_tokens=64)
