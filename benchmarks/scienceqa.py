"""ScienceQA: multiple-choice science questions, some with an image, scored as LLaVA does.

Data: the official `problems.json` (pid -> {"question", "choices", "answer" (index), "hint",
"image" (file name or null), "subject", "grade", "lecture", "solution", ...}) and
`pid_splits.json` ({"train": [pid, ...], "val": [...], "test": [...]}), given in either order.
Without `pid_splits.json` the problems' own `split` field selects the split. Which split is
read is the benchmark's constructor argument (default "test"). The image of problem `pid` is
`<pid>/<image>` under `image_root` when that holds it, else under `images/<split>/` or
`images/` next to `problems.json` (the official release unpacks to `images/<split>/<pid>/`).

Prompt: LLaVA-1.5's (as lmms-eval writes it): "Context: <hint>" when there is a hint, the
question, one "A. <choice>" line per choice, then "Answer with the option's letter from the
given choices directly.".

Predictions: JSON lines `{"question_id", "text"}` (LLaVA's answer file; other keys ignored).
Scoring is LLaVA's `eval_science_qa.py` letter extraction (see `extract_letter`) with the
categories of ScienceQA's `evaluations.py`. Differences, all about inputs the official scripts
mishandle silently: a duplicate prediction, or a file that covers none of the split, is a
`BadInput`. As the official script, a prediction for a pid that is not in the split is never
looked at (counted in `notes["unknown"]`), and a missing one is wrong (`notes["missing"]`);
an integer `question_id` is matched as its
string; a category with no items is left out of the metrics (the official script divides by
zero), so bootstrap resamples skip it.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

from benchmarks import register_benchmark
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import atomic_write_bytes, atomic_write_text, iter_jsonl_dicts, read_json, to_jsonl, write_json
from harness.core.records import Scene
from harness.world.qa import MC_SUFFIX, VQA_SUFFIX, Known, article, known_from_scene, relation
from harness.world.spec import COLOUR_INFO, COLOURS, SHAPES

OPTIONS: tuple[str, ...] = ("A", "B", "C", "D", "E")  # LLaVA's `--options` default
# LLaVA's pattern, verbatim: the final "." is unescaped, so it matches any character but a newline.
_ANSWER_IS = re.compile(r"The answer is ([A-Z]).")
SUBJECTS = {"natural science": "NAT", "social science": "SOC", "language science": "LAN"}
CATEGORY_KEYS: tuple[str, ...] = ("NAT", "SOC", "LAN", "TXT", "IMG", "NO", "G1-6", "G7-12")
_REQUIRED = {"question": str, "choices": list, "answer": int, "subject": str, "grade": str}


def extract_letter(text: str) -> str | None:
    """The option letter LLaVA's evaluator reads from a raw reply, or None (the item is wrong).

    In order, case-sensitive, on the unstripped text: the whole text is one of A-E; the text
    has at least 3 characters and starts with one of A-E followed by ". "; the pattern
    `The answer is ([A-Z]).` occurs exactly once (any capital, any following character).
    So "B." and "b" give None, and "The answer is C" at the very end gives None.
    """
    if text in OPTIONS:
        return text
    if len(text) >= 3 and text[0] in OPTIONS and text[1:3] == ". ":
        return text[0]
    found = _ANSWER_IS.findall(text)
    return found[0] if len(found) == 1 else None


def choice_index(letter: str | None, n_choices: int) -> int:
    """The 0-based choice a letter names, or -1 when it is None or beyond the item's choices."""
    valid = OPTIONS[:n_choices]
    return valid.index(letter) if letter in valid else -1


def categories(problem: dict[str, Any]) -> tuple[str, ...]:
    """The category keys a problem counts towards (subject, context, grade band)."""
    keys = [SUBJECTS[problem["subject"]]] if problem["subject"] in SUBJECTS else []
    hint, image = problem.get("hint"), problem.get("image")
    # Truthiness, as the official script: an empty hint is no text context.
    keys += (["TXT"] if hint else []) + (["IMG"] if image else []) + ([] if hint or image else ["NO"])
    m = re.fullmatch(r"grade(\d+)", problem["grade"])
    if m and 1 <= int(m.group(1)) <= 6:
        keys.append("G1-6")
    elif m and 7 <= int(m.group(1)) <= 12:
        keys.append("G7-12")
    return tuple(keys)


def build_prompt(question: str, choices: Sequence[str], hint: str | None) -> str:
    """The LLaVA-1.5 ScienceQA prompt: optional context line, question, lettered options, suffix."""
    context = f"Context: {hint}\n" if hint else ""
    options = "\n".join(f"{string.ascii_uppercase[i]}. {c}" for i, c in enumerate(choices))
    return f"{context}{question}\n{options}\n{MC_SUFFIX}"


def rank_prompt(question: str, hint: str | None) -> str:
    """The question the rank protocol scores each choice against: `build_prompt`'s context
    and question with the short-answer suffix instead of the options."""
    context = f"Context: {hint}\n" if hint else ""
    return f"{context}{question}\n{VQA_SUFFIX}"


@dataclass(frozen=True)
class SqaOutcome:
    """One problem's result: which categories it counts in, the letter read, and correctness."""

    pid: str
    categories: tuple[str, ...]
    letter: str | None  # None when nothing was extracted or the prediction is missing
    correct: bool


def _check_problem(path: Path, pid: str, p: Any) -> None:
    """Raise `BadInput` naming `path` unless `p` is a well-formed problem."""
    if not isinstance(p, dict):
        raise BadInput(f"{path}: problem {pid} is not a JSON object")
    for key, typ in _REQUIRED.items():
        if key not in p:
            raise BadInput(f"{path}: problem {pid} has no {key!r} field")
        if not isinstance(p[key], typ) or isinstance(p[key], bool):
            raise BadInput(f"{path}: problem {pid}: {key!r} must be a {typ.__name__}, got {excerpt(p[key])}")
    if not p["choices"] or not all(isinstance(c, str) for c in p["choices"]):
        raise BadInput(f"{path}: problem {pid}: 'choices' must be a non-empty list of strings")
    if not 0 <= p["answer"] < len(p["choices"]):
        raise BadInput(f"{path}: problem {pid}: answer {p['answer']} is not an index of its "
                       f"{len(p['choices'])} choices")
    for key in ("hint", "image"):
        if p.get(key) is not None and not isinstance(p[key], str):
            raise BadInput(f"{path}: problem {pid}: {key!r} must be a string or null")


def _read_data(data: Sequence[Path], split: str) -> tuple[Path, dict[str, dict[str, Any]], list[str]]:
    """(problems path, problems, pids of `split` in file order), from the `--data` files."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in map(Path, data):
        doc = read_json(path)
        if not isinstance(doc, dict) or not doc:
            raise BadInput(f"{path}: expected a non-empty JSON object (problems.json or pid_splits.json)")
        # pid_splits maps splits to lists of pids, problems.json maps pids to objects.
        kind = "splits" if all(isinstance(v, list) for v in doc.values()) else "problems"
        if kind in found:
            raise BadInput(f"{path}: a second {kind} file; give one problems.json and at most one pid_splits.json")
        found[kind] = (path, doc)
    if "problems" not in found:
        raise BadInput(f"{', '.join(map(str, data))}: no problems.json among the data files")
    ppath, probs = found["problems"]
    for pid, p in probs.items():
        _check_problem(ppath, pid, p)
    if "splits" not in found:
        pids = [pid for pid, p in probs.items() if p.get("split") == split]
        if not pids:
            raise BadInput(f"{ppath}: no problem has split {split!r}; give pid_splits.json too")
        return ppath, probs, pids
    spath, doc = found["splits"]
    if split not in doc:
        raise BadInput(f"{spath}: no split {split!r} (splits: {', '.join(sorted(doc))})")
    pids = [str(p) for p in doc[split]]
    if not pids:
        raise BadInput(f"{spath}: split {split!r} is empty")
    unknown = [p for p in pids if p not in probs]
    if unknown:
        raise BadInput(f"{spath}: split {split!r} names {len(unknown)} pids not in {ppath.name} (first: {unknown[0]})")
    if len(set(pids)) != len(pids):
        raise BadInput(f"{spath}: split {split!r} lists a pid twice")
    return ppath, probs, pids


def _read_predictions(path: Path, problems: dict[str, Any]) -> dict[str, str]:
    """pid -> raw reply of a LLaVA answer file; a duplicate is a `BadInput`."""
    preds: dict[str, str] = {}
    for n, d in enumerate(iter_jsonl_dicts(path), 1):
        qid, text = d.get("question_id"), d.get("text")
        if not isinstance(qid, (str, int)) or isinstance(qid, bool):
            raise BadInput(f"{path}: prediction {n} has no string or integer 'question_id'")
        if not isinstance(text, str):
            raise BadInput(f"{path}: prediction {n} (question_id {qid}) has no 'text' string")
        pid = str(qid)
        if pid in preds:
            raise BadInput(f"{path}: question_id {pid} is predicted twice")
        preds[pid] = text
    return preds


@register_benchmark("scienceqa")
class ScienceQA(Benchmark[SqaOutcome]):
    """ScienceQA with LLaVA's prompt and answer extraction and the official category breakdown.

    Primary metric: accuracy over every problem of the split (a missing or unreadable reply
    counts as wrong, as in LLaVA's evaluator).
    """

    name = "scienceqa"
    primary_metric = "accuracy"
    higher_is_better = True
    splits = ("test",)
    protocol = "official"
    multiple_choice = True

    def __init__(self, split: str = "test") -> None:
        """`split`: the key of pid_splits.json that `load` and `score` read."""
        self.split = split

    def asks(self, problem: dict[str, Any]) -> bool:
        """Whether a problem of the split is one this benchmark asks and scores (all of them)."""
        return True

    def _problems(self, data: Sequence[Path]) -> tuple[Path, dict[str, dict[str, Any]], list[str]]:
        """`_read_data` narrowed to the problems `asks` takes, in split order."""
        ppath, problems, pids = _read_data(data, self.split)
        pids = [pid for pid in pids if self.asks(problems[pid])]
        if not pids:
            raise BadInput(f"{ppath}: split {self.split!r} has no problem that {self.name} asks")
        return ppath, problems, pids

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write problems.json, pid_splits.json and images/<pid>/image.png; `test` reads both JSON files."""
        out_dir = Path(out_dir)
        problems, images = world_problems(scenes, seed)
        for pid, scene in images.items():
            src = Path(image_root) / scene.file_name
            if not src.is_file():
                raise MissingResource(f"{src}: image of scene {scene.image_id} not found")
            atomic_write_bytes(out_dir / "images" / pid / "image.png", src.read_bytes())
        # One problem in ten goes to val so that `--split` has something to select; nothing is
        # trained on ScienceQA here, so train stays empty.
        for pid, p in problems.items():
            p["split"] = "val" if int(pid) % 10 == 0 else "test"
        pid_splits = {s: [pid for pid, p in problems.items() if p["split"] == s] for s in ("train", "val", "test")}
        write_json(out_dir / "problems.json", problems, indent=None)
        write_json(out_dir / "pid_splits.json", pid_splits, indent=None)
        return {"test": [out_dir / "problems.json", out_dir / "pid_splits.json"]}

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per problem of the split, in split order; see the module docstring for images."""
        ppath, problems, pids = self._problems(data)
        items = []
        for pid in pids:
            p = problems[pid]
            image = self._image_path(ppath, pid, p["image"], image_root) if p.get("image") else None
            items.append(BenchItem(id=pid, prompt=build_prompt(p["question"], p["choices"], p.get("hint")),
                                   image=image, max_new_tokens=16, choices=tuple(p["choices"]),
                                   rank_prompt=rank_prompt(p["question"], p.get("hint"))))
        return items

    def _image_path(self, ppath: Path, pid: str, image: str, image_root: Path | None) -> str:
        """The file of a problem's image; a path that would leave its pid folder is `BadInput`."""
        rel = PurePosixPath(pid) / image
        if rel.is_absolute() or ".." in rel.parts or len(PurePosixPath(pid).parts) != 1:
            raise BadInput(f"{ppath}: problem {pid}: image {image!r} points outside the data folder")
        roots = ([Path(image_root)] if image_root is not None else []) + [
            ppath.parent / "images" / self.split, ppath.parent / "images"]
        for root in roots:
            if (root / rel).is_file():
                return str(root / rel)
        raise MissingResource(f"{ppath}: image of problem {pid} not found (looked for {rel} under "
                              f"{', '.join(map(str, roots))})")

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """JSON lines `{"question_id": pid, "text": reply}`, as LLaVA's answer files."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        atomic_write_text(out, to_jsonl({"question_id": i.id, "text": a} for i, a in zip(items, answers)))

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[SqaOutcome]:
        """Accuracy overall and per category; a missing prediction is a wrong answer."""
        _, problems, pids = self._problems(data)
        preds = _read_predictions(Path(predictions), problems)
        missing = sum(pid not in preds for pid in pids)
        if missing == len(pids):
            raise BadInput(f"{predictions}: none of its {len(preds)} predictions is for a problem of split "
                           f"{self.split!r} ({len(pids)} problems)")
        outcomes = []
        for pid in pids:
            p = problems[pid]
            letter = extract_letter(preds[pid]) if pid in preds else None
            outcomes.append(SqaOutcome(pid, categories(p), letter,
                                       choice_index(letter, len(p["choices"])) == p["answer"]))
        unread = sum(o.letter is None for o in outcomes) - missing
        return ScoreResult(metrics=self.aggregate(outcomes), outcomes=outcomes, n=len(outcomes),
                           protocol=self.protocol, notes={"split": self.split, "missing": missing, "unread": unread,
                                                          "unknown": len(set(preds) - set(pids))})

    def aggregate(self, outcomes: Sequence[SqaOutcome]) -> dict[str, float]:
        """accuracy and each non-empty category's accuracy (NAT ... G7-12), all 0-100."""
        # count / total * 100: the official order of operations, so the printed digits agree.
        out = {"accuracy": sum(o.correct for o in outcomes) / len(outcomes) * 100 if outcomes else 0.0}
        for key in CATEGORY_KEYS:
            if hits := [o.correct for o in outcomes if key in o.categories]:
                out[key] = sum(hits) / len(hits) * 100
        return out

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[SqaOutcome]) -> list[ItemScore]:
        """Per problem: hit or miss, the answer, the letter read from it and the right letter;
        categories: NAT / SOC / LAN, TXT / IMG / NO, G1-6 / G7-12."""
        _, problems, _ = self._problems(data)
        preds = _read_predictions(Path(predictions), problems)
        out = []
        for o in result.outcomes:
            answer = problems[o.pid]["answer"]
            ref = OPTIONS[answer] if 0 <= answer < len(OPTIONS) else None
            out.append(ItemScore(o.pid, float(o.correct), preds.get(o.pid), o.letter, ref, categories=o.categories))
        return out


# --- the embedded world's ScienceQA ---------------------------------------------------------
# Image problems need the picture (which shapes, colours and places it shows) plus a fact of
# the world; text-only problems test the knowledge base (NAT, SOC) or the world's words (LAN).
# Each template returns (subject, grade, topic, question, choices, answer, hint, lecture,
# solution), or None when the scene does not fit it.

Draft = tuple[str, int, str, str, list[str], str, str, str, str]
MAP_HINT = "This map shows an island. Each shape marks a town named after the shape. North is at the top."
DIRECTIONS = {"to the left of": "west", "to the right of": "east", "above": "north", "below": "south"}
_MIXES = [f"{c.mix[0]} and {c.mix[1]}" for c in COLOUR_INFO.values() if c.mix]
NAT, SOC, LAN = "natural science", "social science", "language science"


def _record(d: Draft, rng: random.Random) -> dict[str, Any]:
    """A draft as an official problem record: choices shuffled, the answer as their index."""
    subject, grade, topic, question, choices, answer, hint, lecture, solution = d
    choices = rng.sample(choices, len(choices))
    return {"question": question, "choices": choices, "answer": choices.index(answer), "hint": hint, "image": None,
            "task": "closed choice", "grade": f"grade{grade}", "subject": subject, "topic": topic,
            "category": topic.capitalize(), "skill": topic, "lecture": lecture, "solution": solution}


def _others(pool: Sequence[str], answer: str, k: int, rng: random.Random) -> list[str]:
    """`answer` plus up to `k` distinct distractors from `pool`."""
    wrong = sorted(set(pool) - {answer})
    return [answer] + rng.sample(wrong, min(k, len(wrong)))


def _unique(objs: list[Known]) -> list[Known]:
    """Objects whose shape occurs once in the scene: "the <shape>" names them unambiguously."""
    return [o for o in objs if sum(p.shape == o.shape for p in objs) == 1]


def _most_sides(objs: list[Known], rng: random.Random) -> Draft | None:
    shapes = sorted({o.shape for o in objs})
    if len(shapes) < 2:
        return None
    shapes = rng.sample(shapes, min(4, len(shapes)))
    top = max(shapes, key=lambda s: SHAPES[s].sides)
    if sum(SHAPES[s].sides == SHAPES[top].sides for s in shapes) > 1:  # no single answer
        return None
    return (NAT, rng.randint(2, 4), "geometry", "Which shape in the image has the most sides?", shapes, top,
            rng.choice(("", "Count the straight sides of each shape.")),
            "A side is a straight line on the outline of a flat shape. Round shapes have no sides.",
            f"The {top} has {SHAPES[top].sides} sides, more than any other shape in the image.")


def _warm_cool(objs: list[Known], rng: random.Random) -> Draft | None:
    if not (uniq := _unique(objs)):
        return None
    o = rng.choice(uniq)
    ans = "warm" if COLOUR_INFO[str(o.colour)].warm else "cool"
    return (NAT, rng.randint(3, 6), "colour", f"Is the colour of the {o.shape} warm or cool?", ["warm", "cool"], ans,
            rng.choice(("", "Warm colours remind people of fire and the sun; cool colours of water and grass.")),
            "Colours can be warm or cool.", f"The {o.shape} is {o.colour}, and {o.colour} is a {ans} colour.")


def _mix_image(objs: list[Known], rng: random.Random) -> Draft | None:
    if not (uniq := [o for o in _unique(objs) if COLOUR_INFO[str(o.colour)].mix]):
        return None
    o = rng.choice(uniq)
    ans = " and ".join(COLOUR_INFO[str(o.colour)].mix or ())
    return (NAT, rng.randint(7, 8), "colour", f"Which two colours can be mixed to make the colour of the {o.shape}?",
            _MIXES, ans, "", "Mixing two primary colours (red, yellow, blue) makes a secondary colour.",
            f"The {o.shape} is {o.colour}. Mixing {ans} makes {o.colour}.")


def _farthest(objs: list[Known], rng: random.Random) -> Draft | None:
    towns = rng.sample(_unique(objs), min(4, len(_unique(objs))))
    way = rng.choice(("north", "south", "east", "west"))
    key: Callable[[Known], float] = {"north": lambda o: o.cy, "south": lambda o: -o.cy,
                                      "west": lambda o: o.cx, "east": lambda o: -o.cx}[way]
    ranked = sorted(towns, key=key)
    if len(towns) < 2 or key(ranked[1]) - key(ranked[0]) < 0.1:  # too close to call by eye
        return None
    best = ranked[0].shape
    return (SOC, rng.randint(4, 6), "geography", f"Which of these towns is farthest {way}?",
            [o.shape for o in towns], best, MAP_HINT,
            "A map shows a place from above: north is up, south down, east right and west left.",
            f"The {best} town is farther {way} than the other towns.")


def _direction(objs: list[Known], rng: random.Random) -> Draft | None:
    towns = _unique(objs)
    if not (pairs := [(a, b) for a in towns for b in towns if a is not b and relation(a, b) is not None]):
        return None
    a, b = rng.choice(pairs)
    ans = DIRECTIONS[str(relation(a, b))]
    return (SOC, rng.randint(7, 9), "geography", f"Which direction is the {a.shape} town from the {b.shape} town?",
            ["north", "south", "east", "west"], ans, rng.choice(("", MAP_HINT)),
            "A compass rose shows the four directions: north, south, east and west.",
            f"On the map, the {a.shape} town is {ans} of the {b.shape} town.")


IMAGE_TEMPLATES = (_most_sides, _warm_cool, _mix_image, _farthest, _direction)


def _text_draft(rng: random.Random) -> Draft:
    """A problem that needs no image: knowledge (NAT, SOC) or the world's words (LAN)."""
    s = SHAPES[rng.choice(sorted(SHAPES))]
    a = f"{article(s.name)} {s.name}"
    a_cap = a.capitalize()
    kind = rng.choices(("sides", "mix", "symbol", "synonym", "plural", "guide", "reading"), (2, 2, 4, 2, 2, 3, 3))[0]
    if kind == "sides":
        sides = [str(x.sides) for x in SHAPES.values()]
        return (NAT, rng.randint(1, 3), "geometry", f"How many sides does {a} have?",
                _others(sides, str(s.sides), 3, rng), str(s.sides), "", " ".join(s.facts),
                f"{a_cap} has {s.sides} sides.")
    if kind == "mix":
        c = COLOUR_INFO[rng.choice(sorted(n for n, c in COLOUR_INFO.items() if c.mix))]
        x, y = c.mix or ("", "")
        return (NAT, rng.randint(4, 6), "colour", f"Which colour do you get by mixing {x} and {y}?",
                _others(list(COLOURS), c.name, 3, rng), c.name,
                rng.choice(("", "Paint colours can be mixed to make new colours.")),
                "Mixing two primary colours makes a secondary colour.", f"Mixing {x} and {y} makes {c.name}.")
    if kind == "symbol":
        return (SOC, rng.randint(5, 8), "culture", f"In the world's picture language, what does {a} stand for?",
                _others([x.symbol_of for x in SHAPES.values()], s.symbol_of, 3, rng), s.symbol_of,
                rng.choice(("", "People often draw shapes that stand for things.")),
                "A symbol is a picture that stands for an idea.", f"{a_cap} is a symbol of {s.symbol_of}.")
    if kind == "synonym":
        return (LAN, rng.randint(2, 4), "vocabulary", f"Which word is another name for {a}?",
                _others([x.synonyms[0] for x in SHAPES.values()], s.synonyms[0], 3, rng), s.synonyms[0], "",
                "Synonyms are words that mean the same thing.", f"Another word for {s.name} is {s.synonyms[0]}.")
    if kind == "plural":
        alt = s.name + ("es" if s.plural == s.name + "s" else "s")
        return (LAN, rng.randint(1, 2), "grammar", f"What is the plural of {s.name}?", [s.plural, alt, s.name],
                s.plural, "", "A plural noun names more than one thing.", f"The plural of {s.name} is {s.plural}.")
    if kind == "guide":
        w = sorted(rng.sample(sorted(set(SHAPES) | set(COLOURS)), 4))
        lo, inside, hi, out = (w[0], w[1], w[2], w[3]) if rng.random() < 0.5 else (w[1], w[2], w[3], w[0])
        return (LAN, rng.randint(2, 5), "reference skills",
                f"Which word would you find on a dictionary page with the guide words {lo} - {hi}?", [inside, out],
                inside, "", "Guide words are the first and last words on a dictionary page; the words between "
                "them come in alphabetical order.", f"{inside.capitalize()} comes between {lo} and {hi}.")
    syn = rng.choice(s.synonyms)
    return (LAN, rng.randint(7, 9), "reading", "Which shape did Maya draw?", _others(list(SHAPES), s.name, 3, rng),
            s.name, f"Read the text.\nMaya drew {article(syn)} {syn} on the card for her friend.",
            "Some shapes have more than one name.", f"{syn.capitalize()} is another word for {s.name}.")


# Image problems per scene, each from another template, and as many text-only ones: the image
# problems (SQA-IMG) then number in the hundreds (the real test split has 2,017) and about half
# of the problems have an image (real ScienceQA: 48.7%). With one of each per scene, the 241
# image problems of the default study's test split left each accuracy +-6 points (95%).
PROBLEMS_PER_SCENE = 3


def world_problems(scenes: Sequence[Scene], seed: int) -> tuple[dict[str, dict[str, Any]], dict[str, Scene]]:
    """(pid -> problem, pid -> scene of its image): per scene up to `PROBLEMS_PER_SCENE` image
    problems (from the first templates, in a random order, that fit the scene) and as many
    text-only problems; pids count from "1". Deterministic in (seed, image ids)."""
    problems: dict[str, dict[str, Any]] = {}
    images: dict[str, Scene] = {}
    for scene in scenes:
        rng = random.Random(f"scienceqa/{seed}/{scene.image_id}")
        objs = known_from_scene(scene)
        made = 0
        for template in rng.sample(IMAGE_TEMPLATES, len(IMAGE_TEMPLATES)):
            if made == PROBLEMS_PER_SCENE:
                break
            if (draft := template(objs, rng)) is not None:
                pid = str(len(problems) + 1)
                problems[pid] = {**_record(draft, rng), "image": "image.png"}
                images[pid] = scene
                made += 1
        for _ in range(PROBLEMS_PER_SCENE):
            problems[str(len(problems) + 1)] = _record(_text_draft(rng), rng)
    return problems, images
