"""The embedded world's LLaVA-Bench: 30 images x 3 questions, in LLaVA's file formats.

As LLaVA-Bench (COCO) asks about 30 COCO val images, one question of each category per image:
- `conv`: a simple question about what is visible (how many, which colour, where, is there a
  ..., which is bigger), answered in a sentence;
- `detail`: a request for a detailed description; the reference names the number of shapes,
  every object with its size, colour, shape and quadrant, and one clear-cut relation;
- `complex`: a question that takes a step of reasoning (what is left if some shapes are taken
  away, which shape is nearest a corner, which shapes have warm colours, which way one shape
  would move to reach another), answered with the facts the reasoning rests on.

References are written from the complete ground truth, in sentences that
`harness.world.claims` reads, and every reference states at least one checkable fact (the
ground-truth judge measures an answer against those facts). The context file holds the
world's COCO-style annotations (five captions and the instances with boxes normalised to 0-1,
x1 y1 x2 y2, three decimals, as LLaVA's context file), and `rule.json` one rule per category
(role `Assistant`; the prompts are this project's wording of what LLaVA's rules ask: scores of
helpfulness, relevance, accuracy and level of detail on 1-10, the two scores alone on the first
line). The scenes file is the ground truth the ground-truth judge reads.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.core.records import Scene, SceneObject
from harness.world.qa import (QA, Known, article, cap, known_from_scene, number, object_questions, qa_bigger,
                              qa_count, qa_count_shape, qa_exists, qa_most_shape, qa_relation, quadrant_of, refer,
                              relation)
from harness.world.spec import COLOUR_INFO, SHAPES

IMAGES = 30  # LLaVA-Bench (COCO): 30 images, 3 questions each
CAPTIONS = 5
FILES = {"questions": "world_llava_bench_questions.jsonl", "answers": "world_llava_bench_answers.jsonl",
         "context": "world_llava_bench_context.jsonl", "rule": "rule.json", "scenes": "world_llava_bench_scenes.jsonl"}

DETAIL_QUESTIONS = (
    "Describe the following image in detail.",
    "What do you see in this image? Describe it in detail.",
    "Give a detailed description of the picture.",
    "Explain what this image shows, in detail.",
)

_RULE_HEAD = ("Please give us your feedback on the answers of two AI assistants to the user's question above. "
              "The user asked the question while looking at an image. To stand in for the image, you are given "
              "five sentences that describe it and the bounding box of every object in it, written "
              "(x1, y1, x2, y2) with numbers from 0 to 1: the top left corner's x and y, then the bottom "
              "right corner's x and y.\n")
_RULE_TAIL = ("Rate the helpfulness, relevance, accuracy and level of detail of each answer. Give each assistant "
              "one overall score from 1 to 10; higher means better.\n"
              "On the first line, write only the two scores, Assistant 1's and then Assistant 2's, separated by "
              "a space. From the next line on, explain your evaluation without bias, and do not let the order "
              "in which the answers were shown affect your judgement.")
_RULE_FOCUS = {
    "conv": "The question is a simple one about what the image shows.\n",
    "detail": "The user asked for a detailed description of the image.\n",
    "complex": "The question needs reasoning about what the image shows.\n",
}


def rules() -> dict[str, dict[str, str]]:
    """The world's `rule.json`: category -> {role, prompt}."""
    return {c: {"role": "Assistant", "prompt": _RULE_HEAD + focus + _RULE_TAIL} for c, focus in _RULE_FOCUS.items()}


def pick_scenes(scenes: Sequence[Scene], seed: int, n: int = IMAGES) -> list[Scene]:
    """A seeded sample of `n` scenes (all when fewer), in image-id order."""
    if len(scenes) <= n:
        return sorted(scenes, key=lambda s: s.image_id)
    rng = random.Random(f"llava_bench/{seed}/images")
    return sorted(rng.sample(list(scenes), n), key=lambda s: s.image_id)


def describe(o: Known) -> str:
    """'the big red star': an object with every attribute the world has."""
    return f"the {o.size} {o.colour} {o.shape}"


def _a(o: Known) -> str:
    words = f"{o.size} {o.colour} {o.shape}"
    return f"{article(words)} {words}"


def _unique(objs: list[Known]) -> list[Known]:
    """Objects that their full description singles out."""
    return [o for o in objs if sum((p.shape, p.colour, p.size) == (o.shape, o.colour, o.size) for p in objs) == 1]


def _conversation_candidates(objs: list[Known], rng: random.Random) -> list[QA]:
    present = sorted({o.shape for o in objs})
    absent = [s for s in SHAPES if s not in present]
    out = [qa_count(objs, rng), qa_exists(objs, rng.choice(present), rng), qa_count_shape(objs, rng.choice(present), rng)]
    if absent:
        out.append(qa_exists(objs, rng.choice(absent), rng))
    out += [q for q in (qa_most_shape(objs, rng),) if q is not None]
    for o in objs:
        out += object_questions(o, objs, rng)
    refs = [(o, r) for o in objs if (r := refer(o, objs))]
    for a, ra in refs:
        for b, rb in refs:
            if a is not b:
                out += [q for q in (qa_relation(a, ra, b, rb, rng), qa_bigger(a, ra, b, rb, rng)) if q is not None]
    return out


def detail_answer(objs: list[Known]) -> str:
    """The reference description: the count, each object where it is, one clear relation."""
    n = len(objs)
    parts = [f"The image shows {number(n)} {'shape' if n == 1 else 'shapes'} on a white background."]
    for o in sorted(objs, key=lambda o: (o.cy >= 0.5, o.cx >= 0.5, o.cy, o.cx)):
        parts.append(f"In the {quadrant_of(o)} of the image there is {_a(o)}.")
    uniq = _unique(objs)
    for a in uniq:
        b = next((b for b in uniq if b is not a and relation(a, b) is not None), None)
        if b is not None:
            parts.append(f"{cap(describe(a))} is {relation(a, b)} {describe(b)}.")
            break
    return " ".join(parts)


def _remove(objs: list[Known], rng: random.Random) -> tuple[str, str] | None:
    shape = rng.choice(sorted({o.shape for o in objs}))
    k, n = sum(o.shape == shape for o in objs), len(objs)
    left = n - k
    noun = shape if k == 1 else SHAPES[shape].plural
    return (f"If all the {SHAPES[shape].plural} were taken away, how many shapes would be left?",
            f"There {'is' if k == 1 else 'are'} {number(k)} {noun} among the {number(n)} shapes in the image, so "
            f"{number(left)} {'shape' if left == 1 else 'shapes'} would be left.")


def _corner(objs: list[Known], rng: random.Random) -> tuple[str, str] | None:
    corner = rng.choice(("top left", "top right", "bottom left", "bottom right"))
    tx, ty = (0.0 if "left" in corner else 1.0), (0.0 if "top" in corner else 1.0)
    dist = sorted(((o.cx - tx) ** 2 + (o.cy - ty) ** 2, i) for i, o in enumerate(objs))
    if len(dist) > 1 and dist[1][0] - dist[0][0] < 0.01:  # a near tie: no clear answer
        return None
    o = objs[dist[0][1]]
    if o not in _unique(objs):
        return None
    return (f"Which object is closest to the {corner} corner of the image, and where is it?",
            f"The shape closest to the {corner} corner is {describe(o)} in the {quadrant_of(o)} of the image.")


def _warm(objs: list[Known], rng: random.Random) -> tuple[str, str] | None:
    warm = [o for o in objs if o.colour is not None and COLOUR_INFO[o.colour].warm]
    q = "Is there anything in a warm colour in the image? Explain."
    if not warm:
        listed = " and ".join(_a(o) for o in objs)
        return q, f"No. The image shows {listed}, and every one of them is in a cool colour."
    names = sorted({str(o.colour) for o in warm})
    colours = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    listed = " and ".join(describe(o) for o in warm)
    verb = "is" if len(warm) == 1 else "are"
    return q, f"Yes. {cap(listed)} {verb} in warm colours: {colours} {'is a warm colour' if len(names) == 1 else 'are warm colours'}."


def _move(objs: list[Known], rng: random.Random) -> tuple[str, str] | None:
    uniq = _unique(objs)
    pairs = [(a, b) for a in uniq for b in uniq if a is not b and relation(a, b) is not None]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    rel = str(relation(a, b))
    way = {"to the left of": "right", "to the right of": "left", "above": "down", "below": "up"}[rel]
    return (f"If {describe(a)} moved straight towards {describe(b)}, which way would it go?",
            f"{cap(describe(a))} is {rel} {describe(b)}, so it would move {way}.")


COMPLEX: tuple[Callable[[list[Known], random.Random], tuple[str, str] | None], ...] = (_remove, _corner, _warm, _move)


def _checkable(answer: str, question: str, scene: Scene) -> bool:
    """Whether the answer states at least one fact the claims reader can check, all of them true."""
    from harness.world.claims import check_answer

    verdicts = [c.verdict for c in check_answer(answer, question, scene).claims if c.verdict is not None]
    return bool(verdicts) and all(verdicts)


def image_questions(scene: Scene, seed: int) -> list[tuple[str, str, str]]:
    """(category, question, reference answer) for one image: conv, detail, complex."""
    rng = random.Random(f"llava_bench/{seed}/{scene.image_id}")
    objs = known_from_scene(scene)
    convs = [q for q in _conversation_candidates(objs, rng) if _checkable(q.answer, q.question, scene)]
    conv = rng.choice(convs)
    detail = (rng.choice(DETAIL_QUESTIONS), detail_answer(objs))
    kinds = list(COMPLEX)
    rng.shuffle(kinds)
    complex_qa = next(qa for k in kinds if (qa := k(objs, rng)) is not None and _checkable(qa[1], qa[0], scene))
    return [("conv", conv.question, conv.answer), ("detail", *detail), ("complex", *complex_qa)]


def _context(scene: Scene, captions: list[str]) -> dict[str, Any]:
    def box(o: SceneObject) -> list[float]:
        x, y, w, h = o.bbox
        return [round(min(1.0, max(0.0, v)), 3) for v in (x / scene.width, y / scene.height, (x + w) / scene.width,
                                                           (y + h) / scene.height)]

    return {"id": str(scene.image_id), "image": scene.file_name, "captions": captions,
            "instances": [{"category": o.shape, "bbox": box(o)} for o in scene.objects]}


def write_files(scenes: Sequence[Scene], out_dir: Path, seed: int) -> list[Path]:
    """Write the five files (questions, reference answers, context, rule.json, scenes) into
    `out_dir`; returns their paths in that order."""
    from harness.core.io import to_jsonl, atomic_write_text, write_json
    from harness.world.captions import make_captions

    picked = pick_scenes(scenes, seed)
    questions, answers, context = [], [], []
    for s in picked:
        for category, question, answer in image_questions(s, seed):
            qid = len(questions)
            questions.append({"question_id": qid, "image": s.file_name, "text": question, "category": category})
            answers.append({"question_id": qid, "text": answer, "category": category})
        context.append(_context(s, make_captions(s, seed, CAPTIONS)))
    paths = {k: Path(out_dir) / name for k, name in FILES.items()}
    atomic_write_text(paths["questions"], to_jsonl(questions))
    atomic_write_text(paths["answers"], to_jsonl(answers))
    atomic_write_text(paths["context"], to_jsonl(context))
    write_json(paths["rule"], rules())
    atomic_write_text(paths["scenes"], to_jsonl(picked))
    return [paths[k] for k in ("questions", "answers", "context", "rule", "scenes")]
