"""MMBench's optional LLM judge: VLMEvalKit's choice-matching prompt sent to an OpenAI-compatible endpoint.

Not a benchmark (the leading underscore keeps the registry from importing it): `MMBench(judge=...)`
takes a `ChatChoiceJudge`, and `vigc-bench score mmbench --judge-url URL --judge-model NAME`
builds one through `build_judge`. Off by default, since scoring must run offline.

Protocol, as VLMEvalKit's `extract_answer_from_item` (vlmeval/dataset/utils/multiple_choice.py):
the pass's question, its options as `build_option_str` (vlmeval/smp/vlm.py) writes them and the
stripped prediction fill the matching prompt, sent as one user message at temperature 0. The
reply is read by the same heuristics as a prediction (`extract_choice`): a letter of the options
is the judge's answer; 'Z' means no option matches (None: the pass stays wrong, no retry); a reply
naming nothing is asked again, 3 attempts in all (VLMEvalKit's `retry = 3`).
Differences from VLMEvalKit: after the last unreadable reply VLMEvalKit draws a random letter (or
Z), this judge gives None, so a score never depends on a coin; VLMEvalKit's Chinese prompt for
Chinese questions (`build_prompt_cn`, MMBench-CN) is not offered, as MMBench-CN is not scored here.

HTTP goes through `harness.models.chat.ChatClient` (retries with backoff, rate limit, disk
cache). A transport failure after the client's retries raises `ChatAPIError`, a `VigcError`: the
endpoint is down and every later pass would fail too, so scoring stops with one line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping

from benchmarks.parsing import REFUSED, extract_choice
from harness.models.chat import ChatClient, ChatSettings, MalformedReplyError, judge_endpoint

JUDGE_ATTEMPTS = 3  # VLMEvalKit: `retry = 3` requests per unresolved pass

# The matching prompt of VLMEvalKit's `build_prompt` (vlmeval/dataset/utils/multiple_choice.py,
# open-compass/VLMEvalKit), word for word: it is part of the protocol, so its typos ("Your should
# output", "the meaning of all options are"), the trailing spaces before some line breaks and
# the "?" added after the question (a question ending in "?" gets two) are kept. The in-context
# examples always list A-D, whatever the item's number of options.
_PROMPT_LINES = (
    "You are an AI assistant who will help me to match an answer with several options of a "
    "single-choice question. You are provided with a question, several options, and an answer, "
    "and you need to find which option is most similar to the answer. If the meaning of all "
    "options are significantly different from the answer, output Z. Your should output a single "
    "uppercase character in A, B, C, D (if they are valid options), and Z. ",
    "Example 1: ",
    "Question: What is the main object in image?",
    "Options: A. teddy bear B. rabbit C. cat D. dog",
    "Answer: a cute teddy bear",
    "Your output: A",
    "Example 2: ",
    "Question: What is the main object in image?",
    "Options: A. teddy bear B. rabbit C. cat D. dog",
    "Answer: Spider",
    "Your output: Z",
    "Example 3: ",
    "Question: {question}?",
    "Options: {options}",
    "Answer: {prediction}",
    "Your output: ",
)
MATCHING_PROMPT = "\n".join(_PROMPT_LINES)


def option_block(options: Mapping[str, str]) -> str:
    """The options as VLMEvalKit's `build_option_str` writes them: a header, then one 'X. text' line each.

    Every line ends in a newline, the last one too, so the prompt shows a blank line before 'Answer:'.
    """
    return "There are several options: \n" + "".join(f"{letter}. {text}\n" for letter, text in options.items())


def matching_prompt(question: str, options: Mapping[str, str], prediction: str) -> str:
    """The user message asking the judge which option `prediction` matches (VLMEvalKit's text)."""
    return MATCHING_PROMPT.format(question=question, options=option_block(options), prediction=prediction.strip())


class ChatChoiceJudge:
    """A `benchmarks.mmbench.ChoiceJudge` backed by an OpenAI-compatible chat model.

    The first request of a pass goes through the client's disk cache (a rerun costs no call); a
    retry must reach the model again, since the cache would hand back the same unreadable reply,
    so retries go through an uncached twin of the client when the client has a cache.
    """

    def __init__(self, client: ChatClient, attempts: int = JUDGE_ATTEMPTS) -> None:
        self.client = client
        self.attempts = attempts
        self._uncached: ChatClient | None = None
        self.asked = 0  # passes sent to the judge
        self.unreadable = 0  # passes whose every reply named no option (None returned)

    def _client_for(self, attempt: int) -> ChatClient:
        if attempt == 0 or self.client.settings.cache_dir is None:
            return self.client
        if self._uncached is None:
            self._uncached = ChatClient(dataclasses.replace(self.client.settings, cache_dir=None))
        return self._uncached

    def __call__(self, question: str, options: Mapping[str, str], prediction: str) -> str | None:
        """The letter of `options` the model matches `prediction` to; None for 'Z' or no readable reply."""
        messages = [{"role": "user", "content": matching_prompt(question, options, prediction)}]
        self.asked += 1
        for attempt in range(self.attempts):
            try:
                reply = self._client_for(attempt).complete(messages)
            except MalformedReplyError:
                continue  # HTTP 200 but no completion: VLMEvalKit's "Failed to obtain answer", one attempt used
            choice = extract_choice(reply, options)
            if choice is not None:
                return None if choice == REFUSED else choice
        self.unreadable += 1
        return None


def build_judge(url: str | None, model: str | None, key_env: str | None = None, cache_dir: str | Path | None = None,
                requests_per_minute: float | None = None,
                environ: Mapping[str, str] | None = None) -> ChatChoiceJudge | None:
    """The judge the `--judge-*` options of `vigc-bench score` ask for; None when none is asked for.

    The options are checked by `harness.models.chat.judge_endpoint` (key from the environment,
    default OPENAI_API_KEY); inconsistent options are a `BadInput` naming the option.
    """
    ep = judge_endpoint(url, model, key_env, cache_dir, requests_per_minute, environ)
    if ep is None:
        return None
    settings = ChatSettings(model=ep.model, base_url=ep.url, api_key=ep.api_key, temperature=0.0,
                            requests_per_minute=ep.requests_per_minute, cache_dir=ep.cache_dir)
    return ChatChoiceJudge(ChatClient(settings))
