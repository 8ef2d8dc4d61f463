"""MMBench's LLM judge against a scripted OpenAI-compatible server on loopback (no real network)."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import benchmarks._mmbench_judge as judge_mod
from benchmarks._mmbench_judge import ChatChoiceJudge, build_judge, matching_prompt
from benchmarks.mmbench import MMBench
from harness.models.chat import ChatAPIError, ChatClient, ChatSettings
from harness.cli import main
from harness.core.errors import BadInput
from tests.harness.models._fake_openai import FakeOpenAI, Reply, completion

UNREADABLE = "I think it is the blue one"  # no letter, and too long for the option-text rule


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "VIGC_CHAT_API_KEY", "VIGC_JUDGE_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with FakeOpenAI(responder=lambda body: "I cannot tell.") as s:  # unscripted requests get an unreadable reply
        yield s


def say(server: FakeOpenAI, *texts: str) -> None:
    server.script.extend(Reply(body=completion(t)) for t in texts)


def judge(server: FakeOpenAI, **settings) -> ChatChoiceJudge:
    defaults = dict(model="fake-judge", base_url=server.base_url, requests_per_minute=0, timeout=5, max_retries=0)
    return ChatChoiceJudge(ChatClient(ChatSettings(**{**defaults, **settings}), sleep=lambda s: None))


@pytest.fixture
def tsv(tmp_path: Path) -> Path:
    """One two-option question (index 7, answer B = blue): pass 7 shows red/blue, pass 1000007 blue/red."""
    path = tmp_path / "mm.tsv"
    pd.DataFrame([{"index": 7, "question": "Which colour is the star", "hint": "", "A": "red", "B": "blue",
                   "answer": "B", "category": "colour", "l2-category": "attr", "image": "", "split": "dev"}]
                 ).to_csv(path, sep="\t", index=False)
    return path


def preds(tmp_path: Path, answers: dict[int, str]) -> Path:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"index": i, "prediction": p}) + "\n" for i, p in answers.items()))
    return path


def test_prompt_is_vlmevalkit_text() -> None:
    assert matching_prompt("Which colour is the star", {"A": "red", "B": "blue"}, "  the blue one\n") == (
        "You are an AI assistant who will help me to match an answer with several options of a single-choice "
        "question. You are provided with a question, several options, and an answer, and you need to find which "
        "option is most similar to the answer. If the meaning of all options are significantly different from the "
        "answer, output Z. Your should output a single uppercase character in A, B, C, D (if they are valid "
        "options), and Z. \n"
        "Example 1: \n"
        "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
        "Answer: a cute teddy bear\nYour output: A\n"
        "Example 2: \n"
        "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
        "Answer: Spider\nYour output: Z\n"
        "Example 3: \n"
        "Question: Which colour is the star?\nOptions: There are several options: \nA. red\nB. blue\n\n"
        "Answer: the blue one\nYour output: ")


@pytest.mark.parametrize("reply, hit", [("A", True), ("B", False)])
def test_judge_reads_the_unresolved_pass(server, tsv, tmp_path, reply, hit) -> None:
    say(server, reply)
    j = judge(server)
    r = MMBench(judge=j).score([tsv], preds(tmp_path, {7: "B", 1_000_007: UNREADABLE}))
    assert [o.hit for o in r.outcomes] == [hit] and r.protocol == "official+judge"
    assert r.notes["unresolved_passes"] == 1 and r.notes["judge"] is True
    (call,) = server.calls  # pass 7 was read by the heuristics: only the rotated pass was asked
    assert call.path == "/v1/chat/completions"
    assert call.body["model"] == "fake-judge" and call.body["temperature"] == 0
    # The options as this pass showed them (rotated: blue is A), so "A" is the right letter.
    assert call.body["messages"] == [{"role": "user", "content": matching_prompt(
        "Which colour is the star", {"A": "blue", "B": "red"}, UNREADABLE)}]


def test_judge_is_not_called_when_heuristics_decide(server, tsv, tmp_path) -> None:
    j = judge(server)
    assert MMBench(judge=j).score([tsv], preds(tmp_path, {7: "B", 1_000_007: "A"})).outcomes[0].hit
    assert not MMBench(judge=j).score([tsv], preds(tmp_path, {7: "A", 1_000_007: UNREADABLE})).outcomes[0].hit
    assert server.calls == [] and j.asked == 0  # the second question failed on its wrong first pass


def test_z_reply_is_an_unresolved_wrong_pass_without_retry(server, tsv, tmp_path) -> None:
    say(server, "Z")
    j = judge(server)
    assert not MMBench(judge=j).score([tsv], preds(tmp_path, {7: UNREADABLE, 1_000_007: "A"})).outcomes[0].hit
    assert len(server.calls) == 1 and j.unreadable == 0


def test_unreadable_replies_are_asked_three_times_then_none(server) -> None:
    j = judge(server)
    assert j("Which colour is the star", {"A": "red", "B": "blue"}, UNREADABLE) is None
    assert len(server.calls) == 3 and j.unreadable == 1
    bodies = {json.dumps(c.body, sort_keys=True) for c in server.calls}
    assert len(bodies) == 1  # the same request each time, as VLMEvalKit's retry


def test_a_retry_can_resolve_and_a_malformed_reply_uses_an_attempt(server) -> None:
    server.script.append(Reply(body=b"<html>busy</html>"))
    say(server, "Hmm.", "The answer is B")
    assert judge(server)("Which colour is the star", {"A": "red", "B": "blue"}, UNREADABLE) == "B"
    assert len(server.calls) == 3


def test_cache_serves_reruns_but_not_retries(server, tmp_path) -> None:
    opts = {"A": "red", "B": "blue"}
    say(server, "B")
    assert judge(server, cache_dir=tmp_path / "c")("q", opts, UNREADABLE) == "B"
    assert judge(server, cache_dir=tmp_path / "c")("q", opts, UNREADABLE) == "B"
    assert len(server.calls) == 1
    say(server, "no idea", "A")  # a cached unreadable reply must not be handed back to the retry
    assert judge(server, cache_dir=tmp_path / "c")("q", opts, "something else") == "A"
    assert len(server.calls) == 3


def test_unreachable_endpoint_stops_scoring(tsv, tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    j = ChatChoiceJudge(ChatClient(ChatSettings(model="m", base_url=f"http://127.0.0.1:{port}/v1",
                                                requests_per_minute=0, max_retries=1), sleep=lambda s: None))
    with pytest.raises(ChatAPIError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions: .*2 attempt"):
        MMBench(judge=j).score([tsv], preds(tmp_path, {7: UNREADABLE, 1_000_007: "A"}))


@pytest.mark.parametrize("kw, message", [
    (dict(model="m"), "--judge-model needs --judge-url"),
    (dict(url="http://x/v1"), "--judge-url http://x/v1: needs --judge-model"),
    (dict(url="localhost:8000/v1", model="m"), "not an http"),
    (dict(cache_dir="c"), "--judge-cache needs --judge-url"),
    (dict(url="http://x/v1", model="m", key_env="VIGC_JUDGE_KEY"), "VIGC_JUDGE_KEY: environment variable is not set"),
    (dict(url="http://x/v1", model="m", requests_per_minute=-1), "--judge-rpm -1"),
])
def test_bad_judge_options(kw, message) -> None:
    kw = {"url": None, "model": None, **kw}
    with pytest.raises(BadInput, match=message):
        build_judge(**kw, environ={})


def test_judge_settings_and_key() -> None:
    assert build_judge(None, None) is None
    j = build_judge("https://h/v1/", "gpt", environ={"OPENAI_API_KEY": "sk-a", "K": "sk-b"})
    s = j.client.settings
    assert (s.base_url, s.model, s.api_key, s.temperature, s.requests_per_minute) == ("https://h/v1", "gpt", "sk-a",
                                                                                     0.0, 60.0)
    assert build_judge("http://h/v1", "gpt", key_env="K", environ={"K": "sk-b"}).client.settings.api_key == "sk-b"
    assert build_judge("http://h/v1", "gpt", environ={}).client.settings.api_key == ""  # a local server needs none


def test_cli_end_to_end(server, tsv, tmp_path) -> None:
    say(server, "A")
    p = preds(tmp_path, {7: "B", 1_000_007: UNREADABLE})
    env = {**os.environ, "VIGC_JUDGE_KEY": "sk-test"}
    r = subprocess.run([sys.executable, "-m", "harness.cli", "score", "mmbench", "--data", str(tsv),
                        "--predictions", str(p), "--json", "--judge-url", server.base_url,
                        "--judge-model", "fake-judge", "--judge-key-env", "VIGC_JUDGE_KEY", "--judge-rpm", "0"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["protocol"] == "official+judge" and out["overall"] == 100.0 and out["n"] == 1
    (call,) = server.calls
    assert call.headers["Authorization"] == "Bearer sk-test"


def one_error_line(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0]
    return lines[0]


def test_cli_bad_judge_settings_are_one_line(tsv, tmp_path, capsys) -> None:
    p = str(preds(tmp_path, {7: "B", 1_000_007: "A"}))
    base = ["score", "mmbench", "--data", str(tsv), "--predictions", p]
    assert "--judge-model needs --judge-url" in one_error_line(capsys, [*base, "--judge-model", "gpt"])
    pope = ["score", "pope", "--data", str(tsv), "--predictions", p, "--judge-url", "http://x/v1", "--judge-model", "m"]
    assert "pope has no LLM judge" in one_error_line(capsys, pope)


def test_cli_unreachable_judge_is_one_line(tsv, tmp_path, capsys, monkeypatch) -> None:
    # No retries, so the test does not wait out the client's backoff (about 30 s by default).
    monkeypatch.setattr(judge_mod, "ChatSettings", functools.partial(ChatSettings, max_retries=0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = preds(tmp_path, {7: "B", 1_000_007: UNREADABLE})
    argv = ["score", "mmbench", "--data", str(tsv), "--predictions", str(p),
            "--judge-url", f"http://127.0.0.1:{port}/v1", "--judge-model", "m"]
    line = one_error_line(capsys, argv)
    assert line.startswith("vigc-bench: error: ") and f"127.0.0.1:{port}/v1/chat/completions" in line
    assert "connection" in line.lower()
