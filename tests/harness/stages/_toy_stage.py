"""A toy resumable stage, run as a subprocess by the kill -9 test in test_stages.py.

    python _toy_stage.py CACHE_DIR UNITS SLEEP_SECONDS [JOBS]

It does UNITS units of order-dependent work, checkpointing (next unit, accumulated value)
atomically into `resume_dir(ctx)` after each one, then writes `result.json`. It prints one
JSON object: the stage's key, path, whether it was cached, its meta and the result. The sleep
is not part of the stage config (it does not change the output), so runs with different
sleeps share a cache key; it travels in the environment, which a worker process inherits.
With JOBS > 1 the stage runs in a worker process of a `ParallelRunner`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from harness.core.io import read_json, write_json
from harness.stages.runner import Runner, Stage, StageContext, resume_dir


def unit(value: int, i: int) -> int:
    """One unit of work; depends on order, so a skipped or repeated unit changes the result."""
    return (value * 31 + i * i + 7) % 1_000_003


def count(ctx: StageContext) -> dict[str, Any]:
    ckpt = resume_dir(ctx) / "ckpt.json"
    state = read_json(ckpt) if ckpt.is_file() else {"next": 0, "value": 1}
    start = state["next"]
    value = state["value"]
    sleep = float(os.environ.get("TOY_SLEEP", "0"))
    for i in range(start, ctx.config["units"]):
        value = unit(value, i)
        write_json(ckpt, {"next": i + 1, "value": value})
        time.sleep(sleep)
    write_json(ctx.out_dir / "result.json", {"value": value})
    return {"started_from": start, "units_done": ctx.config["units"] - start}


def main(argv: list[str]) -> None:
    cache, units = Path(argv[0]), int(argv[1])
    os.environ["TOY_SLEEP"] = argv[2]
    jobs = int(argv[3]) if len(argv) > 3 else 1
    if jobs > 1:
        from harness.study.parallel import ParallelRunner

        runner: Runner = ParallelRunner(cache, jobs=jobs)
    else:
        runner = Runner(cache)
    try:
        out = runner.run(Stage("toy/count", 1, count, {"units": units}))
    finally:
        runner.close()
    result = json.loads((out.path / "result.json").read_text(encoding="utf-8"))
    print(json.dumps({"key": out.key, "path": str(out.path), "cached": out.cached, "meta": out.meta,
                      "result": result}))


if __name__ == "__main__":
    main(sys.argv[1:])
