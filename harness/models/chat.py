"""A client of OpenAI-compatible chat endpoints (`POST {base_url}/chat/completions`).

Stdlib HTTP only (urllib), so no client library is needed. Used by the language-only
generator's chat backend (`generators/language_chat.py`), the MMBench LLM judge and the
LLaVA-Bench review judge; `judge_endpoint` checks the `--judge-*` options both judges take.

Failure policy: transport failures (HTTP 429 / 5xx / 408, timeouts, refused connections) are
retried with exponential backoff and, once retries run out, raise `ChatAPIError`: the endpoint
is down and every later request would fail too. A reply that arrives (HTTP 200) but is not a
chat completion is retried as well; if it stays malformed, `MalformedReplyError` (a caller
may count the item and go on). Other 4xx (bad key, unknown model) fail at once.

Replies are cached on disk (`chat_cache_dir`) under the hash of the canonical request (model,
messages, temperature, max_tokens), so a rerun makes no HTTP call and a changed prompt misses.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from harness.core.errors import BadConfig, BadInput, VigcError, excerpt
from harness.core.io import atomic_write_text, hash_obj

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_RETRY_AFTER = 600.0  # seconds: a server asking for longer is treated as asking for this


class ChatAPIError(VigcError):
    """The chat endpoint failed after all retries, or refused the request (one-line message)."""

    def __init__(self, url: str, status: int | None, last_error: str, attempts: int) -> None:
        self.url, self.status, self.last_error, self.attempts = url, status, last_error, attempts
        shown = " ".join(last_error.split())[:300]  # one line, whatever the server sent
        super().__init__(f"{url}: chat request failed after {attempts} attempt(s) "
                         f"(last status {status if status is not None else 'none'}): {shown}")


class MalformedReplyError(ChatAPIError):
    """The endpoint answered HTTP 200 with something that is not a chat completion, every time."""


@dataclass(frozen=True)
class ChatSettings:
    """Endpoint, model and client behaviour; built from generator options by `from_options`."""

    model: str
    base_url: str = DEFAULT_BASE_URL
    api_key: str = ""
    timeout: float = 60.0  # seconds per HTTP attempt
    max_retries: int = 5  # retries after the first attempt
    requests_per_minute: float = 60.0  # 0 = no limit
    temperature: float = 0.0
    max_tokens: int = 1024
    cache_dir: Path | None = None
    backoff_base: float = 1.0  # seconds before the first retry (doubles each retry)
    backoff_max: float = 60.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> "ChatSettings":
        """Read `chat_*` options, falling back to VIGC_CHAT_* / OPENAI_API_KEY in the environment.

        The environment is read here, at call time, never at import. No model is a `BadConfig`.
        """
        env = os.environ if environ is None else environ
        model = options.get("chat_model") or env.get("VIGC_CHAT_MODEL", "")
        if not model:
            raise BadConfig("chat backend: no model given (option chat_model or env VIGC_CHAT_MODEL)")
        key = options.get("chat_api_key")  # "" given explicitly means "send no key"
        key = (env.get("VIGC_CHAT_API_KEY") or env.get("OPENAI_API_KEY", "")) if key is None else key
        base = options.get("chat_base_url") or env.get("VIGC_CHAT_BASE_URL") or DEFAULT_BASE_URL
        return cls(model=str(model), base_url=str(base).rstrip("/"), api_key=str(key),
                   timeout=_number(options, "chat_timeout", 60.0, float, 1e-3),
                   max_retries=_number(options, "chat_max_retries", 5, int, 0),
                   requests_per_minute=_number(options, "chat_requests_per_minute", 60.0, float, 0.0),
                   temperature=_number(options, "chat_temperature", 0.0, float, 0.0),
                   max_tokens=_number(options, "chat_max_tokens", 1024, int, 1),
                   cache_dir=Path(options["chat_cache_dir"]) if options.get("chat_cache_dir") else None,
                   backoff_base=_number(options, "chat_backoff_base", 1.0, float, 0.0),
                   backoff_max=_number(options, "chat_backoff_max", 60.0, float, 0.0))


def _number(options: Mapping[str, Any], key: str, default: Any, kind: type, minimum: float) -> Any:
    value = options.get(key, default)
    try:
        if isinstance(value, bool) or (out := kind(value)) != float(value):  # no True, no 2.5 retries
            raise ValueError
    except (TypeError, ValueError):
        raise BadConfig(f"option {key}: expected a number, got {excerpt(value)}") from None
    if out < minimum:
        raise BadConfig(f"option {key}: must be >= {minimum}, got {excerpt(value)}")
    return out


class RateLimiter:
    """Spaces requests at least 60 / requests_per_minute seconds apart (0 = unlimited)."""

    def __init__(self, requests_per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None  # earliest time the next request may start

    def acquire(self) -> float:
        """Wait until a request may start; return the seconds waited."""
        if self.interval <= 0:
            return 0.0
        now = self._clock()
        wait = max(0.0, self._next - now) if self._next is not None else 0.0
        if wait > 0:
            self._sleep(wait)
        # Measured from when this request was allowed, not from a clock that a fake may not move.
        self._next = now + wait + self.interval
        return wait


class ChatClient:
    """Cached, rate-limited, retrying client of `POST {base_url}/chat/completions`."""

    def __init__(self, settings: ChatSettings, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.url = f"{settings.base_url}/chat/completions"
        self._sleep = sleep
        self._limiter = RateLimiter(settings.requests_per_minute, clock, sleep)
        # Built per client (not urlopen's global opener) so proxy settings are read now.
        self._opener = urllib.request.build_opener()
        self.http_calls, self.cache_hits = 0, 0  # HTTP attempts (retries included), replies from the cache

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The JSON body sent, which is also what the cache key is the hash of."""
        s = self.settings
        return {"model": s.model, "messages": messages, "temperature": s.temperature, "max_tokens": s.max_tokens}

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply text for `messages` (from the cache when there)."""
        body = self.request_body(messages)
        key = hash_obj(body)
        path = self.settings.cache_dir / key[:2] / f"{key}.json" if self.settings.cache_dir else None
        cached = _read_cached(path) if path else None
        if cached is not None:
            self.cache_hits += 1
            return cached
        content = self._post(body, key)
        if path:
            atomic_write_text(path, json.dumps({"request": body, "content": content}, ensure_ascii=False))
        return content

    def _post(self, body: dict[str, Any], key: str) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "vigc-bench"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        status: int | None = None
        error, malformed, attempts = "", False, self.settings.max_retries + 1
        for attempt in range(attempts):
            self._limiter.acquire()
            self.http_calls += 1
            retry_after = None
            try:
                with self._opener.open(request, timeout=self.settings.timeout) as resp:
                    status, raw = resp.status, resp.read()
            except urllib.error.HTTPError as e:
                status, malformed, error = e.code, False, f"HTTP {e.code}: {_safe_read(e)}"
                retry_after = parse_retry_after(e.headers.get("Retry-After") if e.headers else None)
                if not retryable_status(e.code):
                    raise ChatAPIError(self.url, status, error, attempt + 1) from None
            except (OSError, http.client.HTTPException) as e:
                status, malformed, error = None, False, _describe(e, self.settings.timeout)
            else:
                try:
                    return reply_content(raw)
                except ValueError as e:
                    error, malformed = str(e), True
            if attempt + 1 < attempts:
                self._sleep(self.backoff(key, attempt, retry_after))
        raise (MalformedReplyError if malformed else ChatAPIError)(self.url, status, error, attempts)

    def backoff(self, key: str, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `attempt + 1`: Retry-After when given, else
        backoff_base * 2**attempt (capped) times a jitter in [0.5, 1.5) drawn from the request
        hash, so parallel clients spread out yet a rerun waits the same."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        base = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** attempt)
        u = int(hashlib.sha256(f"{key}/{attempt}".encode()).hexdigest()[:8], 16) / 2 ** 32
        return base * (0.5 + u)


def _read_cached(path: Path) -> str | None:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))["content"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable: a miss, rewritten after the call
    return content if isinstance(content, str) else None


def retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying (timeouts, conflicts, rate limits, server errors)."""
    return status in (408, 409, 425, 429) or status >= 500


def _safe_read(e: urllib.error.HTTPError) -> str:
    try:
        return e.read(500).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):  # the connection broke while reading the error body
        return "(no body)"


def _describe(e: BaseException, timeout: float) -> str:
    reason = e.reason if isinstance(e, urllib.error.URLError) else e  # urllib wraps connect-time errors
    return f"timed out after {timeout:g} s" if isinstance(reason, TimeoutError) else f"connection error: {reason}"


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now; None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:  # the other form the header may take: an HTTP date
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def reply_content(raw: bytes) -> str:
    """`choices[0].message.content` of a chat-completion body; ValueError says what is wrong."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"malformed reply (not JSON): {raw[:200]!r}") from None
    try:
        content = obj["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        detail = obj.get("error") if isinstance(obj, dict) else None
        raise ValueError(f"malformed reply (no choices[0].message.content): {detail or str(obj)[:200]}")
    return content


DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_REQUESTS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class JudgeEndpoint:
    """A judge endpoint as the `--judge-*` options of `vigc-bench score` name it, checked."""

    url: str  # base URL without a trailing slash (…/v1)
    model: str
    api_key: str  # "" sends no key
    requests_per_minute: float  # 0 = no limit
    cache_dir: Path | None


def judge_endpoint(url: str | None, model: str | None, key_env: str | None = None,
                   cache_dir: str | Path | None = None, requests_per_minute: float | None = None,
                   environ: Mapping[str, str] | None = None) -> JudgeEndpoint | None:
    """The endpoint the `--judge-*` options ask for; None when none is asked for.

    The API key is read from the environment variable `key_env` (default OPENAI_API_KEY; when
    that default is unset no key is sent, as a local server needs none). Inconsistent options
    are a `BadInput` naming the option.
    """
    if url is None and model is None:
        extra = [name for name, v in (("--judge-key-env", key_env), ("--judge-cache", cache_dir),
                                       ("--judge-rpm", requests_per_minute)) if v is not None]
        if extra:
            raise BadInput(f"{extra[0]} needs --judge-url and --judge-model")
        return None
    if not url:
        raise BadInput("--judge-model needs --judge-url (the judge's OpenAI-compatible base URL, e.g. .../v1)")
    if not model:
        raise BadInput(f"--judge-url {url}: needs --judge-model (the judge model's name)")
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"--judge-url {url}: not an http(s) URL")
    env = os.environ if environ is None else environ
    key = env.get(key_env or DEFAULT_KEY_ENV, "")
    if key_env is not None and not key:
        raise BadInput(f"--judge-key-env {key_env}: environment variable is not set")
    rpm = DEFAULT_REQUESTS_PER_MINUTE if requests_per_minute is None else requests_per_minute
    if rpm < 0:
        raise BadInput(f"--judge-rpm {rpm:g}: must be >= 0 (0 = no limit)")
    return JudgeEndpoint(url.rstrip("/"), model, key, rpm, Path(cache_dir) if cache_dir else None)
