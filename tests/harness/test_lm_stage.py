"""LM pretraining documents (`harness.pipeline.lm_stage`): pure functions of a seeded rng."""

from __future__ import annotations

import random
from collections import Counter

from harness.pipeline import lm_stage as L


def test_mc_kind_draws_hard_kinds_more_often() -> None:
    kinds = ["colour", "count", "size", "where"]  # two hard kinds, two others
    rng = random.Random(0)
    got = Counter(L.mc_kind(kinds, rng) for _ in range(8000))
    assert set(got) == set(kinds)
    for hard in ("count", "where"):
        for easy in ("colour", "size"):
            assert 2.5 < got[hard] / got[easy] < 3.5


def test_copy_doc_answers_the_letter_of_the_named_option() -> None:
    rng = random.Random(1)
    for _ in range(200):
        user, assistant = L.copy_doc(rng)
        lines = user["content"].split("\n")
        options = {ln[0]: ln[3:] for ln in lines[1:] if len(ln) > 3 and ln[1:3] == ". "}
        named = options[assistant["content"]]
        assert named in lines[0]
        # The other options do not contain the named word, so the letter is unique.
        assert sum(named == o for o in options.values()) == 1


def test_qa_doc_places_the_image_between_question_and_options() -> None:
    user, _ = L.qa_doc("What colour is the star?\nA. red\nB. blue\nAnswer with the option's letter.", "A")
    kinds = [p["type"] for p in user["content"]]
    assert kinds == ["text", "image", "text"]
    assert user["content"][0]["text"].startswith("What colour")
    assert user["content"][2]["text"].lstrip().startswith("A. red")
