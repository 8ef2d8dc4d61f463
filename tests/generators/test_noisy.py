"""The calibration sources' corruption: how many answers, how, and that it is seeded."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from generators.noisy import CORRUPTIONS, absent_object, corrupt, wrong_attribute
from harness.core.errors import BadConfig
from harness.core.records import GenerationRecord


def rec(i: int, image: str, question: str, answer: str, dt: str = "conversation") -> GenerationRecord:
    return GenerationRecord(id=f"{i}", image=image, generator="gold", data_type=dt, prompt="p", raw_output=answer,
                            parse_status="ok", question=question, answer=answer)


RECORDS = [rec(k * 3 + j, f"img{k}.png", q, a) for k in range(20) for j, (q, a) in enumerate((
    ("What colour is the star?", f"The star is {('red', 'blue', 'green')[k % 3]}."),
    ("Is there a heart in the image?", "Yes, there is a heart in the image." if k % 2 else "No, there is no heart."),
    ("How many shapes are in the image?", f"There are {('two', 'three', 'four')[k % 3]} shapes in the image.")))]
PRESENT = {f"img{k}.png": {"star", "heart"} if k % 2 else {"star"} for k in range(20)}


@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_the_share_of_corrupted_answers_is_exact_and_every_one_changed(noise: float):
    out = corrupt(RECORDS, noise, 0, PRESENT)
    changed = [(a, b) for a, b in zip(RECORDS, out) if b.corruption]
    assert len(changed) == round(noise * len(RECORDS))
    assert all(b.answer != a.answer and b.corruption in CORRUPTIONS for a, b in changed)
    assert all(a == b for a, b in zip(RECORDS, out) if not b.corruption)  # the rest untouched
    assert [r.question for r in out] == [r.question for r in RECORDS]


def test_corruption_is_seeded_and_uses_every_kind():
    a, b = corrupt(RECORDS, 1.0, 3, PRESENT), corrupt(RECORDS, 1.0, 3, PRESENT)
    assert a == b
    assert a != corrupt(RECORDS, 1.0, 4, PRESENT)
    assert set(Counter(r.corruption for r in a)) == set(CORRUPTIONS)


def test_wrong_attribute_and_absent_object():
    rng = random.Random(0)
    assert wrong_attribute("The big star is red.", rng) not in (None, "The big star is red.")
    assert wrong_attribute("first aid", rng) is None
    assert absent_object("Yes, there is a star in the image.", {"star"}, rng) == "No, there is no star in the image."
    assert absent_object("No, there is no heart in the image.", {"star"}, rng) == "Yes, there is a heart in the image."
    hallucinated = absent_object("The star is red.", {"star"}, rng)
    assert hallucinated is not None and "star" not in hallucinated
    assert absent_object("The stars are red.", {"star"}, rng).split()[1].endswith("s")


def test_noise_outside_zero_to_one_is_bad_config():
    with pytest.raises(BadConfig):
        corrupt(RECORDS, 1.5, 0, PRESENT)
