"""Run a tiny finetune; under torchrun each process takes its share of every global batch.

Usage: python _dist_train.py OUT.pt   (or: python -m torch.distributed.run --nproc_per_node 2 ...)
Rank 0 writes the trained parameters to OUT.pt.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def main(out: str) -> None:
    import torch

    from harness.core.records import Conversation
    from harness.training.finetune import dist_info, examples_from_conversations, finetune
    from tests.harness._tiny_models import images, tiny_vlm

    torch.set_num_threads(1)
    vlm = tiny_vlm("llava", seed=3)
    feats = vlm.image_features(images(6))
    convs = [Conversation.model_validate({"id": str(i), "image": f"im{i % 6}", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the star?"},
        {"from": "gpt", "value": ["The star is red.", "The star is blue.", "It is green."][i % 3]}]})
        for i in range(12)]
    ex = examples_from_conversations(vlm, convs, {f"im{i}": i for i in range(6)}, 128)
    finetune(vlm, feats, ex, steps=4, batch=4, lr=1e-2, warmup=1, train_lm=True, bf16=False, seed=0)
    rank, _ = dist_info()
    if rank == 0:
        params = [p.detach() for p in vlm.model.parameters() if p.requires_grad]
        torch.save(torch.cat([p.flatten() for p in params]), out)


if __name__ == "__main__":
    main(sys.argv[1])
