"""Run tiny training loops; under torchrun each process takes its share of every global batch.

Usage: python _dist_train.py OUT.pt   (or: python -m torch.distributed.run --nproc_per_node 2 ...)
Rank 0 writes the trained parameters of each loop (finetune, vision pretraining, LM
pretraining) to OUT.pt as a dict of flat tensors, with the logged losses.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def flat(params: list) -> "object":
    import torch

    return torch.cat([p.detach().flatten() for p in params])


def finetune_run() -> tuple:
    from harness.core.records import Conversation
    from harness.training.finetune import examples_from_conversations, finetune
    from tests.harness._tiny_models import images, tiny_vlm

    vlm = tiny_vlm("llava", seed=3)
    feats = vlm.image_features(images(6))
    convs = [Conversation.model_validate({"id": str(i), "image": f"im{i % 6}", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the star?"},
        {"from": "gpt", "value": ["The star is red.", "The star is blue.", "It is green."][i % 3]}]})
        for i in range(12)]
    ex = examples_from_conversations(vlm, convs, {f"im{i}": i for i in range(6)}, 128)
    log = finetune(vlm, feats, ex, steps=4, batch=4, lr=1e-2, warmup=1, train_lm=True, bf16=False, seed=0,
                   log_every=1)
    return flat([p for p in vlm.model.parameters() if p.requires_grad]), [x for _, x in log.losses]


def vision_run() -> tuple:
    import torch

    from harness.models.tiny import VisionSpec, build_vision
    from harness.training.pretrain import pretrain_vision

    torch.manual_seed(5)
    model = build_vision("clip", VisionSpec(hidden=32, layers=1, heads=2, mlp=64, image_size=48, patch_size=24))
    g = torch.Generator().manual_seed(1)
    pixels = torch.randn(16, 3, 48, 48, generator=g)
    cls = [torch.randint(0, k, (16, 4, 1), generator=g) for k in (9, 9, 3, 2, 2)]
    centres = torch.rand(16, 4, 2, generator=g) * 2 - 1
    losses: list[float] = []
    pretrain_vision(model, pixels, torch.cat(cls, -1), 2, steps=3, batch=8, lr=1e-3, seed=0,
                    progress=lambda s, t, m: losses.append(m["loss"]), centres=centres)
    return flat(list(model.parameters())), losses


def lm_run() -> tuple:
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.slots import SlotCodebook
    from harness.models.tiny import LMSpec, lm_config
    from harness.training.pretrain import pretrain_lm_slots
    from tests.harness._tiny_models import TEXTS, tokenizer

    tok = tokenizer()
    torch.manual_seed(7)
    lm = AutoModelForCausalLM.from_config(lm_config(len(tok), LMSpec(hidden=32, layers=1, heads=2, intermediate=64,
                                                                     max_positions=256), tok))
    book = SlotCodebook.create(tok, 32, 0)

    def batch(step: int) -> tuple:
        ids = [tok(TEXTS[(step * 4 + k) % len(TEXTS)])["input_ids"] for k in range(4)]
        return ids, [list(x) for x in ids], torch.zeros(0, 4, 5)

    losses: list[float] = []
    pretrain_lm_slots(lm, book, tok, batch, steps=3, lr=1e-3, seed=0, advance=lambda s, loss: losses.append(loss))
    return flat(list(lm.parameters())), losses


def main(out: str) -> None:
    import torch

    from harness.training import distributed

    torch.set_num_threads(1)
    got = {}
    for name, fn in (("finetune", finetune_run), ("vision", vision_run), ("lm", lm_run)):
        params, losses = fn()
        got[name], got[name + "_losses"] = params, torch.tensor(losses)
    if distributed.active().is_main:
        torch.save(got, out)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
