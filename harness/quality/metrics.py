"""Data-quality metrics of an instruction dataset, per data type and overall, with 95% CIs.

Metrics (the `metric` field of `QualityRecord`; percentages are 0-100):

With the world's ground truth (`scenes`), from `harness.world.claims`:
- factual_accuracy: % of answers whose checkable claims are all true, among answers with at
  least one checkable claim (n = those answers).
- chair_i: % of object mentions naming a shape the image does not have (n = mentions).
- chair_s: % of answers with a hallucinated mention, among answers with an object mention.
- attribute_error_rate: % of mentions with a colour or size that no object fits, among
  such mentions of a shape that is present (or that name no shape).
- coverage: % of an image's objects that its answers of the data type identify
  (`claims.coverage`), averaged over images (n = images).
For any dataset:
- distinct_1, distinct_2: % distinct word uni-/bigrams among all question uni-/bigrams.
- self_bleu: mean sentence BLEU-4 (%) of each question against the other questions, on a
  deterministic sample of at most 300 questions (`quality_text.self_bleu`).
- question_length, answer_length: mean words per question / answer.
- duplicate_rate: % of records whose (question, answer), lower-cased, repeats an earlier
  record of the same image.
- parse_failure_rate: % of records with parse_status other than "ok" (n = all records;
  every other metric counts only "ok" records).
With reference captions, for detail-description answers only, so only in the rows of a
detail data type (`DETAIL_TYPES`), not in "all" (`quality_text`):
- bleu_4 (corpus BLEU-4), meteor (METEOR 1.5's corpus score), rouge_l (mean) in %; cider
  (mean, pycocoevalcap's scale, 0-10).

`n` is the size of the metric's denominator: answers, mentions, images (coverage), word
n-grams (distinct-n), sampled questions (self-BLEU), records, scored captions.

Intervals: percentile bootstrap over images, the independent unit (an image's answers
share its content): `n_boot` resamples (multinomial image counts, numpy, `seed`) of all
metrics together, a resample where a metric is undefined being skipped for it; None when
n < 2 or there are fewer than two images. Two kinds
of metric are not means over images, so for them the bootstrap gives only the spread and
the interval is centred on the value (shifted by value - bootstrap median): distinct-n
(a resample repeats images and so their n-grams, which lowers distinct-n by construction)
and METEOR (its value is METEOR's corpus aggregate; resamples use the mean item score).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from typing import Mapping, Sequence

import numpy as np

from harness.core.records import GenerationRecord, QualityRecord, Scene
from harness.world.claims import AnswerCheck, check_answer, coverage
from harness.quality.readers import ImageIndex, scene_index
from harness.quality.text import (CaptionScores, caption_scores, corpus_bleu4, ngrams, normalise, self_bleu,
                                  self_bleu_sample, words)

WORLD_METRICS = ("factual_accuracy", "chair_i", "chair_s", "attribute_error_rate", "coverage")
TEXT_METRICS = ("distinct_1", "distinct_2", "self_bleu", "question_length", "answer_length", "duplicate_rate",
                "parse_failure_rate")
CAPTION_METRICS = ("bleu_4", "meteor", "rouge_l", "cider")
METRICS = WORLD_METRICS + TEXT_METRICS + CAPTION_METRICS
DETAIL_TYPES = ("detail", "detailed_description", "detail_description")
ALL = "all"
_CENTRED = ("distinct_1", "distinct_2", "meteor")


@dataclass
class ImageStats:
    """Sufficient statistics of one image's records (of one data type, or all)."""

    n_records: int = 0
    n_ok: int = 0
    n_failed: int = 0
    q_words: int = 0
    a_words: int = 0
    n_dup: int = 0
    grams: tuple[frozenset, ...] = (frozenset(), frozenset())
    n_grams: tuple[int, ...] = (0, 0)
    sb_sum: float = 0.0
    sb_n: int = 0
    n_checkable: int = 0
    n_correct: int = 0
    n_mentions: int = 0
    n_halluc: int = 0
    n_answers_mention: int = 0
    n_answers_halluc: int = 0
    n_attributed: int = 0
    n_attr_err: int = 0
    coverage: float | None = None
    cap_n: int = 0
    bleu: tuple[float, ...] = (0.0,) * 10
    cider_sum: float = 0.0
    rouge_sum: float = 0.0
    meteor_sum: float = 0.0
    meteor_n: int = 0


    def sums(self) -> dict[str, float]:
        """Every additive statistic, by name: a resample's statistics are weighted sums of these."""
        d = {f.name: float(getattr(self, f.name)) for f in fields(self)
             if f.name not in ("grams", "n_grams", "bleu", "coverage")}
        d.update(cov_sum=self.coverage or 0.0, cov_n=float(self.coverage is not None), grams_1=float(self.n_grams[0]),
                 grams_2=float(self.n_grams[1]))
        d.update({f"bleu_{i}": float(v) for i, v in enumerate(self.bleu)})
        return d


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 100.0) -> np.ndarray:
    """scale * num / den, NaN where den is 0 (the metric is undefined in that resample)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), np.nan)


_RATIOS = {  # metric: (numerator, denominator, scale)
    "factual_accuracy": ("n_correct", "n_checkable", 100.0), "chair_i": ("n_halluc", "n_mentions", 100.0),
    "chair_s": ("n_answers_halluc", "n_answers_mention", 100.0),
    "attribute_error_rate": ("n_attr_err", "n_attributed", 100.0), "coverage": ("cov_sum", "cov_n", 100.0),
    "self_bleu": ("sb_sum", "sb_n", 100.0), "question_length": ("q_words", "n_ok", 1.0),
    "answer_length": ("a_words", "n_ok", 1.0), "duplicate_rate": ("n_dup", "n_ok", 100.0),
    "parse_failure_rate": ("n_failed", "n_records", 100.0), "meteor": ("meteor_sum", "meteor_n", 100.0),
    "rouge_l": ("rouge_sum", "cap_n", 100.0), "cider": ("cider_sum", "cap_n", 1.0),
}
_DENOMINATORS = {**{m: den for m, (_, den, _) in _RATIOS.items()}, "distinct_1": "grams_1", "distinct_2": "grams_2",
                 "bleu_4": "cap_n"}


class _Table:
    """The images' additive statistics as a matrix (images x statistics), and for each
    distinct question n-gram the images that hold it (grouped by identical image sets)."""

    def __init__(self, stats: Sequence[ImageStats]):
        rows = [s.sums() for s in stats]
        self.names = list(rows[0]) if rows else list(ImageStats().sums())
        self.m = np.array([[r[k] for k in self.names] for r in rows], dtype=float).reshape(len(rows), len(self.names))
        self.owners: list[Counter] = []
        for k in (0, 1):
            holders: dict[tuple, list[int]] = defaultdict(list)
            for i, s in enumerate(stats):
                for g in s.grams[k]:
                    holders[g].append(i)
            self.owners.append(Counter(tuple(v) for v in holders.values()))

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of `weights` (resamples x images, how often each image is drawn)."""
        sums = weights @ self.m
        col = {k: sums[:, i] for i, k in enumerate(self.names)}
        out = {m: _ratio(col[num], col[den], scale) for m, (num, den, scale) in _RATIOS.items()}
        drawn = weights > 0
        for k in (0, 1):
            distinct = np.zeros(len(weights))
            for images, mult in self.owners[k].items():
                distinct += mult * drawn[:, list(images)].any(axis=1)
            out[f"distinct_{k + 1}"] = _ratio(distinct, col[f"grams_{k + 1}"])
        bleu = 100.0 * corpus_bleu4([col[f"bleu_{i}"] for i in range(10)])
        out["bleu_4"] = np.where(col["cap_n"] > 0, bleu, np.nan)
        return out

    def counts(self) -> dict[str, int]:
        """n of each metric: the size of its denominator over all images."""
        total = self.m.sum(axis=0)
        return {m: int(total[self.names.index(den)]) for m, den in _DENOMINATORS.items()}


def _percentile(sorted_vals: np.ndarray, q: float) -> float:
    # The index rule of harness.core.stats.bootstrap_ci, so that intervals agree across the project.
    return float(sorted_vals[int(q * (len(sorted_vals) - 1))])


def intervals(table: _Table, values: Mapping[str, float], n_boot: int = 1000, seed: int = 0,
              alpha: float = 0.05) -> dict[str, tuple[float | None, float | None]]:
    """Percentile bootstrap intervals over images for every metric in `values`, from the same
    resamples (multinomial image counts); centred on the value for the metrics in `_CENTRED`."""
    out: dict[str, tuple[float | None, float | None]] = {k: (None, None) for k in values}
    n = len(table.m)
    if n < 2 or n_boot <= 0:
        return out
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    draws = table.metrics(weights)
    for k, value in values.items():
        vals = np.sort(draws[k][np.isfinite(draws[k])])
        if len(vals) < 2:
            continue
        shift = value - _percentile(vals, 0.5) if k in _CENTRED else 0.0
        out[k] = (_percentile(vals, alpha / 2) + shift, _percentile(vals, 1 - alpha / 2) + shift)
    return out


# --- per-image statistics -----------------------------------------------------------------


def _add_text(st: ImageStats, recs: Sequence[GenerationRecord], sb: Mapping[int, float], idx: Sequence[int]) -> None:
    seen: set[tuple[str, str]] = set()
    grams: list[set] = [set(), set()]
    n_grams = [0, 0]
    for i, r in zip(idx, recs):
        st.n_records += 1
        if r.parse_status != "ok":
            st.n_failed += 1
            continue
        st.n_ok += 1
        q = words(r.question)
        st.q_words += len(q)
        st.a_words += len(words(r.answer))
        key = (normalise(r.question), normalise(r.answer))
        st.n_dup += key in seen
        seen.add(key)
        for k in (0, 1):
            g = ngrams(q, k + 1)
            grams[k].update(g)
            n_grams[k] += len(g)
        if i in sb:
            st.sb_sum += sb[i]
            st.sb_n += 1
    st.grams = (frozenset(grams[0]), frozenset(grams[1]))
    st.n_grams = tuple(n_grams)


def _add_world(st: ImageStats, checks: Sequence[AnswerCheck], scene: Scene) -> None:
    for ch in checks:
        ok = ch.correct
        st.n_checkable += ok is not None
        st.n_correct += ok is True
        st.n_mentions += ch.n_mentions
        st.n_halluc += ch.n_hallucinated
        st.n_answers_mention += ch.n_mentions > 0
        st.n_answers_halluc += ch.n_hallucinated > 0
        st.n_attributed += ch.n_attributed
        st.n_attr_err += ch.n_attribute_errors
    st.coverage = coverage(checks, scene) if checks else None


def _add_captions(st: ImageStats, caps: Sequence[CaptionScores]) -> None:
    for c in caps:
        st.cap_n += 1
        st.bleu = tuple(a + b for a, b in zip(st.bleu, c.bleu_stats))
        st.cider_sum += c.cider
        st.rouge_sum += c.rouge_l
        if c.meteor is not None:
            st.meteor_sum += c.meteor
            st.meteor_n += 1


@dataclass(frozen=True)
class _Inputs:
    records: Sequence[GenerationRecord]
    scenes: ImageIndex[Scene] | None
    checks: Mapping[int, AnswerCheck]


def _group_stats(inp: _Inputs, idx: Sequence[int], captions: Mapping[int, CaptionScores], seed: int
                 ) -> list[ImageStats]:
    """One `ImageStats` per image of the records at `idx` (in first-seen image order)."""
    usable = [i for i in idx if inp.records[i].parse_status == "ok"]
    sample = [usable[j] for j in self_bleu_sample(len(usable), seed)]
    sb = dict(zip(sample, self_bleu([inp.records[i].question for i in sample])))
    by_image: dict[str, list[int]] = defaultdict(list)
    for i in idx:
        by_image[inp.records[i].image].append(i)
    out = []
    for image, ids in by_image.items():
        st = ImageStats()
        _add_text(st, [inp.records[i] for i in ids], sb, ids)
        scene = inp.scenes.get(image) if inp.scenes is not None else None
        if scene is not None:
            _add_world(st, [inp.checks[i] for i in ids if i in inp.checks], scene)
        _add_captions(st, [captions[i] for i in ids if i in captions])
        out.append(st)
    return out


def _rows(stats: Sequence[ImageStats], source: str, data_type: str, n_boot: int, seed: int,
          meteor_corpus: float | None) -> list[QualityRecord]:
    table = _Table(stats)
    full = table.metrics(np.ones((1, len(stats))))
    values = {m: float(v[0]) for m, v in full.items() if np.isfinite(v[0])}
    if "meteor" in values and meteor_corpus is not None:
        values["meteor"] = 100.0 * meteor_corpus
    ns = table.counts()
    cis = intervals(table, values, n_boot, seed)
    out = []
    for m in METRICS:
        if m in values:
            lo, hi = cis[m] if ns[m] >= 2 else (None, None)
            out.append(QualityRecord(source=source, data_type=data_type, metric=m, value=values[m], ci_low=lo,
                                     ci_high=hi, n=ns[m]))
    return out


def _checks(records: Sequence[GenerationRecord], scenes: ImageIndex[Scene] | None) -> dict[int, AnswerCheck]:
    out = {}
    for i, r in enumerate(records):
        scene = scenes.get(r.image) if scenes is not None else None
        if scene is not None and r.parse_status == "ok":
            out[i] = check_answer(r.answer, r.question, scene)
    return out


def _captions(records: Sequence[GenerationRecord], idx: Sequence[int], refs: ImageIndex[Sequence[str]] | None,
              meteor: bool) -> tuple[dict[int, CaptionScores], float | None]:
    """Caption scores of the detail-description records at `idx` that have references."""
    if refs is None:
        return {}, None
    items = {}
    for i in idx:
        r, ref = records[i], refs.get(records[i].image)
        if r.data_type in DETAIL_TYPES and r.parse_status == "ok" and ref:
            items[i] = (r.answer, list(ref))
    if not items:
        return {}, None
    return caption_scores(items, meteor=meteor)


def quality_metrics(records: Sequence[GenerationRecord], scenes: Sequence[Scene] | None = None,
                    references: Mapping[str, Sequence[str]] | None = None, source: str = "dataset",
                    n_boot: int = 1000, seed: int = 0, meteor: bool = True) -> list[QualityRecord]:
    """Quality records per data type (first-seen order) and for "all", metrics in `METRICS` order.

    `scenes` enables the world metrics for records whose image has a scene; `references`
    (image path -> captions) enables the caption metrics of detail-description answers;
    `meteor=False` skips METEOR (its java start takes seconds). Images are matched by path
    or by file name. Skipped metrics are reported as `QualityNote` warnings.
    """
    scene_idx = scene_index(scenes) if scenes is not None else None
    ref_idx = ImageIndex(references) if references is not None else None
    inp = _Inputs(records, scene_idx, _checks(records, scene_idx))
    out: list[QualityRecord] = []
    for dt in dict.fromkeys(r.data_type for r in records):
        idx = [i for i, r in enumerate(records) if r.data_type == dt]
        caps, meteor_corpus = _captions(records, idx, ref_idx, meteor)
        out += _rows(_group_stats(inp, idx, caps, seed), source, dt, n_boot, seed, meteor_corpus)
    out += _rows(_group_stats(inp, range(len(records)), {}, seed), source, ALL, n_boot, seed, None)
    return out
