"""Prediction and VIG / VIC generation with their batches split over torchrun ranks.

    python -m torch.distributed.run --nproc_per_node 2 _dist_split.py CKPT POPE IMAGES OUT_PREFIX

Each rank answers the POPE file's items with the tiny checkpoint (batch size 4), and runs the
VIGC generator with `EchoVLM` over 10 images (batch size 3, so several VIG batches and several
batches per VIC step). Every model call is logged with the rank that made it. Each rank writes
{predictions, records, calls} to OUT_PREFIX.<rank>.json; `work` with `BatchSplit()` is the
one-process run the test compares them with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from harness.core.sharding import BatchSplit  # noqa: E402


class EchoVLM:
    """A stand-in VIGC model: its text is a function of image, prompt and accepted sentences, so
    the records say whether every batch came back to the right place. Answers end after a
    number of sentences that differs by image, so VIC's unfinished set changes step by step."""

    def __init__(self, rank: int, calls: list[dict[str, Any]]) -> None:
        self.rank, self.calls = rank, calls

    def generate(self, feats: Any, prompts: Sequence[str], qformer_texts: Sequence[str] | None = None,
                 max_new_tokens: int = 64, num_beams: int = 1, prefixes: Sequence[str] | None = None,
                 stop: Callable[[str], bool] | None = None) -> list[str]:
        self.calls.append({"rank": self.rank, "kind": "VIC" if prefixes is not None else "VIG",
                           "texts": list(qformer_texts or prompts)})
        out = []
        for k, prompt in enumerate(prompts):
            image = int(feats[k].reshape(-1)[0])
            if prefixes is None:
                out.append(f"Question: what is in image {image} ({prompt[:12]})? Answer: A thing {image}.")
                continue
            done = prefixes[k].count(".")
            out.append(f"Part {done} of image {image}." + ("" if (image + done) % 3 == 2 else " More to say"))
        if stop is not None:  # as the real adapter: a row ends where its text first satisfies `stop`
            from tests.harness._tiny_models import cut_at_stop

            out = [cut_at_stop(t, stop) for t in out]
        return out


def _image_ids(vlm: Any, images: Sequence[Any], blind: bool = False) -> tuple[Any, list[int]]:
    """`feature_table` for `EchoVLM`: an image's feature is its index among the distinct images."""
    import torch

    distinct = list(dict.fromkeys(str(i) for i in images))
    feats = torch.tensor([[[float(i)]] for i in range(len(distinct))])
    return feats, [distinct.index(str(i)) for i in images]


def work(ckpt: Path, pope: Path, images: Path, split: BatchSplit) -> dict[str, Any]:
    """Predictions for the POPE file and VIGC records, made with `split`; the calls each made."""
    from benchmarks import BENCHMARKS
    from generators import GENERATORS
    from generators.base import GenerationContext, ImageInfo
    from harness.models import features
    from harness.models.adapter import load_vlm
    from harness.stages.predict import predict_items

    calls: list[dict[str, Any]] = []
    vlm = load_vlm(ckpt)
    real = vlm.generate

    def logged(feats: Any, prompts: Sequence[str], **kw: Any) -> list[str]:
        calls.append({"rank": split.rank, "kind": "predict", "texts": list(prompts)})
        return real(feats, prompts, **kw)

    vlm.generate = logged  # type: ignore[method-assign]
    items = BENCHMARKS.get("pope")().load([pope], image_root=images)
    predictions = predict_items(vlm, items, batch_size=4, split=split)

    infos = [ImageInfo(image_id=i, file_name=f"{i}.png", path=Path(f"/nowhere/{i}.png"), width=8, height=8)
             for i in range(10)]
    table, features.feature_table = features.feature_table, _image_ids  # type: ignore[assignment]
    try:
        records = GENERATORS.get("vigc")().generate(GenerationContext(
            images=infos, data_types=("conversation", "detail"), seed=0, model=EchoVLM(split.rank, calls),
            options={"batch_size": 3, "vic": True, "vic_max_sentences": 4, "vic_at_eos": True}, split=split))
    finally:
        features.feature_table = table  # type: ignore[assignment]
    return {"predictions": predictions, "records": [r.model_dump(mode="json") for r in records], "calls": calls}


def main(ckpt: str, pope: str, images: str, prefix: str) -> None:
    from harness.training import distributed

    env = distributed.init()
    got = work(Path(ckpt), Path(pope), Path(images), distributed.batch_split(env))
    Path(f"{prefix}.{env.rank}.json").write_text(json.dumps(got))
    distributed.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:5])
