"""The shared answer parsers: POPE's yes/no rule and VLMEvalKit's option extraction, rule by rule."""

import pytest

from benchmarks.parsing import REFUSED, extract_choice, infer_option, infer_text, option_tokens, pope_yes_no


@pytest.mark.parametrize("text, expected", [
    ("No, there is not.", "no"),
    ("There is no dog", "no"),
    ("Yes. No.", "yes"),  # only the first sentence counts
    ("Yes", "yes"),
    ("yes, there is a star in the image.", "yes"),
    ("I do not see one.", "no"),
    ("NO", "yes"),  # case-sensitive: only No / no / not
    ("Nope", "yes"),
    ("no.", "no"),
    ("There is a star, no", "no"),  # the comma is deleted, "no" becomes a token
    ("No\nthere is none", "yes"),  # split on spaces only: "No\nthere" is one token
    ("", "yes"),
])
def test_pope_yes_no(text: str, expected: str) -> None:
    assert pope_yes_no(text) == expected


RB = {"A": "red", "B": "blue"}
ABCD = {"A": "red", "B": "blue", "C": "green", "D": "black"}


def test_option_tokens_blank_out_punctuation() -> None:
    assert option_tokens("(B). **C**: [D]{x}#!;,") == ["B", "C", "D", "x"]


@pytest.mark.parametrize("answer", [
    "Cannot determine the answer",
    "I'm sorry, but without the image provided I cannot say. B",
    "B. Sorry, I can't help with images of people yet.",  # the refusal wins over a letter
])
def test_refusals_are_z(answer: str) -> None:
    assert extract_choice(answer, ABCD) == REFUSED


@pytest.mark.parametrize("answer, expected", [
    ("B", "B"),
    ("(C)", "C"),
    ("B.", "B"),
    ("The answer: D", "D"),
    ("I think it is C", "C"),  # C is the last of five tokens
])
def test_single_letter_among_last_four_tokens(answer: str, expected: str) -> None:
    assert infer_option(answer, ABCD) == expected


def test_letter_too_early_is_not_taken() -> None:
    # B is the first of ten tokens; no "answer is" and the reply is too long for the text rule.
    answer = "B is the one because it is clearly visible here"
    assert infer_option(answer, ABCD) is None
    assert extract_choice(answer, ABCD) is None


def test_letter_in_last_four_but_first_occurrence_early() -> None:
    assert infer_option("C x y z w C", ABCD) is None


def test_two_letters_are_unresolved() -> None:
    assert extract_choice("A or B", ABCD) is None


def test_letters_outside_the_item_are_ignored() -> None:
    assert infer_option("C", RB) is None
    assert infer_option("A or C", RB) == "A"  # C is not an option here, so A is the only letter


def test_z_token_without_option_letters() -> None:
    assert infer_option("Z", ABCD) == REFUSED
    assert infer_option("A Z", ABCD) == "A"  # an option letter takes precedence over Z


@pytest.mark.parametrize("answer, expected", [
    ("The correct answer is **B**, since the circle on the left is the big red one.", "B"),
    ("A looks close, but the answer is C because it is bigger than the others.", "C"),
    ("the answer is b, without a doubt, as anyone can see", "B"),
])
def test_answer_is_pattern(answer: str, expected: str) -> None:
    assert infer_option(answer, ABCD) == expected


def test_answer_is_pattern_needs_a_valid_letter() -> None:
    assert infer_option("Clearly the answer is D, which is the one with the most sides", RB) is None


def test_answer_is_pattern_quirk_has_no_word_boundary() -> None:
    # Kept from VLMEvalKit: "answer is a circle" reads as A.
    assert infer_option("I think that the answer is a circle with a border", RB) == "A"


def test_option_text_one_match() -> None:
    assert infer_text("It is blue", RB) == "B"
    assert extract_choice("BLUE", RB) == "B"  # case-insensitive


def test_option_text_two_matches_is_unresolved() -> None:
    assert infer_text("red and blue", RB) is None


def test_option_text_answer_too_long() -> None:
    # 2 * (3 + 4) = 14 characters at most
    assert infer_text("it is blue!!!!", RB) == "B"
    assert infer_text("I believe it is blue", RB) is None


def test_letter_rule_comes_before_text_rule() -> None:
    assert extract_choice("blue, A", RB) == "A"


def test_api_failure_skips_letter_rules_only() -> None:
    assert extract_choice("Failed to obtain answer via API. B", {"A": "x", "B": "y"}) is None
    options = {"A": "obtain answer", "B": "a much longer option that is not there"}
    assert extract_choice("Failed to obtain answer via API", options) == "A"
