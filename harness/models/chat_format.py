"""Fast rendering of chat templates for training data.

Rendering a Jinja chat template once per prefix of every conversation costs milliseconds
per sample, which dominates data preparation. Most templates (ours, Vicuna's, Llama's) wrap
each message in a fixed prefix and suffix per role; `ChatFormat` finds those by rendering
sentinel messages once, checks that it reproduces the real template on a probe
conversation, and otherwise falls back to rendering (so odd templates stay correct).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_U, _A = "\x01USER\x01", "\x01ASSISTANT\x01"


@dataclass(frozen=True)
class ChatFormat:
    """Per-role wrappers of a chat template: text = start + Σ(prefix + content + suffix) [+ gen]."""

    start: str
    user_prefix: str
    user_suffix: str
    assistant_prefix: str
    assistant_suffix: str
    generation: str  # what add_generation_prompt appends (the assistant header)

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
        """The text the template would render."""
        out = [self.start]
        for m in messages:
            pre, suf = ((self.user_prefix, self.user_suffix) if m["role"] == "user"
                        else (self.assistant_prefix, self.assistant_suffix))
            out.append(pre + content_text(m) + suf)
        if add_generation_prompt:
            out.append(self.generation)
        return "".join(out)


def content_text(m: dict[str, Any]) -> str:
    """A message's content as the template would print it (image parts as `<image>\\n`)."""
    c = m["content"]
    if isinstance(c, str):
        return c
    return "".join(("<image>\n" if i == 0 else "\n<image>") if p["type"] == "image" else p["text"]
                   for i, p in enumerate(c))


def _render(tok: Any, messages: list[dict[str, Any]], gen: bool) -> str:
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def plain_format(tok: Any) -> ChatFormat:
    """The format of a tokenizer without a chat template (hub InstructBLIP checkpoints have none):
    the prompt as plain text, the answer after a space and closed by EOS, as LAVIS trains
    InstructBLIP (text input, then text output + EOS). BOS is added where the tokenizer adds it
    (`encode._lead`), as the processor does."""
    return ChatFormat(start="", user_prefix="", user_suffix=" ", assistant_prefix="",
                      assistant_suffix=tok.eos_token or "", generation="")


def derive_format(tok: Any) -> ChatFormat | None:
    """Derive the per-role wrappers of `tok`'s chat template, or None if it has no such form
    (a tokenizer with no template at all gets `plain_format`)."""
    if not getattr(tok, "chat_template", None):
        return plain_format(tok)
    try:
        one = _render(tok, [{"role": "user", "content": _U}], False)
        two = _render(tok, [{"role": "user", "content": _U}, {"role": "assistant", "content": _A}], False)
        gen = _render(tok, [{"role": "user", "content": _U}], True)
    except Exception:  # noqa: BLE001 - any template failure means: use the slow path
        return None
    if one.count(_U) != 1 or not two.startswith(one) or not gen.startswith(one):
        return None
    start_and_pre, user_suf = one.split(_U)
    a_pre, a_suf = two[len(one):].split(_A)
    fmt = None
    # The start (BOS etc.) and the user prefix cannot be told apart from one message;
    # a second user turn shows what a user prefix alone looks like.
    three = _render(tok, [{"role": "user", "content": _U}, {"role": "assistant", "content": _A},
                          {"role": "user", "content": _U}], False)
    tail = three[len(two):]
    if tail.count(_U) != 1:
        return None
    u_pre, u_suf2 = tail.split(_U)
    if u_suf2 != user_suf or not start_and_pre.endswith(u_pre):
        return None
    fmt = ChatFormat(start=start_and_pre[: len(start_and_pre) - len(u_pre)], user_prefix=u_pre, user_suffix=user_suf,
                     assistant_prefix=a_pre, assistant_suffix=a_suf, generation=gen[len(one):])
    probe = [{"role": "user", "content": [{"type": "text", "text": "q zero"}, {"type": "image"},
                                          {"type": "text", "text": "q one"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "a one"}]},
             {"role": "user", "content": [{"type": "text", "text": "q two"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "a two"}]}]
    try:
        ok = fmt.render(probe, False) == _render(tok, probe, False) and \
            fmt.render(probe[:3], True) == _render(tok, probe[:3], True)
    except Exception:  # noqa: BLE001
        ok = False
    return fmt if ok else None
