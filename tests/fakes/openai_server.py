"""A real HTTP server on loopback speaking OpenAI's chat-completions protocol, scripted by the test.

The chat client and the stages built on it are tested against real sockets, real HTTP and the real
wire format, so what is tested is what talks to OpenAI, vLLM or Ollama. The test supplies a
``responder(request_json)`` returning the assistant's text, a dict (sent as JSON text), or a
:class:`FakeReply` for everything else (status codes, ``Retry-After``, raw bodies, slow replies,
dropped connections, truncation). Every request is recorded, headers included.

    with FakeOpenAIServer(lambda request: '{"ok": true}') as server:
        client = ChatClient("gpt-4o", base_url=server.base_url)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeReply:
    """One scripted response.

    ``content`` is the assistant's text for a 200. Any other ``status`` sends an OpenAI error object
    (``error_message``) unless ``body`` is given, which is sent verbatim whatever the status.
    ``delay`` waits before answering (for timeouts); ``disconnect`` closes the socket without a
    response; ``finish_reason="length"`` imitates a reply cut at the token limit.
    """

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes | None = None
    delay: float = 0.0
    disconnect: bool = False
    model: str | None = None
    usage: dict[str, Any] | None = None
    system_fingerprint: str | None = None
    finish_reason: str = "stop"
    refusal: str | None = None
    error_message: str = "scripted error"


Responder = Callable[[dict[str, Any]], "str | dict[str, Any] | FakeReply"]


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received: method, path, headers (names lower-cased) and the JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


def sequence(*replies: str | dict[str, Any] | FakeReply) -> Responder:
    """A responder answering with ``replies`` in order, then 500 "script exhausted" (so a test sees
    an unexpected extra request instead of hanging)."""
    lock = threading.Lock()
    queue = list(replies)

    def respond(_request: dict[str, Any]) -> str | dict[str, Any] | FakeReply:
        with lock:
            if queue:
                return queue.pop(0)
        return FakeReply(status=500, error_message="fake server: script exhausted")

    return respond


def _default_responder(_request: dict[str, Any]) -> FakeReply:
    return FakeReply(status=500, error_message="fake server: no responder set")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler sleeping out a scripted delay must not hold up exit
    request_queue_size = 128  # the default backlog of 5 drops concurrent connects (1 s SYN retry)


class FakeOpenAIServer:
    """``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 at a free port."""

    def __init__(self, responder: Responder | None = None, *, models: tuple[str, ...] = ("fake-model",)):
        self.responder: Responder = responder or _default_responder
        self.models = list(models)
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised by the responder, for the test
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests read -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Forget recorded requests and errors (between phases of one test)."""
        with self._lock:
            self.requests.clear()
            self.errors.clear()

    # -- serving -------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _completion(self, request: dict[str, Any], reply: FakeReply) -> dict[str, Any]:
        content = reply.content if reply.content is not None else ("" if reply.refusal is None else None)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.refusal is not None:
            message["refusal"] = reply.refusal
        prompt_tokens = max(1, len(json.dumps(request.get("messages", []))) // 4)
        completion_tokens = max(1, len(content or "") // 4)
        usage = reply.usage or {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        body = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request.get("model", "fake-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": usage,
        }
        if reply.system_fingerprint is not None:
            body["system_fingerprint"] = reply.system_fingerprint
        return body


def _as_reply(value: str | dict[str, Any] | FakeReply) -> FakeReply:
    if isinstance(value, FakeReply):
        return value
    if isinstance(value, dict):
        return FakeReply(content=json.dumps(value))
    return FakeReply(content=str(value))


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = (
        "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

        def _send(self, status: int, body: bytes | str | dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            data = data.encode() if isinstance(data, str) else data
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timed out) while we were waiting

        def _read_json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return raw.decode("utf-8", errors="replace")

        def _headers(self) -> dict[str, str]:
            return {name.lower(): value for name, value in self.headers.items()}

        def do_GET(self) -> None:
            server._record(RecordedRequest("GET", self.path, self._headers(), None))
            if self.path.rstrip("/") == "/v1/models":
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in server.models]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, _error_body(404, f"no route {self.path}"))

        def do_POST(self) -> None:
            body = self._read_json()
            server._record(RecordedRequest("POST", self.path, self._headers(), body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error_body(404, f"no route {self.path}"))
                return
            if (
                not isinstance(body, dict)
                or "model" not in body
                or not isinstance(body.get("messages"), list)
            ):
                self._send(400, _error_body(400, "a JSON body with model and messages is required"))
                return
            if body.get("stream"):
                self._send(400, _error_body(400, "the fake server does not stream"))
                return
            try:
                reply = _as_reply(server.responder(body))
            except Exception as exc:
                server.errors.append(exc)
                self._send(500, _error_body(500, f"responder raised {type(exc).__name__}: {exc}"))
                return
            if reply.delay and server._stopping.wait(reply.delay):
                return  # shutting down: drop the request
            if reply.disconnect:
                self.close_connection = True
                self.connection.close()
                return
            if reply.body is not None:
                self._send(reply.status, reply.body, reply.headers)
            elif reply.status != 200:
                self._send(reply.status, _error_body(reply.status, reply.error_message), reply.headers)
            else:
                self._send(200, server._completion(body, reply), reply.headers)

    return Handler
