"""A scriptable OpenAI-compatible chat server on loopback, for tests of chat clients.

`FakeOpenAI` answers `POST /v1/chat/completions`. Each test queues `Reply`s in `script`
(consumed one per request); once the script is empty, `responder(body)` writes the reply text.
Every request is recorded in `calls` (path, headers, JSON body), so a test can count calls.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CONVERSATION_REPLY = ("Question: How many objects are there?\nAnswer: There are two objects.\n\n"
                      "**Question:** Where is the dog?\n**Answer:** The dog is on the left.")
DESCRIPTION_REPLY = "The image shows a dog on the left and a ball on the right."


def default_responder(body: dict[str, Any]) -> str:
    """Two QA pairs when the system prompt asks for "Question:" lines, else a description."""
    system = body["messages"][0]["content"]
    return CONVERSATION_REPLY if "Question:" in system else DESCRIPTION_REPLY


def completion(content: str, model: str = "fake") -> bytes:
    """A chat-completion body whose choices[0].message.content is `content`."""
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": model,
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}]}).encode()


@dataclass
class Reply:
    """One scripted answer: `status`, `body` (raw bytes; None = a completion from the
    responder), extra `headers`, and `delay` seconds to wait first (to provoke timeouts)."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Call:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: Any


class FakeOpenAI:
    """The server; use as a context manager. `base_url` ends in /v1, as OpenAI's does."""

    def __init__(self, responder: Callable[[dict[str, Any]], str] = default_responder) -> None:
        self.responder = responder
        self.script: list[Reply] = []
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def __enter__(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                with fake._lock:
                    fake.calls.append(Call(self.path, dict(self.headers), body))
                    reply = fake.script.pop(0) if fake.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                if self.path != "/v1/chat/completions":
                    reply = Reply(404, b'{"error": {"message": "not found"}}')
                data = reply.body if reply.body is not None else completion(fake.responder(body))
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a handler still sleeping does not hold up shutdown
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()  # fast shutdown
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
