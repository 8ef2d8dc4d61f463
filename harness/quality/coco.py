"""Object hallucination and coverage of a dataset measured against COCO annotations.

`vigc-bench quality FILE --instances COCO_INSTANCES [--captions COCO_CAPTIONS]` (DESIGN §5):
the real-data counterpart of the world metrics, for data made on COCO images. Metrics (the
`metric` field of `QualityRecord`, 0-100), over the answers of records that parsed:

- coco_chair_i: % of the answers' object mentions naming a class not in the image's ground
  truth (CHAIRi; n = mentions).
- coco_chair_s: % of answers with a hallucinated mention, among answers that mention an object
  (CHAIRs; n = those answers). Unlike the benchmark's CHAIRs, whose captions always describe
  the image, answers such as "Yes." name nothing, and counting them would dilute the rate.
- coco_coverage: % of an image's annotated categories that the answers of the data type
  mention, averaged over images with at least one annotation (n = those images).

The ground truth and the word rules are CHAIR's (`benchmarks.chair`): an image's instance
classes plus the objects its reference captions name (with --captions), the COCO synonym and
two-word tables. This module only counts: the caller (`harness.api.measure_quality`) passes
each image's classes and a function that reads the mentions of a text, since this layer does
not import the benchmarks. Intervals are percentile bootstraps over images
(`harness.core.stats.cluster_bootstrap`): an image's answers share its content.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Mapping, Sequence

from harness.core.errors import BadInput, excerpt
from harness.core.records import GenerationRecord, QualityRecord
from harness.core.stats import cluster_bootstrap
from harness.quality.readers import ImageIndex

COCO_METRICS = ("coco_chair_i", "coco_chair_s", "coco_coverage")
ALL = "all"
_TRAILING_ID = re.compile(r"(\d+)$")

Mentions = Callable[[str], Sequence[str]]  # a text -> the class of each object mention, in order


@dataclass(frozen=True)
class ImageObjects:
    """What the annotations say is in one image, as CHAIR classes."""

    annotated: frozenset[str]  # classes of its instances: what coverage counts
    truth: frozenset[str]  # annotated plus those its reference captions name: what CHAIR counts


@dataclass
class _ImageCounts:
    """One image's counts over the answers of one data type (or all)."""

    mentions: int = 0
    hallucinated: int = 0
    answers_mention: int = 0
    answers_hallucinated: int = 0
    named: set[str] = field(default_factory=set)  # classes its answers mention


def image_ids(records: Sequence[GenerationRecord], file_names: Mapping[int, str], data_file: Path,
              instances: Path) -> dict[str, int]:
    """The COCO image id of each record's image: by path or file name, else by the number that
    ends the file name (`COCO_train2014_000000123456.jpg`, `000000123456.jpg`), as VIGC derives it.

    An image found neither way is a `BadInput` naming both files.
    """
    index = ImageIndex({name: i for i, name in file_names.items()})
    out: dict[str, int] = {}
    for r in records:
        if r.image in out:
            continue
        found = index.get(r.image)
        if found is None:
            m = _TRAILING_ID.search(PurePosixPath(r.image).stem)
            found = int(m.group(1)) if m and int(m.group(1)) in file_names else None
        if found is None:
            raise BadInput(f"{data_file}: image {excerpt(r.image)} (record {excerpt(r.id)}) is not in {instances}")
        out[r.image] = found
    return out


def _counts(records: Sequence[GenerationRecord], objects: Mapping[str, ImageObjects],
            mentions: Mentions) -> list[tuple[_ImageCounts, ImageObjects]]:
    """Per image (first-seen order) of the records that parsed: mention counts and the classes named."""
    by_image: dict[str, _ImageCounts] = {}
    for r in records:
        if r.parse_status != "ok":
            continue
        c = by_image.setdefault(r.image, _ImageCounts())
        said = list(mentions(r.answer))
        wrong = sum(cls not in objects[r.image].truth for cls in said)
        c.mentions += len(said)
        c.hallucinated += wrong
        c.answers_mention += bool(said)
        c.answers_hallucinated += wrong > 0
        c.named.update(said)
    return [(c, objects[image]) for image, c in by_image.items()]


def _rows(units: Sequence[tuple[_ImageCounts, ImageObjects]], source: str, data_type: str, n_boot: int,
          seed: int) -> list[QualityRecord]:
    cols = {
        "coco_chair_i": ([c.hallucinated for c, _ in units], [c.mentions for c, _ in units]),
        "coco_chair_s": ([c.answers_hallucinated for c, _ in units], [c.answers_mention for c, _ in units]),
        "coco_coverage": ([len(c.named & o.annotated) / len(o.annotated) if o.annotated else 0.0
                           for c, o in units], [float(bool(o.annotated)) for _, o in units]),
    }
    out = []
    for metric in COCO_METRICS:
        num, den = cols[metric]
        n = int(sum(den))
        if n == 0:  # undefined: no mention, no answer naming an object, no annotated image
            continue
        # Only units with a denominator move the ratio; resampling the others too would only add ties.
        kept = [(a, b) for a, b in zip(num, den) if b > 0]
        iv = cluster_bootstrap([a for a, _ in kept], [b for _, b in kept], n_boot=n_boot, seed=seed)
        lo, hi = (iv.low, iv.high) if n >= 2 else (None, None)
        out.append(QualityRecord(source=source, data_type=data_type, metric=metric, value=100.0 * iv.value,
                                 ci_low=None if lo is None else 100.0 * lo, ci_high=None if hi is None else 100.0 * hi,
                                 n=n))
    return out


def coco_object_metrics(records: Sequence[GenerationRecord], objects: Mapping[str, ImageObjects],
                        mentions: Mentions, source: str = "dataset", n_boot: int = 1000,
                        seed: int = 0) -> list[QualityRecord]:
    """`COCO_METRICS` per data type (first-seen order) and for "all", with 95% intervals over images.

    `objects` holds every record's image (by its `image` path); `mentions` reads the classes a
    text names. A metric whose denominator is 0 for a data type is left out of its rows.
    """
    out: list[QualityRecord] = []
    for dt in dict.fromkeys(r.data_type for r in records):
        out += _rows(_counts([r for r in records if r.data_type == dt], objects, mentions), source, dt, n_boot,
                     seed)
    out += _rows(_counts(records, objects, mentions), source, ALL, n_boot, seed)
    return out


def merge_rows(first: Sequence[QualityRecord], second: Sequence[QualityRecord]) -> list[QualityRecord]:
    """Both lists of rows grouped by data type (in first-seen order, "all" last), each group's
    rows from `first` before those from `second`: one table section per data type."""
    groups: dict[str, list[QualityRecord]] = defaultdict(list)
    for r in [*first, *second]:
        groups[r.data_type].append(r)
    order = [dt for dt in groups if dt != ALL] + ([ALL] if ALL in groups else [])
    return [r for dt in order for r in groups[dt]]
