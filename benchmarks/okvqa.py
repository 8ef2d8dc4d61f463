"""OK-VQA: open questions that need outside knowledge, scored by the official VQA accuracy.

Files are the official VQA format: a questions JSON `{"questions": [{"image_id", "question",
"question_id"}], "data_subtype", ...}` and an annotations JSON `{"annotations": [{"question_id",
"image_id", "answers": [{"answer", "answer_id", ...}], "answer_type", "question_type"}]}`, given
to `--data` in either order (each is recognised by its top-level key). The embedded world writes
`OpenEnded_world_<split>_questions.json` and `world_<split>_annotations.json` the same way;
its questions carry one extra key, `image` (the file under the image root), since world image
names do not follow COCO's. Without it an image is `<root>/<data_subtype>/COCO_<data_subtype>_
<image_id:012d>.jpg`, the COCO layout the official files assume (OK-VQA: val2014).

Predictions are VQA results, a JSON list `[{"question_id", "answer"}]`. Scoring is
`vqa_eval` (the official script, quirks included). Differences, both about inputs the official
script refuses with a bare assertion: a question without a prediction scores 0 and is counted
in `notes["missing"]` rather than aborting, and a duplicate or unknown question id is a
`BadInput` naming the prediction file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from benchmarks import register_benchmark
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from benchmarks.vqa_eval import VqaOutcome, VqaScorer, aggregate_columns, aggregate_vqa
from harness.core.errors import BadInput, excerpt
from harness.core.io import gc_paused, read_json, write_json
from harness.core.records import Scene
from harness.world.qa import Known, article, known_from_scene, number, quadrant_of, refer
from harness.world.spec import COLOUR_INFO, NUMBER_WORDS, SHAPES

PROMPT_SUFFIX = "Answer the question using a single word or phrase."
ANSWERS_PER_QUESTION = 10
QUESTIONS_PER_IMAGE = 2
UNANIMOUS_SHARE = 0.15  # share of world questions on which all ten annotators agree verbatim
DEFAULT_SUBTYPE = "val2014"  # OK-VQA's images: COCO val2014

# Plausible wrong answers an annotator gives to "what is it a symbol of" (disagreement, not noise).
_SYMBOL_ALTERNATIVES = {"the sun": "sunshine", "a window": "house", "a mountain": "hill", "the night sky": "night",
                        "love": "romance", "first aid": "hospital", "a gem": "jewel", "a beehive": "bee"}
_MIXES = ("red and yellow", "blue and yellow", "red and blue", "black and white")


@dataclass(frozen=True)
class KnowledgeQuestion:
    """A world question whose answer needs the image and a fact from the knowledge base."""

    kind: str  # sides, corners, symbol, more_sides, thing, warm, mix
    question: str
    answer: str  # what most annotators write
    variants: tuple[str, ...]  # other spellings with the same VQA-normalized answer
    alternatives: tuple[str, ...]  # answers some annotators give instead (different after normalization)
    answer_type: str  # VQA answer type: "number" or "other"
    question_type: str  # knowledge category: geometry, symbols or colour
    pool: tuple[str, ...]  # every option of this kind (answer included), for multiple choice
    seen: str  # what the image shows, as a sentence (for rationales)
    fact: str  # the knowledge-base fact the answer follows from


def bare(text: str) -> str:
    """`text` without a leading article ('the sun' -> 'sun')."""
    head, _, rest = text.partition(" ")
    return rest if head.lower() in ("a", "an", "the") and rest else text


def _number_spellings(n: int, unit: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(variants, alternatives) of a count: number words normalize to digits only up to ten."""
    variants = [f"{n}."] + ([NUMBER_WORDS[n], NUMBER_WORDS[n].capitalize()] if n < len(NUMBER_WORDS) else [])
    if n == 0:
        variants.append("none")  # the official map sends "none" to "0"
    alternatives = [f"{n} {unit}{'' if n == 1 else 's'}", str(n + 1)] + ([str(n - 1)] if n > 0 else [])
    if n == 12:
        alternatives.append("twelve")  # not in the official number map: a different answer
    return tuple(variants), tuple(alternatives)


def _spellings(text: str, with_article: bool = False) -> tuple[str, ...]:
    """Variants of an answer phrase that differ only in case, a final period or an article.

    All of them normalize (VQA rules) to the same string as `text`.
    """
    out = [text[:1].upper() + text[1:], f"{text}."]
    b = bare(text)
    if b != text:
        out += [b, b[:1].upper() + b[1:]]
    elif with_article:
        out.append(f"{article(text)} {text}")
    return tuple(dict.fromkeys(out))


def _shape_refs(o: Known, objs: list[Known]) -> list[str]:
    """Ways to point at `o` without naming its shape: its colour or its quadrant, when unique."""
    refs = []
    if o.colour is not None and sum(p.colour == o.colour for p in objs) == 1:
        refs.append(f"the {o.colour} shape")
    q = quadrant_of(o)
    if sum(quadrant_of(p) == q for p in objs) == 1:
        refs.append(f"the shape in the {q}")
    return refs


def _colour_refs(o: Known, objs: list[Known]) -> list[str]:
    """Ways to point at `o` without naming its colour: shape (and size), or its quadrant."""
    refs = [r] if (r := refer(o, objs, avoid="colour")) else []
    q = quadrant_of(o)
    if sum(quadrant_of(p) == q for p in objs) == 1:
        refs.append(f"the shape in the {q}")
    return refs


def _shape_question(kind: str, o: Known, ref: str, rng: random.Random) -> KnowledgeQuestion | None:
    """A question about the shape of the object `ref` points at (its shape must be seen)."""
    s = SHAPES[o.shape]
    seen = f"{ref[:1].upper() + ref[1:]} is {article(s.name)} {s.name}."
    if kind in ("sides", "corners"):
        n = s.sides if kind == "sides" else s.corners
        values = sorted({getattr(x, kind) for x in SHAPES.values()})
        variants, alternatives = _number_spellings(n, kind[:-1])
        fact = f"{article(s.name).capitalize()} {s.name} has {number(n)} {kind if n != 1 else kind[:-1]}."
        return KnowledgeQuestion(kind, f"How many {kind} does {ref} have?", str(n), variants, alternatives, "number",
                                 "geometry", tuple(map(str, values)), seen, fact)
    if kind == "symbol":
        fact = f"{article(s.name).capitalize()} {s.name} is often a symbol of {s.symbol_of}."
        return KnowledgeQuestion(kind, f"What is {ref} often a symbol of?", s.symbol_of,
                                 _spellings(s.symbol_of), (_SYMBOL_ALTERNATIVES[s.symbol_of], s.name), "other",
                                 "symbols", tuple(x.symbol_of for x in SHAPES.values()), seen, fact)
    # more_sides: a unique shape with k more sides than this one
    by_sides: dict[int, list[str]] = {}
    for x in SHAPES.values():
        by_sides.setdefault(x.sides, []).append(x.name)
    ks = [n - s.sides for n, names in sorted(by_sides.items()) if n > s.sides and len(names) == 1 and s.sides > 0]
    if not ks:
        return None
    k = rng.choice(ks)
    t = SHAPES[by_sides[s.sides + k][0]]
    fact = f"{article(s.name).capitalize()} {s.name} has {number(s.sides)} sides and {article(t.name)} {t.name} has " \
           f"{number(t.sides)}."
    return KnowledgeQuestion(kind, f"What do you call a shape with {number(k)} more sides than {ref}?", t.name,
                             _spellings(t.name, with_article=True), (t.synonyms[0], t.plural), "other", "geometry",
                             tuple(SHAPES), seen, fact)


def _colour_question(kind: str, o: Known, ref: str) -> KnowledgeQuestion | None:
    """A question about the colour of the object `ref` points at (its colour must be seen)."""
    assert o.colour is not None
    c = COLOUR_INFO[o.colour]
    seen = f"{ref[:1].upper() + ref[1:]} is {c.name}."
    if kind == "thing":
        things = tuple(x.thing for x in COLOUR_INFO.values())
        alts = tuple(dict.fromkeys(a for a in (bare(c.thing).replace(" ", ""), c.name) if a != bare(c.thing)))
        return KnowledgeQuestion(kind, f"Name something that has the same colour as {ref}.", c.thing,
                                 _spellings(c.thing), alts, "other", "colour", things, seen,
                                 f"{c.thing[:1].upper() + c.thing[1:]} is {c.name}.")
    if kind == "warm":
        w = "warm" if c.warm else "cool"
        return KnowledgeQuestion(kind, f"Is the colour of {ref} warm or cool?", w, (w.capitalize(), f"{w}."),
                                 (f"{w} colour", "hot" if c.warm else "cold"), "other", "colour",
                                 ("warm", "cool", "neither", "both"), seen, f"{c.name.capitalize()} is a {w} colour.")
    if c.mix is None:
        return None
    a, b = c.mix
    ans = f"{a} and {b}"
    return KnowledgeQuestion(kind, f"Which two colours make the colour of {ref}?", ans,
                             (ans.capitalize(), f"{ans}."), (f"{b} and {a}", f"{a}, {b}"), "other", "colour", _MIXES,
                             seen, f"Mixing {a} and {b} makes {c.name}.")


def knowledge_questions(scene: Scene, rng: random.Random, limit: int = QUESTIONS_PER_IMAGE) -> list[KnowledgeQuestion]:
    """Up to `limit` questions of different kinds about one scene, each needing the image.

    Shape questions point at an object by colour or position (never by shape) and colour
    questions by shape or position (never by colour), so the text alone does not answer them.
    """
    objs = known_from_scene(scene)
    candidates: list[tuple[str, Known, str]] = []
    for o in objs:
        for ref in _shape_refs(o, objs):
            candidates += [(k, o, ref) for k in ("sides", "corners", "symbol", "more_sides")]
        for ref in _colour_refs(o, objs):
            candidates += [(k, o, ref) for k in ("thing", "warm", "mix")]
    rng.shuffle(candidates)
    out: list[KnowledgeQuestion] = []
    for kind, o, ref in candidates:
        if len(out) >= limit:
            break
        if any(q.kind == kind for q in out):
            continue
        q = _colour_question(kind, o, ref) if kind in ("thing", "warm", "mix") else _shape_question(kind, o, ref, rng)
        if q is not None:
            out.append(q)
    return out


def annotator_answers(q: KnowledgeQuestion, rng: random.Random) -> list[str]:
    """Ten raw answers with natural disagreement; `q.answer` is always the strict mode.

    At most six answers are variants or alternatives, so the main answer appears at least
    four times: predicting it scores 1 under every leave-one-out subset.
    """
    if rng.random() < UNANIMOUS_SHARE:
        return [q.answer] * ANSWERS_PER_QUESTION
    n_alt = rng.choice((0, 1, 1, 2, 2, 3))
    n_var = rng.randint(0, 3)
    answers = [q.answer] * (ANSWERS_PER_QUESTION - n_alt - n_var)
    answers += [rng.choice(q.variants) for _ in range(n_var)] + [rng.choice(q.alternatives) for _ in range(n_alt)]
    rng.shuffle(answers)
    return answers


def build_files(scenes: Sequence[Scene], seed: int, subtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (questions, annotations) documents of the world's OK-VQA split `subtype`."""
    questions, annotations = [], []
    for s in scenes:
        rng = random.Random(f"okvqa/{seed}/{s.image_id}")
        for k, q in enumerate(knowledge_questions(s, rng)):
            qid = s.image_id * 10 + k
            questions.append({"image_id": s.image_id, "question": q.question, "question_id": qid, "image": s.file_name})
            answers = [{"answer_id": i + 1, "raw_answer": a, "answer_confidence": "yes", "answer": a}
                       for i, a in enumerate(annotator_answers(q, rng))]
            annotations.append({"image_id": s.image_id, "answer_type": q.answer_type, "question_type": q.question_type,
                                "question_id": qid, "answers": answers, "confidence": 3})
    info = {"description": "vigc-bench embedded world, OK-VQA format"}
    head = {"info": info, "license": {"name": "generated"}, "data_subtype": subtype}
    return ({**head, "task_type": "Open-Ended", "data_type": "world", "questions": questions},
            {**head, "data_type": "world", "annotations": annotations})


# --- reading the official files --------------------------------------------------------------


def is_int(x: Any) -> bool:
    """An integer that is not a bool (JSON true would pass isinstance(x, int))."""
    return isinstance(x, int) and not isinstance(x, bool)


def _check_fields(path: Path, what: str, n: int, d: Any, fields: dict[str, type]) -> None:
    """`d` is an object with each field of the given type, else `BadInput` naming the file."""
    if not isinstance(d, dict):
        raise BadInput(f"{path}: {what} {n} is not a JSON object")
    for key, typ in fields.items():
        if key not in d:
            raise BadInput(f"{path}: {what} {n} has no {key!r} field")
        ok = is_int(d[key]) if typ is int else isinstance(d[key], typ)
        if not ok:
            raise BadInput(f"{path}: {what} {n}: {key!r} must be {typ.__name__}, got {excerpt(d[key])}")


def _well_formed(rows: list[Any], fields: dict[str, type]) -> bool:
    """Whether every row is a dict whose fields have exactly the given JSON types, ids unique.

    Column by column, so 100k rows cost milliseconds; when it says no, the row-by-row check
    finds the first bad row and names it.
    """
    if not set(map(type, rows)) <= {dict}:
        return False
    for key, typ in fields.items():
        try:
            column = [d[key] for d in rows]
        except KeyError:
            return False
        if not set(map(type, column)) <= {typ}:  # exact types: a JSON true is not an int
            return False
        if key == "question_id" and len(set(column)) != len(column):
            return False
    return True


def _rows(path: Path, doc: Any, key: str, fields: dict[str, type]) -> list[dict[str, Any]]:
    """The checked `key` list of a VQA-format document; question ids must be unique."""
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise BadInput(f"{path}: expected a JSON object with a {key!r} list (VQA format)")
    rows = doc[key]
    if _well_formed(rows, fields):
        return rows
    seen: set[int] = set()
    for n, d in enumerate(rows, 1):
        _check_fields(path, key[:-1], n, d, fields)
        if d["question_id"] in seen:
            raise BadInput(f"{path}: question_id {excerpt(d['question_id'])} occurs twice")
        seen.add(d["question_id"])
    return rows


_QUESTION_FIELDS = {"image_id": int, "question": str, "question_id": int}
_ANNOTATION_FIELDS = {"question_id": int, "image_id": int, "answers": list, "answer_type": str, "question_type": str}


@dataclass(frozen=True)
class VqaFiles:
    """The official files given to `--data`: questions, and annotations where given."""

    questions_path: Path
    questions_doc: dict[str, Any]
    annotations_path: Path | None
    annotations_doc: dict[str, Any] | None


def read_files(data: Sequence[Path]) -> VqaFiles:
    """Read `--data`: one questions JSON and at most one annotations JSON, told apart by their
    top-level key ('questions' / 'annotations'), in either order."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in map(Path, data):
        doc = read_json(path)
        key = next((k for k in ("questions", "annotations") if isinstance(doc, dict) and k in doc), None)
        if key is None or key in found:
            raise BadInput(f"{path}: expected one VQA questions JSON (a 'questions' list) and one annotations "
                           "JSON (an 'annotations' list)")
        found[key] = (path, doc)
    if "questions" not in found:
        raise BadInput(f"{', '.join(map(str, data)) or '--data'}: no VQA questions JSON among the data files")
    ann = found.get("annotations")
    return VqaFiles(*found["questions"], ann[0] if ann else None, ann[1] if ann else None)


def read_questions(files: VqaFiles) -> list[dict[str, Any]]:
    """The checked question list (image_id, question, question_id; ids unique)."""
    return _rows(files.questions_path, files.questions_doc, "questions", _QUESTION_FIELDS)


def _answers_well_formed(anns: list[dict[str, Any]]) -> bool:
    """Whether every annotation has a non-empty list of dicts with 'answer' strings (fast path:
    when it says no, `read_annotations` names the first bad one)."""
    try:
        texts = [x["answer"] for a in anns for x in a["answers"]]
    except (KeyError, TypeError):  # an answer that is not a dict, or has no 'answer'
        return False
    return all(a["answers"] for a in anns) and set(map(type, texts)) <= {str}


def read_annotations(files: VqaFiles) -> list[dict[str, Any]]:
    """The checked annotation list: non-empty answer dicts with 'answer' strings, ids among the questions."""
    path = files.annotations_path
    if path is None:
        raise BadInput(f"{files.questions_path}: scoring needs the annotations JSON too (pass both files to --data)")
    question_ids = {q["question_id"] for q in read_questions(files)}
    anns = _rows(path, files.annotations_doc, "annotations", _ANNOTATION_FIELDS)
    if _answers_well_formed(anns) and question_ids.issuperset(a["question_id"] for a in anns):
        return anns
    for n, a in enumerate(anns, 1):
        if not a["answers"]:
            raise BadInput(f"{path}: annotation {n} (question_id {excerpt(a['question_id'])}) has no answers")
        for ans in a["answers"]:
            if not isinstance(ans, dict) or not isinstance(ans.get("answer"), str):
                raise BadInput(f"{path}: annotation {n} (question_id {excerpt(a['question_id'])}): every answer needs an "
                               "'answer' string")
        if a["question_id"] not in question_ids:
            raise BadInput(f"{path}: annotation {n}: question_id {excerpt(a['question_id'])} is not in the questions file")
    return anns


def read_results(path: Path) -> dict[int, str]:
    """question_id -> answer of a VQA results file (a JSON list of {"question_id", "answer"})."""
    rows = read_json(path)
    if not isinstance(rows, list):
        raise BadInput(f"{path}: expected a JSON list of {{\"question_id\", \"answer\"}} objects (VQA results)")
    fields = {"question_id": int, "answer": str}
    if _well_formed(rows, fields):
        return {d["question_id"]: d["answer"] for d in rows}
    preds: dict[int, str] = {}
    for n, d in enumerate(rows, 1):
        _check_fields(path, "prediction", n, d, fields)
        if d["question_id"] in preds:
            raise BadInput(f"{path}: question_id {d['question_id']} is predicted twice")
        preds[d["question_id"]] = d["answer"]
    return preds


@register_benchmark("okvqa")
class OKVQA(Benchmark[VqaOutcome]):
    """OK-VQA with the official VQA files and accuracy. Primary metric: accuracy (0-100)."""

    name = "okvqa"
    primary_metric = "accuracy"
    higher_is_better = True
    splits = ("val",)
    protocol = "official"

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write the questions and annotations JSON per split; `image` is each scene's path under `image_root`."""
        out: dict[str, list[Path]] = {}
        for split in self.splits:
            questions, annotations = build_files(scenes, seed, split)
            qpath = Path(out_dir) / f"OpenEnded_world_{split}_questions.json"
            apath = Path(out_dir) / f"world_{split}_annotations.json"
            write_json(qpath, questions, indent=None)
            write_json(apath, annotations, indent=None)
            out[split] = [qpath, apath]
        return out

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per question (file order); the annotations file is optional here."""
        files = read_files(data)
        root = Path(image_root) if image_root is not None else files.questions_path.parent
        subtype = str(files.questions_doc.get("data_subtype", DEFAULT_SUBTYPE))
        items = []
        for q in read_questions(files):
            image = q.get("image")
            if isinstance(image, str):
                path = root / image
            else:
                path = root / subtype / f"COCO_{subtype}_{q['image_id']:012d}.jpg"
            items.append(BenchItem(id=str(q["question_id"]), prompt=f"{q['question']}\n{PROMPT_SUFFIX}",
                                   image=str(path), max_new_tokens=16))
        return items

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """VQA results JSON `[{"question_id": int, "answer": str}]`, answers as the model wrote them."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        write_json(out, [{"question_id": int(i.id), "answer": a} for i, a in zip(items, answers)], indent=None)

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[VqaOutcome]:
        """Official VQA accuracy; missing predictions score 0 (counted in notes["missing"])."""
        with gc_paused():  # millions of small containers, none in a cycle
            return self._score(data, predictions)

    def _score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[VqaOutcome]:
        """`score`, with the collector paused by the caller."""
        files = read_files(data)
        anns = read_annotations(files)
        preds = read_results(Path(predictions))
        known = {a["question_id"] for a in anns}
        extra = sorted(q for q in preds if q not in known)
        if extra:
            raise BadInput(f"{predictions}: {len(extra)} predictions are for question_ids not in "
                           f"{files.annotations_path} (first: {extra[0]})")
        # annotation-file order, as the official script iterates
        answers = [preds.get(a["question_id"]) for a in anns]
        accs = VqaScorer().accuracies([a["answers"] for a in anns], answers)
        answer_types, question_types = [a["answer_type"] for a in anns], [a["question_type"] for a in anns]
        outcomes = [VqaOutcome(a["question_id"], at, qt, acc, pred is not None)
                    for a, at, qt, acc, pred in zip(anns, answer_types, question_types, accs, answers)]
        missing = answers.count(None)
        return ScoreResult(metrics=aggregate_columns(accs, answer_types, question_types), outcomes=outcomes,
                           n=len(outcomes), protocol=self.protocol, notes={"missing": missing})

    def aggregate(self, outcomes: Sequence[VqaOutcome]) -> dict[str, float]:
        """`accuracy`, `per_answer_type/<t>`, `per_question_type/<t>` (0-100, rounded to 2 as official)."""
        return aggregate_vqa(outcomes)

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[VqaOutcome]) -> list[ItemScore]:
        """Per question: its VQA accuracy, the answer, and the most common annotator answer as
        the reference; categories: its answer type."""
        from collections import Counter

        preds = read_results(Path(predictions))
        ref = {a["question_id"]: Counter(x["answer"] for x in a["answers"]).most_common(1)[0][0]
               for a in read_annotations(read_files(data))}
        return [ItemScore(str(o.question_id), o.accuracy, preds.get(o.question_id), preds.get(o.question_id),
                          ref.get(o.question_id), categories=(f"per_answer_type/{o.answer_type}",))
                for o in result.outcomes]
