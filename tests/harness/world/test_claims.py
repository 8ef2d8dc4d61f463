"""Claims read from answers and checked against hand-built scenes with known truth."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.core.records import Scene, SceneObject
from harness.world.claims import Mention, check_answer, coverage, extract_claims


def obj(i: int, shape: str, colour: str, size: str, row: int, col: int) -> SceneObject:
    side = 19.0 if size == "big" else 11.0
    x, y = col * 24 + (24 - side) / 2, row * 24 + (24 - side) / 2
    return SceneObject(id=i, shape=shape, colour=colour, size=size, row=row, col=col, bbox=(x, y, side, side))


def scene(*objects: SceneObject, name: str = "seed/0000001.png") -> Scene:
    return Scene(image_id=1, file_name=name, split="seed", width=96, height=96, grid=4, theme="sky", objects=objects)


# A big red star in the top left, a small blue circle in the top right: same row, far apart.
TWO = scene(obj(0, "star", "red", "big", 0, 0), obj(1, "circle", "blue", "small", 0, 3))


def verdicts(answer: str, question: str = "", sc: Scene = TWO) -> list[tuple[str, bool | None]]:
    return [(c.claim.kind, c.verdict) for c in check_answer(answer, question, sc).claims]


def test_the_three_examples():
    ok, attr, hall = (check_answer(a, "", TWO) for a in ("The star is red.", "The star is blue.", "There is a heart."))
    assert ok.correct is True and ok.n_mentions == 1 and ok.n_attributed == 1 and ok.n_attribute_errors == 0
    assert attr.correct is False and attr.n_attribute_errors == 1 and attr.n_hallucinated == 0
    assert hall.correct is False and hall.n_hallucinated == 1 and hall.n_mentions == 1 and hall.n_attributed == 0


def test_predicates_merge_into_one_mention():
    assert extract_claims("The star is red.")[0].subject == Mention("star", "red")
    assert extract_claims("The red object is a star.")[0].subject == Mention("star", "red")
    # A contradicting predicate is dropped: the subject alone is the mention.
    assert extract_claims("The big star is small.") == [extract_claims("The big star.")[0]]
    assert verdicts("The red object is a star.") == [("mention", True)]
    assert check_answer("The red object is a circle.", "", TWO).n_attribute_errors == 1  # circle present, not red
    assert check_answer("The blue object is a heart.", "", TWO).n_hallucinated == 1
    assert verdicts("The green object is big.") == [("mention", False)]  # generic: an attribute error
    assert check_answer("The green object is big.", "", TWO).n_mentions == 0  # ...not an object mention


@pytest.mark.parametrize("answer, ok", [
    ("There are two shapes in the image.", True), ("There are three shapes in the image.", False),
    ("There are 2 shapes.", True), ("There is one star.", True), ("There are two stars.", False),
    ("There are no hearts.", True), ("There are no stars.", False), ("The image shows two shapes.", True),
    ("There is one red star.", True), ("There is one blue star.", False),
])
def test_counts(answer, ok):
    claims = check_answer(answer, "", TWO).claims
    assert [c.verdict for c in claims if c.claim.kind == "count"] == [ok]


def test_no_stars_is_not_a_mention():
    ch = check_answer("There are no hearts.", "", TWO)
    assert ch.n_mentions == 0 and ch.correct is True


@pytest.mark.parametrize("question, answer, ok", [
    ("Is there a heart in the image?", "No, there is no heart in the image.", True),
    ("Is there a heart in the image?", "Yes, there is a heart in the image.", False),
    ("Is there a red star in the image?", "Yes.", True),
    ("Is there a blue star in the image?", "Yes.", False),
    ("Are there any circles?", "No.", False),
])
def test_existence_from_the_question(question, answer, ok):
    claims = check_answer(answer, question, TWO).claims
    assert [c.verdict for c in claims if c.claim.kind == "exists"] == [ok]


@pytest.mark.parametrize("answer", [
    "The star is not red.", "If there were a heart, it would be red.", "There might be a heart.",
    "The star is red or blue.", "A heart is a symbol of love.", "A star-shaped thing.", "10", "the sun",
    "Is there a star or a heart?",
])
def test_unparsed_or_hedged_text_is_not_checked(answer):
    assert check_answer(answer, "", TWO).claims == ()
    assert check_answer(answer, "", TWO).correct is None


def test_yes_to_a_counting_question_is_a_count_claim():
    assert verdicts("Yes.", "Are there two shapes in the image?") == [("count", True)]
    assert verdicts("Yes.", "Are there two stars?") == [("count", False)]
    assert verdicts("No.", "Are there two stars?") == []


def test_existence_question_with_or_is_skipped():
    assert extract_claims("Yes.", "Is there a star or a heart?") == []


@pytest.mark.parametrize("answer, ok", [
    ("The star is to the left of the circle.", True), ("The star is to the right of the circle.", False),
    ("The circle is to the right of the star.", True), ("The circle is above the star.", False),
    ("A red star to the left of a blue circle.", True),
    ("The star is bigger than the circle.", True), ("The circle is bigger than the star.", False),
    ("The circle is smaller than the star.", True),
    ("The star is in the top left of the image.", True), ("The circle is in the bottom left of the image.", False),
    ("In the top right there is a small blue circle.", True),
])
def test_relations_sizes_quadrants(answer, ok):
    claims = check_answer(answer, "", TWO).claims
    structured = [c.verdict for c in claims if c.claim.kind not in ("mention",)]
    assert structured == [ok]
    assert all(c.verdict for c in claims if c.claim.kind == "mention")


def test_unclear_relation_is_not_checked():
    diag = scene(obj(0, "star", "red", "big", 0, 0), obj(1, "circle", "blue", "small", 1, 1))  # diagonal
    assert [v for k, v in verdicts("The star is to the left of the circle.", sc=diag) if k == "relation"] == [None]


def test_relation_with_a_wrong_mention_is_not_checked():
    assert verdicts("The heart is to the left of the circle.") == [("relation", None), ("mention", False),
                                                                   ("mention", True)]


def test_synonyms_plurals_and_facts():
    assert verdicts("There is a disc.") == [("mention", True)]
    assert verdicts("There is a big red asterisk.") == [("mention", True)]
    assert check_answer("There are two boxes.", "", TWO).n_hallucinated == 1  # boxes = squares
    # The knowledge base's fact after the colon is generic, not about this image.
    assert verdicts("The star has the most sides: a star has five points.") == [("mention", True)]


def test_detail_description_of_the_scene():
    text = ("The image shows two shapes on a white background. In the top left there is a big red star. "
            "In the top right there is a small blue circle.")
    ch = check_answer(text, "Describe the image in detail.", TWO)
    assert ch.correct is True and ch.n_mentions == 2 and ch.n_attributed == 2
    assert [c.claim.kind for c in ch.claims] == ["count", "quadrant", "mention", "quadrant", "mention"]
    assert coverage([ch], TWO) == 1.0


def test_coverage_counts_objects_once():
    three = scene(obj(0, "star", "red", "big", 0, 0), obj(1, "star", "blue", "big", 0, 3),
                  obj(2, "circle", "red", "small", 3, 0))
    one = [check_answer(a, "", three) for a in ("The star is big.", "The star is big.")]
    assert coverage(one, three) == pytest.approx(1 / 3)  # the same ambiguous phrase: one star
    both = [check_answer(a, "", three) for a in ("The red star is big.", "The star is blue.")]
    assert coverage(both, three) == pytest.approx(2 / 3)
    plural = [check_answer("There are two stars.", "", three)]
    assert coverage(plural, three) == pytest.approx(2 / 3)
    assert coverage([check_answer("There are three shapes.", "", three)], three) == 0.0  # counts name no object
    assert coverage([], three) == 0.0


def test_template_answers_from_ground_truth_are_all_true():
    from generators.base import ImageInfo
    from generators.language_only import template_records
    from harness.world.export import split_scenes
    from harness.world.qa import known_from_scene

    types = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")
    checked = 0
    for s in split_scenes(3, "extra", 40, 96, 4, 2, 5):
        info = ImageInfo(s.image_id, s.file_name, Path("x"), s.width, s.height, scene=s)
        for r in template_records(info, known_from_scene(s), types, random.Random(s.image_id), "gold"):
            ch = check_answer(r.answer, r.question, s)
            assert ch.correct is not False and ch.n_hallucinated == 0, (r.question, r.answer)
            checked += ch.correct is True
    assert checked > 120  # most answers carry a checkable claim (letters of MC turns do not)
