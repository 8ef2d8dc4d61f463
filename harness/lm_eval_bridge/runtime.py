"""What the generated lm-eval helper module calls: images, per-item results, official scores.

A task folder holds `vigc_tasks.json` (per task: benchmark, split, official data files, image
folder, metric names) beside the helper. Each lm-eval metric of a task aggregates the same
(id, answer) pairs; the aggregation writes them as the benchmark's official prediction file
and scores it with the benchmark's scorer, so the numbers are `vigc-bench score`'s.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any, Sequence

from harness.core.errors import BadInput, MissingResource

SPEC_NAME = "vigc_tasks.json"
HELPER_NAME = "vigc_tasks.py"
SCHEMA = 1


@functools.lru_cache(maxsize=8)
def _read_spec(folder: str, mtime_ns: int) -> dict[str, Any]:
    """The task spec of a folder (cached per file version: the generator may rewrite it)."""
    from harness.core.io import read_json

    spec = read_json(Path(folder) / SPEC_NAME)
    if not isinstance(spec, dict) or spec.get("schema") != SCHEMA or not isinstance(spec.get("tasks"), dict):
        raise BadInput(f"{Path(folder) / SPEC_NAME}: not a vigc-bench lm-eval task spec (schema {SCHEMA})")
    return spec


def task_spec(helper_file: str, task: str) -> dict[str, Any]:
    """The spec of `task` from the folder of the helper module `helper_file`."""
    folder = Path(helper_file).resolve().parent
    path = folder / SPEC_NAME
    if not path.is_file():
        raise MissingResource(f"{path}: file not found (rerun `vigc-bench lm-eval-tasks`)")
    tasks = _read_spec(str(folder), path.stat().st_mtime_ns)["tasks"]
    if task not in tasks:
        raise MissingResource(f"{path}: no task {task!r} (known: {', '.join(sorted(tasks))})")
    return dict(tasks[task])


def doc_to_image(helper_file: str, doc: dict[str, Any]) -> list[str]:
    """The item's image as a list of one path (none for a text-only item); a relative path
    is relative to the task folder (images the official file inlines are written there)."""
    image = doc.get("image")
    if not image:
        return []
    return [str(Path(helper_file).resolve().parent / image)]


def process_results(helper_file: str, task: str, doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Every metric of `task` gets the pair (item id, raw answer); scoring happens in `aggregate`."""
    answer = results[0] if results else ""
    return {m: (str(doc["id"]), answer) for m in task_spec(helper_file, task)["metrics"]}


# The last scored answer set: lm-eval calls one aggregation per metric on the same pairs, and
# scoring once serves them all.
_LAST: dict[str, Any] = {}


def score_answers(spec: dict[str, Any], answers: dict[str, str]) -> Any:
    """Score id -> answer with the benchmark's official scorer (a `ScoreResult`).

    Every item needs an answer: official scorers reject partial prediction files, so an
    lm-eval run with `--limit` cannot be scored.
    """
    from harness.stages.predict import load_items, open_benchmark

    bench = open_benchmark(spec["benchmark"], spec.get("split"))
    data = [Path(p) for p in spec["data"]]
    items = load_items(bench, data, Path(spec["images"]) if spec.get("images") else None)
    missing = [it.id for it in items if it.id not in answers]
    if missing:
        raise BadInput(f"{', '.join(map(str, data))}: {len(missing)} of {len(items)} items have no answer "
                       f"(first: {missing[0]}); official scoring needs every item, so lm-eval's --limit cannot "
                       "be used with vigc tasks")
    with tempfile.TemporaryDirectory(prefix="vigc-lm-eval-") as tmp:
        pred = Path(tmp) / "predictions"
        bench.write_predictions(items, [answers[it.id] for it in items], pred)
        return bench.score(data, pred)


def aggregate(helper_file: str, task: str, metric: str, pairs: Sequence[tuple[str, str]]) -> float:
    """The official value (0-100 where the benchmark reports percentages) of `metric` over the pairs."""
    key = (str(Path(helper_file).resolve()), task, tuple(pairs))
    if _LAST.get("key") != key:
        answers: dict[str, str] = {}
        for item_id, answer in pairs:
            if item_id in answers:
                raise BadInput(f"task {task}: item {item_id} was answered twice")
            answers[item_id] = answer
        _LAST.clear()
        _LAST.update(key=key, result=score_answers(task_spec(helper_file, task), answers))
    return float(_LAST["result"].metrics[metric])
