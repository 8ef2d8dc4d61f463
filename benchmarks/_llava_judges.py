"""LLaVA-Bench judges: an OpenAI-compatible chat model, or the embedded world's ground truth.

A judge reads one `ReviewRequest` (the official judge message and the texts it is built from)
and returns the review text, whose first line `parse_score` reads. Every result names its
judge: the chat model's name, or `ground-truth`.

`ChatReviewJudge` sends the official messages (`_llava_review.judge_messages`, temperature
0.2, at most 1024 tokens) through `harness.models.chat.ChatClient` (retries with backoff,
rate limit, replies cached on disk by request hash). A request that still fails after the
client's retries (429s, 5xx, timeouts) or whose reply is never a chat completion does not stop
scoring: its review is empty, so it parses as [-1, -1], and it is counted in `failures`
(LLaVA's script would retry forever). A refusal that no retry can change (a bad key, an
unknown model: 4xx other than 408/409/425/429) stops scoring with one line.

`GroundTruthJudge` scores both answers 1-10 from the scene's facts, deterministically, with
the claims reader of `harness.world.claims` (see `ground_truth_score`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol, Sequence

from benchmarks._llava_review import MAX_TOKENS, TEMPERATURE, judge_messages
from harness.models.chat import (ChatAPIError, ChatClient, ChatSettings, MalformedReplyError, judge_endpoint,
                                      retryable_status)
from harness.core.errors import BadInput
from harness.core.records import Scene
from harness.world.claims import CheckedClaim, Claim, Mention, check_answer

GROUND_TRUTH = "ground-truth"
HALLUCINATION_COST = 3.0  # points per mention of a shape the image does not have
WRONG_COST = 2.0  # points per other false claim (attribute, count, place, relation, existence)
NO_FACTS_BASE = 5.5  # the completeness part when the reference states no checkable fact


@dataclass(frozen=True)
class ReviewRequest:
    """One question to review: what the judge message is built from, and the message itself."""

    question_id: object
    category: str
    image: str  # the question's image file name (as in the questions file)
    question: str
    reference: str  # Assistant 1
    answer: str  # Assistant 2
    message: str  # the official user message (`_llava_review.judge_message`)


class ReviewJudge(Protocol):
    """What `LlavaBench` needs of a judge."""

    name: str  # recorded in every result: a model name, or "ground-truth"
    failures: int  # requests that got no review (counted, not fatal)

    def review(self, request: ReviewRequest) -> str:
        """The review text; its first line holds the two scores."""
        ...


# --- the ground-truth judge -------------------------------------------------------------


def _normalised(c: Claim) -> tuple[str, Mention | None, Mention | None]:
    """(kind:value, subject, other) with mirror claims in one direction: 'a right of b' is
    'b left of a', 'a smaller than b' is 'b bigger than a'."""
    flip = {"to the right of": "to the left of", "below": "above", "smaller": "bigger"}
    value = "bigger" if c.value == "larger" else c.value
    if value in flip:
        return f"{c.kind}:{flip[str(value)]}", c.other, c.subject
    return f"{c.kind}:{value}", c.subject, c.other


def _ids(mention: Mention | None, scene: Scene) -> frozenset[int]:
    return frozenset(o.id for o in scene.objects if mention is not None and mention.matches(o))


def _credit(required: CheckedClaim, stated: Sequence[CheckedClaim], scene: Scene) -> float:
    """How much of one required fact (a true claim of the reference) the answer's true claims
    state: 1 for the same fact about the same objects; a mention earns a share for each of the
    reference's attributes (colour, size) the answer's mention of the same object also gives."""
    r = required.claim
    best = 0.0
    for got in stated:
        c = got.claim
        if got.verdict is not True:
            continue
        if r.kind == "mention":
            if c.kind != "mention" or c.subject.shape != r.subject.shape:
                continue
            if not _ids(c.subject, scene) & _ids(r.subject, scene):
                continue
            attrs = [a for a in ("colour", "size") if getattr(r.subject, a) is not None]
            hit = sum(getattr(c.subject, a) == getattr(r.subject, a) for a in attrs)
            best = max(best, (1 + hit) / (1 + len(attrs)))
        elif r.kind in ("count", "exists"):
            same_kind = c.kind == r.kind and c.value == r.value
            as_count = r.kind == "exists" and c.kind == "count" and (c.value != 0) == r.value
            if (same_kind or as_count) and _ids(c.subject, scene) == _ids(r.subject, scene):
                best = 1.0
        elif r.kind == "quadrant":
            if c.kind == "quadrant" and c.value == r.value and set(got.objects) & set(required.objects):
                best = 1.0
        else:
            kr, sr, orr = _normalised(r)
            kc, sc, oc = _normalised(c)
            if kr == kc and _ids(sr, scene) & _ids(sc, scene) and _ids(orr, scene) & _ids(oc, scene):
                best = 1.0
        if best == 1.0:
            break
    return best


@dataclass(frozen=True)
class GroundTruthScore:
    """One answer's verdict: the facts it states, its errors, and the score 1-10."""

    score: int
    stated: float  # required facts stated (fractional: a mention with some of its attributes)
    required: int  # the reference's true claims
    right: int  # true claims
    wrong: int  # false claims other than hallucinated objects
    hallucinated: tuple[str, ...]  # shapes named that the image does not have

    def explain(self) -> str:
        """One sentence for the review's explanation."""
        def n(k: int, word: str) -> str:
            return f"{k} {word}{'' if k == 1 else 's'}"

        hal = f" ({', '.join(self.hallucinated)})" if self.hallucinated else ""
        return (f"states {self.stated:.1f} of the reference's {n(self.required, 'fact')}; {n(self.right, 'claim')} "
                f"right, {self.wrong} wrong, {n(len(self.hallucinated), 'hallucinated object')}{hal}.")


def ground_truth_score(answer: str, question: str, scene: Scene, required: Sequence[CheckedClaim]) -> GroundTruthScore:
    """Score an answer 1-10 against the scene: 1 + 9 x (share of the required facts it states),
    less `WRONG_COST` per false claim and `HALLUCINATION_COST` per hallucinated object, clipped
    to 1-10 and rounded half up to an integer, as a judge's scores are.

    `required` are the reference's true claims; with none, the completeness part is
    `NO_FACTS_BASE` and only errors move the score.
    """
    checked = check_answer(answer, question, scene).claims
    hallucinated = tuple(c.claim.subject.shape or "" for c in checked if c.status == "hallucinated")
    wrong = sum(c.verdict is False for c in checked) - len(hallucinated)
    right = sum(c.verdict is True for c in checked)
    stated = sum(_credit(r, checked, scene) for r in required)
    base = 1 + 9 * stated / len(required) if required else NO_FACTS_BASE
    raw = base - WRONG_COST * wrong - HALLUCINATION_COST * len(hallucinated)
    score = int(math.floor(min(10.0, max(1.0, raw)) + 0.5))
    return GroundTruthScore(score, stated, len(required), right, wrong, hallucinated)


class GroundTruthJudge:
    """Reviews from the scene's facts; needs the ground-truth scene of every question's image."""

    name = GROUND_TRUTH

    def __init__(self, scenes: Mapping[str, Scene]) -> None:
        self.scenes = dict(scenes)  # image file name -> scene
        self.failures = 0

    def review(self, request: ReviewRequest) -> str:
        """'<reference score> <model score>' then one line per assistant saying why."""
        scene = self.scenes.get(request.image)
        if scene is None:
            raise BadInput(f"question {request.question_id}: no ground-truth scene for image {request.image!r}")
        required = [c for c in check_answer(request.reference, request.question, scene).claims if c.verdict]
        ref = ground_truth_score(request.reference, request.question, scene, required)
        model = ground_truth_score(request.answer, request.question, scene, required)
        return (f"{ref.score} {model.score}\n"
                f"Assistant 1 {ref.explain()}\nAssistant 2 {model.explain()}")


def scenes_by_image(scenes: Sequence[Scene]) -> dict[str, Scene]:
    """Scenes keyed by file name, as questions name their images."""
    return {s.file_name: s for s in scenes}


# --- the chat judge ---------------------------------------------------------------------


class ChatReviewJudge:
    """Reviews from an OpenAI-compatible chat model, with the official messages."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.name = client.settings.model
        self.failures = 0  # requests that got no review after the client's retries
        self.last_error = ""

    def review(self, request: ReviewRequest) -> str:
        """The model's reply; "" (parsed as [-1, -1], counted) when the request failed."""
        try:
            return self.client.complete(judge_messages(request.message))
        except MalformedReplyError as e:
            self.failures, self.last_error = self.failures + 1, e.last_error
        except ChatAPIError as e:
            if e.status is not None and not retryable_status(e.status):
                raise  # a bad key or an unknown model: every request would fail the same way
            self.failures, self.last_error = self.failures + 1, e.last_error
        return ""


def build_judge(url: str | None, model: str | None, key_env: str | None = None, cache_dir: str | Path | None = None,
                requests_per_minute: float | None = None,
                environ: Mapping[str, str] | None = None) -> ChatReviewJudge | None:
    """The chat judge the `--judge-*` options of `vigc-bench score` ask for; None when none is."""
    ep = judge_endpoint(url, model, key_env, cache_dir, requests_per_minute, environ)
    if ep is None:
        return None
    settings = ChatSettings(model=ep.model, base_url=ep.url, api_key=ep.api_key, temperature=TEMPERATURE,
                            max_tokens=MAX_TOKENS, requests_per_minute=ep.requests_per_minute, cache_dir=ep.cache_dir)
    return ChatReviewJudge(ChatClient(settings))
