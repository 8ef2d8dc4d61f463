"""VIGC: Visual Instruction Generation (VIG) and Correction (VIC) with an InstructBLIP-style model.

- VIG: given the image and an instruction of a data type (conversation, detailed description,
  complex reasoning, knowledge VQA), the model writes "Question: ... Answer: ...". Outputs
  that do not parse into both parts are dropped and counted.
- VIC: given the image and the question, the answer is rebuilt a sentence at a time. At step
  i the prompt is the VIC instruction + the question, the sentences accepted so far follow
  the assistant header, and the Q-Former reads instruction + question + accepted sentences,
  so the visual tokens are re-extracted conditioned on the answer so far ("iterative
  Q-Former update"). The first new sentence is kept. Stop rules: a fixed number of sentences
  (the reference code's 4) and end-of-text (the paper's "termination symbol"), whichever
  comes first; each can be switched off.
Generation is batched across images: every VIC step runs all unfinished answers together.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from generators import register_generator
from generators.base import GenerationContext, Generator, ImageInfo
from generators.vig_parse import parse_vig
from harness.core.text import first_sentence, sentences
from harness.core.records import GenerationRecord
from harness.core.sharding import BatchSplit

VIG_INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "conversation": (
        "Generate a question based on the content of the given image and then answer it.",
        "Ask a question about what you see in the image and then answer it.",
        "Write a question about the image and its answer.",
    ),
    "detail": (
        "Generate a request for a detailed description of the image and then describe the image in detail.",
        "Ask for a detailed description of the image and then give it.",
    ),
    "complex_reasoning": (
        "Generate a question about the image that needs reasoning and then answer it with the reason.",
        "Ask a question about the image that takes a step of reasoning, then answer it and explain why.",
    ),
    "knowledge_vqa": (
        "Generate a question that needs outside knowledge about something in the image, starting with "
        "\"{first_word}\", and then answer it in a few words.",
    ),
}
VIC_INSTRUCTION = "Answer the question based on the image."
DEFAULT_FIRST_WORDS = {"What": 0.5, "How": 0.3, "Name": 0.2}


def vig_target(question: str, answer: str) -> str:
    """The text a VIG sample is trained to produce."""
    return f"Question: {question} Answer: {answer}"


def vic_prompt(question: str) -> str:
    """The user turn of a VIC step (the accepted sentences go after the assistant header)."""
    return f"{VIC_INSTRUCTION}\n{question}"


def first_word_distribution(questions: Sequence[str]) -> dict[str, float]:
    """Share of each first word among `questions` (how knowledge-VQA questions should start)."""
    c = Counter(q.split()[0] for q in questions if q.split())
    total = sum(c.values())
    return {w: n / total for w, n in sorted(c.items())} if total else dict(DEFAULT_FIRST_WORDS)


def vig_instruction(data_type: str, rng: random.Random, first_words: dict[str, float] | None = None) -> str:
    """A VIG instruction of `data_type`; knowledge VQA gets a first word drawn from `first_words`."""
    text = rng.choice(VIG_INSTRUCTIONS[data_type])
    if "{first_word}" in text:
        fw = first_words or DEFAULT_FIRST_WORDS
        words = sorted(fw)
        text = text.format(first_word=rng.choices(words, weights=[fw[w] for w in words])[0])
    return text


@dataclass(frozen=True)
class StopRule:
    """When VIC stops: after `max_sentences` (None = no limit) and/or at end-of-text."""

    max_sentences: int | None = 4
    at_eos: bool = True

    def __post_init__(self) -> None:
        if self.max_sentences is None and not self.at_eos:
            raise ValueError("a VIC stop rule needs max_sentences, at_eos, or both")


def vic_step_outcome(continuation: str, rule: StopRule) -> tuple[str, bool]:
    """From one step's raw continuation: (sentence to accept, whether the model ended here).

    The model ended when its continuation holds at most one sentence (it emitted end-of-text
    right after it); with `at_eos` that ends the answer.
    """
    sent = first_sentence(continuation)
    # One complete sentence and nothing after it: the model emitted end-of-text. A sentence
    # cut off by the token limit has no final punctuation and does not count as an end.
    ended = len(sentences(continuation)) <= 1 and sent.endswith((".", "!", "?"))
    return sent, ended


def second_sentence_begun(text: str) -> bool:
    """Whether a continuation already holds a whole sentence and the first character of another,
    as `sentences` splits them: VIC keeps the first and knows the model did not end after it, so
    `vic_step_outcome` of any longer continuation is the same and generation can stop."""
    return len(sentences(text)) > 1


def correct(vlm: Any, feats: Any, questions: Sequence[str], rule: StopRule, max_new_tokens: int = 48,
            batch_size: int = 64, max_steps: int = 12, split: BatchSplit = BatchSplit()) -> list[tuple[str, list[str]]]:
    """VIC for a batch of (image features, question): the final answers and each step's raw output.

    Each step's batches may be shared among processes (`split`): every one gets all the step's
    outputs, so all go on with the same unfinished answers."""
    n = len(questions)
    accepted: list[list[str]] = [[] for _ in range(n)]
    steps: list[list[str]] = [[] for _ in range(n)]
    active = list(range(n))
    limit = rule.max_sentences if rule.max_sentences is not None else max_steps
    for _ in range(min(limit, max_steps)):
        if not active:
            break
        still: list[int] = []
        batches = [active[s:s + batch_size] for s in range(0, len(active), batch_size)]

        def step(idx: list[int]) -> list[str]:
            prefixes = [" ".join(accepted[i]) for i in idx]
            prompts = [vic_prompt(questions[i]) for i in idx]
            qtexts = [f"{prompts[k]} {prefixes[k]}".strip() for k in range(len(idx))]
            return vlm.generate(feats[idx], prompts, qformer_texts=qtexts, max_new_tokens=max_new_tokens,
                                prefixes=prefixes, stop=second_sentence_begun)

        for idx, outs in zip(batches, split.map(batches, step)):
            for i, out in zip(idx, outs):
                steps[i].append(out)
                sent, ended = vic_step_outcome(out, rule)
                if sent:
                    accepted[i].append(sent)
                if sent and not (rule.at_eos and ended):
                    still.append(i)
        active = still
    return [(" ".join(a), st) for a, st in zip(accepted, steps)]


@register_generator("vigc")
class VIGC(Generator):
    """VIG then (optionally) VIC with a trained InstructBLIP-style model (`ctx.model`)."""

    name = "vigc"
    reads_pixels = True
    data_types = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")

    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        """Records carry the VIG answer, every VIC step and the final (corrected) answer."""
        from harness.models.features import feature_table

        vlm = ctx.model
        if vlm is None:
            raise ValueError("the vigc generator needs a model (GenerationContext.model)")
        opts = ctx.options
        rule = StopRule(opts.get("vic_max_sentences", 4), opts.get("vic_at_eos", True))
        do_vic = opts.get("vic", True)
        bs = opts.get("batch_size", 64)
        jobs: list[tuple[ImageInfo, str, int, str]] = []
        for info in ctx.images:
            rng = random.Random(f"vigc/{ctx.seed}/{info.image_id}")
            for dt in ctx.data_types:
                for k in range(ctx.per_image):
                    jobs.append((info, dt, k, vig_instruction(dt, rng, opts.get("first_words"))))
        # Every process takes every image's features (a small part of the work, and the same rows
        # as one process's); the VIG batches, and each VIC step's, are shared out by `ctx.split`.
        feats, rows = feature_table(vlm, [j[0].path for j in jobs])
        starts = range(0, len(jobs), bs)
        task = ctx.progress("VIG", sum(len(jobs[starts[b]:starts[b] + bs]) for b in ctx.split.mine(len(starts))))

        def vig(s: int) -> list[str]:
            chunk = jobs[s:s + bs]
            texts = vlm.generate(feats[rows[s:s + bs]], [j[3] for j in chunk], qformer_texts=[j[3] for j in chunk],
                                 max_new_tokens=opts.get("vig_max_new_tokens", 96))
            task.advance(len(chunk))
            return texts

        raw = [text for texts in ctx.split.map(starts, vig) for text in texts]
        task.close()
        parsed = [parse_vig(t) for t in raw]
        ok = [i for i, p in enumerate(parsed) if p.status == "ok"]
        corrected: dict[int, tuple[str, list[str]]] = {}
        if do_vic and ok:
            task = ctx.progress("VIC", len(ok))
            for s in range(0, len(ok), bs * 4):
                part = ok[s:s + bs * 4]
                res = correct(vlm, feats[[rows[i] for i in part]], [parsed[i].question for i in part], rule,
                              batch_size=bs, split=ctx.split)
                corrected.update(zip(part, res))
                task.advance(len(part))
            task.close()
        out = []
        for i, ((info, dt, k, instr), text, p) in enumerate(zip(jobs, raw, parsed)):
            final, steps = corrected.get(i, (p.answer, []))
            status = p.status if (p.status != "ok" or final) else "no_answer"
            out.append(GenerationRecord(id=f"{info.image_id}-{dt}-{k}#0", image=info.file_name, generator=self.name,
                                        data_type=dt, prompt=instr, raw_output=text, parse_status=status,
                                        question=p.question, answer=final, vig_answer=p.answer,
                                        correction_steps=tuple(steps)))
        return out
