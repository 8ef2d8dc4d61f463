"""Stage `data/<source part>`: run a generator over a world split, write LLaVA JSON + records."""

from __future__ import annotations

from typing import Any

from generators import GENERATORS
from generators.base import GenerationContext, to_llava
from harness.core.io import write_json, write_jsonl
from harness.stages.world import image_infos
from harness.stages.runner import StageContext
from harness.core.records import LLAVA_FILE, RECORDS_FILE

VERSION = 1


def run_generate(ctx: StageContext) -> dict[str, Any]:
    """Generate data for one split with one generator; count what did not parse."""
    c = ctx.config
    gen = GENERATORS.get(c["generator"])()
    infos = image_infos(ctx.input_path("world"), c["split"])
    gctx = GenerationContext(images=infos, data_types=c["data_types"], seed=c["seed"], per_image=c["per_image"],
                             progress=ctx.progress, options={"backend": c.get("backend", "template")})
    records = gen.generate(gctx)
    convs = to_llava(records)
    write_jsonl(ctx.out_dir / RECORDS_FILE, records)
    write_json(ctx.out_dir / LLAVA_FILE, [cv.model_dump(mode="json", by_alias=True) for cv in convs], indent=None)
    status: dict[str, int] = {}
    for r in records:
        status[r.parse_status] = status.get(r.parse_status, 0) + 1
    return {"records": len(records), "conversations": len(convs), "parse_status": status}
