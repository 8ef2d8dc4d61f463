"""VIG and VIC throughput: batched across images against one image per call, same model.

Usage: python bench/vigc_throughput.py [--model DIR] [--images N]

--model is a VIGC checkpoint (e.g. RUN_DIR/stages/vigc--train-*/model); without it a tiny
random InstructBLIP-style model is built, which measures the machinery, not the content.
Prints images/s for each mode, the batched/looped ratio, and whether the greedy outputs are
identical (they must be: batching may change speed, never results). Then VIC with its early stop
(each step ends once a second sentence begins) against VIC reading every step to the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _model(path: str | None):  # noqa: ANN202 - script helper
    if path:
        from harness.models.adapter import load_vlm

        return load_vlm(path)
    from tests.harness._tiny_models import tiny_vlm

    return tiny_vlm("instructblip", seed=0)


def main() -> None:
    """Time VIG and VIC both ways and compare outputs."""
    import torch

    from generators.vig_parse import parse_vig
    from generators.vigc import StopRule, correct, vig_instruction
    from tests.harness._tiny_models import images

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(2)
    vlm = _model(args.model)
    size = vlm.model.config.vision_config.image_size
    imgs = images(args.images, size)
    feats = vlm.image_features(imgs)
    import random

    rng = random.Random(0)
    instr = [vig_instruction("conversation", rng) for _ in imgs]

    def vig_batched() -> list[str]:
        out = []
        for s in range(0, len(imgs), args.batch):
            out += vlm.generate(feats[s:s + args.batch], instr[s:s + args.batch], qformer_texts=instr[s:s + args.batch],
                                max_new_tokens=48)
        return out

    def vig_loop() -> list[str]:
        return [vlm.generate(feats[i:i + 1], [instr[i]], qformer_texts=[instr[i]], max_new_tokens=48)[0]
                for i in range(len(imgs))]

    t0 = time.perf_counter(); a = vig_batched(); tb = time.perf_counter() - t0
    t0 = time.perf_counter(); b = vig_loop(); tl = time.perf_counter() - t0
    print(f"VIG  batched {len(imgs) / tb:8.1f} img/s   loop {len(imgs) / tl:8.1f} img/s   ratio {tl / tb:5.2f}x   "
          f"identical outputs: {a == b}")
    qs = [parse_vig(x).question or "What is in the image?" for x in a]
    rule = StopRule(max_sentences=4, at_eos=True)
    t0 = time.perf_counter(); c = correct(vlm, feats, qs, rule, batch_size=args.batch); tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = [correct(vlm, feats[i:i + 1], [qs[i]], rule, batch_size=1)[0] for i in range(len(imgs))]
    tl = time.perf_counter() - t0
    print(f"VIC  batched {len(imgs) / tb:8.1f} img/s   loop {len(imgs) / tl:8.1f} img/s   ratio {tl / tb:5.2f}x   "
          f"identical outputs: {c == d}")
    from harness.models.adapter import VLM

    def read_to_end(self, *a, stop=None, **k):  # noqa: ANN001, ANN002, ANN003, ANN202 - the old VIC
        return generate(self, *a, **k)

    generate = VLM.generate
    VLM.generate = read_to_end
    t0 = time.perf_counter(); e = correct(vlm, feats, qs, rule, batch_size=args.batch); tf = time.perf_counter() - t0
    VLM.generate = generate
    print(f"VIC  early stop {len(imgs) / tb:8.1f} img/s   to the end {len(imgs) / tf:8.1f} img/s   "
          f"ratio {tf / tb:5.2f}x   identical answers: {[x for x, _ in c] == [x for x, _ in e]}")


if __name__ == "__main__":
    main()
