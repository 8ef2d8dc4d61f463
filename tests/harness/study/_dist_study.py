"""A toy study of three stages run by `DistributedRunner`, for the torchrun test.

    python -m torch.distributed.run --nproc_per_node 2 _dist_study.py CACHE_DIR OUT_PREFIX

`world` and `report` run on rank 0 only; `train` is collective: every rank runs it, and it
sums a 1 over the ranks (a collective that would hang if a rank were missing). Each rank
writes what it saw to OUT_PREFIX.<rank>.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from harness.core.io import write_json  # noqa: E402
from harness.stages.runner import Stage, StageContext  # noqa: E402
from harness.training import distributed  # noqa: E402


def world(ctx: StageContext) -> dict[str, Any]:
    write_json(ctx.out_dir / "world.json", {"rank": distributed.active().rank})
    return {"rank": distributed.active().rank}


def train(ctx: StageContext) -> dict[str, Any]:
    ranks = distributed.sum_values([1.0])[0]
    write_json(ctx.out_dir / "model.json", {"rank": distributed.active().rank})
    return {"ranks": int(ranks), "rank": distributed.active().rank}


def report(ctx: StageContext) -> dict[str, Any]:
    return {"rank": distributed.active().rank, "trained_by": ctx.inputs["model"].meta["ranks"]}


def main(cache: str, prefix: str) -> None:
    from harness.study.distributed import DistributedRunner

    env = distributed.init()
    runner = DistributedRunner(Path(cache), env)
    w = runner.submit(Stage("world", 1, world, {"n": 1}))
    t = runner.submit(Stage("train", 1, train, {"steps": 2}, {"world": w}, collective=True))
    runner.submit(Stage("report", 1, report, {}, {"model": t}))
    seen = [{"name": o.name, "key": o.key, "path": str(o.path), "meta": o.meta, "cached": o.cached}
            for o in runner.history]
    Path(f"{prefix}.{env.rank}.json").write_text(json.dumps(seen))
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
