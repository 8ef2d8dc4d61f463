"""Gold data: written from the complete ground truth of the embedded world.

The same phrasings as the language-only templates, but every attribute of every object is
known, so the data is correct and complete: the upper bound a generator could reach.
"""

from __future__ import annotations

import random

from generators import register_generator
from generators.base import GenerationContext, Generator
from generators.language_only import template_records
from harness.core.errors import MissingResource
from harness.core.records import GenerationRecord
from harness.world.qa import known_from_scene


@register_generator("gold")
class Gold(Generator):
    """Correct data from ground truth (embedded world only)."""

    name = "gold"
    needs_ground_truth = True
    data_types = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")

    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        """One record set per image from its `Scene`."""
        task = ctx.progress("gold data", len(ctx.images))
        out: list[GenerationRecord] = []
        for info in ctx.images:
            if info.scene is None:
                raise MissingResource(f"{info.file_name}: the gold generator needs ground-truth scenes "
                                      "(only the embedded world has them)")
            rng = random.Random(f"gold/{ctx.seed}/{info.image_id}")
            out.extend(template_records(info, known_from_scene(info.scene), ctx.data_types, rng, self.name,
                                        ctx.per_image))
            task.advance(1)
        task.close()
        return out
