"""Stage `foundation/lm`: train the tokenizer and pretrain the language model on world text.

The stand-in for an LLM's pretraining. Most documents are questions about a scene written as
object slots (see `harness.models.slots`), placed where an image's tokens will later go, with
the question before them; the rest is plain text: the knowledge base as questions with short
answers, and captions. The model arrives at instruction tuning fluent in the world's words
and facts and practised at answering from context, having never seen an image.
"""

from __future__ import annotations

import random
from typing import Any

from generators.base import ImageInfo
from generators.language_only import template_records
from generators.templates import object_qas
from generators.vigc import vig_instruction, vig_target
from harness.records import Scene
from harness.stages import StageContext, resume_dir
from harness.world.captions import make_captions
from harness.world.corpus import corpus, knowledge_qa
from harness.world.export import read_scenes
from harness.world.qa import as_multiple_choice, known_from_scene

VERSION = 6
MAX_DOC_TOKENS = 80
DATA_TYPES = ("conversation",) * 6 + ("detail", "complex_reasoning", "knowledge_vqa")


def scene_doc(scene: Scene, rng: random.Random) -> list[dict[str, Any]]:
    """Chat messages about `scene`; the first user turn holds the image (slot) placeholder.

    Questions are drawn kind-first (count, colour, where, relation, ...), so that the rarer
    kinds, which are also the harder ones (relations need two lookups), are not drowned out
    by the many single-object questions a scene supports.
    """
    dt = rng.choice(DATA_TYPES)
    pairs: list[tuple[str, str]] = []
    if rng.random() < 0.1:
        # Writing a question-answer pair about the scene on request: the instruction-following
        # an LLM brings to VIG ("Generate a question ... and then answer it").
        info = ImageInfo(scene.image_id, scene.file_name, None, scene.width, scene.height)  # type: ignore[arg-type]
        vdt = rng.choice(("conversation", "conversation", "detail", "complex_reasoning", "knowledge_vqa"))
        recs = template_records(info, known_from_scene(scene), [vdt], rng, "lm")
        if recs:
            r = rng.choice(recs)
            pairs = [(vig_instruction(vdt, rng), vig_target(r.question, r.answer))]
    elif dt != "conversation":
        info = ImageInfo(scene.image_id, scene.file_name, None, scene.width, scene.height)  # type: ignore[arg-type]
        pairs = [(r.question, r.answer) for r in template_records(info, known_from_scene(scene), [dt], rng, "lm")[:1]]
    if not pairs:  # a conversation, or a template that had nothing to say about this scene
        by_kind: dict[str, list[Any]] = {}
        for qa in object_qas(known_from_scene(scene), rng):
            by_kind.setdefault(qa.kind, []).append(qa)
        kinds = sorted(by_kind)
        for _ in range(1 if rng.random() < 0.85 else 3):
            qa = rng.choice(by_kind[rng.choice(kinds)])
            mc = as_multiple_choice(qa, rng) if rng.random() < 0.25 else None
            pairs.append(mc if mc is not None else (qa.question, qa.answer))
    msgs: list[dict[str, Any]] = []
    for k, (q, a) in enumerate(pairs):
        content: list[dict[str, Any]] = [{"type": "text", "text": q}]
        if k == 0:
            content.append({"type": "image"})
        msgs += [{"role": "user", "content": content}, {"role": "assistant", "content": a}]
    return msgs


def text_doc(scene: Scene, seed: int, rng: random.Random) -> list[dict[str, Any]]:
    """A plain-text document: a knowledge question, or a request answered by a caption."""
    if rng.random() < 0.6:
        q, a = knowledge_qa(rng)
    else:
        q, a = "Write a caption for a picture of shapes.", rng.choice(make_captions(scene, seed, 3))
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def run_lm(ctx: StageContext) -> dict[str, Any]:
    """Train the tokenizer, then pretrain the LM with its slot codebook; save them."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.foundation import pretrain_lm_slots
    from harness.models.slots import SlotCodebook, attrs_tensor
    from harness.models.tiny import LMSpec, lm_config
    from harness.models.tokenizer import train_tokenizer
    from harness.training.encode import encode_chat

    c = ctx.config
    cfg = c["lm"]
    seed = c["seed"]
    scenes = read_scenes(ctx.input_path("world"), "foundation")
    rng = random.Random(f"tokenizer/{seed}")
    texts = list(corpus(scenes, seed))
    for s in scenes[:1500]:
        texts += [x for m in scene_doc(s, rng) for x in _texts(m)]
    tok = train_tokenizer(texts, cfg["vocab_size"])
    tok.save_pretrained(ctx.out_dir / "tokenizer")
    spec = LMSpec(**{k: cfg[k] for k in LMSpec.model_fields})
    torch.manual_seed(seed)
    lm = AutoModelForCausalLM.from_config(lm_config(len(tok), spec, tok))
    book = SlotCodebook.create(tok, spec.hidden, seed)
    cells = scenes[0].grid ** 2
    attrs = attrs_tensor(scenes)

    group = 8  # steps whose documents are drawn together and bucketed by length

    def batch(step: int) -> tuple[list[list[int]], list[list[int]], Any]:
        # A pure function of the step, so a resumed run sees the same batches. Documents of
        # `group` steps are drawn together and sorted by length, so that a batch is padded
        # to about its own length (padding to the longest of a random batch doubled the cost).
        g0 = step - step % group
        grng = random.Random(f"lm-batch/{seed}/{g0}")
        docs = []
        while len(docs) < cfg["batch"] * group:
            i = grng.randrange(len(scenes))
            if grng.random() < 0.8:
                msgs, rows_i = scene_doc(scenes[i], grng), [i]
            else:
                msgs, rows_i = text_doc(scenes[i], seed, grng), []
            e = encode_chat(tok, msgs, cells)
            # Long documents are redrawn: past ~10k tokens a batch falls out of the CPU's
            # caches and a step costs 3-4x per token (measured), for no gain in learning.
            if len(e.input_ids) <= MAX_DOC_TOKENS:
                docs.append((len(e.input_ids), e, rows_i))
        docs.sort(key=lambda d: d[0])
        chunks = [docs[k * cfg["batch"]:(k + 1) * cfg["batch"]] for k in range(group)]
        grng.shuffle(chunks)
        chunk = chunks[step % group]
        rows = [r for _, _, rs in chunk for r in rs]
        return ([e.input_ids for _, e, _ in chunk], [e.labels for _, e, _ in chunk],
                attrs[rows] if rows else attrs[:0])

    task = ctx.progress("foundation: LM pretraining", cfg["steps"])
    log = pretrain_lm_slots(lm, book, tok, batch, cfg["steps"], cfg["lr"], seed, resume_dir(ctx),
                            lambda s, loss: task.advance(1, loss=loss))
    task.close()
    lm.save_pretrained(ctx.out_dir / "lm", safe_serialization=True)
    book.save(ctx.out_dir)
    return {"final_loss": round(log["loss"], 4), "vocab": len(tok), "resumed_from": log["resumed_from"]}


def _texts(m: dict[str, Any]) -> list[str]:
    c = m["content"]
    return [c] if isinstance(c, str) else [p["text"] for p in c if p["type"] == "text"]
