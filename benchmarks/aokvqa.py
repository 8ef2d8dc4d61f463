"""A-OKVQA: knowledge questions with four choices, ten direct answers and three rationales.

Data: the official `aokvqa_v1p0_<split>.json`, a JSON list of `{"split", "question_id" (a
string), "image_id", "question", "choices", "correct_choice_idx", "direct_answers" (10),
"difficult_direct_answer", "rationales"}`; the test split, which has no answers, loads but
does not score. The embedded world writes `aokvqa_v1p0_<split>.json` the same way, from the
same knowledge questions as OK-VQA (`okvqa.knowledge_questions`), plus one extra key, `image`
(the file under the image root); without it an image is `<root>/<split>2017/<image_id:012d>.jpg`,
the COCO 2017 layout of the official `get_coco_path`.

Prompt: the LLaVA-1.5 multiple-choice layout (question, "A. ..." lines, "Answer with the
option's letter from the given choices directly."). One reply per question fills both fields
of the official prediction file `{qid: {"multiple_choice", "direct_answer"}}`: the reply goes
through `parsing.extract_choice` (VLMEvalKit's letter / option-text rules); when it names an
option, both fields are that option's text, so the direct answer is the chosen option (how a
model asked to pick one answers directly); when it names none (or refuses), both fields are
the reply with whitespace stripped, lower-cased, without a final period, i.e. the model's own
short answer (A-OKVQA's direct answers are lower-case). Under the rank protocol (`vigc-bench
predict --rank`, the study's `predict.rank`), the model is not asked for a letter: each choice
is scored as the whole reply to the question with LLaVA-1.5's short-answer suffix, and the
likeliest choice's letter is the reply (InstructBLIP's protocol for A-OKVQA's multiple choice).

Scoring is the official `evaluation/eval_predictions.py`: MC is 1 when the predicted text
equals `choices[correct_choice_idx]`; DA drops `difficult_direct_answer` questions and scores
min(1, exact matches among `direct_answers` / 3), no normalization, no leave-one-out; each is
sum / n * 100 over questions in file order; a missing question or field scores 0 (counted in
notes). As the official script by default (strict=False), a prediction for a question id that
is not in the data is ignored (counted in `notes["unknown"]`), and a value that is not a string
equals no choice and no answer, so it scores 0 (counted in `notes["not_a_string"]`). Stricter
than the official script, which keeps the last silently: a question id given twice (in the
data or the prediction object) is a `BadInput` naming the file.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from benchmarks import register_benchmark
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from benchmarks.okvqa import ANSWERS_PER_QUESTION, KnowledgeQuestion, is_int, bare, knowledge_questions
from benchmarks.parsing import extract_choice
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import write_json
from harness.core.records import Scene
from harness.world.qa import MC_SUFFIX, VQA_SUFFIX

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
N_CHOICES = 4
DIFFICULT_SHARE = 0.1  # share of world questions whose direct answers are spread out (flagged difficult)
_OPTION_LINE = re.compile(r"([A-Z])\. (.*)")


@dataclass(frozen=True)
class AokvqaOutcome:
    """One question's result: MC hit (0 or 1) and DA accuracy (0-1; None when difficult, not scored)."""

    question_id: str
    mc: float
    da: float | None
    mc_answered: bool
    da_answered: bool


def build_prompt(question: str, choices: Sequence[str]) -> str:
    """The LLaVA-1.5 multiple-choice prompt: question, 'X. choice' lines, the answer-format suffix."""
    return "\n".join([question] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + [MC_SUFFIX])


def options_from_prompt(prompt: str) -> dict[str, str]:
    """letter -> option text of a prompt made by `build_prompt` (read back from its last lines)."""
    lines = prompt.split("\n")
    if not lines or lines[-1] != MC_SUFFIX:
        return {}
    found: list[tuple[str, str]] = []
    # Walk up from the suffix over consecutive "X. text" lines that end at 'A': a question line
    # that happens to look like an option cannot be mistaken for one.
    for line in reversed(lines[:-1]):
        m = _OPTION_LINE.fullmatch(line)
        if m is None:
            break
        found.append((m.group(1), m.group(2)))
        if m.group(1) == "A":
            break
    found.reverse()
    if not found or [k for k, _ in found] != list(LETTERS[:len(found)]):
        return {}
    return dict(found)


def reply_to_prediction(reply: str, options: dict[str, str]) -> dict[str, str]:
    """The official prediction object for one raw reply (the rule is in the module docstring)."""
    letter = extract_choice(reply, options) if options else None
    if letter in options:
        text = options[letter]
    else:
        text = reply.strip().lower()
        text = text[:-1].rstrip() if text.endswith(".") else text
    return {"multiple_choice": text, "direct_answer": text}


def direct_answers(q: KnowledgeQuestion, rng: random.Random, difficult: bool) -> list[str]:
    """Ten lower-case direct answers; the correct choice text is the strict mode unless `difficult`.

    Ordinary questions have the choice text at least six times (predicting it scores 1);
    difficult ones have it two or three times among many different answers, which is what the
    official `difficult_direct_answer` flag marks.
    """
    main = bare(q.answer).lower()
    others = [v.lower().rstrip(".") for v in (*q.variants, *q.alternatives)]
    others = list(dict.fromkeys(o for o in others if o != main)) or [q.answer.lower()]
    n_main = rng.randint(2, 3) if difficult else rng.randint(6, ANSWERS_PER_QUESTION)
    answers = [main] * n_main + [rng.choice(others) for _ in range(ANSWERS_PER_QUESTION - n_main)]
    rng.shuffle(answers)
    return answers


def rationales(q: KnowledgeQuestion) -> list[str]:
    """Three rationales in different words, each joining what is seen with the fact that answers."""
    seen = q.seen[:-1]
    fact = q.fact[:1].lower() + q.fact[1:-1]
    return [f"{q.seen} {q.fact}", f"Because {seen[:1].lower() + seen[1:]}, and {fact}.",
            f"{seen}. {q.fact[:-1]}, so the answer is {bare(q.answer)}."]


def build_dataset(scenes: Sequence[Scene], seed: int, split: str) -> list[dict[str, Any]]:
    """The world's A-OKVQA entries of one split, in the official layout (plus `image`)."""
    out = []
    for s in scenes:
        rng = random.Random(f"aokvqa/{seed}/{s.image_id}")
        for k, q in enumerate(knowledge_questions(s, rng)):
            correct = bare(q.answer)
            wrong = [c for c in dict.fromkeys(bare(p) for p in q.pool) if c != correct]
            choices = rng.sample(wrong, min(N_CHOICES - 1, len(wrong))) + [correct]
            rng.shuffle(choices)
            difficult = rng.random() < DIFFICULT_SHARE
            out.append({"split": split, "image_id": s.image_id, "question_id": f"world_{s.image_id}_{k}",
                        "question": q.question, "choices": choices, "correct_choice_idx": choices.index(correct),
                        "direct_answers": direct_answers(q, rng, difficult), "difficult_direct_answer": difficult,
                        "rationales": rationales(q), "image": s.file_name})
    return out


# --- reading the official files --------------------------------------------------------------


def _no_duplicate_keys(path: Path) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A json `object_pairs_hook` that rejects an object with a key given twice (json keeps the last)."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in pairs:
            if k in d:
                raise BadInput(f"{path}: key {excerpt(k)} occurs twice in one object")
            d[k] = v
        return d
    return hook


def _load(path: Path) -> Any:
    """Parse a JSON file; missing, malformed or duplicate-key files name the file."""
    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from None


def _check(path: Path, n: int, d: dict[str, Any], key: str, ok: bool, want: str) -> None:
    """BadInput naming the file and question when field `key` is missing or not `want`."""
    if key not in d:
        raise BadInput(f"{path}: question {n} has no {key!r} field")
    if not ok:
        raise BadInput(f"{path}: question {n}: {key!r} must be {want}, got {excerpt(d[key])}")


def read_dataset(data: Sequence[Path], scored: bool) -> list[tuple[Path, dict[str, Any]]]:
    """(file, entry) for every question of the given files; `scored` also checks the answer fields."""
    rows: list[tuple[Path, dict[str, Any]]] = []
    seen: dict[str, Path] = {}
    for path in map(Path, data):
        doc = _load(path)
        if not isinstance(doc, list):
            raise BadInput(f"{path}: expected a JSON list of questions (aokvqa_v1p0_<split>.json)")
        for n, d in enumerate(doc, 1):
            if not isinstance(d, dict):
                raise BadInput(f"{path}: question {n} is not a JSON object")
            _check(path, n, d, "question_id", isinstance(d.get("question_id"), str), "a string")
            _check(path, n, d, "image_id", is_int(d.get("image_id")), "an integer")
            _check(path, n, d, "question", isinstance(d.get("question"), str), "a string")
            choices = d.get("choices")
            _check(path, n, d, "choices", isinstance(choices, list) and len(choices) >= 2
                   and all(isinstance(c, str) for c in choices), "a list of at least two strings")
            if scored:
                idx = d.get("correct_choice_idx")
                _check(path, n, d, "correct_choice_idx", is_int(idx) and 0 <= idx < len(choices),
                       f"an index into the {len(choices)} choices")
                das = d.get("direct_answers")
                _check(path, n, d, "direct_answers", isinstance(das, list) and all(isinstance(a, str) for a in das),
                       "a list of strings")
                _check(path, n, d, "difficult_direct_answer", isinstance(d.get("difficult_direct_answer"), bool),
                       "true or false")
            qid = d["question_id"]
            if qid in seen:
                raise BadInput(f"{path}: question_id {excerpt(qid)} already occurs in {seen[qid]}")
            seen[qid] = path
            rows.append((path, d))
    return rows


def read_predictions(path: Path) -> dict[str, dict[str, str]]:
    """qid -> {"multiple_choice"?, "direct_answer"?} of an official prediction file, checked."""
    doc = _load(path)
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: expected a JSON object {{question_id: {{\"multiple_choice\", \"direct_answer\"}}}}")
    for qid, p in doc.items():
        if not isinstance(p, dict):  # the official script fails on it (`predictions[q].keys()`)
            raise BadInput(f"{path}: prediction for {excerpt(qid)} is not an object with multiple_choice / "
                           "direct_answer")
    return doc


def _split_of(path: Path, entry: dict[str, Any]) -> str:
    """The entry's split: its own field, else the file name's `<split>`, else 'val'."""
    if isinstance(entry.get("split"), str):
        return entry["split"]
    m = re.fullmatch(r"aokvqa_v\d+p\d+_(.+)\.json", path.name)
    return m.group(1) if m else "val"


@register_benchmark("aokvqa")
class AOKVQA(Benchmark[AokvqaOutcome]):
    """A-OKVQA with the official files and metrics. Primary metric: mc_accuracy (the prompt is
    multiple choice; da_accuracy is derived from the same reply, see the module docstring)."""

    name = "aokvqa"
    primary_metric = "mc_accuracy"
    higher_is_better = True
    splits = ("val",)
    protocol = "official"
    multiple_choice = True

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write `aokvqa_v1p0_<split>.json` per split; `image` is each scene's path under `image_root`."""
        out: dict[str, list[Path]] = {}
        for split in self.splits:
            path = Path(out_dir) / f"aokvqa_v1p0_{split}.json"
            write_json(path, build_dataset(scenes, seed, split), indent=None)
            out[split] = [path]
        return out

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One multiple-choice item per question; images resolve against `image_root`, else the file's folder."""
        items = []
        for path, d in read_dataset(data, scored=False):
            root = Path(image_root) if image_root is not None else path.parent
            image = d.get("image")
            if isinstance(image, str):
                img = root / image
            else:
                img = root / f"{_split_of(path, d)}2017" / f"{d['image_id']:012d}.jpg"
            items.append(BenchItem(id=d["question_id"], prompt=build_prompt(d["question"], d["choices"]),
                                   image=str(img), max_new_tokens=16, choices=tuple(d["choices"]),
                                   rank_prompt=f"{d['question']}\n{VQA_SUFFIX}"))
        return items

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """`{qid: {"multiple_choice", "direct_answer"}}`, both from the one reply (see module docstring)."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        write_json(out, {i.id: reply_to_prediction(a, options_from_prompt(i.prompt)) for i, a in zip(items, answers)},
                   indent=None)

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[AokvqaOutcome]:
        """Official MC and DA accuracy; missing questions or fields score 0 (counted in notes)."""
        rows = read_dataset(data, scored=True)
        preds = read_predictions(Path(predictions))
        known = {d["question_id"] for _, d in rows}
        unknown = sum(q not in known for q in preds)  # ignored, as the official strict=False
        outcomes = []
        for _, d in rows:
            p = preds.get(d["question_id"], {})
            mc_pred, da_pred = p.get("multiple_choice"), p.get("direct_answer")
            mc = float(mc_pred == d["choices"][d["correct_choice_idx"]]) if mc_pred is not None else 0.0
            da: float | None = None
            if not d["difficult_direct_answer"]:
                da = min(1.0, sum(da_pred == a for a in d["direct_answers"]) / 3.0) if da_pred is not None else 0.0
            outcomes.append(AokvqaOutcome(d["question_id"], mc, da, mc_pred is not None, da_pred is not None))
        values = [v for q, p in preds.items() if q in known for k, v in p.items()
                  if k in ("multiple_choice", "direct_answer")]
        notes = {"missing": sum(d["question_id"] not in preds for _, d in rows), "unknown": unknown,
                 "not_a_string": sum(not isinstance(v, str) for v in values),
                 "missing_multiple_choice": sum(not o.mc_answered for o in outcomes),
                 "missing_direct_answer": sum(not o.da_answered for o in outcomes),
                 "difficult_direct_answer": sum(o.da is None for o in outcomes)}
        return ScoreResult(metrics=self.aggregate(outcomes), outcomes=outcomes, n=len(outcomes),
                           protocol=self.protocol, notes=notes)

    def aggregate(self, outcomes: Sequence[AokvqaOutcome]) -> dict[str, float]:
        """mc_accuracy over all questions and da_accuracy over the non-difficult ones, 0-100.

        sum / n * 100, the official order of operations, unrounded as the official script
        prints it; 0 when there is nothing to average (the official script divides by zero).
        """
        mc = [o.mc for o in outcomes]
        da = [o.da for o in outcomes if o.da is not None]
        return {"mc_accuracy": sum(mc) / len(mc) * 100 if mc else 0.0,
                "da_accuracy": sum(da) / len(da) * 100 if da else 0.0}

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[AokvqaOutcome]) -> list[ItemScore]:
        """Per question: the multiple-choice hit, the chosen text and the right choice."""
        preds = read_predictions(Path(predictions))
        ref = {d["question_id"]: d["choices"][d["correct_choice_idx"]] for _, d in read_dataset(data, scored=True)}
        out = []
        for o in result.outcomes:
            mc = preds.get(o.question_id, {}).get("multiple_choice")
            mc = mc if isinstance(mc, str) else None  # a non-string value scored 0 and is no answer text
            # The raw reply is not in the official prediction file; its multiple-choice text is.
            out.append(ItemScore(o.question_id, o.mc, mc, mc, ref.get(o.question_id)))
        return out
