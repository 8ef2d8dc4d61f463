"""The LLaVA-style generator: language only, it sees captions and boxes, never pixels.

As GPT-4 did for LLaVA-Instruct, it writes conversations, detailed descriptions and
complex-reasoning answers from the COCO annotations of an image. It knows every object's
category and box, but an object's colour only when a caption states it; so it leaves out
what the captions leave out, as annotation-only generators do on COCO.

Backends: `template` (default: deterministic, offline) and `chat` (an OpenAI-compatible
endpoint, for users who have one; see `generators/language_chat.py`).
"""

from __future__ import annotations

import random
import re
from typing import Sequence

from generators import register_generator
from generators.base import Box, GenerationContext, Generator, ImageInfo
from generators.templates import conversation_qas, detail_description, reasoning_qa, knowledge_qa, DETAIL_PROMPTS
from harness.core.records import GenerationRecord
from harness.world.qa import Known, size_class
from harness.world.spec import COLOURS, all_object_words

_WORD = re.compile(r"[a-z]+")


def known_from_annotations(info: ImageInfo) -> list[Known]:
    """What captions and boxes tell: every box's category, size and place; a colour only
    where a caption puts a colour word right before the name of a category that has a
    single box in the image (otherwise the colour cannot be tied to one object)."""
    names = all_object_words()
    per_cat: dict[str, int] = {}
    for b in info.boxes:
        per_cat[b.category] = per_cat.get(b.category, 0) + 1
    colour_of: dict[str, str] = {}
    for cap in info.captions:
        words = _WORD.findall(cap.lower())
        for i, w in enumerate(words[:-1]):
            nxt = words[i + 1]
            if w in COLOURS and nxt in names and per_cat.get(names[nxt]) == 1:
                colour_of.setdefault(names[nxt], w)
    out = []
    for b in info.boxes:
        x, y, w, h = b.bbox
        out.append(Known(b.category, size_class(w, info.width), (x + w / 2) / info.width, (y + h / 2) / info.height,
                         colour_of.get(b.category)))
    return out


def template_records(info: ImageInfo, objs: Sequence[Known], data_types: Sequence[str], rng: random.Random,
                     generator: str, per_image: int = 1, captions: Sequence[str] = ()) -> list[GenerationRecord]:
    """Records for one image from what is known of it (shared by the template and gold generators)."""
    recs: list[GenerationRecord] = []
    for dt in data_types:
        for k in range(per_image):
            base = f"{info.image_id}-{dt}-{k}"
            if dt == "conversation":
                qas = conversation_qas(list(objs), rng)
            elif dt == "detail":
                qas = [(rng.choice(DETAIL_PROMPTS), detail_description(list(objs), rng))]
            elif dt == "complex_reasoning":
                qas = [reasoning_qa(list(objs), rng)]
            elif dt == "knowledge_vqa":
                qas = [knowledge_qa(list(objs), rng)]
            else:
                raise ValueError(f"unknown data type {dt!r}")
            for t, (q, a) in enumerate(qa for qa in qas if qa is not None):
                recs.append(GenerationRecord(id=f"{base}#{t}", image=info.file_name, generator=generator, data_type=dt,
                                             prompt=f"template:{dt}", raw_output=a, parse_status="ok", question=q,
                                             answer=a))
    return recs


@register_generator("language_only")
class LanguageOnly(Generator):
    """LLaVA-style data from captions and boxes (template or chat backend)."""

    name = "language_only"
    reads_pixels = False

    def generate(self, ctx: GenerationContext) -> list[GenerationRecord]:
        """Template backend unless `ctx.options['backend'] == 'chat'`."""
        backend = ctx.options.get("backend", "template")
        if backend == "chat":
            from generators.language_chat import chat_generate

            return chat_generate(ctx)
        task = ctx.progress("language-only data", len(ctx.images))
        out: list[GenerationRecord] = []
        for info in ctx.images:
            rng = random.Random(f"language_only/{ctx.seed}/{info.image_id}")
            out.extend(template_records(info, known_from_annotations(info), ctx.data_types, rng, self.name,
                                        ctx.per_image, info.captions))
            task.advance(1)
        task.close()
        return out


def boxes_from_coco(instances: dict) -> dict[int, tuple[Box, ...]]:
    """COCO instances JSON to boxes per image id (category names resolved)."""
    cats = {c["id"]: c["name"] for c in instances.get("categories", [])}
    out: dict[int, list[Box]] = {}
    for a in instances.get("annotations", []):
        out.setdefault(a["image_id"], []).append(Box(cats[a["category_id"]], tuple(a["bbox"])))  # type: ignore[arg-type]
    return {k: tuple(v) for k, v in out.items()}
