"""`demo_count`: one counting question per image and data type, answered from the COCO boxes."""

from __future__ import annotations

from generators.base import GenerationContext, Generator
from harness.core.records import GenerationRecord


class CountGenerator(Generator):
    name = "demo_count"

    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        return [GenerationRecord(id=f"{info.image_id}-{dt}-{k}#0", image=info.file_name, generator=self.name,
                                 data_type=dt, prompt="count the boxes", raw_output="", parse_status="ok",
                                 question="How many objects are in the image?", answer=f"{len(info.boxes)}.")
                for info in ctx.images for dt in ctx.data_types for k in range(ctx.per_image)]
