"""Answer parsing shared by the benchmarks: written once, tested once.

- `pope_yes_no`: the official POPE rule (RUCAIBox/POPE `evaluate.py`, also LLaVA's `eval_pope.py`).
- `extract_choice`: VLMEvalKit's heuristic option extraction (`can_infer` =
  `can_infer_option`, then `can_infer_text`, in `vlmeval/utils/matching_util.py`).

Both follow the official code, quirks included; each quirk is named in the docstring of the
function that has it, so a reader can tell a faithful oddity from a bug.
"""

from __future__ import annotations

import re
from typing import Mapping

# The reply a multiple-choice extractor gives when the model declined to pick any option:
# VLMEvalKit calls it "Z"; it is a resolved answer (and always a wrong one).
REFUSED = "Z"

# Strings VLMEvalKit maps straight to Z: refusals seen from API models.
REFUSALS: tuple[str, ...] = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)

# VLMEvalKit's marker of an API call that failed; the option step then gives up, the text step still runs.
API_FAILURE = "Failed to obtain answer via API"

# Characters VLMEvalKit blanks out before splitting a reply into tokens.
_OPTION_PUNCT = ".()[],:;!*#{}"
_PUNCT_TABLE = str.maketrans({c: " " for c in _OPTION_PUNCT})

# "The correct answer is **B**", "answer is C". Only A-D, case-insensitive, and with no word
# boundary after the letter: both as in VLMEvalKit's `_VERBOSE_ANSWER_RE`.
_VERBOSE_ANSWER = re.compile(r"(?:correct\s+)?answer\s+is\s+\**([ABCD])\**", re.IGNORECASE)


def pope_yes_no(text: str) -> str:
    """'yes' or 'no' for a free-text reply to a POPE question, by the official rule.

    Keep the text before the first '.', delete ',', split on single spaces (not on any
    whitespace: the official `split(' ')`); 'no' when a token is exactly `No`, `not` or `no`,
    else 'yes'. Case-sensitive, so "NO" and "Nope" count as yes, and "No\\nthere is" (a newline,
    not a space) keeps "No\\nthere" as one token: all as the official script does.
    """
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def option_tokens(text: str) -> list[str]:
    """`text` split into tokens the way VLMEvalKit does before looking for option letters.

    Each of `.()[],:;!*#{}` becomes a space, then the text is split on whitespace.
    """
    return str(text).translate(_PUNCT_TABLE).split()


def infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """The option letter an answer names, `REFUSED` ('Z'), or None (VLMEvalKit `can_infer_option`).

    `choices` maps the item's valid letters to option texts (only the letters are used).
    Rules, in order:
      1. an API-failure marker: None (the text rule may still resolve it);
      2. a known refusal string anywhere in the answer: 'Z';
      3. tokens (see `option_tokens`): exactly one distinct valid letter occurs as a token and
         its first occurrence is among the last four tokens: that letter; no valid letter
         but a `Z` token: 'Z';
      4. the pattern "(correct )?answer is X" (X in A-D, maybe inside `**`, case-insensitive)
         with X, upper-cased, a valid letter: X.
    Quirks kept from VLMEvalKit: rule 4 has no word boundary, so "The answer is Blue" gives B
    and "the answer is a circle" gives A; a letter in the last four tokens that also occurs
    earlier is rejected by rule 3 (the first occurrence counts). VLMEvalKit's VERBOSE-only
    "A might be a quantifier" early exit is a logging aid and is left out.
    """
    if API_FAILURE in answer:
        return None
    if any(r in answer for r in REFUSALS):
        return REFUSED
    tokens = option_tokens(answer)
    present = [c for c in choices if c in tokens]
    if len(present) == 1:
        letter = present[0]
        # First occurrence must be among the last four tokens: a letter early in a long reply is
        # usually an article ("A cat ...") or part of a restated question, not the choice.
        if tokens.index(letter) > len(tokens) - 5:
            return letter
    elif not present and REFUSED in tokens:
        return REFUSED
    m = _VERBOSE_ANSWER.search(answer)
    if m and m.group(1).upper() in choices:
        return m.group(1).upper()
    return None


def infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """The letter whose option text occurs in the answer, or None (VLMEvalKit `can_infer_text`).

    Only tried when the answer is at most twice as long as all option texts together (a
    long essay mentions every option). Case-insensitive substring match of each option text
    in the answer; exactly one option must match.
    """
    answer = answer.lower()
    if len(answer) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    hits = [k for k, v in choices.items() if str(v).lower() in answer]
    return hits[0] if len(hits) == 1 else None


def extract_choice(answer: str, choices: Mapping[str, str]) -> str | None:
    """The choice an answer names: a letter of `choices`, 'Z' (refused), or None (unresolved).

    VLMEvalKit's `can_infer`: `infer_option`, and when that finds nothing, `infer_text`.
    """
    answer = str(answer)
    return infer_option(answer, choices) or infer_text(answer, choices)
