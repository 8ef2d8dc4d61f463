"""The `chat` backend of the language-only generator: an OpenAI-compatible chat endpoint.

As GPT-4 did for LLaVA-Instruct, the model is told what the captions and object boxes of an
image say and asked to write conversations, a detailed description or a reasoning question
as if it saw the image. HTTP goes through `harness.models.chat.ChatClient` (retries, rate
limit, disk cache): an endpoint that stays down stops the run (`ChatAPIError`); a reply that
stays malformed becomes one record with `parse_status="error"` and the run goes on, because one
bad item should be counted, not fatal. A reply that is well formed but not in the requested
format is recorded as `no_question` / `no_answer` / `empty`.
"""

from __future__ import annotations

import random
import re

from generators.base import GenerationContext, ImageInfo
from generators.templates import DETAIL_PROMPTS
from harness.core.errors import BadConfig
from harness.core.records import GenerationRecord
from harness.models.chat import ChatClient, ChatSettings, MalformedReplyError

GENERATOR = "language_only"

_PREAMBLE = (
    "You are an AI visual assistant looking at one image. You do not get the pixels: you get "
    "a few captions written by people who saw the image, and a list of the objects in it, each "
    "with its category and bounding box [x1, y1, x2, y2] in coordinates normalised to 0-1, "
    "(0, 0) being the top-left corner. Write as if you were looking at the image yourself: never "
    "mention captions, boxes, coordinates or annotations. Say only what the captions and boxes "
    "support; where they are silent (a colour no caption names, an action nobody describes), do "
    "not make it up."
)
_QA_FORMAT = "Question: <question>\nAnswer: <answer>"
SYSTEM_PROMPTS: dict[str, str] = {
    "conversation": _PREAMBLE + "\n\n"
    "Write a conversation between a person who asks about the image and you, who answer. Vary "
    "the questions: which objects are there, how many, where they are and how they are placed "
    "relative to one another, what is going on. Ask only what can be answered with confidence "
    "from the image. Answer in the tone of a helpful assistant who sees it, in one to three "
    "sentences. Write three to five exchanges, separated by a blank line, each exactly as\n"
    + _QA_FORMAT + "\nand nothing else.",
    "detail": _PREAMBLE + "\n\n"
    "Describe the image in rich detail: the main objects, how many there are, where they are in "
    "the picture and relative to each other, and what the scene as a whole shows. Give positions "
    "in words (left, upper right, centre), never as numbers. Write one or two paragraphs of "
    "plain prose, with no heading, list or label.",
    "complex_reasoning": _PREAMBLE + "\n\n"
    "Write one question about the image that takes reasoning beyond listing what is visible: why "
    "things are arranged as they are, what is likely to happen next, what the scene implies, or "
    "a judgement that draws on background knowledge. It must be answerable from the image and "
    "that knowledge. Then answer it with a careful explanation, step by step, grounded in what "
    "the image shows. Reply exactly as\n" + _QA_FORMAT + "\nand nothing else.",
    "knowledge_vqa": _PREAMBLE + "\n\n"
    "Write one question about an object in the image whose answer needs a common-sense or "
    "encyclopaedic fact that the image does not show, and answer it in one to three words. "
    "Reply exactly as\n" + _QA_FORMAT + "\nand nothing else.",
}

# A label at the start of a line: "Question:", "**Answer:**", "1. Question 2:", "- Answer:".
_LABEL = re.compile(r"^[ \t]*(?:\d+[.)][ \t]*|[-*][ \t]+)?(?:\*\*|__)?(question|answer)(?:[ \t]*\d+)?"
                    r"[ \t]*(?:\*\*|__)?[ \t]*:[ \t]*(?:\*\*|__)?[ \t]*", re.IGNORECASE | re.MULTILINE)
_DESCRIPTION_LABEL = re.compile(r"^\s*(?:\*\*|__)?(?:detailed )?description(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*",
                                re.IGNORECASE)


def format_annotations(info: ImageInfo) -> str:
    """Captions and boxes as the model reads them; boxes as [x1, y1, x2, y2] in 0-1, 3 decimals."""
    def corners(x: float, y: float, w: float, h: float) -> str:
        xs = (x / info.width, y / info.height, (x + w) / info.width, (y + h) / info.height)
        return "[" + ", ".join(f"{min(1.0, max(0.0, v)):.3f}" for v in xs) + "]"

    captions = [f"- {c.strip()}" for c in info.captions] or ["- (none)"]
    boxes = [f"- {b.category}: {corners(*b.bbox)}" for b in info.boxes] or ["- (none)"]
    return "\n".join(["Captions:", *captions, "", "Objects (category: [x1, y1, x2, y2]):", *boxes])


def _check_data_type(data_type: str) -> None:
    if data_type not in SYSTEM_PROMPTS:
        raise BadConfig(f"chat backend: unknown data type {data_type!r} (known: {', '.join(SYSTEM_PROMPTS)})")


def build_messages(info: ImageInfo, data_type: str, k: int = 0) -> list[dict[str, str]]:
    """The system and user messages for one (image, data type, sample k)."""
    _check_data_type(data_type)
    user = format_annotations(info)
    if k > 0:  # at temperature 0 an identical request gives an identical (and cached) reply
        user += f"\n\nThis is version {k + 1} for this image: choose different questions and wording."
    return [{"role": "system", "content": SYSTEM_PROMPTS[data_type]}, {"role": "user", "content": user}]


def parse_qa_pairs(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(parse_status, [(question, answer)]) of a "Question: ... / Answer: ..." reply.

    Status is "ok" with at least one complete pair, else "empty" / "no_answer" (a question
    without an answer) / "no_question" (no question label at all).
    """
    if not text.strip():
        return "empty", []
    marks = list(_LABEL.finditer(text))
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end():end].strip().strip("*_").strip()
        if m.group(1).lower() == "question":
            question = body or None
        elif question and body:
            pairs.append((question, body))
            question = None
    if pairs:
        return "ok", pairs
    has_question = any(m.group(1).lower() == "question" for m in marks)
    return ("no_answer" if has_question else "no_question"), []


def records_from_reply(info: ImageInfo, data_type: str, k: int, reply: str, prompt: str,
                       detail_question: str) -> list[GenerationRecord]:
    """One record per QA turn (id f"{image_id}-{data_type}-{k}#{turn}"), or one failed record."""
    base = f"{info.image_id}-{data_type}-{k}"
    if data_type == "detail":
        answer = _DESCRIPTION_LABEL.sub("", reply.strip(), count=1).strip()
        status, pairs = ("ok", [(detail_question, answer)]) if answer else ("empty", [])
    else:
        status, pairs = parse_qa_pairs(reply)
        if data_type != "conversation":
            pairs = pairs[:1]  # one question asked for: extra pairs are chatter
    common = dict(image=info.file_name, generator=GENERATOR, data_type=data_type, prompt=prompt, raw_output=reply)
    if status != "ok":
        return [GenerationRecord(id=f"{base}#0", parse_status=status, **common)]  # type: ignore[arg-type]
    return [GenerationRecord(id=f"{base}#{t}", parse_status="ok", question=q, answer=a, **common)  # type: ignore[arg-type]
            for t, (q, a) in enumerate(pairs)]


def chat_generate(ctx: GenerationContext, client: ChatClient | None = None) -> list[GenerationRecord]:
    """Language-only records from a chat endpoint, one request per (image, data type, sample).

    `client` defaults to one built from `ctx.options` (see `ChatSettings.from_options`). A
    `ChatAPIError` stops the run, but replies so far are cached, so a rerun resumes there.
    """
    for dt in ctx.data_types:  # before any request, so a typo costs nothing
        _check_data_type(dt)
    client = client or ChatClient(ChatSettings.from_options(ctx.options))
    task = ctx.progress("language-only data (chat)", len(ctx.images) * len(ctx.data_types) * ctx.per_image)
    out: list[GenerationRecord] = []
    try:
        for info in ctx.images:
            for dt in ctx.data_types:
                for k in range(ctx.per_image):
                    messages = build_messages(info, dt, k)
                    prompt = messages[1]["content"]
                    # The detail instruction is drawn, not sent: LLaVA pairs a sampled
                    # instruction with GPT's description, and the cache stays independent of it.
                    question = random.Random(f"{GENERATOR}-chat/{ctx.seed}/{info.image_id}/{k}").choice(DETAIL_PROMPTS)
                    try:
                        out.extend(records_from_reply(info, dt, k, client.complete(messages), prompt, question))
                    except MalformedReplyError as e:
                        out.append(GenerationRecord(id=f"{info.image_id}-{dt}-{k}#0", image=info.file_name,
                                                    generator=GENERATOR, data_type=dt, prompt=prompt,
                                                    raw_output=e.last_error, parse_status="error"))
                    task.advance(1)
    finally:
        task.close()
    return out
