"""LLaVA-Bench (COCO), the "LLaVA-Eval" of the LLaVA and VIGC papers: answers judged against references.

Files as LLaVA distributes them (`playground/data/coco2014_val_qa_eval/` and
`llava/eval/table/`): the questions JSONL (`question_id`, `image`, `text`, `category` in
`conv` / `detail` / `complex`), the reference answers JSONL (`question_id`, `text`,
`category`), the context JSONL (`image`, five `captions`, `instances` of `{category, bbox}`
with the box normalised to 0-1) and `rule.json` (category -> `{role, prompt}`). `--data` takes
them in any order; each is recognised by its content. The embedded world writes the same
four files plus its ground-truth scenes (`_llava_world`), which the ground-truth judge reads.
Predictions: LLaVA's answer files, JSON lines `{"question_id", "text", "answer_id", ...}`.

Scoring follows LLaVA's review protocol (`_llava_review`): per question, the judge compares
the reference (Assistant 1) with the model (Assistant 2) and gives each 1-10; the summary per
category and overall is the relative score, model mean / reference mean x 100. Metric keys:
`conversation`, `detail`, `complex_reasoning`, `overall` (relative scores), each with
`_reference` and `_model` (mean x 10), and `unparsed` (reviews whose first line gave no
scores: averaged in as [-1, -1] by the official protocol, left out by `drop-unparsed`). The
judge is an OpenAI-compatible model (`vigc-bench score llava_bench --judge-url --judge-model`)
or, where the data has ground-truth scenes, the deterministic `ground-truth` judge; every
result's protocol names it, e.g. `official (judge: ground-truth)`.

Differences from LLaVA's scripts, all about inputs they mishandle silently: questions, answers
and predictions are paired by `question_id` (the script zips the three files by line order), a
question without a reference or a prediction is a `BadInput`, and a prediction without
`answer_id` is accepted (the script raises a KeyError).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from benchmarks import register_benchmark
from benchmarks._llava_judges import (GROUND_TRUTH, GroundTruthJudge, ReviewJudge, ReviewRequest, build_judge,
                                      scenes_by_image)
from benchmarks._llava_review import (PROTOCOLS, Review, context_text, judge_message, metric_key, parse_score,
                                      read_reviews, summary_lines, summary_metrics, write_reviews)
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from harness.core.errors import BadInput
from harness.core.io import atomic_write_text, hash_obj, iter_jsonl_dicts, to_jsonl
from harness.core.records import Scene

# Room for the answers each category asks for: a sentence, a description of up to five
# shapes with their places, a few sentences of reasoning (world tokens are whole words).
MAX_NEW_TOKENS = {"conv": 48, "detail": 128, "complex": 80}
KINDS = ("questions", "answers", "context", "rule", "scenes")


@dataclass(frozen=True)
class LlavaFiles:
    """The official files, read and checked (the scenes only where the data has them)."""

    questions_path: Path
    questions: list[dict[str, Any]]  # in file order
    answers: dict[str, dict[str, Any]]  # str(question_id) -> reference answer row
    context: dict[str, dict[str, Any]]  # image -> context row
    rules: dict[str, dict[str, str]]  # category -> {role, prompt}
    scenes: list[Scene] = field(default_factory=list)


@dataclass(frozen=True)
class LlavaOutcome:
    """One question's review with the texts it judged (for per-sample records)."""

    review: Review
    question: str
    reference: str
    answer: str


def _kind(path: Path) -> tuple[str, Any]:
    """(kind, content) of one data file, recognised by what it holds."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError:
        doc = None  # several lines: JSON lines
    if isinstance(doc, dict) and doc and all(isinstance(v, dict) and "prompt" in v for v in doc.values()):
        return "rule", doc
    rows = list(iter_jsonl_dicts(path))
    first = rows[0] if rows else {}
    if "objects" in first and "file_name" in first:
        return "scenes", [Scene.model_validate(r) for r in rows]
    if "captions" in first or "instances" in first:
        return "context", rows
    if "question_id" in first and "image" in first:
        return "questions", rows
    if "question_id" in first and "text" in first:
        return "answers", rows
    raise BadInput(f"{path}: not a LLaVA-Bench file (questions, reference answers, context JSONL, rule.json "
                   "or ground-truth scenes)")


def _check_rows(path: Path, rows: list[dict[str, Any]], keys: dict[str, type | tuple[type, ...]]) -> None:
    for n, d in enumerate(rows, 1):
        for key, kind in keys.items():
            if not isinstance(d.get(key), kind) or isinstance(d.get(key), bool):
                raise BadInput(f"{path}: row {n} needs {key!r} ({getattr(kind, '__name__', 'int or str')}), "
                               f"got {d.get(key)!r}")


def read_files(data: Sequence[Path], need_all: bool = True) -> LlavaFiles:
    """Read and check the files; with `need_all`, questions, answers, context and rule.json must all be there."""
    found: dict[str, tuple[Path, Any]] = {}
    for path in map(Path, data):
        kind, content = _kind(path)
        if kind in found:
            raise BadInput(f"{path}: a second {kind} file (the first is {found[kind][0]})")
        found[kind] = (path, content)
    missing = [k for k in KINDS[:4] if k not in found and (need_all or k == "questions")]
    if missing:
        names = {"questions": "questions JSONL", "answers": "reference answers JSONL", "context": "context JSONL",
                 "rule": "rule.json"}
        raise BadInput(f"{', '.join(map(str, data))}: LLaVA-Bench needs its {' and '.join(names[k] for k in missing)} "
                       "too")
    qpath, questions = found["questions"]
    _check_rows(qpath, questions, {"question_id": (int, str), "image": str, "text": str, "category": str})
    seen: set[str] = set()
    for d in questions:
        if str(d["question_id"]) in seen:
            raise BadInput(f"{qpath}: question_id {d['question_id']} occurs twice")
        seen.add(str(d["question_id"]))
    answers: dict[str, dict[str, Any]] = {}
    context: dict[str, dict[str, Any]] = {}
    rules: dict[str, dict[str, str]] = {}
    if "answers" in found:
        apath, rows = found["answers"]
        _check_rows(apath, rows, {"question_id": (int, str), "text": str})
        answers = {str(d["question_id"]): d for d in rows}
    if "context" in found:
        cpath, rows = found["context"]
        _check_rows(cpath, rows, {"image": str, "captions": list, "instances": list})
        for d in rows:
            if not all(isinstance(c, str) for c in d["captions"]) or not all(
                    isinstance(i, dict) and "category" in i and "bbox" in i for i in d["instances"]):
                raise BadInput(f"{cpath}: image {d['image']}: captions must be strings and instances "
                               "{category, bbox} objects")
        context = {d["image"]: d for d in rows}
    if "rule" in found:
        rpath, doc = found["rule"]
        if not all(isinstance(v.get("role"), str) and isinstance(v.get("prompt"), str) for v in doc.values()):
            raise BadInput(f"{rpath}: every rule needs a 'role' and a 'prompt' string")
        rules = doc
    scenes = found["scenes"][1] if "scenes" in found else []
    files = LlavaFiles(qpath, questions, answers, context, rules, scenes)
    if need_all:
        _check_complete(files, found)
    return files


def _check_complete(files: LlavaFiles, found: dict[str, tuple[Path, Any]]) -> None:
    """Every question has a reference, a context and a rule (LLaVA's script asserts the rule)."""
    for d in files.questions:
        qid = d["question_id"]
        if str(qid) not in files.answers:
            raise BadInput(f"{found['answers'][0]}: no reference answer for question_id {qid}")
        if d["image"] not in files.context:
            raise BadInput(f"{found['context'][0]}: no context for image {d['image']!r} (question_id {qid})")
        if d["category"] not in files.rules:
            raise BadInput(f"{found['rule'][0]}: no rule for category {d['category']!r} (question_id {qid})")


def read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """str(question_id) -> answer row of a LLaVA answer file (JSON lines)."""
    out: dict[str, dict[str, Any]] = {}
    for n, d in enumerate(iter_jsonl_dicts(path), 1):
        qid = d.get("question_id")
        if not isinstance(qid, (int, str)) or isinstance(qid, bool):
            raise BadInput(f"{path}: answer {n} has no 'question_id'")
        if not isinstance(d.get("text"), str):
            raise BadInput(f"{path}: answer {n} (question_id {qid}) has no 'text' string")
        if str(qid) in out:
            raise BadInput(f"{path}: question_id {qid} is answered twice")
        out[str(qid)] = d
    return out


@register_benchmark("llava_bench")
class LlavaBench(Benchmark[LlavaOutcome]):
    """LLaVA-Bench (COCO) by LLaVA's review protocol.

    Primary metric: `overall`, the relative score the papers report (VIGC: LLaVA-7B 81.0 ->
    85.8). It is a ratio to the reference's own score, so it is only comparable between results
    with the same judge, which is why every result names its judge.
    """

    name = "llava_bench"
    primary_metric = "overall"
    higher_is_better = True
    splits = ("test",)
    protocol = "official"

    def __init__(self, judge: ReviewJudge | None = None, protocol: str = "official") -> None:
        if protocol not in PROTOCOLS:
            raise BadInput(f"unknown LLaVA-Bench protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        self.judge = judge
        self.protocol = protocol

    build_judge = staticmethod(build_judge)

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Questions, references, context, rule.json and scenes of 30 world images (3 questions each)."""
        from benchmarks._llava_world import write_files

        return {"test": write_files(scenes, Path(out_dir), seed)}

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per question (the question text is the whole prompt, as LLaVA's `model_vqa`);
        images resolve against `image_root`, else the questions file's folder."""
        files = read_files(data, need_all=False)
        root = Path(image_root) if image_root is not None else files.questions_path.parent
        return [BenchItem(id=str(d["question_id"]), prompt=d["text"], image=str(root / d["image"]),
                          max_new_tokens=MAX_NEW_TOKENS.get(d["category"], max(MAX_NEW_TOKENS.values())))
                for d in files.questions]

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """LLaVA's answer file: `{"question_id", "prompt", "text", "answer_id", "model_id", "metadata"}`
        per line; ids that are digits are written as integers, as LLaVA's question ids are."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        rows = []
        for it, a in zip(items, answers):
            qid: int | str = int(it.id) if it.id.lstrip("-").isdigit() else it.id
            # LLaVA draws a random `shortuuid`; a hash keeps the file a function of its answers.
            rows.append({"question_id": qid, "prompt": it.prompt, "text": a, "answer_id": hash_obj([it.id, a])[:22],
                         "model_id": "vigc-bench", "metadata": {}})
        atomic_write_text(out, to_jsonl(rows))

    def _judge_for(self, files: LlavaFiles) -> ReviewJudge:
        if self.judge is not None:
            return self.judge
        if files.scenes:
            return GroundTruthJudge(scenes_by_image(files.scenes))
        raise BadInput("llava_bench needs a judge: --judge-url and --judge-model (an OpenAI-compatible model), "
                       "or the world's ground-truth scenes file among --data for the ground-truth judge")

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[LlavaOutcome]:
        """Review every question (reference vs the model) with the judge and summarize."""
        files = read_files(data)
        preds = read_predictions(Path(predictions))
        missing = [d["question_id"] for d in files.questions if str(d["question_id"]) not in preds]
        if missing:
            raise BadInput(f"{predictions}: {len(missing)} of {len(files.questions)} questions have no answer "
                           f"(first missing question_id: {missing[0]})")
        known = {str(d["question_id"]) for d in files.questions}
        extra = sorted(q for q in preds if q not in known)
        if extra:
            raise BadInput(f"{predictions}: {len(extra)} answers are for question_ids not in the data (first: {extra[0]})")
        judge = self._judge_for(files)
        outcomes = []
        for d in files.questions:
            qid = d["question_id"]
            ref, pred = files.answers[str(qid)], preds[str(qid)]
            ctx = files.context[d["image"]]
            message = judge_message(context_text(ctx["captions"], ctx["instances"]), d["text"], ref["text"],
                                    pred["text"], files.rules[d["category"]])
            content = judge.review(ReviewRequest(qid, d["category"], d["image"], d["text"], ref["text"], pred["text"],
                                                 message))
            review = Review(qid, d["category"], parse_score(content), content, ref.get("answer_id", ref["question_id"]),
                            pred.get("answer_id"))
            outcomes.append(LlavaOutcome(review, d["text"], ref["text"], pred["text"]))
        return self._result(outcomes, judge.name, judge.failures)

    def score_reviews(self, reviews: Path, judge: str | None = None) -> ScoreResult[LlavaOutcome]:
        """Summarize an existing LLaVA review file (`question_id`, `category`, `content`, `tuple`)."""
        rows = read_reviews(Path(reviews))
        return self._result([LlavaOutcome(r, "", "", "") for r in rows], judge or "named in no file", 0)

    def _result(self, outcomes: list[LlavaOutcome], judge: str, failures: int) -> ScoreResult[LlavaOutcome]:
        reviews = [o.review for o in outcomes]
        unparsed = sum(r.unparsed for r in reviews)
        warnings = []
        if unparsed:
            how = ("averaged in as [-1, -1], as LLaVA's summary does" if self.protocol == "official"
                   else "left out (protocol drop-unparsed)")
            failed = f" ({failures} judge requests failed; rerun to retry them, replies so far are cached)" if failures else ""
            warnings.append(f"{unparsed} of {len(reviews)} reviews gave no scores on their first line{failed}: {how}")
        notes = {"judge": judge, "unparsed": unparsed, "judge_failures": failures, "warnings": warnings,
                 "summary_lines": summary_lines(reviews, f"llava_bench (judge: {judge})", self.protocol)}
        return ScoreResult(metrics=self.aggregate(outcomes), outcomes=outcomes, n=len(outcomes),
                           protocol=f"{self.protocol} (judge: {judge})", notes=notes)

    def aggregate(self, outcomes: Sequence[LlavaOutcome]) -> dict[str, float]:
        """The summary's metrics (relative scores 0-100 and more; see the module doc)."""
        return summary_metrics([o.review for o in outcomes], self.protocol)

    def item_scores(self, data: Sequence[Path], predictions: Path, result: ScoreResult[LlavaOutcome]) -> list[ItemScore]:
        """Per question: score = model / reference score with weight = the reference score, so
        the weighted mean is the relative score (before the summary's rounding). A judge that
        rates the model above the reference gives a score above 1; a row of [-1, -1] has score 1
        and weight -1 under the official protocol (it is averaged in), weight 0 under drop-unparsed."""
        out = []
        for o in result.outcomes:
            r = o.review
            ref, model = float(r.scores[0]), float(r.scores[1])
            weight = 0.0 if r.unparsed and self.protocol == "drop-unparsed" else ref
            key = metric_key(r.category)
            out.append(ItemScore(str(r.question_id), model / ref if ref else 0.0, o.answer, r.content, o.reference,
                                 categories=(key,) if key else (), weight=weight))
        return out

    def write_reviews(self, result: ScoreResult[LlavaOutcome], out: Path) -> None:
        """The result's reviews as a LLaVA review file (what `score_reviews` reads back)."""
        write_reviews([o.review for o in result.outcomes], Path(out))
