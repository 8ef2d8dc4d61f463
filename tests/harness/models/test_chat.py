"""The chat backend against a scripted OpenAI-compatible server on loopback (no real network)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from generators.base import Box, GenerationContext, ImageInfo, to_llava
from generators.language_chat import build_messages, chat_generate, format_annotations, parse_qa_pairs
from harness.models.chat import ChatAPIError, ChatClient, ChatSettings, RateLimiter, parse_retry_after
from generators.language_only import LanguageOnly
from harness.core.errors import BadConfig
from harness.core.progress import ProgressTask
from tests.harness.models._fake_openai import FakeOpenAI, Reply, completion

TYPES = ("conversation", "detail", "complex_reasoning")


def image(image_id: int, captions: tuple[str, ...] | None = None) -> ImageInfo:
    """A hand-made image; its default caption names its id, so two images never share a request."""
    captions = (f"A dog plays with ball number {image_id}.",) if captions is None else captions
    return ImageInfo(image_id=image_id, file_name=f"{image_id:012d}.jpg", path=Path(f"/nowhere/{image_id}.jpg"),
                     width=200, height=100, captions=captions,
                     boxes=(Box("dog", (20.0, 10.0, 60.0, 50.0)), Box("ball", (150.0, 70.0, 20.0, 20.0))))


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ("VIGC_CHAT_BASE_URL", "VIGC_CHAT_MODEL", "VIGC_CHAT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def options(server: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {"backend": "chat", "chat_base_url": server.base_url, "chat_model": "fake-gpt",
            "chat_requests_per_minute": 0, "chat_timeout": 5, **extra}


def client(opts: dict[str, Any], sleeps: list[float] | None = None) -> ChatClient:
    """A client whose sleeps are recorded, not slept."""
    sleeps = [] if sleeps is None else sleeps
    return ChatClient(ChatSettings.from_options(opts), clock=lambda: 0.0, sleep=sleeps.append)


def ctx(images: list[ImageInfo], opts: dict[str, Any], types=TYPES, **kw: Any) -> GenerationContext:
    return GenerationContext(images=images, data_types=types, seed=0, options=opts, **kw)


def test_happy_path_records_ids_and_llava(server):
    recs = LanguageOnly().generate(ctx([image(1), image(2)], options(server)))
    assert len(server.calls) == 6
    call = server.calls[0]
    assert call.path == "/v1/chat/completions"
    assert set(call.body) == {"model", "messages", "temperature", "max_tokens"}
    assert call.body["model"] == "fake-gpt" and call.body["temperature"] == 0
    assert [m["role"] for m in call.body["messages"]] == ["system", "user"]
    assert [r.id for r in recs[:4]] == ["1-conversation-0#0", "1-conversation-0#1", "1-detail-0#0",
                                        "1-complex_reasoning-0#0"]
    assert all(r.parse_status == "ok" and r.generator == "language_only" for r in recs)
    assert recs[1].question == "Where is the dog?" and recs[1].answer == "The dog is on the left."
    assert recs[2].answer.startswith("The image shows") and recs[2].question.endswith(("detail.", "image.", "see."))
    convs = to_llava(recs)
    assert [c.id for c in convs] == [f"{i}-{dt}-0" for i in (1, 2) for dt in TYPES]
    turns = convs[0].conversations
    assert len(turns) == 4 and turns[0].value.endswith("\n<image>") and "<image>" not in turns[2].value
    assert convs[0].image == "000000000001.jpg"


def test_user_message_has_captions_and_normalised_boxes():
    text = format_annotations(image(1))
    assert "- A dog plays with ball number 1." in text
    assert "- dog: [0.100, 0.100, 0.400, 0.600]" in text
    assert "- ball: [0.750, 0.700, 0.850, 0.900]" in text
    bare = format_annotations(ImageInfo(3, "x.jpg", Path("x.jpg"), 10, 10))
    assert bare.count("(none)") == 2
    assert build_messages(image(1), "detail", 1)[1]["content"] != build_messages(image(1), "detail", 0)[1]["content"]


def test_progress_counts_requests(server):
    seen: list[tuple[str, int]] = []
    advanced: list[int] = []

    class Task(ProgressTask):
        def advance(self, n: int = 1, **fields: Any) -> None:
            advanced.append(n)

    def progress(description: str, total: int) -> ProgressTask:
        seen.append((description, total))
        return Task()

    chat_generate(ctx([image(1), image(2)], options(server), per_image=2, progress=progress))
    assert seen == [("language-only data (chat)", 12)] and sum(advanced) == 12


def test_429_with_retry_after_then_success(server):
    server.script = [Reply(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "7"})]
    sleeps: list[float] = []
    recs = chat_generate(ctx([image(1)], options(server), types=("detail",)), client(options(server), sleeps))
    assert len(server.calls) == 2 and sleeps == [7.0]
    assert recs[0].parse_status == "ok"


def test_500_then_success_backs_off(server):
    server.script = [Reply(500, b"oops"), Reply(503, b"busy")]
    sleeps: list[float] = []
    recs = chat_generate(ctx([image(1)], options(server), types=("complex_reasoning",)),
                         client(options(server), sleeps))
    assert len(server.calls) == 3 and recs[0].parse_status == "ok"
    assert 0.5 <= sleeps[0] < 1.5 and 1.0 <= sleeps[1] < 3.0


def test_timeout_then_success(server):
    server.script = [Reply(delay=1.0)]
    opts = options(server, chat_timeout=0.2)
    sleeps: list[float] = []
    recs = chat_generate(ctx([image(1)], opts, types=("detail",)), client(opts, sleeps))
    assert len(server.calls) == 2 and len(sleeps) == 1 and recs[0].parse_status == "ok"


def test_malformed_json_then_success(server):
    server.script = [Reply(200, b"{not json"), Reply(200, b'{"choices": []}')]
    recs = chat_generate(ctx([image(1)], options(server), types=("detail",)), client(options(server)))
    assert len(server.calls) == 3 and recs[0].parse_status == "ok"


def test_persistently_malformed_reply_is_an_error_record_and_the_run_goes_on(server):
    server.script = [Reply(200, b"<html>proxy</html>")] * 3
    opts = options(server, chat_max_retries=2)
    recs = chat_generate(ctx([image(1), image(2)], opts, types=("detail",)), client(opts))
    assert len(server.calls) == 4
    assert recs[0].id == "1-detail-0#0" and recs[0].parse_status == "error" and "not JSON" in recs[0].raw_output
    assert recs[1].parse_status == "ok"


def test_persistent_failure_raises_one_clear_line(server):
    server.script = [Reply(500, b'{"error": "down\nfor maintenance"}')] * 10
    opts = options(server, chat_max_retries=3)
    sleeps: list[float] = []
    with pytest.raises(ChatAPIError) as e:
        chat_generate(ctx([image(1)], opts), client(opts, sleeps))
    assert len(server.calls) == 4 and len(sleeps) == 3
    msg = str(e.value)
    assert "\n" not in msg and server.base_url + "/chat/completions" in msg
    assert "4 attempt(s)" in msg and "500" in msg and "maintenance" in msg
    for i, s in enumerate(sleeps):
        assert 0.5 * 2 ** i <= s < 1.5 * 2 ** i  # exponential, with jitter


def test_client_error_is_not_retried(server):
    server.script = [Reply(401, b'{"error": {"message": "invalid api key"}}')]
    with pytest.raises(ChatAPIError, match="401.*invalid api key"):
        chat_generate(ctx([image(1)], options(server)), client(options(server)))
    assert len(server.calls) == 1


def test_connection_refused_is_retried_then_fails():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed on exit: nothing listens there
    opts = {"chat_base_url": f"http://127.0.0.1:{port}/v1", "chat_model": "m", "chat_max_retries": 2,
            "chat_requests_per_minute": 0}
    sleeps: list[float] = []
    c = client(opts, sleeps)
    with pytest.raises(ChatAPIError, match="connection error"):
        chat_generate(ctx([image(1)], opts), c)
    assert c.http_calls == 3 and len(sleeps) == 2


def test_cache_rerun_makes_no_call_and_changed_prompt_misses(server, tmp_path):
    opts = options(server, chat_cache_dir=str(tmp_path / "cache"))
    first = chat_generate(ctx([image(1), image(2)], opts))
    assert len(server.calls) == 6
    second = chat_generate(ctx([image(1), image(2)], opts))
    assert len(server.calls) == 6 and second == first
    changed = chat_generate(ctx([image(1), image(2, captions=("A dog sleeps.",))], opts))
    assert len(server.calls) == 9 and changed[:4] == first[:4]
    chat_generate(ctx([image(1)], {**opts, "chat_temperature": 0.7}))  # a request setting is in the key too
    assert len(server.calls) == 12
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 12 and not list((tmp_path / "cache").rglob("*.tmp"))
    assert json.loads(files[0].read_text())["request"]["model"] == "fake-gpt"


def test_corrupt_cache_entry_is_a_miss(server, tmp_path):
    opts = options(server, chat_cache_dir=str(tmp_path))
    chat_generate(ctx([image(1)], opts, types=("detail",)))
    next(tmp_path.rglob("*.json")).write_text("{trunc")
    recs = chat_generate(ctx([image(1)], opts, types=("detail",)))
    assert len(server.calls) == 2 and recs[0].parse_status == "ok"


def test_rate_limiter_spacing_with_fake_clock():
    t = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        t[0] += s

    lim = RateLimiter(60, clock=lambda: t[0], sleep=sleep)
    assert [lim.acquire() for _ in range(3)] == [0.0, 1.0, 1.0] and t[0] == 2.0
    t[0] += 0.25
    assert lim.acquire() == pytest.approx(0.75)
    t[0] += 10
    assert lim.acquire() == 0.0 and waits == [1.0, 1.0, pytest.approx(0.75)]
    assert RateLimiter(0, clock=lambda: 0.0, sleep=sleep).acquire() == 0.0


def test_client_requests_are_spaced_by_the_rate_limit(server):
    sleeps: list[float] = []
    c = client(options(server, chat_requests_per_minute=120), sleeps)  # a clock that never moves
    chat_generate(ctx([image(1)], options(server)), c)
    assert sleeps == [0.5, 1.0]


def test_missing_model_is_bad_config(server):
    opts = options(server)
    del opts["chat_model"]
    with pytest.raises(BadConfig, match="chat_model"):
        LanguageOnly().generate(ctx([image(1)], opts))
    assert server.calls == []
    with pytest.raises(BadConfig, match="chat_max_retries"):
        ChatSettings.from_options({"chat_model": "m", "chat_max_retries": -1})


def test_env_fallbacks_are_read_at_call_time(monkeypatch, server):
    monkeypatch.setenv("VIGC_CHAT_BASE_URL", server.base_url + "/")
    monkeypatch.setenv("VIGC_CHAT_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    s = ChatSettings.from_options({})
    assert (s.base_url, s.model, s.api_key) == (server.base_url, "env-model", "sk-openai")
    monkeypatch.setenv("VIGC_CHAT_API_KEY", "sk-vigc")
    assert ChatSettings.from_options({}).api_key == "sk-vigc"
    assert ChatSettings.from_options({"chat_api_key": ""}).api_key == ""
    monkeypatch.delenv("VIGC_CHAT_BASE_URL")
    assert ChatSettings.from_options({}).base_url == "https://api.openai.com/v1"


def test_authorization_header_only_with_a_key(server):
    chat_generate(ctx([image(1)], options(server, chat_api_key="sk-test"), types=("detail",)))
    chat_generate(ctx([image(1)], options(server), types=("detail",)))
    assert server.calls[0].headers.get("Authorization") == "Bearer sk-test"
    assert "Authorization" not in server.calls[1].headers


def test_unparseable_replies_are_counted_not_crashed(server):
    replies = iter(["I cannot help with that.", "Question: What is it?", "   ", ""])
    server.responder = lambda body: next(replies)
    recs = chat_generate(ctx([image(1)], options(server), types=("conversation", "complex_reasoning", "detail",
                                                                    "conversation"), per_image=1))
    assert [r.parse_status for r in recs] == ["no_question", "no_answer", "empty", "empty"]
    assert recs[0].raw_output == "I cannot help with that." and to_llava(recs) == []


@pytest.mark.parametrize("text, status, pairs", [
    ("Question: A?\nAnswer: B.", "ok", [("A?", "B.")]),
    ("1. **Question 1:** A?\n**Answer:** B\nspans lines.\n\n2. Question: C?\nAnswer: D.", "ok",
     [("A?", "B\nspans lines."), ("C?", "D.")]),
    ("question: A?\nanswer: B.\nQuestion: dangling?", "ok", [("A?", "B.")]),
    ("Answer: B.", "no_question", []),
    ("Question: A?\nAnswer:", "no_answer", []),
    ("\n", "empty", []),
])
def test_parse_qa_pairs(text, status, pairs):
    assert parse_qa_pairs(text) == (status, pairs)


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: go now
    assert completion("x")  # the fake's helper builds a body the client accepts
