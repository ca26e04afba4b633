"""``insvie tiny-models`` and the endpoint its tiny.yaml points at, as a user runs it: a real subprocess.

The README promises that the chat endpoint follows ``OPENAI_BASE_URL`` unless the config names
another. tiny.yaml must therefore name one only when ``--base-url`` asked for it; the check sends a
real request from a client built off the written config to a loopback server named by the
environment alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fakes.openai_server import FakeOpenAIServer
from insvie_cli import run_cli

pytest.importorskip("diffusers")

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


def _chats(config_path: Path) -> dict[str, dict]:
    data = yaml.safe_load(config_path.read_text())
    return {step: data[step]["chat"] for step in ("instruct", "judge")}


def test_without_base_url_the_environment_names_the_endpoint(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from insvie.stages.chat_model import make_chat
    from insvie.stages.config import load_config

    dest = tiny  # `run_cli("tiny-models", DEST)` without --base-url, made once per test process (conftest)
    for step, chat in _chats(dest / "tiny.yaml").items():
        assert "base_url" not in chat, step
        assert chat["model"] == "tiny-smoke"
    config = load_config(dest / "tiny.yaml")
    with FakeOpenAIServer(lambda request: {"ok": True}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        for step, chat_config in (("instruct", config.instruct.chat), ("judge", config.judge.chat)):
            chat = make_chat(chat_config, root=tmp_path / "ds", step=step)
            assert chat.describe()["base_url"] == server.base_url
            reply = chat.complete_json(
                [{"role": "user", "content": f"ping from {step}"}], SCHEMA, name="ping"
            )
            assert reply.data == {"ok": True}
        assert len(server.chat_requests) == 2


def test_base_url_is_written_when_given(tmp_path: Path):
    dest = tmp_path / "tiny"
    made = run_cli("tiny-models", str(dest), "--base-url", "http://127.0.0.1:9/v1")
    assert made.returncode == 0, made.stderr
    for step, chat in _chats(dest / "tiny.yaml").items():
        assert chat["base_url"] == "http://127.0.0.1:9/v1", step
