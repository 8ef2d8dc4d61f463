"""A small hand-made run directory: two sources, POPE (two splits) and MMBench (CircularEval
groups), consistent results / samples / quality / VIC files, and answers with HTML in them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterable

from harness.core.io import to_jsonl, write_json
from harness.core.records import QualityRecord, ResultRecord, SampleRecord
from harness.core.stats import cluster_bootstrap, collapse_groups

EVIL = ["<script>alert('x')</script>", "<img src=x onerror=alert(1)>"]
L2 = ("coarse_perception", "logic_reasoning")


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def pope_samples(target: str, source: str, split: str, hits: Iterable[int]) -> list[SampleRecord]:
    out = []
    for i, h in enumerate(hits):
        label = "yes" if i % 2 == 0 else "no"
        pred = label if h else ("no" if label == "yes" else "yes")
        # The items seed+vigc fixes carry HTML, so they are the ones a report shows as examples.
        text = (EVIL[(i // 10) % 2] + " " if i % 10 == 3 else "") + pred.capitalize() + "."
        out.append(SampleRecord(target=target, source=source, benchmark="pope", split=split, item_id=str(i + 1),
                                prompt="Is there a <b>square</b> in the image?", prediction=text, extracted=pred,
                                reference=label, metric="accuracy", score=float(h), image="images/a.png"))
    return out


def mmbench_samples(target: str, source: str, question_hits: Iterable[int]) -> list[SampleRecord]:
    out = []
    for q, h in enumerate(question_hits):
        for k in range(2):  # two passes per question; a miss fails the second pass only
            score = 1.0 if h or k == 0 else 0.0
            out.append(SampleRecord(target=target, source=source, benchmark="mmbench", split="dev",
                                    item_id=str(q + k * 1_000_000), group=str(q), categories=(L2[q % 2],),
                                    prompt=f"Q{q}?\nA. red\nB. blue", prediction="A" if score else "B",
                                    extracted="A" if score else "B", reference="A", metric="overall", score=score,
                                    image="images/a.png"))
    return out


def _value(samples: list[SampleRecord]) -> tuple[float, float | None, float | None, int]:
    units = collapse_groups([s.item_id for s in samples], [s.score for s in samples], [s.weight for s in samples],
                            [s.group for s in samples])
    iv = cluster_bootstrap([u[0] for u in units.values()], [u[1] for u in units.values()], n_boot=200, seed=0)
    return (round(100 * iv.value, 2), None if iv.low is None else round(100 * iv.low, 2),
            None if iv.high is None else round(100 * iv.high, 2), iv.n)


def results_of(samples: list[SampleRecord]) -> list[ResultRecord]:
    """overall / accuracy per (target, source, benchmark, split), plus MMBench's l2 categories."""
    rows = []
    cells = dict.fromkeys((s.target, s.source, s.benchmark, s.split, s.metric) for s in samples)
    for t, src, b, sp, metric in cells:
        sub = [s for s in samples if (s.target, s.source, s.benchmark, s.split) == (t, src, b, sp)]
        v, lo, hi, n = _value(sub)
        rows.append(ResultRecord(target=t, source=src, benchmark=b, split=sp, metric=metric, value=v, ci_low=lo,
                                 ci_high=hi, n=n, protocol="official"))
        for cat in dict.fromkeys(c for s in sub for c in s.categories):
            v, lo, hi, n = _value([s for s in sub if cat in s.categories])
            rows.append(ResultRecord(target=t, source=src, benchmark=b, split=sp, metric=cat, value=v, ci_low=lo,
                                     ci_high=hi, n=n, protocol="official"))
    return rows


def default_samples(better: bool = True) -> list[SampleRecord]:
    """seed: 60% right; seed+vigc: the same items plus (when `better`) 30% of seed's misses fixed."""
    seed_hits = [int(i % 5 < 3) for i in range(60)]
    vigc_hits = [1 if (better and i % 10 == 3) else h for i, h in enumerate(seed_hits)]
    q_seed = [int(i % 4 < 2) for i in range(24)]
    q_vigc = [1 if better and i % 4 == 2 else h for i, h in enumerate(q_seed)]
    out: list[SampleRecord] = []
    for src, hits, qh in (("seed", seed_hits, q_seed), ("seed+vigc", vigc_hits, q_vigc)):
        for split in ("random", "popular"):
            out += pope_samples("llava", src, split, hits)
        out += mmbench_samples("llava", src, qh)
    return out


def quality_rows(factual_vigc: float = 80.0) -> list[QualityRecord]:
    rows = []
    for src, n, fa, ch in (("seed", 500, 100.0, 0.0), ("vigc", 120, factual_vigc, 12.5)):
        for metric, v in (("factual_accuracy", fa), ("chair_i", ch), ("parse_failure_rate", 0.0)):
            rows.append(QualityRecord(source=src, data_type="all", metric=metric, value=v, ci_low=v - 2 if v else 0,
                                      ci_high=v + 2 if v else 0, n=n))
    return rows


VIC = {"all": {"n_records": 40, "n_images": 20,
               "values": {"vig_factual_accuracy": 50.0, "vic_factual_accuracy": 60.0, "diff_factual_accuracy": 10.0,
                          "vig_chair_i": 30.0, "vic_chair_i": 20.0, "diff_chair_i": -10.0,
                          "vig_attribute_error_rate": 25.0, "vic_attribute_error_rate": 15.0,
                          "diff_attribute_error_rate": -10.0, "vig_sentences": 2.0, "vic_sentences": 1.5,
                          "changed": 70.0},
               "ci95": {"vig_chair_i": [25.0, 35.0], "vic_chair_i": [15.0, 25.0], "diff_chair_i": [-15.0, -5.0],
                        "diff_factual_accuracy": [2.0, 18.0], "diff_attribute_error_rate": [-20.0, -1.0]}}}


def make_run(root: Path, samples: list[SampleRecord] | None = None, quality: list[QualityRecord] | None = None,
             with_samples: bool = True, targets: list[dict[str, object]] | None = None) -> Path:
    """Write the run directory under `root` and return it; `targets`: the config's target list
    in its manifest (names, architectures, control flags)."""
    samples = default_samples() if samples is None else samples
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    (root / "images" / "a.png").write_bytes(_png())
    (root / "results.jsonl").write_text(to_jsonl(results_of(samples)))
    (root / "data_quality.jsonl").write_text(to_jsonl(quality if quality is not None else quality_rows()))
    if with_samples:
        (root / "samples.jsonl").write_text(to_jsonl(samples))
    write_json(root / "vic_effect.json", VIC)
    write_json(root / "manifest.json", {
        "config": {"name": "fixture", "seed": 0, "sources": ["seed", "seed+vigc"], "note": "</pre><script>x</script>",
                   **({"targets": targets} if targets is not None else {})},
        "versions": {"python": "3.11", "torch": "2.13.0+cpu", "transformers": "5.24.0"}, "seed": 0,
        "stages": {"world": {"key": "ab" * 32, "cached": True, "seconds": 1.5, "path": str(root / "nowhere")}},
        "seconds": 12.0, "finished": "2026-01-01T00:00:00Z"})
    return root


def dump(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj))
