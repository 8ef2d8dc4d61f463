"""LLaVA-Bench with an OpenAI-compatible judge on a loopback server: the official request, and
429s, timeouts and malformed replies counted, never crashing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks._llava_judges import ChatReviewJudge, build_judge
from benchmarks._llava_review import SYSTEM_PROMPT
from benchmarks.llava_bench import LlavaBench
from harness.cli import main
from harness.models.chat import ChatAPIError, ChatClient, ChatSettings
from harness.core.errors import BadInput
from tests.harness.models._fake_openai import FakeOpenAI, Reply, completion

RULES = {"conv": {"role": "Assistant", "prompt": "Rate the answers."},
         "detail": {"role": "Assistant", "prompt": "Rate the descriptions."}}


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "VIGC_JUDGE_KEY"):
        monkeypatch.delenv(name, raising=False)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Four questions about two images in LLaVA's formats (as qa90_questions.jsonl and friends)."""
    qs = [{"question_id": i, "image": f"00000000000{i // 2}.jpg", "text": f"Question {i}?",
           "category": "conv" if i % 2 == 0 else "detail"} for i in range(4)]
    refs = [{"question_id": i, "text": f"Reference {i}.", "category": q["category"]} for i, q in enumerate(qs)]
    ctx = [{"id": str(k), "image": f"00000000000{k}.jpg", "captions": [f"Caption {k}a.", f"Caption {k}b."],
            "instances": [{"category": "dog", "bbox": [0.1, 0.2, 0.3, 0.4]}]} for k in range(2)]
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps(RULES))
    return [_jsonl(tmp_path / "q.jsonl", qs), _jsonl(tmp_path / "a.jsonl", refs), _jsonl(tmp_path / "c.jsonl", ctx),
            rule]


@pytest.fixture
def preds(tmp_path: Path) -> Path:
    return _jsonl(tmp_path / "p.jsonl", [{"question_id": i, "text": f"Model {i}.", "answer_id": f"m{i}"}
                                         for i in range(4)])


def judge(server: FakeOpenAI, **settings) -> ChatReviewJudge:
    defaults = dict(model="fake-judge", base_url=server.base_url, requests_per_minute=0, timeout=5, max_retries=1,
                    temperature=0.2, max_tokens=1024)
    return ChatReviewJudge(ChatClient(ChatSettings(**{**defaults, **settings}), sleep=lambda s: None))


def test_requests_are_the_official_ones(files: list[Path], preds: Path) -> None:
    with FakeOpenAI(responder=lambda body: "8 6\nAssistant 1 is better.") as server:
        res = LlavaBench(judge=judge(server)).score(files, preds)
    assert len(server.calls) == 4
    body = server.calls[0].body
    assert body["model"] == "fake-judge" and body["temperature"] == 0.2 and body["max_tokens"] == 1024
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["messages"][1]["content"] == (
        "[Context]\nCaption 0a.\nCaption 0b.\n\ndog: [0.1, 0.2, 0.3, 0.4]\n\n[Question]\nQuestion 0?\n\n"
        "[Assistant 1]\nReference 0.\n\n[End of Assistant 1]\n\n[Assistant 2]\nModel 0.\n\n[End of Assistant 2]\n\n"
        "[System]\nRate the answers.\n\n")
    assert res.metrics["overall"] == 75.0 and res.metrics["unparsed"] == 0.0
    assert res.protocol == "official (judge: fake-judge)" and res.notes["judge"] == "fake-judge"


def test_429_timeout_and_malformed_replies_are_counted_not_fatal(files: list[Path], preds: Path) -> None:
    with FakeOpenAI(responder=lambda body: "8 6\nok") as server:
        server.script.extend([
            Reply(429, b'{"error": "slow down"}', {"Retry-After": "0"}), Reply(),  # q0: retried, then fine
            Reply(delay=1.0), Reply(delay=1.0),  # q1: two timeouts, retries spent: counted
            Reply(body=b"not json"), Reply(body=b'{"choices": []}'),  # q2: malformed twice: counted
            Reply(body=completion("7/10 5/10\nnot the format")),  # q3: a reply that does not parse
        ])
        j = judge(server, timeout=0.3)
        res = LlavaBench(judge=j).score(files, preds)
    assert j.failures == 2 and res.notes["judge_failures"] == 2
    assert res.metrics["unparsed"] == 3.0 and res.notes["unparsed"] == 3
    tuples = [o.review.scores for o in res.outcomes]
    assert tuples == [(8.0, 6.0), (-1.0, -1.0), (-1.0, -1.0), (-1.0, -1.0)]
    # Official: [-1, -1] averaged in: ref (8-3)/4 = 1.25, model (6-3)/4 = 0.75 -> 60.0
    assert res.metrics["overall"] == 60.0
    assert any("2 judge requests failed" in w for w in res.notes["warnings"])
    assert LlavaBench(judge=j, protocol="drop-unparsed").aggregate(res.outcomes)["overall"] == 75.0


def test_a_refused_key_stops_with_one_error(files: list[Path], preds: Path) -> None:
    with FakeOpenAI() as server:
        server.script.append(Reply(401, b'{"error": "bad key"}'))
        with pytest.raises(ChatAPIError):
            LlavaBench(judge=judge(server)).score(files, preds)


def test_replies_are_cached_by_request(files: list[Path], preds: Path, tmp_path: Path) -> None:
    with FakeOpenAI(responder=lambda body: "9 9") as server:
        first = LlavaBench(judge=judge(server, cache_dir=tmp_path / "cache")).score(files, preds)
        again = LlavaBench(judge=judge(server, cache_dir=tmp_path / "cache")).score(files, preds)
    assert len(server.calls) == 4 and first.metrics == again.metrics


def test_build_judge_checks_options() -> None:
    assert build_judge(None, None) is None
    with pytest.raises(BadInput):
        build_judge("http://x/v1", None)
    j = build_judge("http://localhost:1/v1/", "m", environ={})
    assert j is not None and j.client.settings.temperature == 0.2 and j.client.settings.max_tokens == 1024
    assert j.client.settings.base_url == "http://localhost:1/v1"


def test_cli_judge_url(files: list[Path], preds: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "reviews.jsonl"
    data = [a for f in files for a in ("--data", str(f))]
    with FakeOpenAI(responder=lambda body: "8 4\nok") as server:
        try:
            main(["score", "llava_bench", *data, "--predictions", str(preds), "--judge-url", server.base_url,
                  "--judge-model", "fake", "--judge-rpm", "0", "--reviews-out", str(out), "--json"])
        except SystemExit as e:
            assert not e.code
    got = json.loads(capsys.readouterr().out)
    assert got["overall"] == 50.0 and got["judge"] == "fake"
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4] and rows[1]["answer2_id"] == "m1" and rows[1]["tuple"] == [8.0, 4.0]
    # The written review file summarizes to the same numbers.
    try:
        main(["score", "llava_bench", "--reviews", str(out), "--json"])
    except SystemExit as e:
        assert not e.code
    again = json.loads(capsys.readouterr().out)
    assert {k: again[k] for k in ("overall", "conversation", "detail")} == {k: got[k] for k in ("overall", "conversation", "detail")}
