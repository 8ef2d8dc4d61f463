"""Foundation pretraining: the stand-ins for CLIP and Vicuna.

A ViT trained from scratch inside a VLM on a few thousand samples does not learn to see, so
the vision tower is first trained alone with a linear head per patch that predicts the
colour, shape, size and grid position of whatever is in that patch (empty is a class).
Patches are grid cells, so each patch token ends up describing one object. The language
model is pretrained on world text so that it starts fluent in the world's words and facts.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from harness.core.records import Scene
from harness.world.spec import COLOURS, SHAPES, SIZES

ProgressFn = Callable[[int, int, dict[str, float]], None]


def patch_labels(scene: Scene) -> list[list[int]]:
    """Per grid cell: [colour, shape, size, row, col] class ids; 0 = empty for the first three."""
    g = scene.grid
    colours, shapes = list(COLOURS), list(SHAPES)
    out = [[0, 0, 0, c // g, c % g] for c in range(g * g)]
    for o in scene.objects:
        cell = o.row * g + o.col
        out[cell][:3] = [colours.index(o.colour) + 1, shapes.index(o.shape) + 1, SIZES.index(o.size) + 1]
    return out


def patch_centres(scene: Scene) -> list[list[float]]:
    """Per grid cell: the object's centre (x, y) scaled to [-1, 1], or [0, 0] for an empty cell.

    Regressing it keeps a linear code of position in the patch features, which is what the
    language model compares when it answers "is A left of B?".
    """
    g = scene.grid
    out = [[0.0, 0.0] for _ in range(g * g)]
    for o in scene.objects:
        out[o.row * g + o.col] = [2 * o.cx / scene.width - 1, 2 * o.cy / scene.height - 1]
    return out


def head_sizes(grid: int) -> list[int]:
    """Class counts of the per-patch heads, in `patch_labels` order."""
    return [len(COLOURS) + 1, len(SHAPES) + 1, len(SIZES) + 1, grid, grid]


def lr_at(step: int, total: int, lr: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10% of `lr`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def pretrain_vision(vision: Any, pixels: Any, labels: Any, grid: int, steps: int, batch: int, lr: float,
                    seed: int, progress: ProgressFn | None = None, centres: Any = None) -> dict[str, float]:
    """Train `vision` in place on per-patch attribute labels; returns final train accuracies.

    `pixels` is a float tensor [N, 3, H, W] already normalised; `labels` a long tensor
    [N, cells, 5] from `patch_labels`; `centres` an optional float tensor [N, cells, 2] from
    `patch_centres`, regressed on the cells that hold an object. They may stay on the CPU:
    each batch goes to the device `vision` is on, and the heads are made there.
    """
    import torch

    from harness.training import distributed

    env = distributed.init()
    torch.manual_seed(seed)
    hidden = vision.config.hidden_size
    device = next(vision.parameters()).device
    # Made on the CPU, then moved: the seeded initialisation is the same whatever the device.
    heads = torch.nn.ModuleList(torch.nn.Linear(hidden, k) for k in head_sizes(grid)).to(device)
    centre_head = torch.nn.Linear(hidden, 2).to(device)
    params = list(vision.parameters()) + list(heads.parameters()) + list(centre_head.parameters())
    distributed.sync_parameters(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    vision.train()
    n = pixels.shape[0]
    acc: dict[str, float] = {}
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, max(1, steps // 20))
        idx = torch.randint(0, n, (batch,), generator=gen)  # the global batch: same draw on every rank
        # The centre error is normalised by the global batch's occupied cells, known to every rank.
        occupied_all = (labels[idx][..., 0] > 0).sum().clamp(min=1)
        idx = idx[env.rank::env.world_size]
        # fp32 on purpose: bf16 autocast made this ViT's steps ~2.5x slower on CPU (measured).
        out = vision(pixel_values=pixels[idx].to(device)).last_hidden_state[:, 1:]
        y = labels[idx].to(device)
        loss = torch.zeros((), device=device)
        for k, head in enumerate(heads):
            logits = head(out)
            # Equal shares: the global mean is the mean of the ranks' means.
            loss = loss + torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                            y[..., k].reshape(-1)) / env.world_size
            acc[("colour", "shape", "size", "row", "col")[k]] = (logits.argmax(-1) == y[..., k]).float().mean().item()
        if centres is not None:
            occupied = (y[..., 0] > 0).unsqueeze(-1).float()
            err = ((centre_head(out) - centres[idx].to(device)) ** 2 * occupied).sum() / occupied_all.to(device)
            loss = loss + 10 * err
            acc["centre_mse"] = err.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.sum_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if env.enabled:  # the whole batch's figures, as one process would log them
            names = list(acc)
            total = distributed.sum_values([loss.item()] + [acc[k] for k in names])
            loss_v = total[0]
            acc = {k: v / env.world_size for k, v in zip(names, total[1:])}
            if "centre_mse" in acc:
                acc["centre_mse"] *= env.world_size  # already normalised by the global count
        else:
            loss_v = loss.item()
        if progress is not None:
            progress(step + 1, steps, {"loss": loss_v, **acc})
    vision.eval()
    return acc


def pretrain_lm_slots(lm: Any, book: Any, tokenizer: Any, batch_fn: Callable[[int], tuple[list, list, Any]],
                      steps: int, lr: float, seed: int, resume: Any = None,
                      advance: Callable[[int, float], None] | None = None,
                      checkpoint_every: int = 100, bf16: bool = True) -> dict[str, float]:
    """Pretrain `lm` (and the codebook's position directions) on slot documents.

    `batch_fn(step)` returns (input ids, labels, slot attrs for the image placeholders in
    order), on the CPU: each batch goes to the device `lm` is on (the codebook must be there
    too). Checkpoints go to `resume/lm_state.pt` so a killed run continues where it was.
    `bf16`: the forward pass under bf16 autocast (CPUs without native bf16 emulate it, slowly).
    """
    import os

    import torch

    from harness.models.encode import IGNORE, pad_batch
    from harness.training import distributed

    env = distributed.init()
    torch.manual_seed(seed)
    params = list(lm.parameters()) + [book.position]
    distributed.sync_parameters(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    img_id = tokenizer.convert_tokens_to_ids(tokenizer.image_token)
    emb = lm.get_input_embeddings()
    device = emb.weight.device
    start, loss_v = 0, float("nan")
    ckpt = resume / "lm_state.pt" if resume is not None else None
    st = distributed.load_checkpoint(ckpt)
    if st is not None:
        lm.load_state_dict(st["lm"])
        book.position.data.copy_(st["position"])
        opt.load_state_dict(st["opt"])
        start = st["step"]
        loss_v = st.get("loss", loss_v)  # so a phase resumed at its last step still reports its loss
    lm.train()
    for step in range(start, steps):
        ids_l, lab_l, attrs = batch_fn(step)
        n_items = None
        if env.enabled:
            if step == start:  # every rank must have drawn the same batch (same tokenizer, same data)
                distributed.check_same("the LM's first batch", repr(ids_l).encode())
            # The loss is this share's token losses over the global batch's count, so the
            # gradients summed over ranks are the whole batch's.
            n_items = sum(sum(1 for x in lab[1:] if x != IGNORE) for lab in lab_l)
            ids_l, lab_l, attrs = _lm_shard(ids_l, lab_l, attrs, img_id, env)
        ids, mask = (t.to(device) for t in pad_batch(ids_l, tokenizer.pad_token_id, left=False))
        labels = pad_batch(lab_l, IGNORE, left=False)[0].to(device)
        attrs = attrs.to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, max(1, steps // 30))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            e = emb(ids)
            if attrs.shape[0]:
                slots = book.vectors(attrs, emb.weight).to(e.dtype)
                e = e.masked_scatter((ids == img_id).unsqueeze(-1).expand_as(e), slots)
            extra = {} if n_items is None else {"num_items_in_batch": max(1, n_items)}
            loss = lm(inputs_embeds=e, attention_mask=mask, labels=labels, **extra).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.sum_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        loss_v = distributed.sum_values([loss.item()])[0]
        if advance is not None:
            advance(step + 1, loss_v)
        if ckpt is not None and env.is_main and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"lm": lm.state_dict(), "position": book.position.detach().clone(), "opt": opt.state_dict(),
                        "step": step + 1, "loss": loss_v}, tmp)
            os.replace(tmp, ckpt)
    lm.eval()
    return {"loss": loss_v, "resumed_from": float(start)}


def _lm_shard(ids_l: list, lab_l: list, attrs: Any, img_id: int, env: Any) -> tuple[list, list, Any]:
    """This rank's documents of an LM batch, with the slot rows of their image placeholders
    (each document holds whole scenes: `cells` placeholders per row of `attrs`)."""
    import torch

    cells = attrs.shape[1] if attrs.shape[0] else 1
    counts = [ids.count(img_id) // cells for ids in ids_l]
    starts = [sum(counts[:d]) for d in range(len(ids_l))]
    mine = list(range(env.rank, len(ids_l), env.world_size))
    rows = [r for d in mine for r in range(starts[d], starts[d] + counts[d])]
    return [ids_l[d] for d in mine], [lab_l[d] for d in mine], attrs[torch.tensor(rows, dtype=torch.long)] if rows else attrs[:0]
