"""MMBench: multiple-choice perception and reasoning, scored by CircularEval (VLMEvalKit rules).

Data: the official TSV (columns index, question, hint, A-D, answer, category, l2-category,
image as base64, split; `.xlsx` read too). A real MMBench TSV already holds the rotated copies
(index + k * 1e6) and its image cells may name another row's index instead of repeating the
picture; both are understood. A TSV with originals only (what `synthesize` writes) is expanded
here: an N-option question becomes N passes, pass k showing original option (j + k) mod N as
letter j, with index original + k * 1_000_000. Questions whose option texts contain option
letters are asked once, unrotated, since rotating would make "B" point at another option.

Predictions: JSON lines `{"index", "prediction"}`, or a TSV / XLSX with index and prediction
columns. Each pass is parsed by `parsing.extract_choice`; a question scores only when every
pass names the right letter. Unresolved passes go to an optional judge (`ChoiceJudge`); with
none (the default, VLMEvalKit's `exact_matching`), they count as wrong and are counted in
`ScoreResult.notes`. Differences from VLMEvalKit: a pass without a prediction is a `BadInput`
(VLMEvalKit scores only the questions present), the `split` column is not broken out, and cells
are read as text, so an option "2" stays "2" (pandas' default would make it 2.0 in a column
with blanks); cells "", "nan" and "none" count as empty, as LLaVA's `is_none`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from benchmarks import register_benchmark
from benchmarks._mmbench_world import build_questions
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from benchmarks.parsing import REFUSED, extract_choice, option_tokens
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import atomic_write_text, iter_jsonl_dicts, to_jsonl
from harness.core.records import Scene
from harness.world.qa import MC_SUFFIX, VQA_SUFFIX

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
OFFSET = 1_000_000  # index offset of rotated copies (VLMEvalKit: g_index = index % 1e6)
COLUMNS = ("index", "question", "hint", "A", "B", "C", "D", "answer", "category", "l2-category", "image", "split")

# An optional LLM judge for passes the heuristics leave unresolved: called with the question,
# the pass's options (letter -> text) and the raw prediction; returns a letter or None (no option
# matches, or no readable reply). `benchmarks._mmbench_judge.ChatChoiceJudge` sends VLMEvalKit's
# matching prompt to an OpenAI-compatible endpoint (`vigc-bench score mmbench --judge-url ...`);
# it is off by default, since scoring must run offline.
ChoiceJudge = Callable[[str, Mapping[str, str], str], "str | None"]


def build_prompt(question: str, options: Sequence[str], hint: str | None = None) -> str:
    """The LLaVA-1.5 MMBench prompt: optional hint line, question, 'X. option' lines, suffix."""
    lines = ([hint] if hint else []) + [question]
    lines += [f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options)]
    return "\n".join(lines + [MC_SUFFIX])


def rank_prompt(question: str, hint: str | None = None) -> str:
    """The question the rank protocol scores each option against: the hint and question of
    `build_prompt` with the short-answer suffix instead of the options."""
    return "\n".join(([hint] if hint else []) + [question, VQA_SUFFIX])


@dataclass(frozen=True)
class McqRow:
    """One row of an MMBench table: a question as the file shows it."""

    index: int
    question: str
    hint: str | None
    options: dict[str, str]  # letter -> text, the non-empty option cells in column order
    answer: str | None  # None in a test split without answers
    category: str
    l2_category: str
    image: str  # base64 image, resolved when the cell named another row's index


@dataclass(frozen=True)
class McqPass:
    """One pass of CircularEval: a row shown with (possibly rotated) options."""

    index: int
    group: int  # the original question's index
    row: McqRow
    options: dict[str, str]  # letter -> text as shown in this pass
    answer: str | None


@dataclass(frozen=True)
class MMBenchOutcome:
    """One question's CircularEval result."""

    index: int
    category: str
    l2_category: str
    hit: bool
    passes: int
    unresolved: int  # passes the heuristics could not read (sent to the judge when there is one)
    refused: int  # passes read as 'Z' (refusals), always wrong


def _blank(cell: str) -> bool:
    return cell.strip().lower() in ("", "nan", "none")


def _read_frame(path: Path) -> Any:
    """A table file as a pandas DataFrame of strings (TSV, or XLSX through openpyxl)."""
    import pandas as pd  # imported here: `vigc-bench --help` must not pay for pandas

    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises many types for a malformed table, some over two lines
        raise BadInput(f"{path}: not a readable table ({' '.join(str(e).split())[:200]})") from None


_INTEGER = re.compile(r"\s*[+-]?\d{1,18}(\.0*)?\s*")  # '41' or '41.0' (a spreadsheet's float); never '41.9'


def _int(path: Path, value: str, what: str) -> int:
    if not _INTEGER.fullmatch(value):
        raise BadInput(f"{path}: {what} must be an integer, got {excerpt(value)}")
    return int(value.strip().split(".")[0])


def read_table(path: Path) -> list[McqRow]:
    """The rows of an MMBench TSV/XLSX, image references resolved; errors name the file."""
    path = Path(path)
    df = _read_frame(path)
    for col in ("index", "question", "A", "B"):
        if col not in df.columns:
            raise BadInput(f"{path}: no {col!r} column")
    recs = df.to_dict("records")
    images = {str(r["index"]).strip(): str(r.get("image", "")) for r in recs}
    rows = []
    for r in recs:
        idx = _int(path, str(r["index"]), "index")
        image = str(r.get("image", ""))
        if 0 < len(image) <= 64:  # VLMEvalKit's convention: a short cell names the row holding the image
            image = images.get(image.strip(), "")
            if len(image) <= 64:
                raise BadInput(f"{path}: index {idx}: image cell refers to a row without an image")
        options = {c: str(r[c]).strip() for c in LETTERS if c in r and not _blank(str(r[c]))}
        answer = str(r.get("answer", "")).strip() or None
        if answer is not None and answer not in options:
            raise BadInput(f"{path}: index {idx}: answer {excerpt(answer)} is not one of the options {sorted(options)}")
        hint = str(r.get("hint", ""))
        rows.append(McqRow(idx, str(r["question"]), None if _blank(hint) else hint, options, answer,
                           str(r.get("category", "")), str(r.get("l2-category", "")), image))
    return rows


def letter_like(options: Mapping[str, str]) -> bool:
    """Whether an option text contains one of the item's option letters as a token ("A", "B.", "both A and C").

    A leading capital "A" followed by a lower-case word is the English article ("A dog"), not a letter.
    """
    for text in options.values():
        toks = option_tokens(text)
        for i, t in enumerate(toks):
            if t in options and not (i == 0 and t == "A" and text.lstrip().startswith("A ") and len(toks) > 1
                                     and toks[1][:1].islower()):
                return True
    return False


def circular_passes(rows: Sequence[McqRow]) -> list[McqPass]:
    """Every CircularEval pass of the rows, each question's passes together, copy 0 first."""
    if any(r.index >= OFFSET for r in rows):  # copies already in the file (real MMBench TSVs)
        return [McqPass(r.index, r.index % OFFSET, r, r.options, r.answer) for r in rows]
    out = []
    for r in rows:
        letters, texts = list(r.options), list(r.options.values())
        n = len(texts)
        rotate = "".join(letters) == LETTERS[:n] and not letter_like(r.options)
        for k in range(n if rotate else 1):
            shown = {LETTERS[j]: texts[(j + k) % n] for j in range(n)} if rotate else dict(r.options)
            # The right answer moves with the rotation: original option c is shown as letter (c - k) mod n.
            ans = LETTERS[(LETTERS.index(r.answer) - k) % n] if rotate and r.answer is not None else r.answer
            out.append(McqPass(r.index + k * OFFSET, r.index, r, shown, ans))
    return out


def _read_rows(data: Sequence[Path]) -> list[McqRow]:
    rows: list[McqRow] = []
    seen: dict[int, Path] = {}
    for path in map(Path, data):
        for r in read_table(path):
            if r.index in seen:
                raise BadInput(f"{path}: index {r.index} already occurs in {seen[r.index]}")
            seen[r.index] = path
            rows.append(r)
    return rows


def read_predictions(path: Path) -> dict[int, str]:
    """index -> raw prediction, from JSON lines or a TSV/XLSX with a `prediction` column."""
    path = Path(path)
    preds: dict[int, str] = {}
    if path.suffix.lower() in (".tsv", ".xlsx", ".xls"):
        df = _read_frame(path)
        if "index" not in df.columns or "prediction" not in df.columns:
            raise BadInput(f"{path}: needs 'index' and 'prediction' columns")
        pairs = [(_int(path, str(i), "index"), str(p)) for i, p in zip(df["index"], df["prediction"])]
    else:
        pairs = []
        for n, d in enumerate(iter_jsonl_dicts(path), 1):
            idx, pred = d.get("index"), d.get("prediction")
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise BadInput(f"{path}: prediction {n} has no integer 'index'")
            if not isinstance(pred, str):
                raise BadInput(f"{path}: prediction {n} (index {idx}) has no 'prediction' string")
            pairs.append((idx, pred))
    for idx, pred in pairs:
        if idx in preds:
            raise BadInput(f"{path}: index {idx} is predicted twice")
        preds[idx] = pred
    return preds


def judge_group(passes: Sequence[McqPass], preds: Mapping[int, str], judge: ChoiceJudge | None) -> MMBenchOutcome:
    """CircularEval of one question (VLMEvalKit's prefetch, then judge): all passes must be right.

    Any pass the heuristics read as a wrong letter (or 'Z') fails the question at once; if all
    read right it passes; otherwise the unresolved passes go to the judge, or fail without one.
    """
    passes = sorted(passes, key=lambda p: p.index)
    got = [extract_choice(preds[p.index], p.options) for p in passes]
    wrong = any(g is not None and g != p.answer for g, p in zip(got, passes))
    hit = not wrong and all(g == p.answer for g, p in zip(got, passes))
    if not wrong and not hit and judge is not None:
        hit = all(g == p.answer or (g is None and judge(p.row.question, p.options, preds[p.index]) == p.answer)
                  for g, p in zip(got, passes))
    first = passes[0].row
    return MMBenchOutcome(passes[0].group, first.category, first.l2_category, hit, len(passes),
                          sum(g is None for g in got), sum(g == REFUSED for g in got))


def _image_bytes(b64: str, cache: dict[str, bytes]) -> bytes | None:
    if not b64:
        return None
    if b64 not in cache:
        try:
            cache[b64] = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise BadInput(f"image cell is not valid base64 ({b64[:20]}...)") from None
    return cache[b64]


@register_benchmark("mmbench")
class MMBench(Benchmark[MMBenchOutcome]):
    """MMBench under CircularEval with VLMEvalKit's heuristic answer extraction."""

    name = "mmbench"
    primary_metric = "overall"
    higher_is_better = True
    splits = ("dev",)
    protocol = "official"
    multiple_choice = True

    def __init__(self, judge: ChoiceJudge | None = None, questions_per_l2: int | None = None) -> None:
        """`judge` reads passes the heuristics cannot; `questions_per_l2` caps synthesis (default: half the scenes)."""
        self.judge = judge
        self.questions_per_l2 = questions_per_l2

    @staticmethod
    def build_judge(*args: Any, **kwargs: Any) -> Any:
        """The chat judge `vigc-bench score --judge-*` asks for (`benchmarks._mmbench_judge.build_judge`)."""
        from benchmarks._mmbench_judge import build_judge  # the judge's module only when one is asked for

        return build_judge(*args, **kwargs)

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write `world_mmbench_dev.tsv`: world questions in MMBench's TSV, images inlined as base64."""
        cap = self.questions_per_l2 or max(1, len(scenes) // 2)
        qs = build_questions(scenes, seed, cap)
        by_id = {s.image_id: s for s in scenes}
        first: dict[int, int] = {}  # image_id -> index of the row that holds its base64
        records = []
        for q in qs:
            image_id = q.pop("image_id")
            if image_id in first:  # later rows name the first row's index, as the official TSVs do
                image = str(first[image_id])
            else:
                p = Path(image_root) / by_id[image_id].file_name
                if not p.is_file():
                    raise MissingResource(f"{p}: world image not found (was the world written?)")
                image, first[image_id] = base64.b64encode(p.read_bytes()).decode("ascii"), q["index"]
            records.append({**q, "image": image, "split": "dev"})
        import pandas as pd

        path = Path(out_dir) / "world_mmbench_dev.tsv"
        df = pd.DataFrame(records, columns=list(COLUMNS))
        atomic_write_text(path, df.to_csv(sep="\t", index=False, lineterminator="\n"))
        return {"dev": [path]}

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per CircularEval pass; `image` is the decoded image file bytes (`image_root` is unused)."""
        cache: dict[str, bytes] = {}
        return [BenchItem(id=str(p.index), prompt=build_prompt(p.row.question, list(p.options.values()), p.row.hint),
                          image=_image_bytes(p.row.image, cache), choices=tuple(p.options.values()),
                          rank_prompt=rank_prompt(p.row.question, p.row.hint)) for p in circular_passes(_read_rows(data))]

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """JSON lines `{"index": int, "prediction": str}`."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        atomic_write_text(out, to_jsonl({"index": int(i.id), "prediction": a} for i, a in zip(items, answers)))

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[MMBenchOutcome]:
        """CircularEval accuracy; every pass needs a prediction (else `BadInput` naming the file)."""
        rows = _read_rows(data)
        if any(r.answer is None for r in rows):
            raise BadInput(f"{', '.join(map(str, data))}: rows without an answer (a test split cannot be scored)")
        passes = circular_passes(rows)
        preds = read_predictions(Path(predictions))
        missing = [p.index for p in passes if p.index not in preds]
        if missing:
            raise BadInput(f"{predictions}: {len(missing)} of {len(passes)} CircularEval passes have no prediction "
                           f"(first missing index: {missing[0]})")
        known = {p.index for p in passes}
        extra = sorted(i for i in preds if i not in known)
        if extra:
            raise BadInput(f"{predictions}: {len(extra)} predictions have indices not in the data (first: {extra[0]})")
        groups: dict[int, list[McqPass]] = {}
        for p in passes:
            groups.setdefault(p.group, []).append(p)
        outcomes = [judge_group(g, preds, self.judge) for g in groups.values()]
        unresolved = sum(o.unresolved for o in outcomes)
        notes = {"passes": len(passes), "unresolved_passes": unresolved,
                 "refused_passes": sum(o.refused for o in outcomes),
                 "questions_with_unresolved": sum(o.unresolved > 0 for o in outcomes),
                 "judge": self.judge is not None}
        protocol = self.protocol + ("+judge" if self.judge is not None else "")
        return ScoreResult(self.aggregate(outcomes), outcomes, len(outcomes), protocol, notes)

    def aggregate(self, outcomes: Sequence[MMBenchOutcome]) -> dict[str, float]:
        """overall, then one key per l2-category and per category (0-100 CircularEval accuracy).

        Keys are the TSV's own names; a category that repeats an l2 name is keyed 'category/<name>'.
        """
        def pct(hits: int, n: int) -> float:
            return 100.0 * (hits / n) if n else 0.0

        # [hits, questions] per name, counted in one pass: the bootstrap calls this a thousand times.
        counts: dict[str, dict[str, list[int]]] = {"l2_category": {}, "category": {}}
        for o in outcomes:
            for attr, per_name in counts.items():
                name = getattr(o, attr)
                if name:
                    c = per_name.setdefault(name, [0, 0])
                    c[0] += o.hit
                    c[1] += 1
        out = {"overall": pct(sum(o.hit for o in outcomes), len(outcomes))}
        for per_name in counts.values():  # l2 categories first, as the keys' docs say
            for name in sorted(per_name):
                key = name if name not in out else f"category/{name}"
                out[key] = pct(*per_name[name])
        return out

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[MMBenchOutcome]) -> list[ItemScore]:
        """Per pass (rotated copy): hit or miss, grouped by question, so that the group's minimum
        is the question's CircularEval hit; categories: the question's l2-category."""
        preds = read_predictions(Path(predictions))
        hit = {o.index: o.hit for o in result.outcomes}
        out = []
        for p in circular_passes(_read_rows(data)):
            got = extract_choice(preds[p.index], p.options)
            # A question the judge passed passes in every pass, whatever the heuristics read.
            score = 1.0 if hit[p.group] else float(got == p.answer)
            out.append(ItemScore(str(p.index), score, preds[p.index], got, p.answer, group=str(p.group),
                                 categories=(p.row.l2_category,) if p.row.l2_category else ()))
        return out
