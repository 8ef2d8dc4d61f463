"""Stage `foundation/lm`: train the tokenizer and pretrain the language model on world text.

The stand-in for an LLM's pretraining: captions of the foundation images, the knowledge base
(as sentences and as questions with short answers), and questions about scenes *described in
words*, so the model arrives at instruction tuning fluent in the world's language and facts,
and practised at answering from context, but having never seen an image.
"""

from __future__ import annotations

import random
from typing import Any

from generators.templates import object_qas
from harness.stages import StageContext
from harness.world.captions import make_captions
from harness.world.corpus import corpus, knowledge_qa, knowledge_sentences
from harness.world.export import read_scenes
from harness.world.qa import known_from_scene, quadrant_of

VERSION = 1


def describe_scene(scene: Any) -> str:
    """The scene in words, object by object (what an LLM would be told instead of shown)."""
    parts = [f"a {o.size} {o.colour} {o.shape} in the {quadrant_of(o)} (x={o.cx:.2f}, y={o.cy:.2f})"
             for o in known_from_scene(scene)]
    return "The picture shows " + "; ".join(parts) + "."


def lm_documents(scenes: list[Any], seed: int, n_docs: int) -> list[list[dict[str, Any]]]:
    """Chat-format training documents (lists of messages)."""
    rng = random.Random(f"lm-docs/{seed}")
    facts = knowledge_sentences()
    docs: list[list[dict[str, Any]]] = []
    for i in range(n_docs):
        kind = i % 4
        s = scenes[i % len(scenes)]
        if kind == 0:
            q, a = knowledge_qa(rng)
            docs.append([{"role": "user", "content": q}, {"role": "assistant", "content": a}])
        elif kind == 1:
            cap = rng.choice(make_captions(s, seed, 3))
            docs.append([{"role": "user", "content": rng.choice(facts)}, {"role": "assistant", "content": cap}])
        else:
            qas = object_qas(known_from_scene(s), rng)
            rng.shuffle(qas)
            msgs: list[dict[str, Any]] = []
            for k, qa in enumerate(qas[:3]):
                text = (describe_scene(s) + "\n" + qa.question) if k == 0 else qa.question
                msgs += [{"role": "user", "content": text}, {"role": "assistant", "content": qa.answer}]
            docs.append(msgs)
    return docs


def run_lm(ctx: StageContext) -> dict[str, Any]:
    """Train the tokenizer, then pretrain the LM; save both (safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.foundation import pretrain_lm
    from harness.models.tiny import LMSpec, lm_config
    from harness.models.tokenizer import train_tokenizer
    from harness.training.encode import encode_chat, pad_batch

    c = ctx.config
    cfg = c["lm"]
    seed = c["seed"]
    scenes = read_scenes(ctx.input_path("world"), "foundation")
    rng = random.Random(f"tokenizer/{seed}")
    texts = list(corpus(scenes, seed))
    for s in scenes[:2000]:
        texts += [x for qa in object_qas(known_from_scene(s), rng) for x in (qa.question, qa.answer)]
        texts.append(describe_scene(s))
    tok = train_tokenizer(texts, cfg["vocab_size"])
    tok.save_pretrained(ctx.out_dir / "tokenizer")
    spec = LMSpec(**{k: cfg[k] for k in LMSpec.model_fields})
    torch.manual_seed(seed)
    lm = AutoModelForCausalLM.from_config(lm_config(len(tok), spec, tok))
    docs = lm_documents(scenes, seed, cfg["steps"] * cfg["batch"])
    enc = [encode_chat(tok, d, 0).input_ids for d in docs]
    batches = [pad_batch(enc[i:i + cfg["batch"]], tok.pad_token_id, left=False)
               for i in range(0, len(enc), cfg["batch"])]
    task = ctx.progress("foundation: LM pretraining", cfg["steps"])
    loss = pretrain_lm(lm, batches, cfg["steps"], cfg["lr"], seed, lambda s, t, m: task.advance(1, loss=m["loss"]))
    task.close()
    lm.save_pretrained(ctx.out_dir / "lm", safe_serialization=True)
    return {"final_loss": round(loss, 4), "vocab": len(tok), "documents": len(docs)}
