"""Training step time of the tiny LM in fp32 against bfloat16 autocast, on this CPU.

Usage: python bench/bf16_cpu.py [--threads N] [--batch B] [--length L]

Why it exists: the tiny preset trains its targets and VIGC model in fp32 (`bf16: false`), and
`vigc-bench finetune` / `train-vigc` autocast to bf16 only on a GPU that computes it: a CPU
without AVX512-BF16 or AMX emulates it. Prints the step time of each (best of 4 rounds of 5
steps, interleaved, so both see the same machine load) and the ratio bf16 / fp32, measured in
one run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

LM = Path(__file__).resolve().parents[1] / "harness" / "weights" / "tiny" / "lm" / "lm"


def main() -> None:
    """Time forward + backward + AdamW steps of the shipped tiny LM on random tokens."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=160, help="tokens per sample")
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(LM)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, model.get_input_embeddings().num_embeddings, (args.batch, args.length))

    def step(bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                 ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    for bf16 in (False, True):  # warm-up: first calls pick kernels
        step(bf16)
    best = {False: float("inf"), True: float("inf")}
    for _ in range(4):
        for bf16 in (False, True):
            t0 = time.perf_counter()
            for _ in range(5):
                step(bf16)
            best[bf16] = min(best[bf16], (time.perf_counter() - t0) / 5)
    print(f"fp32: {best[False] * 1000:.0f} ms/step; bf16 autocast: {best[True] * 1000:.0f} ms/step; "
          f"bf16 / fp32 = {best[True] / best[False]:.2f} ({args.threads} threads, batch {args.batch} x {args.length})")


if __name__ == "__main__":
    main()
