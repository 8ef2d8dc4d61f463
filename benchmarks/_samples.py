"""Per-item views of the built-in benchmarks' scores, for per-sample records.

Each view reads the prediction file back with the benchmark's own reader and pairs every
outcome of `score` with the raw answer, what the protocol extracted and the right answer. The
item's `score` is its part of the benchmark's primary metric, so the metric recomputed from
the views equals the reported one (a test checks this for every registered benchmark).

The views live here rather than in each benchmark file only because those files have other
owners at present; a benchmark that overrides `Benchmark.item_scores` needs no entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from benchmarks.base import Benchmark, ItemScore, ScoreResult

View = Callable[[Any, Sequence[Path], Path, ScoreResult[Any]], list[ItemScore]]


def _pope(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from benchmarks.pope import _read_predictions

    preds = _read_predictions(Path(predictions))
    return [ItemScore(str(o.question_id), float(o.label == o.prediction), preds.get(o.question_id), o.prediction,
                      o.label) for o in res.outcomes]


def _mmbench(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from benchmarks.mmbench import _read_rows, circular_passes, read_predictions
    from benchmarks.parsing import extract_choice

    preds = read_predictions(Path(predictions))
    hit = {o.index: o.hit for o in res.outcomes}
    out = []
    for p in circular_passes(_read_rows(data)):
        got = extract_choice(preds[p.index], p.options)
        # A question the judge passed passes in every pass, whatever the heuristics read, so
        # the group's minimum is the question's CircularEval hit.
        score = 1.0 if hit[p.group] else float(got == p.answer)
        out.append(ItemScore(str(p.index), score, preds[p.index], got, p.answer, group=str(p.group),
                             categories=(p.row.l2_category,) if p.row.l2_category else ()))
    return out


def _okvqa(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from collections import Counter

    from benchmarks.okvqa import read_annotations, read_files, read_results

    preds = read_results(Path(predictions))
    ref = {a["question_id"]: Counter(x["answer"] for x in a["answers"]).most_common(1)[0][0]
           for a in read_annotations(read_files(data))}
    return [ItemScore(str(o.question_id), o.accuracy, preds.get(o.question_id), preds.get(o.question_id),
                      ref.get(o.question_id), categories=(f"per_answer_type/{o.answer_type}",))
            for o in res.outcomes]


def _aokvqa(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from benchmarks.aokvqa import read_dataset, read_predictions

    preds = read_predictions(Path(predictions))
    ref = {d["question_id"]: d["choices"][d["correct_choice_idx"]] for _, d in read_dataset(data, scored=True)}
    out = []
    for o in res.outcomes:
        mc = preds.get(o.question_id, {}).get("multiple_choice")
        # The raw reply is not in the official prediction file; its multiple-choice text is.
        out.append(ItemScore(o.question_id, o.mc, mc, mc, ref.get(o.question_id)))
    return out


def _scienceqa(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from benchmarks.scienceqa import OPTIONS, _read_data, _read_predictions

    _, problems, _ = _read_data(data, bench.split)
    preds = _read_predictions(Path(predictions), problems)
    out = []
    for o in res.outcomes:
        answer = problems[o.pid]["answer"]
        ref = OPTIONS[answer] if 0 <= answer < len(OPTIONS) else None
        out.append(ItemScore(o.pid, float(o.correct), preds.get(o.pid), o.letter, ref, categories=o.categories))
    return out


def _chair(bench: Any, data: Sequence[Path], predictions: Path, res: ScoreResult[Any]) -> list[ItemScore]:
    from benchmarks.chair import _read_predictions

    captions = dict(_read_predictions(Path(predictions)))
    # CHAIRi pools mentions over captions: each caption weighs as many mentions as it makes.
    return [ItemScore(str(o.image_id), o.hallucinated / o.mentions if o.mentions else 0.0, captions.get(o.image_id),
                      ", ".join(o.hallucinated_words) or None, None, weight=float(o.mentions))
            for o in res.outcomes]


VIEWS: dict[str, View] = {"pope": _pope, "mmbench": _mmbench, "okvqa": _okvqa, "aokvqa": _aokvqa,
                          "scienceqa": _scienceqa, "chair": _chair}


def builtin_item_scores(bench: Benchmark[Any], data: Sequence[Path], predictions: Path,
                        result: ScoreResult[Any]) -> list[ItemScore]:
    """The per-item view of a built-in benchmark's result; [] for a benchmark without one."""
    view = VIEWS.get(bench.name)
    return view(bench, data, predictions, result) if view is not None else []


def primary_from_items(items: Sequence[ItemScore]) -> float:
    """The primary metric (0-100) recomputed from item scores: groups score their minimum."""
    units: dict[str, tuple[float, float]] = {}
    for it in items:
        if it.group is None:
            units[f"item:{it.id}"] = (it.score * it.weight, it.weight)
        else:
            prev = units.get(f"group:{it.group}", (1.0, 1.0))
            units[f"group:{it.group}"] = (min(prev[0], it.score), 1.0)
    den = sum(d for _, d in units.values())
    return 100.0 * sum(n for n, _ in units.values()) / den if den else 0.0
