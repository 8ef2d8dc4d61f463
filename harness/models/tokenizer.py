"""A word-level-ish BPE tokenizer trained offline on world text, with a chat template.

It is wrapped in `PreTrainedTokenizerFast` so it saves, reloads and applies chat templates
like any hub tokenizer; byte-level pre-tokenization means any text encodes (no unknowns).
"""

from __future__ import annotations

from typing import Iterable

IMAGE_TOKEN = "<image>"
PAD, BOS, END = "<pad>", "<s>", "<|end|>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, END, IMAGE_TOKEN, USER, ASSISTANT]

# Messages are {"role", "content"}; content is a string or a list of {"type": "image"|"text"}
# parts, as transformers processors expect. The end-of-turn token is the EOS of generation.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ '<|user|>' }}{% else %}{{ '<|assistant|>' }}{% endif %}"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for p in m['content'] %}"
    "{% if p['type'] == 'image' %}{% if loop.first %}{{ '<image>\n' }}{% else %}{{ '\n<image>' }}{% endif %}"
    "{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1200):  # -> PreTrainedTokenizerFast
    """Train a byte-level BPE on `texts`; returns a `PreTrainedTokenizerFast` with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=END, pad_token=PAD,
                                   extra_special_tokens={"image_token": IMAGE_TOKEN},
                                   additional_special_tokens=[IMAGE_TOKEN, USER, ASSISTANT])
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast
