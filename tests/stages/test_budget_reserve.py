"""The chat spending cap under concurrency: a request is reserved before it is sent, never after.

Checking the ledger before a call and charging it after let every thread (and every process) in
flight pass the check together, so ``max_requests: 3`` ended with 4 or 5 requests sent. These tests
run the real budgeted client (``make_chat``) against the real loopback OpenAI server from several
threads and from two processes sharing one dataset, and compare what the ledger charged and what
the server received with the cap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply

from insvie.backends.chat import ChatError
from insvie.engine import StageStopped
from insvie.stages.budget import UsageBudget
from insvie.stages.chat_model import ChatModelConfig, make_chat

SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
STEP = "judge"


def slow_ok(request: dict) -> FakeReply:
    """A valid reply after a pause, so that every thread's request is in flight at once."""
    time.sleep(0.3)
    return FakeReply(content='{"ok": true}')


def ledger(root: Path) -> dict:
    return json.loads((root / "cache" / "budget" / f"{STEP}.json").read_text())


def ask(chat, text: str) -> str:
    """One call: "ok", or "stopped" when the budget refused it."""
    try:
        chat.complete_json([{"role": "user", "content": text}], SCHEMA, name="ping")
    except StageStopped:
        return "stopped"
    return "ok"


def test_threads_never_send_more_than_max_requests(tmp_path: Path):
    with FakeOpenAIServer(slow_ok) as server:
        chat = make_chat(
            ChatModelConfig(model="fake-gpt", base_url=server.base_url, max_requests=3),
            root=tmp_path,
            step=STEP,
        )
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(lambda i: ask(chat, f"item {i}"), range(8)))
        sent = len(server.chat_requests)
    assert sent == 3
    assert outcomes.count("ok") == 3 and outcomes.count("stopped") == 5
    assert ledger(tmp_path)["requests"] == 3


_WORKER = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from insvie.engine import StageStopped
from insvie.stages.chat_model import ChatModelConfig, make_chat

url, root, tag = sys.argv[1:4]
schema = json.loads(sys.argv[4])
chat = make_chat(
    ChatModelConfig(model="fake-gpt", base_url=url, max_requests=5), root=Path(root), step="judge"
)

def ask(i):
    try:
        chat.complete_json([{"role": "user", "content": f"{tag} {i}"}], schema, name="ping")
    except StageStopped:
        return "stopped"
    return "ok"

with ThreadPoolExecutor(4) as pool:
    print(json.dumps(list(pool.map(ask, range(6)))))
"""


def test_two_processes_share_the_cap(tmp_path: Path):
    with FakeOpenAIServer(slow_ok) as server:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, server.base_url, str(tmp_path), tag, json.dumps(SCHEMA)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for tag in ("first", "second")
        ]
        results = [worker.communicate(timeout=120) for worker in workers]
        sent = len(server.chat_requests)
    for worker, (_, stderr) in zip(workers, results, strict=True):
        assert worker.returncode == 0, stderr
    outcomes = [outcome for stdout, _ in results for outcome in json.loads(stdout)]
    assert sent == 5
    assert outcomes.count("ok") == 5 and outcomes.count("stopped") == 7
    assert ledger(tmp_path)["requests"] == 5


def test_a_retry_needs_its_own_reservation(tmp_path: Path):
    """Every request a call sends counts, retries included: a retry the cap cannot cover is not sent."""
    seen: set[str] = set()
    lock = threading.Lock()

    def fail_first(request: dict) -> FakeReply:
        text = request["messages"][0]["content"]
        with lock:
            first = text not in seen
            seen.add(text)
        if first:
            return FakeReply(status=503, headers={"retry-after": "0"})
        return FakeReply(content='{"ok": true}')

    with FakeOpenAIServer(fail_first) as server:
        chat = make_chat(
            ChatModelConfig(model="fake-gpt", base_url=server.base_url, max_requests=3, max_retries=1),
            root=tmp_path,
            step=STEP,
        )
        assert ask(chat, "one") == "ok"  # 503, then the retry: two requests
        assert ask(chat, "two") == "stopped"  # 503 is the third; its retry would be the fourth
        sent = len(server.chat_requests)
    assert sent == 3
    assert ledger(tmp_path)["requests"] == 3


def test_failed_calls_keep_their_charge_and_cached_replies_cost_nothing(tmp_path: Path):
    replies = iter([FakeReply(status=400, error_message="bad request"), FakeReply(content='{"ok": true}')])

    with FakeOpenAIServer(lambda request: next(replies)) as server:
        chat = make_chat(
            ChatModelConfig(model="fake-gpt", base_url=server.base_url, max_requests=2),
            root=tmp_path,
            step=STEP,
        )
        with pytest.raises(ChatError, match="http_400"):
            chat.complete_json([{"role": "user", "content": "bad"}], SCHEMA, name="ping")
        assert ledger(tmp_path)["requests"] == 1  # a failed request was sent, so it is charged
        assert ask(chat, "good") == "ok"
        assert ask(chat, "another") == "stopped"
        assert ask(chat, "good") == "ok"  # from the cache: no request, no charge, even at the cap
        sent = len(server.chat_requests)
    assert sent == 2
    assert ledger(tmp_path)["requests"] == 2


def test_the_token_cap_is_not_passed_by_a_request_it_cannot_cover(tmp_path: Path):
    usage = {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}
    with FakeOpenAIServer(lambda request: FakeReply(content='{"ok": true}', usage=usage)) as server:
        chat = make_chat(
            ChatModelConfig(model="fake-gpt", base_url=server.base_url, max_tokens=100),
            root=tmp_path,
            step=STEP,
        )
        outcomes = [ask(chat, f"item {i}") for i in range(4)]
        sent = len(server.chat_requests)
    # two replies spend 80; a third, costing about as much again, would pass 100, so it is not sent
    assert outcomes == ["ok", "ok", "stopped", "stopped"]
    assert sent == 2
    assert ledger(tmp_path)["tokens"] == 80


def test_a_ledger_written_before_reservations_still_counts(tmp_path: Path):
    path = tmp_path / "cache" / "budget" / f"{STEP}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"requests": 2, "tokens": 50}))
    budget = UsageBudget(path, max_requests=3, max_tokens=None)
    reservation = budget.reserve()
    assert budget.spent().requests == 3
    with pytest.raises(StageStopped, match="budget reached: 3 of 3 requests"):
        budget.reserve()
    budget.settle(reservation, requests=1, usage={"total_tokens": 7})
    assert (budget.spent().requests, budget.spent().tokens) == (3, 57)


class _LocalModel:
    """Stands in for a local model (no HTTP seam to guard): one call, ``attempts`` generations."""

    def __init__(self) -> None:
        self.calls = 0

    def describe(self) -> dict:
        return {"backend": "local"}

    def complete_json(self, messages: list[dict], schema: dict, *, name: str, seed: int | None = None):
        from insvie.backends.chat.reply import ChatReply

        self.calls += 1
        cached = messages[0]["content"] == "cached"
        return ChatReply(
            data={"ok": True},
            model="local",
            raw="{}",
            usage={} if cached else {"total_tokens": 10},
            attempts=0 if cached else 2,
            cached=cached,
        )


def test_a_local_model_is_reserved_per_call_and_settled_to_its_attempts(tmp_path: Path):
    from insvie.stages.budget import BudgetedChat

    path = tmp_path / "cache" / "budget" / f"{STEP}.json"
    model = _LocalModel()
    chat = BudgetedChat(model, UsageBudget(path, max_requests=3, max_tokens=None))
    assert ask(chat, "cached") == "ok"
    assert UsageBudget(path, max_requests=None, max_tokens=None).spent().requests == 0  # released
    assert ask(chat, "first") == "ok"  # settled to the two generations it reports
    assert ledger(tmp_path)["requests"] == 2
    # one request left to reserve; its second generation is only counted after (the documented gap)
    assert ask(chat, "second") == "ok"
    assert ask(chat, "third") == "stopped"
    assert model.calls == 3 and ledger(tmp_path)["requests"] == 4
