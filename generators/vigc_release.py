"""Reading the data that the VIGC repository's own generation writes (`vigc-bench convert-vigc`).

Not a generator that runs: the output of VIGC's generator, read into our `GenerationRecord`s so
that `quality`, `finetune` and a study (`data_files`) treat it like data we made. Two shapes,
both a JSON list of objects (JSON lines are accepted too):

- LLaVA-type VIG + VIC output (VIGC's `generate_llava_qa_*` runs): `image`, `image_id`,
  `instruction` (the VIG instruction, which names the data type), `question`,
  `original_answer` (the VIG answer), `answer_given_question` (the first VIC pass's whole
  answer), `answer` (the corrected answer, built sentence by sentence), optionally `answer_lst`
  and `whole_text`. A record without `question` is one whose VIG output did not parse.
- OK-VQA / A-OKVQA-type output: the question step writes `image`, `question`, `ori_answer`
  (the VIG answer); the answer step ("Question: {q} Short answer:") writes `image`,
  `image_id`, `question` and `answer` as a list of beam answers with their `weight`s. These are
  knowledge-VQA records; the answer is the highest-weighted beam. VIGC's formatted OK-VQA /
  A-OKVQA training files have the same shape with the annotators' answers and no weights: the
  most frequent answer is taken (so they convert into knowledge-VQA training data too).

Only the formats are learnt from the repository's output; nothing of its code is used.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import iter_jsonl_dicts, read_json
from harness.core.records import GenerationRecord

GENERATOR = "vigc_release"
# VIGC's VIG instructions (its LLaVA-150K tasks) and the data type each makes.
INSTRUCTION_TYPES = {
    "generate a question based on the content of the given image and then answer it.": "conversation",
    "generate a question to describe the image content in detail and then answer it.": "detail",
    "based on the given image, generate an in-depth reasoning question and then answer it.": "complex_reasoning",
}
KNOWLEDGE = "knowledge_vqa"


def _rows(path: Path) -> list[Any]:
    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    with path.open("rb") as f:
        head = f.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    doc = list(iter_jsonl_dicts(path)) if head == b"{" else read_json(path)
    if not isinstance(doc, list):
        raise BadInput(f"{path}: expected a JSON list of VIGC output records")
    if not doc:
        raise BadInput(f"{path}: no records")
    return doc


def _text(d: dict[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise BadInput(f"{where}: `{key}` must be a string, got {excerpt(v)}")
    return v.strip()


def _data_type(d: dict[str, Any], default: str | None, where: str) -> str:
    instruction = d.get("instruction")
    if isinstance(instruction, str):
        found = INSTRUCTION_TYPES.get(instruction.strip().lower())
        if found:
            return found
        if "knowledge" in instruction.lower() or "short answer" in instruction.lower():
            return KNOWLEDGE
    if default:
        return default
    raise BadInput(f"{where}: cannot tell the data type (no known VIGC `instruction`); give --data-type")


def _best_answer(d: dict[str, Any], where: str) -> str:
    """The answer of a knowledge record: the string, or the highest-weighted of the beam answers."""
    ans = d.get("answer")
    if isinstance(ans, str) or ans is None:
        return (ans or "").strip()
    if not isinstance(ans, list) or not all(isinstance(a, str) for a in ans):
        raise BadInput(f"{where}: `answer` must be a string or a list of strings")
    if not ans:
        return ""
    weights = d.get("weight")
    if isinstance(weights, list) and len(weights) == len(ans) and all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
        return ans[max(range(len(ans)), key=lambda i: weights[i])].strip()
    # No weights: annotators' answers (VIGC's formatted OK-VQA / A-OKVQA files keep all ten), so
    # the most frequent; distinct beam answers all count once, and the first wins.
    counts = Counter(a.strip() for a in ans)
    return max(counts, key=lambda a: counts[a])


def _record(d: Any, i: int, path: Path, data_type: str | None) -> GenerationRecord:
    where = f"{path}: record {i}"
    if not isinstance(d, dict):
        raise BadInput(f"{where}: expected an object")
    image = d.get("image", d.get("img_path"))
    if not isinstance(image, str) or not image.strip():
        raise BadInput(f"{where}: needs an `image` path")
    image_id = d.get("image_id")
    if image_id is not None and (isinstance(image_id, bool) or not isinstance(image_id, (int, str))):
        raise BadInput(f"{where}: `image_id` must be an integer or a string")
    question = _text(d, "question", where)
    knowledge = "original_answer" not in d and ("ori_answer" in d or isinstance(d.get("answer"), list))
    if knowledge:
        dt = data_type or KNOWLEDGE
        vig_answer = _text(d, "ori_answer", where)
        answer = _best_answer(d, where) or vig_answer  # the question step alone: the VIG answer is all there is
        steps: tuple[str, ...] = ()
        raw = f"Question: {question} Answer: {vig_answer}" if vig_answer else question
    else:
        dt = _data_type(d, data_type, where)
        vig_answer = _text(d, "original_answer", where)
        answer = _text(d, "answer", where)
        given = _text(d, "answer_given_question", where)
        lst = d.get("answer_lst")
        steps = tuple(s for s in lst if isinstance(s, str)) if isinstance(lst, list) and lst else \
            ((given,) if given else ())
        raw = _text(d, "whole_text", where) or f"Question: {question} Answer: {vig_answer}"
    status = "ok" if question and answer else "no_question" if not question else "no_answer"
    key = f"vigc-{image_id if image_id is not None else i}-{dt}-{i}"
    return GenerationRecord(id=f"{key}#0", image=image.strip(), generator=GENERATOR, data_type=dt,
                            prompt=_text(d, "instruction", where), raw_output=raw, parse_status=status,  # type: ignore[arg-type]
                            question=question, answer=answer, vig_answer=vig_answer, correction_steps=steps)


def read_vigc_output(path: str | Path, data_type: str | None = None) -> list[GenerationRecord]:
    """The records of one VIGC output file (either shape, detected per record), in file order.

    `data_type` names the type where the file does not (no known `instruction`). A file that is
    not such output is a `BadInput` naming it and the first bad record.
    """
    path = Path(path)
    return [_record(d, i, path, data_type) for i, d in enumerate(_rows(path))]
