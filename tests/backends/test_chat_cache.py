"""The reply cache: a hit sends nothing, the key covers what determines the reply and nothing secret."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import sequence

from insvie.backends.chat import ChatClient, image_part, text_part

SCHEMA = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
MESSAGES = [
    {"role": "user", "content": [text_part("Caption this."), image_part(np.zeros((8, 8, 3), np.uint8))]}
]


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _captioner(request):
    return {"caption": f"caption {len(request['messages'])} seed {request.get('seed')}"}


def test_hit_sends_no_request(fake_openai, tmp_path):
    fake_openai.responder = _captioner
    client = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path)
    first = client.complete_json(MESSAGES, SCHEMA, name="caption", seed=1)
    second = client.complete_json(MESSAGES, SCHEMA, name="caption", seed=1)
    again = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path).complete_json(
        MESSAGES, SCHEMA, name="caption", seed=1
    )
    assert len(fake_openai.chat_requests) == 1
    assert not first.cached and second.cached and again.cached
    assert second.data == first.data and second.model == first.model and second.raw == first.raw
    assert second.usage == first.usage and second.attempts == 0
    [entry] = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert entry.suffix == ".json" and json.loads(entry.read_text())["data"] == first.data


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 2},
        {"seed": None},
        {"schema": {**SCHEMA, "properties": {"caption": {"type": "string", "maxLength": 80}}}},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [text_part("Caption this."), image_part(np.ones((8, 8, 3), np.uint8))],
                }
            ]
        },
    ],
)
def test_what_determines_the_reply_is_in_the_key(fake_openai, tmp_path, change):
    fake_openai.responder = _captioner
    client = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path)
    request = {"messages": MESSAGES, "schema": SCHEMA, "seed": 1}
    client.complete_json(request["messages"], request["schema"], name="caption", seed=request["seed"])
    request.update(change)
    reply = client.complete_json(request["messages"], request["schema"], name="caption", seed=request["seed"])
    assert not reply.cached and len(fake_openai.chat_requests) == 2
    assert len([path for path in tmp_path.rglob("*.json")]) == 2


def test_model_temperature_and_endpoint_are_in_the_key(fake_openai, tmp_path):
    fake_openai.responder = _captioner
    for options in ({"model": "gpt-4o"}, {"model": "gpt-4o-mini"}, {"model": "gpt-4o", "temperature": 0.7}):
        ChatClient(base_url=fake_openai.base_url, cache_dir=tmp_path, **options).complete_json(
            MESSAGES, SCHEMA, name="caption"
        )
    assert len(fake_openai.chat_requests) == 3


def test_api_key_is_not_in_the_key(fake_openai, tmp_path, monkeypatch):
    fake_openai.responder = _captioner
    monkeypatch.setenv("OPENAI_API_KEY", "sk-first")
    ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path).complete_json(
        MESSAGES, SCHEMA, name="caption"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-second")
    reply = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path).complete_json(
        MESSAGES, SCHEMA, name="caption"
    )
    assert reply.cached and len(fake_openai.chat_requests) == 1


def test_unreadable_entry_is_fetched_again(fake_openai, tmp_path):
    fake_openai.responder = sequence({"caption": "a"}, {"caption": "b"})
    client = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path)
    client.complete_json(MESSAGES, SCHEMA, name="caption")
    [entry] = tmp_path.rglob("*.json")
    entry.write_text('{"format": 1, "data": {"capt')
    reply = client.complete_json(MESSAGES, SCHEMA, name="caption")
    assert not reply.cached and reply.data == {"caption": "b"}
    assert json.loads(entry.read_text())["data"] == {"caption": "b"}
    assert [path.name for path in tmp_path.rglob("*") if path.name.endswith(".tmp")] == []


def test_failures_are_not_cached(fake_openai, tmp_path):
    fake_openai.responder = sequence("not json", {"caption": "ok"})
    client = ChatClient("gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path, max_retries=0)
    with pytest.raises(Exception, match="invalid_json"):
        client.complete_json(MESSAGES, SCHEMA, name="caption")
    assert list(tmp_path.rglob("*.json")) == []
    assert client.complete_json(MESSAGES, SCHEMA, name="caption").data == {"caption": "ok"}
