"""ChatClient against a real loopback HTTP server: request shape, validation, retries and failures."""

from __future__ import annotations

import base64
import io
import json
import pickle
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fakes import FakeReply, sequence
from PIL import Image

from insvie.backends.chat import ChatClient, ChatError, image_part, text_part

SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["style", "colour"]},
        "instruction": {"type": "string", "minLength": 3},
    },
    "required": ["category", "instruction"],
    "additionalProperties": False,
}
GOOD = {"category": "style", "instruction": "make it a watercolour painting"}
MESSAGES = [
    {"role": "system", "content": "You write video-editing instructions."},
    {"role": "user", "content": "Propose one edit."},
]


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _client(server, **options) -> ChatClient:
    options.setdefault("backoff", 0.01)
    return ChatClient("gpt-4o", base_url=server.base_url, **options)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_structured_request_shape_and_reply(fake_openai):
    fake_openai.responder = sequence(FakeReply(content=json.dumps(GOOD), model="gpt-4o-2024-08-06"))
    frame = np.zeros((480, 720, 3), np.uint8)
    frame[:, :360] = (200, 30, 30)
    messages = [
        MESSAGES[0],
        {"role": "user", "content": [text_part("Edit this frame."), image_part(frame, max_side=256)]},
    ]

    reply = _client(fake_openai, max_tokens=300).complete_json(messages, SCHEMA, name="edit_proposal", seed=7)

    assert reply.data == GOOD
    assert reply.model == "gpt-4o-2024-08-06"  # what the server reports, not the alias asked for
    assert json.loads(reply.raw) == GOOD
    assert reply.attempts == 1 and not reply.cached
    assert reply.usage["total_tokens"] == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
    [request] = fake_openai.chat_requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    body = request.json
    assert body["model"] == "gpt-4o"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "edit_proposal", "schema": SCHEMA, "strict": True},
    }
    assert body["messages"] == messages
    assert body["temperature"] == 0.0 and body["seed"] == 7 and body["max_tokens"] == 300
    assert "stream" not in body
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers  # no key configured: a local server
    url = body["messages"][1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sent = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert sent.shape == (171, 256, 3)  # longer side shrunk to max_side, aspect kept
    assert tuple(sent[85, 10]) == (200, 30, 30) and tuple(sent[85, 250]) == (0, 0, 0)


def test_optional_fields_left_out(fake_openai):
    fake_openai.responder = sequence(GOOD)
    _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    body = fake_openai.chat_requests[0].json
    assert "seed" not in body and "max_tokens" not in body


def test_schema_violation_retried_with_the_error_shown_to_the_model(fake_openai):
    fake_openai.responder = sequence({"category": "sepia", "instruction": "tint it"}, GOOD)
    reply = _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    assert reply.data == GOOD and reply.attempts == 2
    first, second = fake_openai.chat_requests
    assert reply.usage["total_tokens"] > 0
    assert second.json["messages"][: len(MESSAGES)] == MESSAGES
    assistant, feedback = second.json["messages"][len(MESSAGES) :]
    assert assistant == {
        "role": "assistant",
        "content": json.dumps({"category": "sepia", "instruction": "tint it"}),
    }
    assert feedback["role"] == "user"
    assert "schema_mismatch" in feedback["content"] and "$.category" in feedback["content"]
    assert "'sepia' is not one of" in feedback["content"]
    assert first.json["messages"] == MESSAGES  # the caller's list was not mutated


def test_invalid_json_fails_after_max_retries(fake_openai):
    fake_openai.responder = lambda request: "Sure! Here is the edit: make it blue."
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, max_retries=2).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "invalid_json"
    assert caught.value.attempts == 3 and len(fake_openai.chat_requests) == 3
    assert caught.value.usage["completion_tokens"] > 0  # failed attempts were billed too


def test_missing_required_field_is_a_schema_mismatch(fake_openai):
    fake_openai.responder = lambda request: {"category": "style"}
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, max_retries=0).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "schema_mismatch"
    assert "'instruction' is a required property" in caught.value.detail


@pytest.mark.parametrize(
    "text",
    [
        "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
        "```\n" + json.dumps(GOOD) + "\n```\n",
        "  \n" + json.dumps(GOOD) + "\n",
    ],
)
def test_fenced_json_accepted(fake_openai, text):
    fake_openai.responder = sequence(text)
    assert _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit").data == GOOD


def test_truncated_reply_retried_then_reported(fake_openai):
    cut = FakeReply(content=json.dumps(GOOD)[:20], finish_reason="length")
    fake_openai.responder = sequence(cut, GOOD)
    assert _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit").attempts == 2
    assert "cut off" in fake_openai.chat_requests[1].json["messages"][-1]["content"]

    fake_openai.reset()
    fake_openai.responder = lambda request: cut
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, max_retries=1).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "truncated"


def test_refusal_fails_at_once(fake_openai):
    fake_openai.responder = lambda request: FakeReply(refusal="I can't help with that.")
    with pytest.raises(ChatError) as caught:
        _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "refusal" and "can't help" in caught.value.detail
    assert len(fake_openai.chat_requests) == 1


def test_429_honours_retry_after(fake_openai):
    limited = FakeReply(status=429, headers={"Retry-After": "1"}, error_message="Rate limit reached")
    fake_openai.responder = sequence(limited, GOOD)
    started = time.monotonic()
    reply = _client(fake_openai, backoff=0.01).complete_json(MESSAGES, SCHEMA, name="edit")
    assert time.monotonic() - started >= 0.95  # the server's wait, not the 10 ms backoff
    assert reply.data == GOOD and reply.attempts == 2


def test_retry_after_ms_preferred(fake_openai):
    limited = FakeReply(status=429, headers={"retry-after-ms": "50", "Retry-After": "30"})
    fake_openai.responder = sequence(limited, GOOD)
    started = time.monotonic()
    _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    assert 0.04 <= time.monotonic() - started < 5


def test_500_retried_then_raised(fake_openai):
    fake_openai.responder = lambda request: FakeReply(status=500, error_message="The server had an error")
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, max_retries=2).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "http_500"
    assert caught.value.detail == "The server had an error"
    assert caught.value.attempts == 3 and len(fake_openai.chat_requests) == 3


def test_503_then_success(fake_openai):
    fake_openai.responder = sequence(
        FakeReply(status=503), FakeReply(status=502, body="<html>bad gateway"), GOOD
    )
    reply = _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    assert reply.data == GOOD and reply.attempts == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_fail_at_once(fake_openai, status):
    fake_openai.responder = lambda request: FakeReply(
        status=status, error_message="Incorrect API key provided"
    )
    with pytest.raises(ChatError) as caught:
        _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == f"http_{status}"
    assert caught.value.detail == "Incorrect API key provided"
    assert caught.value.attempts == 1 and len(fake_openai.chat_requests) == 1


def test_non_json_success_body_is_a_bad_response(fake_openai):
    fake_openai.responder = lambda request: FakeReply(body="<html>captive portal</html>")
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, max_retries=1).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "bad_response" and caught.value.attempts == 2


def test_timeout(fake_openai):
    fake_openai.responder = lambda request: FakeReply(content=json.dumps(GOOD), delay=10)
    started = time.monotonic()
    with pytest.raises(ChatError) as caught:
        _client(fake_openai, timeout=0.3, max_retries=1).complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "timeout" and caught.value.attempts == 2
    assert time.monotonic() - started < 3


def test_slow_reply_then_fast_one(fake_openai):
    fake_openai.responder = sequence(FakeReply(content=json.dumps(GOOD), delay=10), GOOD)
    reply = _client(fake_openai, timeout=0.3).complete_json(MESSAGES, SCHEMA, name="edit")
    assert reply.data == GOOD and reply.attempts == 2


def test_dropped_connection_retried(fake_openai):
    fake_openai.responder = sequence(FakeReply(disconnect=True), GOOD)
    assert _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit").attempts == 2


def test_unreachable_port():
    client = ChatClient("gpt-4o", base_url=f"http://127.0.0.1:{_free_port()}/v1", max_retries=1, backoff=0.01)
    with pytest.raises(ChatError) as caught:
        client.complete_json(MESSAGES, SCHEMA, name="edit")
    assert caught.value.reason == "unreachable" and caught.value.attempts == 2
    assert "127.0.0.1" in caught.value.detail


def test_redirects_are_not_followed(fake_openai):
    """urllib would carry the Authorization header to wherever a redirect points."""
    from fakes import FakeOpenAIServer

    with FakeOpenAIServer(sequence(GOOD)) as elsewhere:
        target = f"{elsewhere.base_url}/chat/completions"
        fake_openai.responder = lambda request: FakeReply(status=307, headers={"Location": target})
        with pytest.raises(ChatError) as caught:
            _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit")
        assert caught.value.reason == "http_307"
        assert elsewhere.requests == []


def test_bad_schema_or_name_refused_before_sending(fake_openai):
    with pytest.raises(ValueError, match="invalid JSON schema"):
        _client(fake_openai).complete_json(MESSAGES, {"type": "objekt"}, name="edit")
    with pytest.raises(ValueError, match="schema name"):
        _client(fake_openai).complete_json(MESSAGES, SCHEMA, name="edit proposal!")
    assert fake_openai.requests == []


def test_error_pickles_with_reason_and_detail():
    error = ChatError("http_429", "slow down", attempts=4, usage={"total_tokens": 9})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail, copy.attempts, copy.usage) == (
        "http_429",
        "slow down",
        4,
        {"total_tokens": 9},
    )
    assert str(copy) == "http_429: slow down"


def test_models_lists_the_served_models(fake_openai):
    fake_openai.models = ["llava:13b", "qwen2.5-vl"]
    assert _client(fake_openai).models() == ["llava:13b", "qwen2.5-vl"]
    assert fake_openai.requests[0].method == "GET" and fake_openai.requests[0].path == "/v1/models"


def test_one_client_serves_many_threads(fake_openai):
    fake_openai.responder = lambda request: {
        "category": "colour",
        "instruction": request["messages"][-1]["content"],
    }
    client = _client(fake_openai)
    prompts = [f"turn the car number {index} red" for index in range(16)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(
                lambda p: client.complete_json([{"role": "user", "content": p}], SCHEMA, name="e"), prompts
            )
        )
    assert [reply.data["instruction"] for reply in replies] == prompts
