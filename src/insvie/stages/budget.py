"""A spending cap on a paid model endpoint, shared by every worker of a build.

The ledger is a small JSON file in the dataset, updated under an exclusive file lock, so workers in
other processes (or Ray workers on the machine holding the dataset) add to the same totals. Usage
comes from the API's own ``usage`` fields, failed calls included since they are billed too. When
the cap is reached the stage stops cleanly (:class:`insvie.engine.StageStopped`): finished items
stay recorded and the rest stay pending for a re-run with a larger budget; cached replies cost
nothing and are never charged.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.engine import StageStopped


@dataclass(frozen=True)
class Spent:
    requests: int
    tokens: int


class UsageBudget:
    """Requests and tokens spent against optional caps (``None``: no cap)."""

    def __init__(self, ledger: Path, *, max_requests: int | None, max_tokens: int | None) -> None:
        self.ledger = ledger
        self.max_requests = max_requests
        self.max_tokens = max_tokens

    @contextmanager
    def _locked(self):
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ledger.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> Spent:
        try:
            data = json.loads(self.ledger.read_text())
            return Spent(int(data["requests"]), int(data["tokens"]))
        except (OSError, ValueError, KeyError):
            return Spent(0, 0)

    def spent(self) -> Spent:
        with self._locked():
            return self._read()

    def check(self) -> None:
        """Raise :class:`StageStopped` if a cap is already reached (called before each request)."""
        spent = self.spent()
        if self.max_requests is not None and spent.requests >= self.max_requests:
            raise StageStopped(f"budget reached: {spent.requests} of {self.max_requests} requests")
        if self.max_tokens is not None and spent.tokens >= self.max_tokens:
            raise StageStopped(f"budget reached: {spent.tokens} of {self.max_tokens} tokens")

    def charge(self, attempts: int, usage: dict[str, Any]) -> None:
        """Add what a call cost: requests actually sent and the tokens the API reported."""
        if not attempts and not usage:
            return
        tokens = int(
            usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
        )
        with self._locked():
            spent = self._read()
            text = json.dumps({"requests": spent.requests + attempts, "tokens": spent.tokens + tokens})
            tmp = self.ledger.with_name(f".{self.ledger.name}.{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, self.ledger)


class BudgetedChat:
    """A chat client whose every call is checked against, and charged to, a :class:`UsageBudget`."""

    def __init__(self, client: Any, budget: UsageBudget) -> None:
        self.client = client
        self.budget = budget

    def describe(self) -> dict:
        return self.client.describe()

    def complete_json(self, messages: list[dict], schema: dict, *, name: str, seed: int | None = None) -> Any:
        from insvie.backends.chat import ChatError

        self.budget.check()
        try:
            reply = self.client.complete_json(messages, schema, name=name, seed=seed)
        except ChatError as exc:
            self.budget.charge(exc.attempts, exc.usage)
            raise
        if not reply.cached:
            self.budget.charge(reply.attempts, reply.usage)
        return reply
