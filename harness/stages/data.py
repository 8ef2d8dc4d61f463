"""Stage `data/<source part>`: run a generator over a world split, write LLaVA JSON + records."""

from __future__ import annotations

from typing import Literal, Sequence

from generators import GENERATORS
from generators.base import GenerationContext, to_llava
from harness.core.config import Section
from harness.core.io import write_json, write_jsonl
from harness.core.records import LLAVA_FILE, RECORDS_FILE, GenerationRecord, WorldLayout
from harness.stages.world import image_infos
from harness.stages.runner import StageContext, StageSpec

VERSION = 1


class GenerateConfig(Section):
    """A generator run over one world split."""

    generator: str
    backend: Literal["template", "chat"] = "template"
    data_types: tuple[str, ...]
    per_image: int
    split: str
    seed: int
    noise: float | None = None  # the noisy generator's share of corrupted answers (calibration parts)


class GenerateResult(Section):
    """Records made, conversations in the LLaVA file, and records per parse status."""

    records: int
    conversations: int
    parse_status: dict[str, int]


def run_generate(ctx: StageContext[GenerateConfig]) -> GenerateResult:
    """Generate data for one split with one generator; count what did not parse."""
    c = ctx.config
    gen = GENERATORS.get(c.generator)()
    world = ctx.input_path("world")
    # Scenes where the world has them (the gold generator reads them; the graph only runs it then).
    infos = image_infos(world, c.split, with_scenes=WorldLayout(world).scenes(c.split).is_file())
    gctx = GenerationContext(images=infos, data_types=c.data_types, seed=c.seed, per_image=c.per_image,
                             progress=ctx.progress,
                             options={"backend": c.backend, **({} if c.noise is None else {"noise": c.noise})})
    records = gen.generate(gctx)
    convs = to_llava(records)
    write_jsonl(ctx.out_dir / RECORDS_FILE, records)
    write_json(ctx.out_dir / LLAVA_FILE, [cv.model_dump(mode="json", by_alias=True) for cv in convs], indent=None)
    return GenerateResult(records=len(records), conversations=len(convs), parse_status=parse_counts(records))


def parse_counts(records: Sequence[GenerationRecord]) -> dict[str, int]:
    """Records per parse status, in order of first appearance."""
    status: dict[str, int] = {}
    for r in records:
        status[r.parse_status] = status.get(r.parse_status, 0) + 1
    return status


GENERATE = StageSpec("data", VERSION, run_generate, GenerateConfig, GenerateResult, inputs=("world",), cost=5)
