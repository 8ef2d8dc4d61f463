"""VIC's effect on the same questions: the VIG answer against the corrected answer, paired.

Both answers of a record are checked against the image's ground truth, so every difference
is a difference the correction made. Intervals are paired bootstrap intervals over images
(the records of one image move together), for the differences as well as the levels.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Sequence

from harness.core.records import GenerationRecord, Scene
from harness.world.claims import check_answer
from harness.quality.readers import scene_index


def _summ(rows: list[dict[str, float]]) -> dict[str, float]:
    def share(key: str, den: str) -> float:
        d = sum(r[den] for r in rows)
        return 100.0 * sum(r[key] for r in rows) / d if d else float("nan")

    out = {}
    for side in ("vig", "vic"):
        out[f"{side}_factual_accuracy"] = share(f"{side}_correct", f"{side}_checkable")
        out[f"{side}_chair_i"] = share(f"{side}_halluc", f"{side}_mentions")
        out[f"{side}_attribute_error_rate"] = share(f"{side}_attr_err", f"{side}_attributed")
        out[f"{side}_sentences"] = sum(r[f"{side}_sents"] for r in rows) / max(1, len(rows))
    out["diff_factual_accuracy"] = out["vic_factual_accuracy"] - out["vig_factual_accuracy"]
    out["diff_chair_i"] = out["vic_chair_i"] - out["vig_chair_i"]
    out["diff_attribute_error_rate"] = out["vic_attribute_error_rate"] - out["vig_attribute_error_rate"]
    out["changed"] = 100.0 * sum(r["changed"] for r in rows) / max(1, len(rows))
    return out


def _row(r: GenerationRecord, scene: Scene) -> dict[str, float]:
    from harness.core.text import sentences

    row: dict[str, float] = {"changed": float(r.answer.strip() != r.vig_answer.strip())}
    for side, ans in (("vig", r.vig_answer), ("vic", r.answer)):
        chk = check_answer(ans, r.question, scene)
        row[f"{side}_checkable"] = float(chk.correct is not None)
        row[f"{side}_correct"] = float(chk.correct is True)
        row[f"{side}_mentions"] = float(chk.n_mentions)
        row[f"{side}_halluc"] = float(chk.n_hallucinated)
        row[f"{side}_attributed"] = float(chk.n_attributed)
        row[f"{side}_attr_err"] = float(chk.n_attribute_errors)
        row[f"{side}_sents"] = float(len(sentences(ans)))
    return row


def vic_effect(records: Sequence[GenerationRecord], scenes: Sequence[Scene], n_boot: int = 1000,
               seed: int = 0) -> dict[str, Any]:
    """Per data type (and 'all'): VIG vs VIC levels, paired differences and 95% intervals."""
    index = scene_index(scenes)
    by_type: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        scene = index.get(r.image)
        if r.parse_status != "ok" or not r.vig_answer or scene is None:
            continue
        row = _row(r, scene)
        by_type[r.data_type][r.image].append(row)
        by_type["all"][r.image].append(row)
    out: dict[str, Any] = {}
    for dt, per_image in by_type.items():
        images = sorted(per_image)
        rows = [x for im in images for x in per_image[im]]
        point = _summ(rows)
        rng = random.Random(seed)
        draws: dict[str, list[float]] = defaultdict(list)
        for _ in range(n_boot):
            sample = [x for _ in images for x in per_image[images[rng.randrange(len(images))]]]
            for k, v in _summ(sample).items():
                if v == v:  # skip NaN (a resample without any checkable answer)
                    draws[k].append(v)
        ci = {}
        for k, vals in draws.items():
            vals.sort()
            ci[k] = [round(vals[int(0.025 * (len(vals) - 1))], 2), round(vals[int(0.975 * (len(vals) - 1))], 2)]
        out[dt] = {"n_records": len(rows), "n_images": len(images),
                   "values": {k: round(v, 2) for k, v in point.items()}, "ci95": ci}
    return out
