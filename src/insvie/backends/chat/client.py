"""A client for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, ...).

It resolves the endpoint and key the way the official client does (argument, then
``OPENAI_BASE_URL``; key from ``OPENAI_API_KEY``, optional for local servers), asks for strict
JSON-schema output, validates every reply, retries what is transient or malformed, and caches
replies by content. The client holds no mutable state, so one instance can serve many threads.

The key is sent only in the ``Authorization`` header: it is kept out of ``repr``, ``describe()``,
logs, cache keys and files, and scrubbed from every error message (a server may echo it back).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from insvie.backends.chat.cache import ReplyCache, cache_key
from insvie.backends.chat.errors import ChatError
from insvie.backends.chat.reply import ChatReply, add_usage
from insvie.backends.chat.retry import backoff_delay, retry_after_seconds, retryable_status
from insvie.backends.chat.structured import (
    correction_turns,
    make_validator,
    message_text,
    parse_reply,
    response_format,
)
from insvie.backends.chat.transport import HttpResponse, http_request
from insvie.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MAX_DETAIL = 400


class _Secret:
    """Holds the API key so that printing or logging the client's state shows no key."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


SendThrough = Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]


def resolve_base_url(base_url: str | None, env_name: str) -> str:
    """The endpoint a client talks to: ``base_url``, else ``$env_name``, else OpenAI's; checked."""
    url = (base_url or os.environ.get(env_name, "").strip() or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        source = "base_url" if base_url else env_name
        raise ConfigError(f"{source} must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}")
    return url


def _error_message(response: HttpResponse) -> str:
    """The server's own explanation: OpenAI's ``error.message``, else the start of the body."""
    body = response.json()
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("detail"):  # vLLM / FastAPI style
            return str(body["detail"])
    text = response.body.decode("utf-8", errors="replace").strip()
    return text or "(empty body)"


class ChatClient:
    """Structured JSON replies from an OpenAI-compatible ``/chat/completions`` endpoint.

    ``max_retries`` bounds the retries after the first request, separately for transient failures
    (429, 408, 5xx, timeouts, dropped connections) and for replies that are not valid JSON matching
    the schema (these are retried with the error shown to the model). ``backoff`` is the first
    retry's wait in seconds, doubling each time up to ``max_backoff``, which also caps a server's
    ``Retry-After``.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        base_url_env: str = "OPENAI_BASE_URL",
        timeout: float = 120,
        max_retries: int = 3,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        cache_dir: Path | None = None,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
    ) -> None:
        if not model:
            raise ConfigError("model must name the model to ask, e.g. 'gpt-4o'")
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be at least 0, got {max_retries}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
        self.model = model
        self.base_url = resolve_base_url(base_url, base_url_env)
        self.api_key_env = api_key_env
        key = os.environ.get(api_key_env, "").strip()
        self._key = _Secret(key) if key else None
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.cache = ReplyCache(cache_dir) if cache_dir is not None else None
        # Every HTTP request, first tries and retries alike, goes through this when it is set:
        # ``send_through(payload, send) -> body``. A spending budget reserves each request here.
        self.send_through: SendThrough | None = None

    def __repr__(self) -> str:
        key_state = f"from ${self.api_key_env}" if self._key else "none"
        return f"ChatClient(model={self.model!r}, base_url={self.base_url!r}, api_key={key_state})"

    def describe(self) -> dict[str, str]:
        """Where replies come from, for provenance records (never the key)."""
        return {"backend": "openai-compatible", "base_url": self.base_url, "model": self.model}

    # -- the one public call -------------------------------------------------------------------

    def complete_json(
        self, messages: list[dict[str, Any]], schema: dict[str, Any], *, name: str, seed: int | None = None
    ) -> ChatReply:
        """Ask for a reply matching ``schema`` and return it parsed and validated.

        ``messages`` are OpenAI chat messages (see :func:`text_part`, :func:`image_part` for
        multimodal content). ``name`` names the schema for the server. ``seed`` is passed on for
        servers that support reproducible sampling and is part of the cache key. Raises
        :class:`ChatError` when no valid reply came within the retries.
        """
        fmt = response_format(schema, name)
        validator = make_validator(schema)
        key = None
        if self.cache is not None:
            key = cache_key(
                base_url=self.base_url,
                model=self.model,
                messages=messages,
                schema=schema,
                temperature=self.temperature,
                seed=seed,
            )
            hit = self._from_cache(key, validator)
            if hit is not None:
                return hit
        try:
            reply = self._complete(list(messages), fmt, validator, seed)
        except ChatError as exc:
            raise self._scrubbed(exc) from None
        if self.cache is not None and key is not None:
            self.cache.put(
                key,
                {
                    "request": {"base_url": self.base_url, "model": self.model, "name": name, "seed": seed},
                    "model": reply.model,
                    "system_fingerprint": reply.system_fingerprint,
                    "data": reply.data,
                    "raw": reply.raw,
                    "usage": reply.usage,
                    "attempts": reply.attempts,
                },
            )
        return reply

    def models(self) -> list[str]:
        """Model ids the endpoint serves (``GET /models``): a cheap check that URL and key work."""
        try:
            response = http_request("GET", self._url("models"), headers=self._headers(), timeout=self.timeout)
            if response.status != 200:
                raise ChatError(f"http_{response.status}", _error_message(response)[:_MAX_DETAIL])
            body = response.json()
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ChatError("bad_response", "GET /models did not return a list of models")
            return [str(entry.get("id")) for entry in body["data"] if isinstance(entry, dict)]
        except ChatError as exc:
            raise self._scrubbed(exc) from None

    # -- internals -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.reveal()}"} if self._key else {}

    def _scrubbed(self, exc: ChatError) -> ChatError:
        """The same error with any occurrence of the key removed from its detail."""
        if self._key is None or self._key.reveal() not in exc.detail:
            return exc
        detail = exc.detail.replace(self._key.reveal(), "<api key>")
        return ChatError(exc.reason, detail, attempts=exc.attempts, usage=exc.usage)

    def _from_cache(self, key: str, validator: Any) -> ChatReply | None:
        assert self.cache is not None
        record = self.cache.get(key)
        if record is None or not isinstance(record.get("data"), dict):
            return None
        if next(validator.iter_errors(record["data"]), None) is not None:
            return None  # edited by hand or written by older code: ask again
        return ChatReply(
            data=record["data"],
            model=str(record.get("model") or self.model),
            raw=str(record.get("raw", "")),
            usage=dict(record.get("usage") or {}),
            attempts=0,
            cached=True,
            system_fingerprint=record.get("system_fingerprint"),
        )

    def _send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one request; the response body, or a ``ChatError`` marked retryable or not."""
        response = http_request(
            "POST",
            self._url("chat/completions"),
            headers=self._headers(),
            payload=payload,
            timeout=self.timeout,
        )
        if response.status != 200:
            raise ChatError(
                f"http_{response.status}",
                _error_message(response)[:_MAX_DETAIL],
                retryable=retryable_status(response.status),
                retry_after=retry_after_seconds(response.headers),
            )
        body = response.json()
        if not isinstance(body, dict):
            raise ChatError("bad_response", "the response body is not a JSON object", retryable=True)
        return body

    def _payload(self, messages: list[dict[str, Any]], fmt: dict[str, Any], seed: int | None) -> dict:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": fmt,
            "temperature": self.temperature,
        }
        if seed is not None:
            payload["seed"] = seed
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        return payload

    def _complete(
        self, messages: list[dict[str, Any]], fmt: dict[str, Any], validator: Any, seed: int | None
    ) -> ChatReply:
        attempts = transient_retries = content_retries = 0
        usage: dict[str, Any] = {}
        while True:
            attempts += 1
            try:
                payload = self._payload(messages, fmt, seed)
                body = self.send_through(payload, self._send) if self.send_through else self._send(payload)
            except ChatError as exc:
                if not exc.retryable or transient_retries >= self.max_retries:
                    raise ChatError(exc.reason, exc.detail, attempts=attempts, usage=usage) from None
                transient_retries += 1
                delay = backoff_delay(
                    transient_retries, base=self.backoff, cap=self.max_backoff, retry_after=exc.retry_after
                )
                logger.warning(
                    "%s: %s (%s); retry %d/%d in %.2f s",
                    self.model,
                    exc.reason,
                    self._scrubbed(exc).detail,
                    transient_retries,
                    self.max_retries,
                    delay,
                )
                time.sleep(delay)
                continue
            usage = add_usage(usage, body.get("usage"))
            text = ""
            try:
                text, finish_reason = message_text(body)
                data = parse_reply(text, validator, finish_reason)
            except ChatError as exc:
                if not exc.retryable or content_retries >= self.max_retries:
                    raise ChatError(exc.reason, exc.detail, attempts=attempts, usage=usage) from None
                content_retries += 1
                logger.info(
                    "%s: %s; asking again (%d/%d)", self.model, exc.reason, content_retries, self.max_retries
                )
                messages = [*messages, *correction_turns(text, exc)]
                continue
            return ChatReply(
                data=data,
                model=str(body.get("model") or self.model),
                raw=text,
                usage=usage,
                attempts=attempts,
                cached=False,
                system_fingerprint=_fingerprint(body),
            )


def _fingerprint(body: dict[str, Any]) -> str | None:
    value = body.get("system_fingerprint")
    return str(value) if value else None
