"""Endpoint and key resolution like the official client, and the key kept out of everything but the header."""

from __future__ import annotations

import logging
import pickle

import pytest
from fakes import FakeReply, sequence

from insvie.backends.chat import DEFAULT_BASE_URL, ChatClient, ChatError
from insvie.errors import ConfigError

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
MESSAGES = [{"role": "user", "content": "Are you there?"}]
KEY = "sk-test-Zq8v3RkX1bW9tYp2LmN4"


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MY_VLLM_KEY", "MY_VLLM_URL"):
        monkeypatch.delenv(name, raising=False)


def test_env_base_url_and_key_honoured(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake_openai.responder = sequence({"ok": True})
    client = ChatClient("gpt-4o")
    assert client.base_url == fake_openai.base_url
    assert client.complete_json(MESSAGES, SCHEMA, name="ping").data == {"ok": True}
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_explicit_base_url_overrides_env(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    fake_openai.responder = sequence({"ok": True})
    client = ChatClient("gpt-4o", base_url=fake_openai.base_url)
    assert client.complete_json(MESSAGES, SCHEMA, name="ping").data == {"ok": True}


def test_custom_env_names(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-this-one")
    monkeypatch.setenv("MY_VLLM_URL", fake_openai.base_url)
    monkeypatch.setenv("MY_VLLM_KEY", KEY)
    fake_openai.responder = sequence({"ok": True})
    client = ChatClient("qwen2.5-vl", api_key_env="MY_VLLM_KEY", base_url_env="MY_VLLM_URL")
    client.complete_json(MESSAGES, SCHEMA, name="ping")
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_defaults_without_env():
    client = ChatClient("gpt-4o")
    assert client.base_url == DEFAULT_BASE_URL
    assert client.describe() == {
        "backend": "openai-compatible",
        "base_url": DEFAULT_BASE_URL,
        "model": "gpt-4o",
    }
    assert "api_key=none" in repr(client)


def test_empty_key_means_no_header(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    fake_openai.responder = sequence({"ok": True})
    ChatClient("llama3.2", base_url=fake_openai.base_url).complete_json(MESSAGES, SCHEMA, name="ping")
    assert "authorization" not in fake_openai.chat_requests[0].headers


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "localhost:8000/v1", "http://"])
def test_bad_base_url_is_a_config_error(url):
    with pytest.raises(ConfigError, match="base_url"):
        ChatClient("gpt-4o", base_url=url)


def test_key_never_leaks(fake_openai, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    client = ChatClient(
        "gpt-4o", base_url=fake_openai.base_url, cache_dir=tmp_path, backoff=0.01, max_retries=1
    )
    assert KEY not in repr(client) and KEY not in str(client.describe()) and KEY not in str(vars(client))

    # A server that echoes the key back, in a retried 500 (logged) and then a 401 (raised).
    echo = f"Incorrect API key provided: {KEY}."
    fake_openai.responder = sequence(
        FakeReply(status=500, error_message=echo), FakeReply(status=401, body=echo)
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ChatError) as caught:
        client.complete_json(MESSAGES, SCHEMA, name="ping")
    error = caught.value
    assert error.reason == "http_401" and "Incorrect API key provided" in error.detail
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in error.detail
    assert KEY.encode() not in pickle.dumps(error)
    assert "http_500" in caplog.text and KEY not in caplog.text

    fake_openai.responder = sequence({"ok": True})
    client.complete_json(MESSAGES, SCHEMA, name="ping")
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files and all(KEY not in path.read_text() and KEY not in path.name for path in files)
    assert fake_openai.chat_requests[-1].headers["authorization"] == f"Bearer {KEY}"
