"""Tiny checkpoints of the real classes, saved in hub layout, built offline in a few seconds.

Unlike `tests/harness/_tiny_models.py` (our own tokenizer, which carries an `image_token`, and
our layout flag `vigc_image_after_text`), these look like what `from_pretrained` gets from the
hub, only smaller:

- LLaVA (llava-hf style): `LlavaForConditionalGeneration` with a CLIP vision tower
  (`vision_feature_layer=-2`) and a Llama LM; a Llama tokenizer with `<image>` as an added
  token and a `USER: ... ASSISTANT:` chat template; `LlavaProcessor` with a PIL CLIP image
  processor.
- InstructBLIP (Salesforce style): `InstructBlipForConditionalGeneration` with a Llama LM; a
  Llama tokenizer with no `image_token` attribute and no chat template (the processor adds
  `<image>` itself), a BERT tokenizer for the Q-Former, `InstructBlipProcessor`.

Each folder holds config.json, model.safetensors, generation_config.json, the processor's
and tokenizers' files (and LLaVA's chat template): `save_pretrained` of model and processor.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

IMAGE_SIZE, PATCH = 32, 16
LLAVA_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ 'USER: ' }}{% else %}{{ 'ASSISTANT: ' }}{% endif %}"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for p in m['content'] %}"
    "{% if p['type'] == 'image' %}{% if loop.first %}{{ '<image>\n' }}{% else %}{{ '\n<image>' }}{% endif %}"
    "{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if m['role'] == 'user' %}{{ ' ' }}{% else %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def llama_tokenizer(with_image_token: bool) -> Any:
    """A character-level Llama tokenizer (tokenizers backend, Metaspace pre-tokenizer) over
    printable ASCII, with `<unk>`, `<s>`, `</s>` and a pad token; `<image>` added as a
    special token when asked (LLaVA's checkpoints have it in the vocabulary)."""
    from transformers import LlamaTokenizer

    chars = ["\u2581"] + [c for c in string.printable if c not in " \t\r\x0b\x0c"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tok = LlamaTokenizer(vocab=vocab, merges=[], unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                         add_bos_token=True)
    tok.add_special_tokens({"pad_token": "<pad>"})
    if with_image_token:
        tok.add_tokens(["<image>"], special_tokens=True)
    return tok


def bert_tokenizer() -> Any:
    """A small uncased BERT word-piece tokenizer (the Q-Former's)."""
    from transformers import BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(string.ascii_lowercase + string.digits + ".,?!")
    words += [w for w in ("what", "is", "the", "image", "question", "answer", "a", "of", "in", "colour", "there")
              if w not in words]
    return BertTokenizer(vocab={w: i for i, w in enumerate(words)})


def _llama_config(vocab: int, tok: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)


def _louder(model: Any, lm_prefix: str, connector: str) -> None:
    # Freshly initialised, a tiny LM's residual stream is its input embedding and greedy decoding
    # repeats one token; louder layers and connector make answers depend on prompt and image.
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(lm_prefix) and ("o_proj" in name or "down_proj" in name):
                p.mul_(4.0)
            if connector in name:
                p.mul_(8.0)


def save_llava(out: Path, seed: int = 0) -> Path:
    """A tiny llava-hf style checkpoint in `out`; returns `out`."""
    import torch
    from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, GenerationConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    tok = llama_tokenizer(with_image_token=True)
    tok.chat_template = LLAVA_TEMPLATE
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=IMAGE_SIZE, patch_size=PATCH, projection_dim=32)
    cfg = LlavaConfig(vision_config=vision, text_config=_llama_config(len(tok), tok),
                      image_token_id=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-2,
                      vision_feature_select_strategy="default", projector_hidden_act="gelu")
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg).eval()
    _louder(model, "model.language_model", "multi_modal_projector")
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    ip = CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE,
                                                                              "width": IMAGE_SIZE})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=PATCH, vision_feature_select_strategy="default",
                          num_additional_image_tokens=1, chat_template=LLAVA_TEMPLATE)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def save_instructblip(out: Path, seed: int = 0, num_query_tokens: int = 4) -> Path:
    """A tiny Salesforce-style InstructBLIP checkpoint (Llama LM) in `out`; returns `out`."""
    import torch
    from transformers import (BlipImageProcessorPil, GenerationConfig, InstructBlipConfig,
                              InstructBlipForConditionalGeneration, InstructBlipProcessor,
                              InstructBlipQFormerConfig, InstructBlipVisionConfig)

    tok = llama_tokenizer(with_image_token=False)
    qtok = bert_tokenizer()
    ip = BlipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    # The processor adds `<image>` to the tokenizer (it has no `image_token`), as for hub checkpoints.
    proc = InstructBlipProcessor(image_processor=ip, tokenizer=tok, qformer_tokenizer=qtok,
                                 num_query_tokens=num_query_tokens)
    assert not hasattr(tok, "image_token")
    vision = InstructBlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=PATCH)
    qformer = InstructBlipQFormerConfig(vocab_size=len(qtok), hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64, encoder_hidden_size=32,
                                        pad_token_id=qtok.pad_token_id)
    cfg = InstructBlipConfig(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                             text_config=_llama_config(len(tok), tok).to_dict(), num_query_tokens=num_query_tokens,
                             image_token_index=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(seed)
    model = InstructBlipForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        model.query_tokens.normal_(0.0, 0.02)
    _louder(model, "language_model", "language_projection")
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def plain_images(folder: Path, n: int = 4, size: int = 40) -> Path:
    """A plain folder of `n` small distinct images (JPEG and PNG, one in a subfolder); returns it."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (size, size + 8 * i), ((60 * i) % 256, (100 * i) % 256, (200 - 40 * i) % 256))
        img.paste((255, 255, 255), (4 * i, 4, 4 * i + 12, 16))
        path = folder / ("sub" if i == n - 1 else "") / f"img{i}.{'png' if i % 2 else 'jpg'}"
        path.parent.mkdir(exist_ok=True)
        img.save(path)
    return folder
