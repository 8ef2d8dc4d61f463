"""Instruction finetuning: a plain, deterministic loop on cached vision features.

- The data order is a pure function of (seed, step), and nothing in the models is random
  after initialisation (dropout is off), so a run resumed from a checkpoint ends with the
  same weights as a run that was never interrupted.
- The loss is the sum of token losses divided by the label-token count of the *global*
  batch, and gradients are summed across processes; so N processes that each take 1/N of
  every batch compute the same update as one process taking all of it (up to float order).
  Run it under `torchrun` or `accelerate launch`: gloo on CPUs, NCCL on GPUs.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.core.progress import ProgressFactory
from harness.core.records import Conversation
from harness.models.encode import IGNORE, encode_chat, llava_messages, pad_batch
from harness.training.lora import LoraSpec
from harness.training.pretrain import lr_at
from harness.training.recipes import FinetuneConfig


@dataclass(frozen=True)
class Example:
    """One training sequence: which image (row of the feature tensor), tokens, labels."""

    image: int
    input_ids: list[int]
    labels: list[int]
    qformer_text: str = ""


@dataclass(frozen=True)
class TrainOptions:
    """How to train, beyond the recipe: LoRA on the LM (None: the recipe's full LM training)
    and gradient checkpointing (activations recomputed in the backward pass)."""

    lora: LoraSpec | None = None
    gradient_checkpointing: bool = False


@dataclass
class TrainLog:
    """What a finetune did: losses every `log_every` steps, time, sizes."""

    steps: int
    seconds: float
    trainable_params: int
    examples: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    resumed_from: int = 0


def examples_from_conversations(vlm: Any, conversations: Sequence[Any], image_rows: dict[str, int],
                                max_length: int) -> list[Example]:
    """Tokenise LLaVA conversations. For InstructBLIP each turn becomes its own sample, with
    the Q-Former reading that turn's question only (never the answer)."""
    out: list[Example] = []
    for conv in conversations:
        msgs = llava_messages(conv.conversations)
        row = image_rows[conv.image]
        if conv.image is None and msgs and msgs[0]["role"] == "user":
            # A text-only conversation sees the blank image where the model expects an image
            # (`VLM.user_content`), as a text-only problem does at prediction: every sequence
            # then has its image tokens, which `VLM.embed` fills batch-wide in order.
            text = "\n".join(p["text"] for p in msgs[0]["content"] if p["type"] == "text")
            msgs = [{"role": "user", "content": vlm.user_content(text)}] + msgs[1:]
        if vlm.arch == "instructblip":
            for k in range(0, len(msgs) - 1, 2):
                # Joined by a line break, so lettered options stay on their lines and
                # `user_content` places the image before them again.
                qtext = "\n".join(p["text"] for p in msgs[k]["content"] if p["type"] == "text")
                user = {"role": "user", "content": vlm.user_content(qtext)}
                e = encode_chat(vlm.tokenizer, [user, msgs[k + 1]], vlm.n_image_tokens, vlm.image_prefix, max_length,
                                vlm.image_token)
                out.append(Example(row, e.input_ids, e.labels, qtext))
        else:
            e = encode_chat(vlm.tokenizer, msgs, vlm.n_image_tokens, False, max_length, vlm.image_token)
            out.append(Example(row, e.input_ids, e.labels))
    return out


def planned_steps(steps: int, epochs: float | None, examples: int, batch: int) -> int:
    """Optimizer steps of a finetune: `steps`, or with `epochs` enough global batches for that
    many passes over `examples` (at least one step)."""
    if epochs is None:
        return steps
    return max(1, math.ceil(epochs * examples / batch))


def trainable_parameters(vlm: Any, train_lm: bool, lora: bool = False) -> list[tuple[str, Any]]:
    """Connector (projector, or Q-Former + queries + projection) and optionally the LM (with
    `lora`: its adapters only, which `harness.training.lora.add_lora` put in)."""
    from harness.training.lora import lora_parameters

    m = vlm.model
    for p in m.parameters():
        p.requires_grad_(False)
    full_lm = train_lm and not lora
    if vlm.arch == "llava":
        mods = [m.model.multi_modal_projector] + ([m.model.language_model, m.lm_head] if full_lm else [])
        params = [p for mod in mods for p in mod.parameters()]
    else:
        mods = [m.qformer, m.language_projection] + ([m.language_model] if full_lm else [])
        params = [m.query_tokens] + [p for mod in mods for p in mod.parameters()]
    if train_lm and lora:
        params += lora_parameters(vlm)
    seen: set[int] = set()
    out = []
    names = {id(p): n for n, p in m.named_parameters()}
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            p.requires_grad_(True)
            out.append((names.get(id(p), "?"), p))
    return out


def batch_order(n: int, batch: int, step: int, seed: int, lengths: Sequence[int] | None = None,
                group: int = 8) -> list[int]:
    """Example indices of global batch `step`: epochs are seeded permutations, walked in order.

    With `lengths`, each run of `group` consecutive batches is re-cut by length (sorted, then
    the batches shuffled), so a batch pads to about its own length; the set of examples
    those batches cover, and so each epoch, is unchanged.
    """
    import torch

    per_epoch = max(1, n // batch)
    epoch, k = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch)).tolist()
    if lengths is None:
        return perm[k * batch:(k + 1) * batch]
    g0 = k - k % group
    g1 = min(g0 + group, per_epoch)
    span = sorted(perm[g0 * batch:g1 * batch], key=lambda i: (lengths[i], i))
    chunks = [span[j * batch:(j + 1) * batch] for j in range(g1 - g0)]
    order = torch.randperm(len(chunks), generator=torch.Generator().manual_seed(seed * 7919 + epoch * 1009 + g0))
    return chunks[order.tolist()[k - g0]]


def finetune(vlm: Any, feats: Any, examples: Sequence[Example], *, steps: int, batch: int, lr: float, warmup: int,
             train_lm: bool, bf16: bool, seed: int, resume: Path | None = None, checkpoint_every: int = 100,
             advance: Callable[[int, float], None] | None = None, log_every: int = 10,
             options: TrainOptions = TrainOptions()) -> TrainLog:
    """Train `vlm` in place on `examples` (image rows index `feats`); returns the log.

    With `options.lora` the LM gets LoRA adapters, merged into its weights before returning."""
    import torch

    from harness.training import distributed
    from harness.training.lora import add_lora, merge_lora

    env = distributed.init()
    torch.manual_seed(seed)
    lora = add_lora(vlm, options.lora) if options.lora is not None and train_lm else None
    if options.gradient_checkpointing:
        # Recompute activations in the backward pass: memory for time. Non-reentrant, because
        # the LM's own inputs (frozen embeddings) need no gradient.
        _checkpointing(vlm.model, True)
    named = trainable_parameters(vlm, train_lm, lora is not None)
    params = [p for _, p in named]
    distributed.sync_parameters(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    start, losses = 0, []
    ckpt = resume / "train_state.pt" if resume is not None else None
    state = distributed.load_checkpoint(ckpt)
    if state is not None:
        for (name, p), saved in zip(named, state["params"]):
            p.data.copy_(saved)
        opt.load_state_dict(state["optimizer"])
        start, losses = state["step"], state["losses"]
    tok = vlm.tokenizer
    lengths = [len(e.input_ids) for e in examples]
    vlm.model.train()
    t0 = time.perf_counter()
    for step in range(start, steps):
        idx = batch_order(len(examples), batch, step, seed, lengths)
        exs = [examples[i] for i in distributed.shard(idx, env)]  # this rank's share of the global batch
        n_tokens = sum(sum(1 for x in examples[i].labels[1:] if x != IGNORE) for i in idx)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        loss_sum = torch.zeros((), device=vlm.device)
        if exs:
            ids, mask = pad_batch([e.input_ids for e in exs], tok.pad_token_id, left=False)
            labels, _ = pad_batch([e.labels for e in exs], IGNORE, left=False)
            qids = qmask = None
            if vlm.arch == "instructblip":
                qids, qmask = vlm.qformer_encode([e.qformer_text for e in exs])
            with torch.autocast(vlm.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = vlm.forward(ids, mask, feats[[e.image for e in exs]], None, qids, qmask).logits
            logits = logits[:, :-1].float()
            tgt = labels[:, 1:].to(logits.device)
            loss_sum = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                                         ignore_index=IGNORE, reduction="sum")
        loss = loss_sum / max(1, n_tokens)
        opt.zero_grad(set_to_none=False)
        if loss.requires_grad:
            loss.backward()
        distributed.sum_gradients(params)
        total = distributed.sum_values([float(loss_sum.detach())])[0]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        global_loss = total / max(1, n_tokens)
        if (step + 1) % log_every == 0 or step == steps - 1:
            losses.append((step + 1, round(global_loss, 5)))
        if advance is not None:
            advance(step + 1, global_loss)
        if ckpt is not None and env.is_main and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"params": [p.detach().clone() for p in params], "optimizer": opt.state_dict(),
                        "step": step + 1, "losses": losses}, tmp)
            os.replace(tmp, ckpt)
    vlm.model.eval()
    if options.gradient_checkpointing:
        _checkpointing(vlm.model, False)
    if lora is not None:
        merge_lora(lora)
    return TrainLog(steps=steps, seconds=time.perf_counter() - t0, trainable_params=sum(p.numel() for p in params),
                    examples=len(examples), losses=losses, resumed_from=start)


def check_train_images(folder: Path, images: Sequence[str]) -> None:
    """Every training image is a readable file inside `folder`: checked before the model loads."""
    from harness.core.errors import BadInput, MissingResource, excerpt
    from harness.models.adapter import check_image

    if not folder.is_dir():
        raise MissingResource(f"{folder}: image folder not found")
    root = folder.resolve()
    for name in sorted(set(images)):
        path = folder / name
        if not path.resolve().is_relative_to(root):
            raise BadInput(f"{excerpt(name)}: image path leaves the image folder {folder}")
        if not path.is_file():
            raise MissingResource(f"{path}: image not found (give the image folder with --images)")
        check_image(path)


def _checkpointing(model: Any, on: bool) -> None:
    """Switch activation checkpointing on or off (transformers 5 renamed gradient checkpointing)."""
    if hasattr(model, "activation_checkpointing_enable"):
        if on:
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.activation_checkpointing_disable()
    elif on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_disable()


def load_conversations(path: Path) -> list[Conversation]:
    """A LLaVA JSON file as typed conversations; a file of another shape is a `BadInput`
    naming the file and the first bad item."""
    from harness.core.io import read_json, validate_items

    return validate_items(path, read_json(path), Conversation, "LLaVA conversations")


def train_on_conversations(vlm: Any, convs: Sequence[Conversation], image_root: Path, recipe: FinetuneConfig,
                           seed: int, resume: Path | None, progress: ProgressFactory, label: str,
                           blind: bool = False, options: TrainOptions = TrainOptions()) -> TrainLog:
    """Finetune `vlm` in place on LLaVA conversations whose images lie under `image_root` (each
    image's features computed once; `blind`: every image blank); returns the log."""
    from harness.models.features import feature_table

    images = sorted({cv.image for cv in convs if cv.image is not None})
    feats, rows = feature_table(vlm, [image_root / im for im in images] + [None], blind=blind)
    image_rows: dict[str | None, int] = dict(zip([*images, None], rows))  # None: the blank image
    examples = examples_from_conversations(vlm, convs, image_rows, recipe.max_length)
    steps = planned_steps(recipe.steps, recipe.epochs, len(examples), recipe.batch)
    task = progress(f"finetune {label}", steps)
    log = finetune(vlm, feats, examples, steps=steps, batch=recipe.batch, lr=recipe.lr, warmup=recipe.warmup,
                   train_lm=recipe.train_lm, bf16=recipe.bf16, seed=seed, resume=resume,
                   checkpoint_every=recipe.checkpoint_every, advance=lambda step, loss: task.advance(1, loss=loss),
                   options=options)
    task.close()
    return log


def train_log(log: TrainLog, conversations: int) -> dict[str, Any]:
    """What a finetune writes as its training log (JSON)."""
    return {"losses": log.losses, "seconds": round(log.seconds, 2), "trainable_params": log.trainable_params,
            "examples": log.examples, "conversations": conversations, "resumed_from": log.resumed_from}
