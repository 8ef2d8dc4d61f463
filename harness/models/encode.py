"""Turning chat messages into token ids and labels, the way the processor would.

The text is rendered with the tokenizer's own chat template (so a real checkpoint's format is
used unchanged); assistant turns are located by rendering prefixes of the conversation, and
only their tokens (with the end-of-turn token) carry labels. The `<image>` placeholder is
expanded to as many image tokens as the vision tower yields, as the LLaVA processor does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from harness.world.qa import split_options

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    """Token ids of one sample and its labels (IGNORE where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]


def image_after_question(text: str) -> list[dict[str, Any]]:
    """A user turn's content parts with the image after the question and before any lettered
    options (see `harness.world.qa.split_options`): the layout of the tiny models."""
    question, options = split_options(text)
    parts: list[dict[str, Any]] = ([{"type": "text", "text": question}] if question else []) + [{"type": "image"}]
    return parts + ([{"type": "text", "text": options}] if options else [])


def llava_messages(conversations: Sequence[dict[str, str]] | Sequence[Any]) -> list[dict[str, Any]]:
    """LLaVA `conversations` turns to chat messages; `<image>` becomes an image content part.

    The image part keeps its place: LLaVA's data puts `<image>` before or after the first
    question, and which one matters to a model (see `harness.models.adapter`).
    """
    msgs: list[dict[str, Any]] = []
    for t in conversations:
        frm = t["from"] if isinstance(t, dict) else t.from_
        val = t["value"] if isinstance(t, dict) else t.value
        role = "user" if frm == "human" else "assistant"
        if "<image>" in val:
            before, _, after = val.partition("<image>")
            parts: list[dict[str, Any]] = []
            if before.strip():
                parts.append({"type": "text", "text": before.strip()})
            parts.append({"type": "image"})
            if after.strip():
                parts.append({"type": "text", "text": after.strip()})
            msgs.append({"role": role, "content": parts})
        else:
            msgs.append({"role": role, "content": [{"type": "text", "text": val}]})
    return msgs


_FORMATS: dict[int, Any] = {}
_PIECES: dict[tuple[int, str], list[int]] = {}
_ALIVE: dict[int, Any] = {}  # tokenizers whose ids key the caches (so an id is never reused)


def _ids(tokenizer: Any, text: str) -> list[int]:
    # Training text is templated, so the same pieces recur constantly; the tokenizer's Python
    # wrapper costs ~50 us a call, which made data preparation a third of LM pretraining.
    key = (id(tokenizer), text)
    ids = _PIECES.get(key)
    if ids is None:
        if len(_PIECES) > 500_000:
            _PIECES.clear()
        ids = _PIECES[key] = tokenizer(text, add_special_tokens=False)["input_ids"]
        _ALIVE[id(tokenizer)] = tokenizer
    return ids


_LEAD: dict[int, list[int]] = {}


def _lead(tokenizer: Any, text: str) -> list[int]:
    """The BOS the tokenizer adds by itself where the rendered text does not start with it.

    Processors tokenize the rendered prompt with special tokens, so a hub Llama tokenizer puts
    BOS in front of llava-hf's template (which writes none), and the model was trained with it.
    Our own tokenizer adds nothing (its template writes BOS), so its ids are unchanged.
    """
    key = id(tokenizer)
    if key not in _LEAD:
        ids = tokenizer("", add_special_tokens=True)["input_ids"]
        _LEAD[key] = [i for i in ids if i == tokenizer.bos_token_id][:1]
        _ALIVE[key] = tokenizer
    bos = tokenizer.bos_token
    return _LEAD[key] if _LEAD[key] and bos and not text.startswith(bos) else []


def _render(tokenizer: Any, messages: list[dict[str, Any]], gen_prompt: bool) -> str:
    # Derived once per tokenizer object; falls back to Jinja for templates of other shapes.
    key = id(tokenizer)
    if key not in _FORMATS:
        from harness.models.chat_format import derive_format

        _FORMATS[key] = (tokenizer, derive_format(tokenizer))
    fmt = _FORMATS[key][1]
    if fmt is not None:
        return fmt.render(messages, gen_prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen_prompt)


def encode_chat(tokenizer: Any, messages: list[dict[str, Any]], n_image_tokens: int,
                image_prefix: bool = False, max_length: int | None = None, image_token: str | None = None) -> Encoded:
    """Encode a conversation for training: labels on assistant turns only.

    With `image_prefix` (InstructBLIP), the image tokens go before the whole text, as the
    InstructBLIP processor puts them; otherwise each `<image>` is expanded in place.
    `image_token` is the processor's (a hub InstructBLIP tokenizer has none of its own).
    """
    image_token = image_token or tokenizer.image_token
    full = _render(tokenizer, messages, False)
    # Character spans of assistant content: between the render of messages[:k] with a
    # generation prompt and the render of messages[:k+1].
    spans: list[tuple[int, int]] = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(_render(tokenizer, messages[:k], True))
        end = len(_render(tokenizer, messages[: k + 1], False))
        if full[:end] != _render(tokenizer, messages[: k + 1], False):
            raise ValueError("chat template is not prefix-stable; cannot locate assistant turns")
        spans.append((start, end))
    ids: list[int] = []
    labels: list[int] = []
    pos = 0
    pieces: list[tuple[str, bool]] = []
    for s, e in spans:
        pieces.append((full[pos:s], False))
        pieces.append((full[s:e], True))
        pos = e
    pieces.append((full[pos:], False))
    img_id = tokenizer.convert_tokens_to_ids(image_token)
    if image_prefix:
        pieces = [(p.replace(image_token, ""), lab) for p, lab in pieces]
        ids.extend([img_id] * n_image_tokens)
        labels.extend([IGNORE] * n_image_tokens)
    lead = _lead(tokenizer, full)
    ids.extend(lead)
    labels.extend([IGNORE] * len(lead))
    for text, lab in pieces:
        if not text:
            continue
        if not image_prefix:
            text = text.replace(image_token, image_token * n_image_tokens)
        tok = _ids(tokenizer, text)
        ids.extend(tok)
        labels.extend(tok if lab else [IGNORE] * len(tok))
    if max_length is not None and len(ids) > max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return Encoded(ids, labels)


def encode_prompt(tokenizer: Any, messages: list[dict[str, Any]], n_image_tokens: int,
                  image_prefix: bool = False, image_token: str | None = None) -> list[int]:
    """Encode the prompt for generation (ends with the assistant header)."""
    image_token = image_token or tokenizer.image_token
    text = _render(tokenizer, messages, True)
    img_id = tokenizer.convert_tokens_to_ids(image_token)
    lead = _lead(tokenizer, text)
    if image_prefix:
        return [img_id] * n_image_tokens + lead + _ids(tokenizer, text.replace(image_token, ""))
    return lead + list(_ids(tokenizer, text.replace(image_token, image_token * n_image_tokens)))


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, left: bool) -> tuple[Any, Any]:
    """Pad to a tensor [B, T] with an attention mask; left padding is for generation."""
    import torch

    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        if left:
            ids[i, T - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, T - len(s):] = 1
        else:
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
    return ids, mask
