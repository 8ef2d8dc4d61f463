"""A tiny VLM assembled from the foundation's parts: tokenizer, LM, vision tower and connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The pretrained connector's weights in a `foundation/align-*` stage's folder.
CONNECTOR_FILE = "connector.safetensors"


def assemble_tiny(arch: str, lm_dir: Path, vision_dir: Path, num_query_tokens: int,
                  align_dir: Path | None = None, device: str = "cpu") -> Any:
    """A tiny VLM from the foundation's tokenizer, LM and vision tower, and the pretrained
    connector from `align_dir` when given (else the connector starts untrained), on `device`
    (a torch device string)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, CLIPVisionModel, InstructBlipVisionModel

    from harness.models.adapter import VLM, make_processor
    from harness.models.tiny import LMSpec, VisionSpec, build_instructblip, build_llava

    tok = AutoTokenizer.from_pretrained(lm_dir / "tokenizer")
    lm = AutoModelForCausalLM.from_pretrained(lm_dir / "lm")
    vcls = CLIPVisionModel if arch == "llava" else InstructBlipVisionModel
    vision = vcls.from_pretrained(vision_dir / "vision")
    vc, lc = vision.config, lm.config
    vspec = VisionSpec(hidden=vc.hidden_size, layers=vc.num_hidden_layers, heads=vc.num_attention_heads,
                       mlp=vc.intermediate_size, image_size=vc.image_size, patch_size=vc.patch_size)
    lspec = LMSpec(family="qwen3" if lc.model_type == "qwen3" else "llama", hidden=lc.hidden_size, layers=lc.num_hidden_layers, heads=lc.num_attention_heads,
                   intermediate=lc.intermediate_size, max_positions=lc.max_position_embeddings)
    torch.manual_seed(0)
    if arch == "llava":
        model = build_llava(tok, vspec, lspec, vision.state_dict(), lm.state_dict())
    else:
        model = build_instructblip(tok, vspec, lspec, num_query_tokens, vision_state=vision.state_dict(),
                                   lm_state=lm.state_dict())
    if align_dir is not None:
        from safetensors.torch import load_file

        state = load_file(str(align_dir / CONNECTOR_FILE))
        missing = set(state) - set(dict(model.named_parameters()))
        assert not missing, f"connector keys not in the model: {sorted(missing)[:3]}"
        model.load_state_dict(state, strict=False)
    # Built on the CPU, then moved: the seeded initialisation is the same whatever the device.
    model.to(device).eval()
    return VLM(model, make_processor(arch, tok, vspec.image_size, vspec.patch_size, num_query_tokens), arch)
