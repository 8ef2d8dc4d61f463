"""CHAIR: object hallucination in image descriptions ("Describe this image in detail.").

Data: COCO `instances_*.json` and `captions_*.json` (several of each are merged, as the
official script merges train and val). Predictions: `[{"image_id", "caption"}]` as a JSON list
or JSON lines. Only the captioned images are scored (the usual protocol captions a 500-image
sample of val2014 and passes the full annotation files).

Rules of the official `chair.py` (LisaAnne/Hallucination): the ground-truth objects of an
image are its segmentation categories plus the COCO objects found in its reference captions.
A caption is lower-cased and tokenized, every token singularized, known two-word objects merged
("traffic light", "hot dog"; "baby elephant" -> "elephant", "bow tie" -> "tie"), "seat" dropped
when "toilet" occurs, and every remaining synonym mapped to its class. CHAIRi = hallucinated
mentions / all mentions, CHAIRs = captions with a hallucination / captions, recall = distinct
ground-truth objects mentioned / ground-truth objects (the later `chair.py` versions' recall),
all pooled over captions and on a 0-100 scale. A ratio whose denominator is 0 is 0.

Substitutes, since the official dependencies cannot run offline (DESIGN §6):
- `nltk.word_tokenize` needs the punkt sentence model; sentences are split at ". ", "! ",
  "? " instead and each is tokenized with `NLTKWordTokenizer`, the Treebank-style tokenizer
  `word_tokenize` itself runs on each sentence (it needs no data).
- Pattern's `singularize` no longer installs; `inflection.singularize` is used, with
  `PATTERN_SINGULAR` restoring Pattern's output where the two differ on COCO words. That keeps
  Pattern's quirks: "bus" -> "bu", so a singular bus is never counted, as officially.

The embedded world gets its own vocabulary (`world_vocabulary`: each shape's name, plural and
synonyms from `harness.world.spec`), chosen when every instances category is a world shape.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmarks import register_benchmark
from benchmarks.base import Benchmark, BenchItem, ItemScore, ScoreResult
from harness.core.errors import BadInput, excerpt
from harness.core.io import iter_jsonl_dicts, read_json, write_json
from harness.core.records import Scene
from harness.world.spec import SHAPES, all_object_words

PROMPT = "Describe this image in detail."
CAPTIONS_PER_IMAGE = 5  # reference captions per world image, as COCO
MAX_NEW_TOKENS = 128  # room for a few sentences about the world's two to five shapes

# Pattern 3.6 `singularize` outputs that differ from `inflection.singularize` on COCO synonyms,
# their plurals and the words of the two-word table (found by running both on those words).
PATTERN_SINGULAR: dict[str, str] = {
    "bus": "bu", "minibus": "minibu", "airbus": "airbu",  # Pattern strips the final s
    "glass": "glas",  # hence the official 'wine glas' -> 'wine glass' override
    "scissors": "scissors", "doggies": "doggies",  # uninflected / Pattern's -ie rule returns the word
    "geese": "goose", "zebus": "zebu",
    "gloves": "glove", "microwaves": "microwave", "stoves": "stove",  # inflection: glofe, microwafe, stofe
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LETTERS = re.compile(r"[^\W\d_]+")  # runs of letters
# Sentences of lower-case ASCII words, spaces and commas, with at most a final . ! or ?: on
# these the NLTK tokenizer only splits off the commas and the final mark (its other rules need
# quotes, digits, brackets or other punctuation), except in the words it cuts in two and after
# two commas in a row (its comma rule consumes the character after a comma).
_PLAIN = re.compile(r"[a-z ,]*[.!?]?")
_PLAIN_TOKEN = re.compile(r"[a-z]+|[,.!?]")
_NLTK_CUTS = frozenset({"cannot", "gimme", "gonna", "gotta", "lemme", "wanna"})


@dataclass(frozen=True)
class Vocabulary:
    """What counts as an object mention: synonym table, two-word table and special rules."""

    name: str  # "coco" or "world"
    synonyms: Mapping[str, str]  # a (singularized) word or merged two-word object -> its class
    double_words: Mapping[str, str]  # "w1 w2" (singularized words) -> the word it is treated as
    singular_overrides: Mapping[str, str]  # token -> singular, before `inflection`
    toilet_seat: bool  # the official rule: drop "seat" from a caption that says "toilet"

    @functools.cached_property
    def double_firsts(self) -> frozenset[str]:
        """First words of the two-word table: only after these is a pair looked up."""
        return frozenset(k.split(" ")[0] for k in self.double_words)

    @functools.cached_property
    def triggers(self) -> frozenset[str]:
        """Singular words without which a sentence cannot name an object (see `_sentence_words`)."""
        return frozenset(self.synonyms) | self.double_firsts

    def singular(self, token: str) -> str:
        """The token as the official `singularize` gives it."""
        return self.singular_overrides.get(token) or singular(token)


@functools.cache
def coco_vocabulary() -> Vocabulary:
    """The official tables (packaged `data/chair_coco_words.json`), read on first use."""
    raw = json.loads((Path(__file__).parent / "data" / "chair_coco_words.json").read_text(encoding="utf-8"))
    synonyms: dict[str, str] = {}
    for line in raw["synonym_lines"]:
        # strip + split(", ") as the official loader, so " motor bike" keeps its space and never matches.
        words = line.strip().split(", ")
        for w in words:
            synonyms[w] = words[0]
    doubles = {w: w for w in raw["double_words"]}
    for w in raw["baby_adult_animal_words"]:
        doubles[f"baby {w}"] = w
        doubles[f"adult {w}"] = w
    for w in raw["passenger_vehicle_words"]:
        doubles[f"passenger {w}"] = w
    doubles.update(raw["double_word_overrides"])  # last, as officially: 'bow tie' -> 'tie'
    return Vocabulary("coco", synonyms, doubles, PATTERN_SINGULAR, True)


@functools.cache
def world_vocabulary() -> Vocabulary:
    """The embedded world's shape words: name, plural and synonyms, also as `singular` sees them."""
    synonyms: dict[str, str] = {}
    for word, shape in all_object_words().items():
        # Keyed by the singularized form too, so a word inflection mangles ("plus" -> "plu") still matches.
        for key in (word, singular(word)):
            if synonyms.setdefault(key, shape) != shape:
                raise AssertionError(f"world word {key!r} names both {synonyms[key]} and {shape}")
    return Vocabulary("world", synonyms, {}, {}, False)


@functools.lru_cache(maxsize=1 << 16)
def singular(word: str) -> str:
    """`inflection.singularize` of one lower-case token (cached: captions repeat words)."""
    import inflection

    return inflection.singularize(word)


@functools.cache
def _word_tokenizer() -> Any:
    """The per-sentence tokenizer of `nltk.word_tokenize` (imported on first use: nltk is slow to import)."""
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


@functools.lru_cache(maxsize=1 << 16)
def _sentence_words(sentence: str, vocab_name: str) -> tuple[str, ...]:
    """The singularized tokens of one lower-cased sentence, or () when it cannot name an object.

    Tokenizing is most of the cost of scoring, so sentences are screened first: an object
    token is alphabetic, and the tokenizer only splits a run of letters inside contractions
    ("can|not", "gon|na"), so every object token is a whole run of letters of the sentence.
    A sentence none of whose runs is a trigger yields no mention; dropping it changes no
    two-word merge either, since every sentence but the last ends in a punctuation token.
    """
    vocab = vocabulary(vocab_name)
    if not any(vocab.singular(w) in vocab.triggers for w in _LETTERS.findall(sentence)):
        return ()
    return tuple(vocab.singular(t) for t in sentence_tokens(sentence))


def sentence_tokens(sentence: str) -> list[str]:
    """NLTK's tokens of one lower-cased sentence; plain sentences take a regex shortcut that
    gives the same tokens about twenty times faster."""
    if _PLAIN.fullmatch(sentence) and ",," not in sentence:
        tokens = _PLAIN_TOKEN.findall(sentence)
        if _NLTK_CUTS.isdisjoint(tokens):
            return tokens
    return _word_tokenizer().tokenize(sentence)


def mentions(caption: str, vocab: Vocabulary) -> tuple[tuple[str, str], ...]:
    """(word, class) for each object mention in the caption, in order (official `caption_to_words`)."""
    return _mentions(caption, vocab.name)


@functools.lru_cache(maxsize=1 << 16)
def _mentions(caption: str, vocab_name: str) -> tuple[tuple[str, str], ...]:
    vocab = vocabulary(vocab_name)
    words = [w for sentence in _SENTENCE_END.split(caption.lower()) for w in _sentence_words(sentence, vocab_name)]
    merged: list[str] = []
    i = 0
    while i < len(words):
        # The official pass joins every pair; keys all have two words, so only a pair that
        # starts with a first word of the table can match.
        w = words[i]
        if w in vocab.double_firsts and i + 1 < len(words) and f"{w} {words[i + 1]}" in vocab.double_words:
            merged.append(vocab.double_words[f"{w} {words[i + 1]}"])
            i += 2
        else:
            merged.append(w)
            i += 1
    if vocab.toilet_seat and "toilet" in merged and "seat" in merged:
        merged = [w for w in merged if w != "seat"]  # "the seat of the toilet" is not a chair
    return tuple((w, vocab.synonyms[w]) for w in merged if w in vocab.synonyms)


def vocabulary(name: str) -> Vocabulary:
    """The vocabulary called `name` ("coco" or "world")."""
    if name == "coco":
        return coco_vocabulary()
    if name == "world":
        return world_vocabulary()
    raise ValueError(f"unknown CHAIR vocabulary {excerpt(name)}")


def pick_vocabulary(category_names: Sequence[str]) -> Vocabulary:
    """The world's vocabulary when every category is a world shape, else COCO's."""
    names = set(category_names)
    return world_vocabulary() if names and names <= set(SHAPES) else coco_vocabulary()


@dataclass(frozen=True)
class ChairOutcome:
    """One caption's counts: mentions, hallucinated mentions, ground-truth objects and those named."""

    image_id: int
    mentions: int
    hallucinated: int
    gt_objects: int
    recalled: int
    hallucinated_words: tuple[str, ...]  # the caption's words that named absent objects


@dataclass(frozen=True)
class CocoObjects:
    """The merged annotation files: known images, segmentation classes and reference captions."""

    images: dict[int, str]  # image id -> file name
    vocab: Vocabulary
    segment_objects: dict[int, set[str]]  # image id -> classes of its instances
    captions: dict[int, list[str]]  # image id -> reference captions

    def truth(self, image_id: int) -> set[str]:
        """CHAIR's ground-truth classes of an image: its instances' plus those its reference captions name."""
        gt = set(self.segment_objects.get(image_id, ()))
        for ref in self.captions.get(image_id, ()):
            gt.update(c for _, c in mentions(ref, self.vocab))
        return gt


def _int_id(value: Any) -> bool:
    """Whether `value` is an integer id (JSON true/false are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _read_coco(data: Sequence[Path]) -> CocoObjects:
    """Merge the instances and captions files; each is recognised by its content."""
    instances, captions = [], []
    for path in map(Path, data):
        doc = read_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
            raise BadInput(f"{path}: expected a COCO JSON object with an 'annotations' list")
        (instances if "categories" in doc else captions).append((path, doc))
    if not instances or not captions:
        raise BadInput(f"{', '.join(map(str, data))}: CHAIR needs a COCO instances file and a captions file")
    return _merge(instances, captions)


def read_coco_objects(instances: Sequence[Path], captions: Sequence[Path] = ()) -> CocoObjects:
    """COCO instances files (each must have `categories`) and optional captions files, merged:
    what CHAIR knows of each image. Data quality measures generated data against it
    (`harness.api.measure_quality`); a malformed file is a `BadInput` naming it."""
    inst, caps = [], []
    for path in map(Path, instances):
        doc = read_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list) or "categories" not in doc:
            raise BadInput(f"{path}: not a COCO instances file (expected an object with 'annotations' and "
                           "'categories')")
        inst.append((path, doc))
    for path in map(Path, captions):
        doc = read_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
            raise BadInput(f"{path}: not a COCO captions file (expected an object with an 'annotations' list)")
        caps.append((path, doc))
    if not inst:
        raise BadInput("no COCO instances file given")
    return _merge(inst, caps)


def _merge(instances: Sequence[tuple[Path, Any]], captions: Sequence[tuple[Path, Any]]) -> CocoObjects:
    """The parsed instances and captions documents as one `CocoObjects`; shape errors name the file."""
    images: dict[int, str] = {}
    cat_names: dict[int, str] = {}
    for path, doc in [*instances, *captions]:
        ims = doc.get("images", [])
        if not isinstance(ims, list):
            raise BadInput(f"{path}: 'images' must be a list")
        for im in ims:
            if not isinstance(im, dict) or not _int_id(im.get("id")):
                raise BadInput(f"{path}: an 'images' entry has no integer 'id'")
            images[im["id"]] = str(im.get("file_name", f"{im['id']}.jpg"))
    for path, doc in instances:
        if not isinstance(doc["categories"], list):
            raise BadInput(f"{path}: 'categories' must be a list")
        for c in doc["categories"]:
            if not isinstance(c, dict) or not _int_id(c.get("id")) or not isinstance(c.get("name"), str):
                raise BadInput(f"{path}: a category needs an integer 'id' and a 'name'")
            cat_names[c["id"]] = c["name"]
    vocab = pick_vocabulary(list(cat_names.values()))
    segments: dict[int, set[str]] = {}
    for path, doc in instances:
        for a in doc["annotations"]:
            if not isinstance(a, dict) or not _int_id(a.get("image_id")) or a.get("category_id") not in cat_names:
                raise BadInput(f"{path}: an annotation needs an integer 'image_id' and a known 'category_id'")
            name = cat_names[a["category_id"]]
            if name not in vocab.synonyms:
                raise BadInput(f"{path}: category {excerpt(name)} is not in the {vocab.name} synonym table")
            segments.setdefault(a["image_id"], set()).add(vocab.synonyms[name])
    refs: dict[int, list[str]] = {}
    for path, doc in captions:
        for a in doc["annotations"]:
            if not isinstance(a, dict) or not _int_id(a.get("image_id")) or not isinstance(a.get("caption"), str):
                raise BadInput(f"{path}: a caption annotation needs an integer 'image_id' and a 'caption' string")
            refs.setdefault(a["image_id"], []).append(a["caption"])
    return CocoObjects(images, vocab, segments, refs)


def _read_predictions(path: Path) -> list[tuple[int, str]]:
    """(image_id, caption) rows of a JSON list or JSON lines file; duplicates are `BadInput`."""
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        doc = list(iter_jsonl_dicts(path))  # several lines: JSON lines
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    if isinstance(doc, dict):  # one JSON-lines row
        doc = [doc]
    if not isinstance(doc, list):
        raise BadInput(f"{path}: expected a list of {{'image_id', 'caption'}} objects")
    rows: list[tuple[int, str]] = []
    seen: set[int] = set()
    for n, d in enumerate(doc, 1):
        if not isinstance(d, dict) or not _int_id(d.get("image_id")) or not isinstance(d.get("caption"), str):
            raise BadInput(f"{path}: prediction {n} needs an integer 'image_id' and a 'caption' string")
        if d["image_id"] in seen:
            raise BadInput(f"{path}: image_id {d['image_id']} is captioned twice")
        seen.add(d["image_id"])
        rows.append((d["image_id"], d["caption"]))
    if not rows:
        raise BadInput(f"{path}: no captions")
    return rows


def _pct(num: int, den: int) -> float:
    """num / den * 100, or 0 when den is 0."""
    return num / den * 100 if den else 0.0


@register_benchmark("chair")
class Chair(Benchmark[ChairOutcome]):
    """CHAIR with the official synonym and two-word tables (or the world's shape words).

    Primary metric: CHAIRi, lower is better. Per mention, it is less saturated than CHAIRs on
    detailed descriptions (most long descriptions name at least one absent object) and is
    pooled over many more units, so its intervals are tighter. CHAIRs and recall are reported
    too; recall guards against a model that avoids hallucination by naming nothing.
    """

    name = "chair"
    primary_metric = "CHAIRi"
    higher_is_better = False
    splits = ("test",)
    protocol = "official"

    def synthesize(self, scenes: Sequence[Scene], image_root: Path, out_dir: Path, seed: int) -> dict[str, list[Path]]:
        """Write `instances_bench.json` and `captions_bench.json` (COCO format) for the scenes."""
        # Imported here: the world exporter pulls in the renderer (PIL), which scoring never needs.
        from harness.world.export import coco_captions, coco_instances

        inst, caps = Path(out_dir) / "instances_bench.json", Path(out_dir) / "captions_bench.json"
        write_json(inst, coco_instances(scenes), indent=None)
        write_json(caps, coco_captions(scenes, seed, CAPTIONS_PER_IMAGE), indent=None)
        return {"test": [inst, caps]}

    def load(self, data: Sequence[Path], image_root: Path | None = None) -> list[BenchItem]:
        """One item per image listed in the annotation files; file names resolve against
        `image_root`, else the first data file's folder."""
        coco = _read_coco(data)
        root = Path(image_root) if image_root is not None else Path(data[0]).parent
        return [BenchItem(id=str(i), prompt=PROMPT, image=str(root / f), max_new_tokens=MAX_NEW_TOKENS)
                for i, f in coco.images.items()]

    def write_predictions(self, items: Sequence[BenchItem], answers: Sequence[str], out: Path) -> None:
        """A JSON list `[{"image_id": int, "caption": str}]`, the official input."""
        if len(items) != len(answers):
            raise ValueError(f"{len(items)} items but {len(answers)} answers")
        write_json(out, [{"image_id": int(i.id), "caption": a} for i, a in zip(items, answers)], indent=None)

    def score(self, data: Sequence[Path], predictions: Path) -> ScoreResult[ChairOutcome]:
        """CHAIRs, CHAIRi and recall over the captioned images; unknown image ids are `BadInput`."""
        coco = _read_coco(data)
        rows = _read_predictions(Path(predictions))
        unknown = [i for i, _ in rows if i not in coco.images]
        if unknown:
            raise BadInput(f"{predictions}: {len(unknown)} captions are for image ids not in the data "
                           f"(first: {unknown[0]})")
        outcomes = []
        for image_id, caption in rows:
            gt = coco.truth(image_id)
            said = mentions(caption, coco.vocab)
            wrong = tuple(w for w, c in said if c not in gt)
            outcomes.append(ChairOutcome(image_id, len(said), len(wrong), len(gt),
                                         len({c for _, c in said} & gt), wrong))
        return ScoreResult(metrics=self.aggregate(outcomes), outcomes=outcomes, n=len(outcomes),
                           protocol=self.protocol, notes={"vocabulary": coco.vocab.name,
                                                          "uncaptioned_images": len(coco.images) - len(rows)})

    def aggregate(self, outcomes: Sequence[ChairOutcome]) -> dict[str, float]:
        """CHAIRs, CHAIRi (lower is better) and recall, pooled over captions, all 0-100."""
        return {"CHAIRs": _pct(sum(o.hallucinated > 0 for o in outcomes), len(outcomes)),
                "CHAIRi": _pct(sum(o.hallucinated for o in outcomes), sum(o.mentions for o in outcomes)),
                "recall": _pct(sum(o.recalled for o in outcomes), sum(o.gt_objects for o in outcomes))}

    def item_scores(self, data: Sequence[Path], predictions: Path,
                    result: ScoreResult[ChairOutcome]) -> list[ItemScore]:
        """Per caption: its share of hallucinated mentions, weighted by its mentions (CHAIRi pools
        mentions over captions); `extracted` lists the hallucinated words."""
        captions = dict(_read_predictions(Path(predictions)))
        return [ItemScore(str(o.image_id), o.hallucinated / o.mentions if o.mentions else 0.0,
                          captions.get(o.image_id), ", ".join(o.hallucinated_words) or None, None,
                          weight=float(o.mentions))
                for o in result.outcomes]
