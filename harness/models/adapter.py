"""One adapter for every VLM the harness trains or queries: tiny ones and real checkpoints.

The adapter owns the model, its tokenizer and image processor, and the two things stages need:
`forward` for training and `generate` for inference. Both take vision-tower features rather
than pixels, because the tower is frozen in every recipe here: its outputs for a fixed image
set are computed once (`image_features`) and reused by every step and every finetune.
`load` takes a local directory or a hub id (only used when the user gives one).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.core.errors import BadInput, MissingResource, VigcError
from harness.models.encode import IGNORE, encode_chat, encode_prompt, image_after_question, pad_batch

ImageLike = Any  # a path, encoded bytes, or a PIL image


def _image_name(img: ImageLike) -> str:
    """How an error names an image: its path, or its size when it came inline (MMBench's base64)."""
    return str(img) if isinstance(img, (str, Path)) else f"an inline image of {len(img):,} bytes"


def check_image(img: ImageLike) -> None:
    """Read an image's header only: an unreadable file or a decompression bomb (PIL's guard: more
    than twice `Image.MAX_IMAGE_PIXELS`) is a `BadInput` naming it, before any model is loaded."""
    from PIL import Image

    if not isinstance(img, (bytes, bytearray, str, Path)):
        return
    try:
        with Image.open(io.BytesIO(img) if isinstance(img, (bytes, bytearray)) else img):
            pass
    except Image.DecompressionBombError as e:
        raise BadInput(f"{_image_name(img)}: refused, too many pixels ({e})") from None
    except (OSError, ValueError, SyntaxError) as e:  # PIL's UnidentifiedImageError is an OSError
        raise BadInput(f"{_image_name(img)}: not a readable image ({type(e).__name__})") from None


def open_image(img: ImageLike) -> Any:
    """A PIL RGB image from a path, bytes or PIL image; an unreadable one is a `BadInput` naming it."""
    from PIL import Image

    if not isinstance(img, (bytes, bytearray, str, Path)):
        return img.convert("RGB")
    try:
        with Image.open(io.BytesIO(img) if isinstance(img, (bytes, bytearray)) else img) as im:
            return im.convert("RGB")
    except Image.DecompressionBombError as e:
        raise BadInput(f"{_image_name(img)}: refused, too many pixels ({e})") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated data, a zero-byte file, not an image
        raise BadInput(f"{_image_name(img)}: not a readable image ({type(e).__name__}: {str(e)[:120]})") from None


@dataclass
class VLM:
    """A loaded vision-language model (`arch` is 'llava' or 'instructblip')."""

    model: Any
    processor: Any
    arch: str

    @property
    def tokenizer(self) -> Any:
        """The text tokenizer (with chat template)."""
        return self.processor.tokenizer

    @property
    def n_image_tokens(self) -> int:
        """Placeholder tokens one image takes in the text."""
        cfg = self.model.config
        if self.arch == "instructblip":
            return int(cfg.num_query_tokens)
        v = cfg.vision_config
        n = (v.image_size // v.patch_size) ** 2
        return n + (0 if cfg.vision_feature_select_strategy == "default" else 1)

    @property
    def image_prefix(self) -> bool:
        """Whether image tokens go before the whole text, as InstructBLIP's processor puts them.

        Only for real InstructBLIP checkpoints. Our tiny LM was pretrained reading a scene after
        the question (the scene's tokens attend to what is asked), so its Q-Former's outputs go
        where the LM learned to read a scene: with them in front, the frozen LM never found
        the scene and the InstructBLIP target scored POPE ~50.
        """
        return self.arch == "instructblip" and not self.image_after_text

    @property
    def device(self) -> Any:
        """The torch device the model's weights are on (inputs are moved there)."""
        return next(self.model.parameters()).device

    @property
    def vision_tower(self) -> Any:
        """The vision encoder module."""
        return self.model.vision_model if self.arch == "instructblip" else self.model.model.vision_tower

    # --- images ------------------------------------------------------------------------

    def pixel_values(self, images: Sequence[ImageLike]) -> Any:
        """Processed pixels [B, 3, H, W] for a list of images."""
        ip = self.processor.image_processor
        return ip([open_image(i) for i in images], return_tensors="pt")["pixel_values"]

    def image_features(self, images: Sequence[ImageLike], batch_size: int = 256) -> Any:
        """Vision-tower features [B, T, D] (the frozen part; cache these)."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                pix = self.pixel_values(images[i:i + batch_size]).to(self.device, self.model.dtype)
                if self.arch == "instructblip":
                    out.append(self.vision_tower(pixel_values=pix).last_hidden_state)
                else:
                    cfg = self.model.config
                    hs = self.vision_tower(pixel_values=pix, output_hidden_states=True).hidden_states
                    f = hs[cfg.vision_feature_layer]
                    out.append(f[:, 1:] if cfg.vision_feature_select_strategy == "default" else f)
        return torch.cat(out) if out else torch.zeros(0)

    def _image_embeds(self, feats: Any, qformer_ids: Any = None, qformer_mask: Any = None) -> Any:
        """Features → LM-space embeddings [B, n_image_tokens, H] (projector or Q-Former)."""
        import torch

        m = self.model
        feats = feats.to(self.device)
        if self.arch == "llava":
            return m.model.multi_modal_projector(feats)
        query = m.query_tokens.expand(feats.shape[0], -1, -1)
        qmask = torch.ones(query.shape[:2], dtype=torch.long, device=self.device)
        qformer_ids = qformer_ids.to(self.device)
        qformer_mask = torch.ones_like(qformer_ids) if qformer_mask is None else qformer_mask.to(self.device)
        out = m.qformer(input_ids=qformer_ids, attention_mask=torch.cat([qmask, qformer_mask], 1), query_embeds=query,
                        encoder_hidden_states=feats,
                        encoder_attention_mask=torch.ones(feats.shape[:2], dtype=torch.long, device=self.device),
                        return_dict=True)
        return m.language_projection(out.last_hidden_state[:, : query.shape[1]])

    def _lm(self) -> Any:
        return self.model.language_model if self.arch == "instructblip" else self.model

    def embed(self, input_ids: Any, feats: Any, qformer_ids: Any = None, qformer_mask: Any = None) -> Any:
        """Input embeddings with the image placeholders filled in."""
        input_ids = input_ids.to(self.device)
        emb = self.model.get_input_embeddings()(input_ids)
        img = self._image_embeds(feats, qformer_ids, qformer_mask).to(emb.dtype)
        mask = (input_ids == self.image_token_id).unsqueeze(-1).expand_as(emb)
        return emb.masked_scatter(mask, img)

    @property
    def image_token(self) -> str:
        """The image placeholder's text, as the processor places it.

        Read from the processor, not the tokenizer: a hub InstructBLIP tokenizer (Vicuna's) has
        no `image_token`; its processor adds `<image>` to the vocabulary and keeps it (an
        `AddedToken`) itself. LLaVA's processor takes the tokenizer's when it has one.
        """
        tok = getattr(self.processor, "image_token", None) or getattr(self.tokenizer, "image_token", None)
        if tok is None:
            raise MissingResource("the model's processor has no image token (not a LLaVA or InstructBLIP processor)")
        return str(getattr(tok, "content", tok))

    @property
    def image_token_id(self) -> int:
        """Id of the image placeholder token."""
        return int(self.tokenizer.convert_tokens_to_ids(self.image_token))

    def forward(self, input_ids: Any, attention_mask: Any, feats: Any, labels: Any = None,
                qformer_ids: Any = None, qformer_mask: Any = None) -> Any:
        """Training forward from cached features; returns the model output (loss if labels)."""
        embeds = self.embed(input_ids, feats, qformer_ids, qformer_mask)
        attention_mask = attention_mask.to(self.device)
        labels = labels.to(self.device) if labels is not None else None
        if self.arch == "instructblip":
            return self.model.language_model(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)
        return self.model(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)

    # --- text ----------------------------------------------------------------------------

    def qformer_encode(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """Q-Former input ids and mask for instruction texts (right padded)."""
        tok = getattr(self.processor, "qformer_tokenizer", None) or self.tokenizer
        ids = [tok(t, add_special_tokens=False)["input_ids"][:128] or [tok.pad_token_id] for t in texts]
        return pad_batch(ids, tok.pad_token_id, left=False)

    @property
    def image_after_text(self) -> bool:
        """Whether this model was trained with the image after the question (our tiny models)
        or before it (LLaVA's own checkpoints)."""
        return bool(getattr(self.model.config, "vigc_image_after_text", False))

    def user_content(self, text: str, has_image: bool = True) -> list[dict[str, Any]]:
        """A user turn's content parts, the image placed where this model was trained to see it:
        ours after the question and before any lettered options, real checkpoints first."""
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if not has_image or self.image_prefix:  # InstructBLIP: the encoder puts the image tokens first
            return parts
        return image_after_question(text) if self.image_after_text else [{"type": "image"}] + parts

    def prompt_ids(self, prompt: str, has_image: bool = True) -> list[int]:
        """Token ids of a single-turn user prompt, ending with the assistant header."""
        return encode_prompt(self.tokenizer, [{"role": "user", "content": self.user_content(prompt, has_image)}],
                             self.n_image_tokens, self.image_prefix, self.image_token)

    def generate(self, feats: Any, prompts: Sequence[str], qformer_texts: Sequence[str] | None = None,
                 max_new_tokens: int = 64, num_beams: int = 1, prefixes: Sequence[str] | None = None,
                 stop: Callable[[str], bool] | None = None) -> list[str]:
        """Greedy (or beam) continuations of a batch of prompts, left-padded, KV-cached.

        `prefixes` are answer text already accepted (VIC): appended after the assistant header.
        `stop`: a row ends as soon as its decoded continuation satisfies it (the caller knows
        then that no later token can change what it takes from the row), as at end-of-text.
        """
        import torch

        tok = self.tokenizer
        seqs = []
        for i, p in enumerate(prompts):
            ids = self.prompt_ids(p)
            if prefixes is not None and prefixes[i]:
                ids = ids + tok(prefixes[i], add_special_tokens=False)["input_ids"]
            seqs.append(ids)
        input_ids, mask = pad_batch(seqs, tok.pad_token_id, left=True)
        qids = qmask = None
        if self.arch == "instructblip":
            qids, qmask = self.qformer_encode(qformer_texts if qformer_texts is not None else prompts)
        with torch.no_grad():
            embeds = self.embed(input_ids, feats, qids, qmask)
            out = self._lm().generate(inputs_embeds=embeds, attention_mask=mask.to(self.device),
                                      max_new_tokens=max_new_tokens,
                                      num_beams=num_beams, do_sample=False,
                                      eos_token_id=self.model.generation_config.eos_token_id,
                                      pad_token_id=tok.pad_token_id,
                                      stopping_criteria=None if stop is None else [text_stop(tok, stop)])
        return [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]

    def choice_logprobs(self, feats: Any, prompts: Sequence[str], choices: Sequence[Sequence[str]]) -> list[list[float]]:
        """Log-probability of each of `choices[i]` as the whole reply to `prompts[i]` (`feats[i]`
        its image features): the sum over the reply's tokens and the end of the turn, the tokens
        a finetune labels. The end of the turn counts, so a choice that is a prefix of a likelier
        answer ("red" against "red and blue") does not win for being short.

        Each prompt is read once (left-padded, as for generation) and its key-value cache shared
        by its choices, which are then read together (right-padded): a fifth of the work of
        reading every prompt again with each choice, the same numbers up to float rounding.
        """
        import torch

        tok = self.tokenizer
        heads, tails = [], []
        for p, cs in zip(prompts, choices):
            head = self.prompt_ids(p)
            for c in cs:
                msgs = [{"role": "user", "content": self.user_content(p)},
                        {"role": "assistant", "content": [{"type": "text", "text": c}]}]
                e = encode_chat(tok, msgs, self.n_image_tokens, self.image_prefix, None, self.image_token)
                if e.input_ids[:len(head)] != head or len(e.input_ids) == len(head) or IGNORE in e.labels[len(head):]:
                    raise VigcError(f"the chat template does not render reply {c!r} after the generation prompt")
                tails.append(e.input_ids[len(head):])
            heads.append(head)
        owner = torch.tensor([i for i, cs in enumerate(choices) for _ in cs], dtype=torch.long, device=self.device)
        ids, mask = pad_batch(heads, tok.pad_token_id, left=True)
        mask = mask.to(self.device)
        qids = qmask = None
        if self.arch == "instructblip":
            qids, qmask = self.qformer_encode(prompts)
        lm = self._lm()
        with torch.no_grad():
            out = lm(inputs_embeds=self.embed(ids, feats, qids, qmask), attention_mask=mask,
                     position_ids=(mask.cumsum(-1) - 1).clamp(min=0), use_cache=True)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)[owner]
            cache = out.past_key_values
            cache.reorder_cache(owner)  # one copy of its prompt's cache per choice
            cids, cmask = pad_batch(tails, tok.pad_token_id, left=False)
            cids, cmask = cids.to(self.device), cmask.to(self.device)
            positions = mask.sum(-1)[owner, None] + torch.arange(cids.shape[1], device=self.device)[None]
            rest = lm(inputs_embeds=self.model.get_input_embeddings()(cids),
                      attention_mask=torch.cat([mask[owner], cmask], dim=1), position_ids=positions,
                      cache=cache, use_cache=False)
            logp = torch.log_softmax(rest.logits[:, :-1].float(), dim=-1).gather(-1, cids[:, 1:, None])[..., 0]
            total = first.gather(-1, cids[:, :1])[:, 0] + (logp * cmask[:, 1:]).sum(dim=1)
        flat = total.tolist()
        out_lists, k = [], 0
        for cs in choices:
            out_lists.append(flat[k:k + len(cs)])
            k += len(cs)
        return out_lists

    # --- disk ----------------------------------------------------------------------------

    def save(self, out: Path) -> None:
        """Save model (safetensors), processor and chat template to `out`."""
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out, safe_serialization=True)
        self.processor.save_pretrained(out)


def text_stop(tokenizer: Any, stop: Callable[[str], bool]) -> Any:
    """A `transformers` stopping criterion that ends each row whose decoded tokens satisfy `stop`.

    With `inputs_embeds` and no prompt ids, the ids `generate` passes are the new tokens alone."""
    import torch
    from transformers import StoppingCriteria

    class TextStop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids, skip_special_tokens=True)
            return torch.tensor([stop(t) for t in texts], dtype=torch.bool, device=input_ids.device)

    return TextStop()


def make_processor(arch: str, tokenizer: Any, image_size: int, patch_size: int, num_query_tokens: int) -> Any:
    """A transformers processor for a tiny model (PIL image processors: no torchvision)."""
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    if arch == "llava":
        from transformers import CLIPImageProcessorPil, LlavaProcessor

        ip = CLIPImageProcessorPil(size={"height": image_size, "width": image_size}, do_center_crop=False,
                                   image_mean=mean, image_std=std, do_convert_rgb=True)
        return LlavaProcessor(image_processor=ip, tokenizer=tokenizer, patch_size=patch_size,
                              vision_feature_select_strategy="default", chat_template=tokenizer.chat_template,
                              num_additional_image_tokens=1)
    from transformers import BlipImageProcessorPil, InstructBlipProcessor

    ip = BlipImageProcessorPil(size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std,
                               do_convert_rgb=True)
    return InstructBlipProcessor(image_processor=ip, tokenizer=tokenizer, qformer_tokenizer=tokenizer,
                                 num_query_tokens=num_query_tokens)


def load_vlm(source: str | Path, device: str = "cpu", dtype: Any = None) -> VLM:
    """Load a VLM from a local directory or a hub id (network only if the user gave a hub id)
    onto `device` ('cpu' or 'cuda'), in `dtype` (default: as saved, float32 for ours)."""
    from transformers import AutoConfig, AutoProcessor

    src = str(source)
    local = Path(src)
    if not local.exists() and (src.startswith((".", "/")) or src.count("/") != 1):
        raise MissingResource(f"{src}: no such checkpoint directory (and not a hub id of the form org/name)")
    if local.is_dir() and not (local / "config.json").is_file():
        raise MissingResource(f"{src}: not a saved model (no config.json)")
    try:
        cfg = AutoConfig.from_pretrained(src)
    except (OSError, ValueError) as e:  # unreadable, or a config.json that is not a model's
        raise MissingResource(f"{src}: cannot load a model config ({(str(e).splitlines() or [''])[0][:200]})") from None
    if cfg.model_type == "llava":
        from transformers import LlavaForConditionalGeneration as cls

        arch = "llava"
    elif cfg.model_type == "instructblip":
        from transformers import InstructBlipForConditionalGeneration as cls  # type: ignore[no-redef]

        arch = "instructblip"
    else:
        raise MissingResource(f"{src}: model type {cfg.model_type!r} is not supported (llava, instructblip)")
    attn = getattr(cfg, "vigc_attn_implementation", None)
    try:
        model = cls.from_pretrained(src, **({"attn_implementation": attn} if attn else {}),
                                    **({"dtype": dtype} if dtype is not None else {}))
        processor = AutoProcessor.from_pretrained(src)
    except (OSError, ValueError) as e:  # missing or corrupt weights, tokenizer or processor files
        raise MissingResource(f"{src}: cannot load the model ({(str(e).splitlines() or [''])[0][:200]})") from None
    model.to(device).eval()
    return VLM(model, processor, arch)
