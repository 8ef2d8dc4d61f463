"""Checkable claims in an answer, checked against a scene's complete ground truth.

The rules are conservative: only what parses unambiguously is checked; text that does not
parse is neither right nor wrong.

Preparing the text. The answer is lower-cased; the knowledge base's fact sentences (e.g.
"A star has five points.") are removed, since they are generic, not about the image. It is
split into sentences at . ! ? ; : and each sentence into clauses at ", and", ", so",
", because", ", but", ", while", ", which". A leading "yes" / "no" is removed from the
first clause (it answers the question: see *existence*).

Noun phrases (NP). `[the|a|an|no|any] [number] [size] [colour] NOUN`, where the number is
zero..ten or digits, the size is small / big (large = big), the colour one of
`spec.COLOURS`, and NOUN a shape word (name, plural, synonym and the synonym's plural, as
in `spec.all_object_words`) or a generic noun (object(s), shape(s)). A word joined by a
hyphen ("star-shaped") is not a noun. Attributes in another order are not read.

Skipped clauses. A clause says nothing checkable when it is negated, hypothetical or
hedged (not, n't, never, none, nor, neither, without, if, would, could, might, may, maybe,
perhaps, probably, possibly, likely, seems, or, unless, except, cannot, or a bare "no"
outside "there is/are no NP"), or when it is a generic statement ("a star has ...": the
clause starts with an a/an NP followed by has / have / looks / is often / is a symbol).

Claims, in a clause (NPs stand for themselves below):
- mention: every NP with a shape noun (not after "no", not with the number zero), and every
  generic NP with a size or colour ("the red object"). Predicates are merged into their
  subject: "NP is [a|an] [size] [and] [colour]" ("The star is red.": a red star) and
  "NP is a|an NP2" ("The red object is a star.": a red star) when the two do not
  contradict. Checked: *hallucinated* when the image has no object of that shape
  (CHAIR-style object hallucination); else an *attribute error* when no object has the
  shape and every stated attribute together; else true. A generic NP cannot be
  hallucinated; with no object of its attributes it is an attribute error.
- count: "there is/are NP", "the image/picture/scene shows/contains/has NP", "among NP",
  with a number (or "no" = 0) in NP: true when exactly that many objects match NP (a
  generic NP without attributes counts every object).
- existence: the question is "Is/Are there [a|an|any] NP ..." (without "or") and the
  answer starts with yes or no: true when some object matches NP (yes) or none does (no).
  With a number in NP ("Are there two stars?"), yes is a count claim and no is not read.
- quadrant: "NP is in the top|bottom left|right", "in the top left [corner|part|area]
  [of the image][,] there is/are NP", "NP in the top left": true when an object matching
  NP has its box centre in that quadrant (`qa.quadrant_of`).
- relation: "NP1 [is|are] to the left of|to the right of|above|below NP2": true when some
  pair of matching objects is in that clear-cut relation (`qa.relation`); false when for
  every pair the first is on the wrong side by at least a tenth of the image along the
  claimed axis, or is level with the second (within a tenth) while clearly placed along
  the other axis; otherwise not checked.
- size comparison: "NP1 [is|are] bigger|larger|smaller than NP2": true when some matching
  pair has the sizes in that order (the world has two sizes), false otherwise.
Relation, size and quadrant claims are not checked when one of their NPs is itself wrong
(that error is already counted once, as a hallucination or an attribute error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal, Sequence

from harness.core.records import Scene, SceneObject
from harness.world.qa import Known, quadrant_of, relation
from harness.world.spec import COLOURS, NUMBER_WORDS, SHAPES, all_object_words

ClaimKind = Literal["mention", "count", "exists", "quadrant", "relation", "bigger"]
MentionStatus = Literal["ok", "hallucinated", "attribute_error"]

_GENERIC = {"object": False, "objects": True, "shape": False, "shapes": True}
_SIZE_WORDS = {"small": "small", "big": "big", "large": "big"}
_SKIP_WORDS = {"not", "never", "none", "nor", "neither", "without", "if", "would", "could", "might", "may",
               "maybe", "perhaps", "probably", "possibly", "likely", "seems", "or", "unless", "except",
               "cannot", "no"}
_CLAUSE_SPLIT = re.compile(r",\s*(?:and|so|because|but|while|which)\s+")
_SENTENCE_SPLIT = re.compile(r"[.!?;:](?:\s+|$)")


@dataclass(frozen=True)
class Mention:
    """An object as the text describes it: category (None for 'object'/'shape') and attributes."""

    shape: str | None
    colour: str | None = None
    size: str | None = None
    plural: bool = False
    number: int | None = None  # the stated count, if the NP has one
    negated: bool = False  # "no stars"

    def matches(self, o: SceneObject) -> bool:
        """Whether the object fits every stated property."""
        return ((self.shape is None or o.shape == self.shape) and (self.colour is None or o.colour == self.colour)
                and (self.size is None or o.size == self.size))

    @property
    def attributed(self) -> bool:
        """Whether a colour or size is stated."""
        return self.colour is not None or self.size is not None


@dataclass(frozen=True)
class Claim:
    """One checkable statement. `value`: the count, quadrant, relation phrase, 'bigger' /
    'smaller', or True/False for existence."""

    kind: ClaimKind
    subject: Mention
    other: Mention | None = None
    value: int | str | bool | None = None


@dataclass(frozen=True)
class CheckedClaim:
    """A claim with its verdict (None: not checkable) and, for mentions, their status."""

    claim: Claim
    verdict: bool | None
    status: MentionStatus | None = None
    objects: tuple[int, ...] = ()  # ids of the objects the claim is about (mentions, quadrants)


@dataclass(frozen=True)
class AnswerCheck:
    """Every claim of one answer, checked."""

    claims: tuple[CheckedClaim, ...]

    def _mentions(self) -> list[CheckedClaim]:
        return [c for c in self.claims if c.claim.kind == "mention"]

    @property
    def n_mentions(self) -> int:
        """Object mentions (NPs naming a shape): CHAIR's denominator."""
        return sum(c.claim.subject.shape is not None for c in self._mentions())

    @property
    def n_hallucinated(self) -> int:
        """Mentions of a shape the image does not have."""
        return sum(c.status == "hallucinated" for c in self._mentions())

    @property
    def n_attributed(self) -> int:
        """Mentions with a colour or size whose shape is present (or that name no shape)."""
        return sum(c.claim.subject.attributed and c.status != "hallucinated" for c in self._mentions())

    @property
    def n_attribute_errors(self) -> int:
        """Attributed mentions that no object of the image fits."""
        return sum(c.status == "attribute_error" for c in self._mentions())

    @property
    def n_checked(self) -> int:
        """Claims with a verdict."""
        return sum(c.verdict is not None for c in self.claims)

    @property
    def correct(self) -> bool | None:
        """True when every checkable claim is true; None when nothing was checkable."""
        verdicts = [c.verdict for c in self.claims if c.verdict is not None]
        return all(verdicts) if verdicts else None


# --- parsing ------------------------------------------------------------------------------


@cache
def _nouns() -> dict[str, tuple[str | None, bool]]:
    """Noun -> (category or None for generic, plural)."""
    out: dict[str, tuple[str | None, bool]] = {w: (None, p) for w, p in _GENERIC.items()}
    for word, cat in all_object_words().items():
        out[word] = (cat, word == SHAPES[cat].plural)
    for s in SHAPES.values():
        for syn in s.synonyms:
            out.setdefault(syn + ("es" if syn.endswith(("s", "x", "sh", "ch")) else "s"), (s.name, True))
    return out


@cache
def _np_re() -> re.Pattern[str]:
    nums = "|".join(NUMBER_WORDS) + r"|\d+"
    nouns = "|".join(sorted(_nouns(), key=len, reverse=True))
    return re.compile(rf"\b(?:(?P<art>the|a|an|no|any)\s+)?(?:(?P<num>{nums})\s+)?"
                      rf"(?:(?P<size>{'|'.join(_SIZE_WORDS)})\s+)?(?:(?P<colour>{'|'.join(COLOURS)})\s+)?"
                      rf"(?P<noun>{nouns})\b(?!-)")


@cache
def _facts_re() -> re.Pattern[str]:
    facts = sorted({f.lower().rstrip(".") for s in SHAPES.values() for f in s.facts}, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in facts))


def _number(word: str | None) -> int | None:
    if word is None:
        return None
    return int(word) if word.isdigit() else NUMBER_WORDS.index(word)


def _mention(m: re.Match[str]) -> tuple[Mention, str | None]:
    shape, plural = _nouns()[m["noun"]]
    size = _SIZE_WORDS[m["size"]] if m["size"] else None
    return Mention(shape, m["colour"], size, plural, _number(m["num"]), m["art"] == "no"), m["art"]


def _with_nps(clause: str) -> tuple[str, list[Mention], list[str | None]]:
    """The clause with each NP replaced by 'np<k>', the NPs, and their articles."""
    mentions: list[Mention] = []
    arts: list[str | None] = []

    def repl(m: re.Match[str]) -> str:
        men, art = _mention(m)
        mentions.append(men)
        arts.append(art)
        return f"np{len(mentions) - 1}"

    return _np_re().sub(repl, clause), mentions, arts


def _merge(a: Mention, shape: str | None, colour: str | None, size: str | None) -> Mention | None:
    """`a` with more properties, or None when they contradict it."""
    for mine, new in ((a.shape, shape), (a.colour, colour), (a.size, size)):
        if mine is not None and new is not None and mine != new:
            return None
    return Mention(a.shape or shape, a.colour or colour, a.size or size, a.plural, a.number, a.negated)


def _predicate(text: str, nps: list[Mention], arts: list[str | None]) -> tuple[int, Mention, int | None] | None:
    """(subject index, merged mention, merged predicate NP index) for 'NP is <attributes>'
    or 'NP is a NP2'; None when the clause is not such a predicate."""
    m = re.fullmatch(r"np(\d+) (?:is|are) (.+)", text)
    if m is None:
        return None
    i, rest = int(m[1]), m[2].strip()
    if (m2 := re.fullmatch(r"np(\d+)(?: in the image)?", rest)) and arts[int(m2[1])] in ("a", "an"):
        j = int(m2[1])
        p = nps[j]
        merged = _merge(nps[i], p.shape, p.colour, p.size)
        return (i, merged, j) if merged is not None else None
    words = [w for w in rest.split() if w not in ("a", "an", "and")]
    if not words or any(w not in _SIZE_WORDS and w not in COLOURS for w in words):
        return None
    colours = [w for w in words if w in COLOURS]
    sizes = [_SIZE_WORDS[w] for w in words if w in _SIZE_WORDS]
    if len(colours) > 1 or len(sizes) > 1:
        return None
    merged = _merge(nps[i], None, colours[0] if colours else None, sizes[0] if sizes else None)
    return (i, merged, None) if merged is not None else None


_QUAD = r"(top|bottom)[ -](left|right)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("count", re.compile(r"\bthere (?:is|are) np(\d+)")),
    ("count", re.compile(r"\b(?:image|picture|scene) (?:shows|contains|has) np(\d+)")),
    ("count", re.compile(r"\bamong np(\d+)")),
    ("quadrant", re.compile(rf"np(\d+) (?:is |are )?in the {_QUAD}")),
    ("quadrant", re.compile(rf"\bin the {_QUAD}(?: corner| part| area)?(?: of the (?:image|picture))?,? "
                            r"there (?:is|are) np(\d+)")),
    ("relation", re.compile(r"np(\d+) (?:is |are )?(to the left of|to the right of|above|below) np(\d+)")),
    ("bigger", re.compile(r"np(\d+) (?:is |are )?(bigger|larger|smaller) than np(\d+)")),
)


def _skip(text: str, nps: list[Mention], arts: list[str | None]) -> bool:
    words = set(re.findall(r"[a-z']+", text))
    if words & _SKIP_WORDS or "n't" in text:
        return True
    if any(n.negated for n in nps) and not re.search(r"\bthere (?:is|are) np\d+", text):
        return True
    generic = re.match(r"np(\d+) (?:has|have|looks|is often|is a symbol)\b", text)
    return bool(generic and arts[int(generic[1])] in ("a", "an"))


def _structured(text: str, nps: list[Mention]) -> list[Claim]:
    out: list[Claim] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(text):
            g = m.groups()
            if kind == "count":
                n = nps[int(g[0])]
                if n.number is not None or n.negated:
                    out.append(Claim("count", n, value=0 if n.negated else n.number))
            elif kind == "quadrant":
                idx, q = (g[0], g[1:]) if g[0].isdigit() else (g[2], g[:2])
                out.append(Claim("quadrant", nps[int(idx)], value=f"{q[0]} {q[1]}"))
            else:
                out.append(Claim(kind, nps[int(g[0])], nps[int(g[2])], g[1]))  # type: ignore[arg-type]
    return out


def _clause_claims(clause: str) -> list[Claim]:
    text, nps, arts = _with_nps(clause.strip())
    if not nps or _skip(text, nps, arts):
        return []
    if (pred := _predicate(text, nps, arts)) is not None:
        i, merged, j = pred
        nps[i] = merged
        if j is not None:
            nps[j] = merged
            text = re.sub(rf"\bnp{j}\b", f"np{i}", text)
    claims = _structured(text, nps)
    seen: set[int] = set()
    for k in map(int, re.findall(r"np(\d+)", text)):
        n = nps[k]
        if k in seen or n.negated or n.number == 0 or (n.shape is None and not n.attributed):
            continue
        seen.add(k)
        claims.append(Claim("mention", n))
    return claims


def _existence(question: str, answer: str) -> list[Claim]:
    """The yes/no answer to 'Is there a NP ...?' as an existence claim."""
    yn = re.match(r"\s*(yes|no)\b", answer.lower())
    q = re.match(r"\s*(?:is|are) there (.*)", question.lower())
    if not yn or not q or re.search(r"\bor\b", q[1]):
        return []
    np_ = _np_re().match(q[1])
    if np_ is None or np_["art"] == "no":
        return []
    men, _ = _mention(np_)
    if men.number is not None:  # "Are there two stars?": yes states the count, no says little
        return [Claim("count", men, value=men.number)] if yn[1] == "yes" else []
    if men.shape is None and not men.attributed:
        return []
    return [Claim("exists", men, value=yn[1] == "yes")]


def extract_claims(answer: str, question: str = "") -> list[Claim]:
    """Every claim that the rules of this module can read in `answer` (see the module doc)."""
    text = _facts_re().sub(" ", answer.lower())
    claims = _existence(question, answer)
    first = True
    for sentence in _SENTENCE_SPLIT.split(text):
        if first and sentence.strip():
            sentence = re.sub(r"^\s*(?:yes|no)\b,?", "", sentence)
            first = False
        for clause in _CLAUSE_SPLIT.split(sentence):
            claims.extend(_clause_claims(clause.strip(" ,")))
    return claims


# --- checking -----------------------------------------------------------------------------


def mention_status(m: Mention, scene: Scene) -> MentionStatus:
    """'hallucinated' (no object of the shape), 'attribute_error' (none with the attributes) or 'ok'."""
    if m.shape is not None and not any(o.shape == m.shape for o in scene.objects):
        return "hallucinated"
    return "ok" if any(m.matches(o) for o in scene.objects) else "attribute_error"


def _known(o: SceneObject, scene: Scene) -> Known:
    return Known(o.shape, o.size, o.cx / scene.width, o.cy / scene.height, o.colour)


def _pair_relation(a: SceneObject, b: SceneObject, rel: str, scene: Scene) -> bool | None:
    ka, kb = _known(a, scene), _known(b, scene)
    got = relation(ka, kb)
    if got == rel:
        return True
    along = {"to the left of": kb.cx - ka.cx, "to the right of": ka.cx - kb.cx, "above": kb.cy - ka.cy,
             "below": ka.cy - kb.cy}[rel]
    if along <= -0.1 or (along < 0.1 and got is not None):
        return False
    return None


def _check_pair(c: Claim, scene: Scene) -> bool | None:
    assert c.other is not None
    pairs = [(a, b) for a in scene.objects if c.subject.matches(a) for b in scene.objects
             if c.other.matches(b) and a.id != b.id]
    if not pairs:
        return None
    if c.kind == "bigger":
        want = ("big", "small") if c.value in ("bigger", "larger") else ("small", "big")
        return any((a.size, b.size) == want for a, b in pairs)
    verdicts = [_pair_relation(a, b, str(c.value), scene) for a, b in pairs]
    if any(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


def check_claim(c: Claim, scene: Scene) -> CheckedClaim:
    """The claim's verdict against the scene (see the module doc for each kind's rule)."""
    objs = scene.objects
    matching = tuple(o.id for o in objs if c.subject.matches(o))
    if c.kind == "mention":
        status = mention_status(c.subject, scene)
        return CheckedClaim(c, status == "ok", status, matching)
    if c.kind == "count":
        return CheckedClaim(c, len(matching) == c.value, objects=matching)
    if c.kind == "exists":
        return CheckedClaim(c, bool(matching) == c.value)
    if mention_status(c.subject, scene) != "ok" or (c.other and mention_status(c.other, scene) != "ok"):
        return CheckedClaim(c, None)
    if c.kind == "quadrant":
        inside = tuple(o.id for o in objs if c.subject.matches(o) and quadrant_of(_known(o, scene)) == c.value)
        return CheckedClaim(c, bool(inside), objects=inside)
    return CheckedClaim(c, _check_pair(c, scene))


def check_answer(answer: str, question: str, scene: Scene) -> AnswerCheck:
    """Extract the answer's claims and check each against the scene."""
    return AnswerCheck(tuple(check_claim(c, scene) for c in extract_claims(answer, question)))


def coverage(checks: Sequence[AnswerCheck], scene: Scene) -> float | None:
    """Share (0-1) of the scene's objects that the answers identify; None for an empty scene.

    A true mention, quadrant or count claim that names a shape identifies the objects it fits when it fits one,
    or when its noun is plural (all of them). A true singular claim that fits several (e.g.
    "the star" with two stars) identifies one of them not yet identified; identical such
    claims count once, and a mention placed by a true quadrant claim counts only there.
    """
    if not scene.objects:
        return None
    covered: set[int] = set()
    ambiguous: dict[tuple, tuple[int, ...]] = {}
    placed = {c.claim.subject for ch in checks for c in ch.claims if c.claim.kind == "quadrant" and c.verdict}
    for ch in checks:
        for c in ch.claims:
            if not c.verdict or c.claim.kind not in ("mention", "quadrant", "count") or c.claim.subject.shape is None:
                continue
            if c.claim.kind == "mention" and c.claim.subject in placed:
                continue
            if len(c.objects) == 1 or c.claim.subject.plural:
                covered.update(c.objects)
            elif c.objects:
                ambiguous.setdefault((c.claim.subject, c.claim.value), c.objects)
    for objs in ambiguous.values():
        free = [i for i in objs if i not in covered]
        if free:
            covered.add(free[0])
    return len(covered) / len(scene.objects)
