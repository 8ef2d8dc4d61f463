"""Write our benchmarks as lm-eval tasks: YAML, item JSONL, a spec and a generated helper module.

Layout of the folder (`vigc-bench lm-eval-tasks --out DIR`):

    DIR/vigc_<task>.yaml     one lm-eval task: generate_until over the items, `json` builder
    DIR/vigc_<task>.jsonl    the items: id, prompt, image (path), max_new_tokens
    DIR/images/<task>/...    images the official file inlines (MMBench's base64), as files
    DIR/vigc_tasks.json      per task: benchmark, split, official data files, image folder, metrics
    DIR/vigc_tasks.py        the helper the YAML names with `!function` (thin calls into `runtime`)

The spec and helper are written last, so a folder with them is complete. Data and image
paths are absolute (the `json` builder reads `data_files` relative to the working
directory), so the folder stays valid wherever lm-eval is run from, but not if it is moved.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.core.errors import BadInput
from harness.core.io import atomic_write_bytes, atomic_write_text, read_json, to_jsonl, write_json
from harness.lm_eval_bridge.runtime import HELPER_NAME, SCHEMA, SPEC_NAME

TASK_PREFIX = "vigc_"


@dataclass(frozen=True)
class TaskSpec:
    """One lm-eval task to write: a benchmark's official files (one split's worth)."""

    benchmark: str  # registered benchmark name
    data: tuple[Path, ...]  # the official files, as `vigc-bench score --data` takes them
    name: str | None = None  # suffix of the task name (vigc_<benchmark>_<name>), e.g. a POPE split
    images: Path | None = None  # folder that image paths in the data resolve against (None: the benchmark's default)
    split: str | None = None  # benchmark split where the files hold several (ScienceQA)

    @property
    def task(self) -> str:
        """The lm-eval task name: vigc_<benchmark>[_<name>]."""
        return TASK_PREFIX + self.benchmark + (f"_{self.name}" if self.name else "")


def _image_ext(data: bytes) -> str:
    """A file extension for encoded image bytes (PIL reads the content either way)."""
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    return ".img"


def _docs(spec: TaskSpec, items: Sequence[Any], out_dir: Path) -> list[dict[str, Any]]:
    """The JSONL rows of a task's items; inlined images become files under images/<task>/."""
    rows = []
    for it in items:
        image: str | None
        if isinstance(it.image, (bytes, bytearray)):
            data = bytes(it.image)
            rel = Path("images") / spec.task / (hashlib.sha256(data).hexdigest()[:20] + _image_ext(data))
            if not (out_dir / rel).is_file():
                atomic_write_bytes(out_dir / rel, data)
            image = rel.as_posix()
        elif it.image is None:
            image = None
        else:
            image = str(Path(it.image).resolve())
        rows.append({"id": it.id, "prompt": it.prompt, "image": image, "max_new_tokens": it.max_new_tokens})
    return rows


def _metric_names(bench: Any, items: Sequence[Any], data: Sequence[Path]) -> list[str]:
    """The metric keys the official scorer reports for these files (MMBench's depend on the
    categories in the data), read off a scoring of empty answers; data that cannot be scored
    (a split without answers) fails here, before lm-eval runs."""
    with tempfile.TemporaryDirectory(prefix="vigc-lm-eval-") as tmp:
        pred = Path(tmp) / "predictions"
        bench.write_predictions(items, [""] * len(items), pred)
        return list(bench.score(list(data), pred).metrics)


def _fn_suffix(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _yaml(spec: TaskSpec, out_dir: Path, metrics: Sequence[str], max_new_tokens: int, higher_is_better: bool) -> str:
    """The task YAML (JSON-quoted strings are valid YAML scalars)."""
    q = json.dumps
    fn = _fn_suffix(spec.task)
    lines = [
        f"# Written by `vigc-bench lm-eval-tasks`: {spec.benchmark} scored by vigc-bench's official scorer. Run:",
        f"#   python -m harness.lm_eval_bridge --include_path {out_dir} --tasks {spec.task} "
        "--model vigc --model_args path=MODEL_DIR",
        f"task: {spec.task}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {q(str(out_dir / (spec.task + '.jsonl')))}",
        "test_split: test",
        "output_type: generate_until",
        "doc_to_text: prompt",
        "doc_to_target: id",
        f"doc_to_image: !function {HELPER_NAME[:-3]}.doc_to_image",
        f"process_results: !function {HELPER_NAME[:-3]}.process_results_{fn}",
        "generation_kwargs:",
        "  until: []  # answers are the model's whole reply, as `vigc-bench predict` writes them",
        "  do_sample: false",
        f"  max_gen_toks: {max_new_tokens}",
        "metric_list:",
    ]
    for i, m in enumerate(metrics):
        lines += [f"  - metric: {q(m)}",
                  f"    aggregation: !function {HELPER_NAME[:-3]}.agg_{fn}_{i}",
                  # lm-eval uses this only for the arrow in its table; the benchmark declares
                  # one direction, that of its primary metric.
                  f"    higher_is_better: {str(higher_is_better).lower()}"]
    lines += ["metadata:", "  version: 1", f"  benchmark: {q(spec.benchmark)}"]
    return "\n".join(lines) + "\n"


def _helper(tasks: dict[str, dict[str, Any]]) -> str:
    """The generated helper module: one process_results and one aggregation per metric, per task."""
    out = ['"""lm-eval helpers of the vigc tasks in this folder (written by `vigc-bench lm-eval-tasks`; do not edit).',
           "",
           "The YAML files beside this one name these functions with `!function`. Aggregation is vigc-bench's",
           "official scorer, so a task's metrics equal `vigc-bench score` on the same answers.",
           '"""', "", "from harness.lm_eval_bridge import runtime", "", "",
           "def doc_to_image(doc):",
           '    """The item\'s image as a list of one path (empty for a text-only item)."""',
           "    return runtime.doc_to_image(__file__, doc)", ""]
    for task, t in tasks.items():
        fn = _fn_suffix(task)
        out += ["", f"def process_results_{fn}(doc, results):",
                f'    """Per-item (id, answer) pairs of {task}."""',
                f"    return runtime.process_results(__file__, {task!r}, doc, results)", ""]
        for i, m in enumerate(t["metrics"]):
            out += ["", f"def agg_{fn}_{i}(items):",
                    f'    """{task}: {m!r} by the official scorer."""',
                    f"    return runtime.aggregate(__file__, {task!r}, {m!r}, items)", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _clear_previous(out_dir: Path) -> None:
    """Remove what an earlier run wrote here (as its spec lists), so no stale task YAML names a
    helper function that no longer exists; a non-empty folder that is not ours is refused."""
    spec_path = out_dir / SPEC_NAME
    if spec_path.is_file():
        old = read_json(spec_path)
        for task in (old.get("tasks") or {}) if isinstance(old, dict) else {}:
            for p in (out_dir / f"{task}.yaml", out_dir / f"{task}.jsonl"):
                p.unlink(missing_ok=True)
            shutil.rmtree(out_dir / "images" / task, ignore_errors=True)
        if (out_dir / "images").is_dir() and not any((out_dir / "images").iterdir()):
            (out_dir / "images").rmdir()
        (out_dir / HELPER_NAME).unlink(missing_ok=True)
        spec_path.unlink()
    elif out_dir.is_dir() and any(out_dir.iterdir()):
        raise BadInput(f"{out_dir}: folder is not empty and holds no {SPEC_NAME}; give an empty or new folder")


def write_tasks(out_dir: Path, specs: Sequence[TaskSpec]) -> dict[str, dict[str, Any]]:
    """Write one lm-eval task per spec into `out_dir`; returns the spec of each task by name.

    Every data file is loaded (and scored with empty answers) first, so bad input fails
    before anything is written.
    """
    from harness.stages.predict import load_items, open_benchmark

    if not specs:
        raise BadInput("no benchmark data given (--data)")
    names = [s.task for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BadInput(f"task {dup[0]} is given twice; name one of them with --data {dup[0][len(TASK_PREFIX):]}/NAME=FILE")
    out_dir = Path(out_dir).resolve()
    loaded = []
    for s in specs:
        bench = open_benchmark(s.benchmark, s.split)
        items = load_items(bench, s.data, s.images)
        loaded.append((s, bench, items, _metric_names(bench, items, s.data)))
    _clear_previous(out_dir)
    tasks: dict[str, dict[str, Any]] = {}
    for s, bench, items, metrics in loaded:
        atomic_write_text(out_dir / f"{s.task}.jsonl", to_jsonl(_docs(s, items, out_dir)))
        # Benchmarks give every item the same budget; the largest keeps any mixture whole.
        max_new = max(it.max_new_tokens for it in items)
        atomic_write_text(out_dir / f"{s.task}.yaml", _yaml(s, out_dir, metrics, max_new, bench.higher_is_better))
        tasks[s.task] = {"benchmark": s.benchmark, "split": s.split, "data": [str(Path(p).resolve()) for p in s.data],
                         "images": str(Path(s.images).resolve()) if s.images else None, "metrics": metrics,
                         "items": len(items)}
    atomic_write_text(out_dir / HELPER_NAME, _helper(tasks))
    write_json(out_dir / SPEC_NAME, {"schema": SCHEMA, "tasks": tasks})
    return tasks
