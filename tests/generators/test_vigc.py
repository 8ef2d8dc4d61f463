"""VIG output parsing, VIC stop rules and the iterative correction loop (with a scripted model)."""

from __future__ import annotations

import random

import pytest

from generators.vig_parse import parse_vig
from harness.core.text import first_sentence, sentences
from tests.harness._tiny_models import cut_at_stop
from generators.vigc import (StopRule, correct, first_word_distribution, vic_prompt, vic_step_outcome,
                             vig_instruction, vig_target)


@pytest.mark.parametrize("text,status,q,a", [
    ("Question: What colour is the star? Answer: The star is red.", "ok", "What colour is the star?",
     "The star is red."),
    ("question:Is it big?  ANSWER : yes", "ok", "Is it big?", "yes"),
    ("Question: Where? Answer: Left. Question: And? Answer: no", "ok", "Where?", "Left."),
    ("Answer: The star is red.", "no_question", "", ""),
    ("The star is red.", "no_question", "", ""),
    ("Question: What colour is the star?", "no_answer", "What colour is the star?", ""),
    ("Question: What colour is the star? Answer:   ", "no_answer", "What colour is the star?", ""),
    ("Question: Answer: red", "no_question", "", "red"),
    ("", "empty", "", ""),
    ("   \n ", "empty", "", ""),
])
def test_parse_vig(text, status, q, a):
    p = parse_vig(text)
    assert (p.status, p.question, p.answer) == (status, q, a)


def test_vig_target_round_trips_through_the_parser():
    p = parse_vig(vig_target("How many stars are there?", "There are two stars."))
    assert (p.status, p.question, p.answer) == ("ok", "How many stars are there?", "There are two stars.")


def test_sentences():
    assert sentences("The star is red. It is big! Is it? yes") == ["The star is red.", "It is big!", "Is it?", "yes"]
    assert sentences("") == [] and first_sentence("  ") == ""
    assert first_sentence("One sentence only") == "One sentence only"


def test_step_outcome_end_of_text_vs_truncation():
    assert vic_step_outcome("The star is red.", StopRule()) == ("The star is red.", True)
    assert vic_step_outcome("The star is red. It is big.", StopRule()) == ("The star is red.", False)
    # Cut off by the token limit: no final punctuation, so not an end.
    assert vic_step_outcome("The star is red and", StopRule()) == ("The star is red and", False)
    assert vic_step_outcome("", StopRule()) == ("", False)


def test_empty_continuation_ends_the_answer_under_any_rule():
    vlm = Scripted(["A one. more", ""])
    (final, steps), = correct(vlm, Feats([0]), ["Q?"], StopRule(max_sentences=4, at_eos=False))
    assert final == "A one." and len(steps) == 2


def test_stop_rule_needs_something():
    with pytest.raises(ValueError):
        StopRule(None, False)


class Scripted:
    """A stand-in VLM: step k of every question continues with `script[k]`; it records the
    prompts, Q-Former texts and prefixes it was given."""

    def __init__(self, script):
        self.script, self.calls = script, []

    def generate(self, feats, prompts, qformer_texts=None, max_new_tokens=0, prefixes=None, num_beams=1, stop=None):
        self.calls.append((list(prompts), list(qformer_texts), list(prefixes)))
        k = len(self.calls) - 1
        text = self.script[min(k, len(self.script) - 1)]
        if stop is not None:  # as the real adapter: the row ends where its text first satisfies `stop`
            text = cut_at_stop(text, stop)
        return [text for _ in prompts]


class Feats(list):
    def __getitem__(self, idx):
        return self


def test_fixed_sentence_rule_stops_at_n():
    vlm = Scripted(["A one. more", "B two. more", "C three. more", "D four. more", "E five. more"])
    (final, steps), = correct(vlm, Feats([0]), ["Q?"], StopRule(max_sentences=4, at_eos=False))
    assert final == "A one. B two. C three. D four."
    assert len(steps) == 4


def test_eos_rule_stops_when_the_model_ends():
    vlm = Scripted(["A one. more", "B two."])
    (final, steps), = correct(vlm, Feats([0]), ["Q?"], StopRule(max_sentences=None, at_eos=True))
    assert final == "A one. B two." and len(steps) == 2


def test_whichever_comes_first():
    vlm = Scripted(["A one. more", "B two. more", "C three."])
    (final, _), = correct(vlm, Feats([0]), ["Q?"], StopRule(max_sentences=2, at_eos=True))
    assert final == "A one. B two."


def test_qformer_and_prefix_carry_the_accepted_sentences():
    vlm = Scripted(["A one. x", "B two."])
    correct(vlm, Feats([0]), ["What is it?"], StopRule(max_sentences=4))
    (p0, q0, pre0), (p1, q1, pre1) = vlm.calls
    assert p0 == p1 == [vic_prompt("What is it?")]
    assert pre0 == [""] and pre1 == ["A one."]
    assert q0 == [vic_prompt("What is it?")] and q1 == [vic_prompt("What is it?") + " A one."]


def test_knowledge_instruction_first_word_follows_distribution():
    fw = first_word_distribution(["What is x?", "What is y?", "How many z?", "Name a w."])
    assert fw == {"How": 0.25, "Name": 0.25, "What": 0.5}
    rng = random.Random(0)
    words = [vig_instruction("knowledge_vqa", rng, fw).split('"')[1] for _ in range(2000)]
    assert abs(words.count("What") / 2000 - 0.5) < 0.05


@pytest.mark.parametrize("text", ["The star is red. It is big.", "The star is red.", "The star is red. ", "Red",
                                  "It is 2.5 wide. Next", "Is it red? Yes.", "A.  B", "Wait! no", "x.\nY z."])
def test_vic_stops_reading_a_step_once_its_outcome_is_fixed(text):
    from generators.vigc import second_sentence_begun

    cut = cut_at_stop(text, second_sentence_begun)
    for rule in (StopRule(4, True), StopRule(2, False)):
        assert vic_step_outcome(cut, rule) == vic_step_outcome(text, rule)
    assert second_sentence_begun(text) == (len(sentences(text)) > 1)
