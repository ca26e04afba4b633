"""A spending cap on a paid model endpoint, shared by every worker of a build.

The ledger is a small JSON file in the dataset, updated under an exclusive file lock, so workers in
other threads and processes (or Ray workers on the machine holding the dataset) add to the same
totals. A request is *reserved* in the ledger before it is sent and settled to what it really cost
after: checking before and charging after let every worker in flight pass the check together, so a
cap of 3 requests ended with 4 or 5 sent. A request that cannot be reserved is not sent; the stage
stops cleanly (:class:`insvie.engine.StageStopped`): finished items stay recorded and the rest stay
pending for a re-run with a larger budget.

Usage comes from the API's own ``usage`` fields. Every request sent is charged, failed ones included,
since they are billed too; cached replies cost nothing, are never charged and are served even when
the cap is reached. The request cap is exact: each request, retries included, holds one reserved
request before it goes out. The token cap can only be estimated before a request (the reply's size
is known after it): a request goes out only if its estimate still fits, the estimate being the
larger of a rough count of its prompt and the mean cost of the step's requests so far; the total can
pass the cap only by what requests in flight use beyond their estimates (at the start of a step,
before any reply has been measured, that is most of their replies).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.engine import StageStopped
from insvie.store.fsio import write_atomically

# Rough prompt-size estimate: OpenAI-style tokenisers average about four characters per token in
# English, and an image costs at least 85 tokens (its low-detail price). Both are lower bounds on
# purpose, so an estimate never stops a step that could still afford its next request; the measured
# mean cost per request takes over once replies come back.
_CHARS_PER_TOKEN = 4
_TOKENS_PER_IMAGE = 85


@dataclass(frozen=True)
class Spent:
    """What the ledger holds as spent: settled costs plus the reservations of requests in flight."""

    requests: int
    tokens: int


@dataclass(frozen=True)
class Reservation:
    """What :meth:`UsageBudget.reserve` set aside for one request, to settle when it is answered."""

    requests: int
    tokens: int


@dataclass
class _Ledger:
    """The ledger file's content.

    ``requests`` and ``tokens`` count reservations as spent at once, so a worker that dies mid-request
    leaves its request charged (it may well have been billed). ``measured_*`` count only settled
    requests that reported usage, for the mean cost per request that token estimates use.
    """

    requests: int = 0
    tokens: int = 0
    measured_requests: int = 0
    measured_tokens: int = 0

    @classmethod
    def parse(cls, text: str) -> _Ledger:
        data = json.loads(text)
        requests, tokens = int(data["requests"]), int(data["tokens"])
        # A ledger written before reservations existed holds settled totals only.
        return cls(
            requests,
            tokens,
            int(data.get("measured_requests", requests)),
            int(data.get("measured_tokens", tokens)),
        )

    def mean_tokens(self) -> int:
        return -(-self.measured_tokens // self.measured_requests) if self.measured_requests > 0 else 0


def usage_tokens(usage: Any) -> int:
    """Tokens an OpenAI ``usage`` object reports (``total_tokens``, else prompt plus completion)."""
    if not isinstance(usage, dict):
        return 0
    total = usage.get("total_tokens")
    if isinstance(total, (int, float)) and not isinstance(total, bool) and total:
        return int(total)
    parts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return int(sum(p for p in parts if isinstance(p, (int, float)) and not isinstance(p, bool)))


def estimate_prompt_tokens(messages: Any, completion_limit: Any = None) -> int:
    """A deliberately low estimate of what sending ``messages`` costs (text by length, images at the
    minimum price), plus the completion limit if the request sets one."""
    chars = images = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            if isinstance(part, str):
                chars += len(part)
            elif isinstance(part, dict) and part.get("type") == "image_url":
                images += 1
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                chars += len(part["text"])
    limit = completion_limit if isinstance(completion_limit, int) and completion_limit > 0 else 0
    return -(-chars // _CHARS_PER_TOKEN) + images * _TOKENS_PER_IMAGE + limit


class UsageBudget:
    """Requests and tokens spent against optional caps (``None``: no cap)."""

    def __init__(self, ledger: Path, *, max_requests: int | None, max_tokens: int | None) -> None:
        self.ledger = ledger
        self.max_requests = max_requests
        self.max_tokens = max_tokens

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the ledger's lock: a fresh open file per holder, so that ``flock`` excludes threads of
        this process as well as other processes."""
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ledger.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> _Ledger:
        try:
            return _Ledger.parse(self.ledger.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return _Ledger()

    def _write(self, state: _Ledger) -> None:
        """Replace the ledger atomically, so a reader without the lock never sees half a file."""
        text = json.dumps(
            {
                "requests": state.requests,
                "tokens": state.tokens,
                "measured_requests": state.measured_requests,
                "measured_tokens": state.measured_tokens,
            }
        )
        write_atomically(self.ledger, lambda tmp: tmp.write_text(text))

    def spent(self) -> Spent:
        with self._locked():
            state = self._read()
        return Spent(state.requests, state.tokens)

    def reserve(self, tokens: int = 0) -> Reservation:
        """Set aside one request (and its estimated tokens) before sending it, or raise
        :class:`StageStopped` if it would pass a cap. ``tokens`` is the request's own estimate; the
        step's mean cost per request so far is used when that is larger."""
        with self._locked():
            state = self._read()
            if self.max_requests is not None and state.requests + 1 > self.max_requests:
                raise StageStopped(f"budget reached: {state.requests} of {self.max_requests} requests")
            estimate = max(int(tokens), state.mean_tokens()) if self.max_tokens is not None else 0
            if self.max_tokens is not None and (
                state.tokens >= self.max_tokens or state.tokens + estimate > self.max_tokens
            ):
                raise StageStopped(
                    f"budget reached: {state.tokens} of {self.max_tokens} tokens"
                    f" (a request costs about {estimate})"
                )
            state.requests += 1
            state.tokens += estimate
            self._write(state)
        return Reservation(1, estimate)

    def settle(self, reservation: Reservation, *, requests: int, usage: Any) -> None:
        """Replace a reservation by what the call cost: ``requests`` sent and the ``usage`` reported."""
        tokens = usage_tokens(usage)
        with self._locked():
            state = self._read()
            state.requests += requests - reservation.requests
            state.tokens += tokens - reservation.tokens
            if tokens > 0:  # a failure that reported no usage says nothing about a request's size
                state.measured_requests += requests
                state.measured_tokens += tokens
            self._write(state)

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back unused (nothing was sent)."""
        with self._locked():
            state = self._read()
            state.requests -= reservation.requests
            state.tokens -= reservation.tokens
            self._write(state)


class BudgetedChat:
    """A chat client whose every request is reserved in, and settled to, a :class:`UsageBudget`.

    For the OpenAI-compatible :class:`~insvie.backends.chat.ChatClient` the reservation is made per
    HTTP request, around the client's one sending method, so its retries are capped like first tries
    and a cache hit reserves nothing. Other clients (a local transformers model) are reserved one
    request per call and settled to the attempts the call reports afterwards, so their internal
    retries can pass the request cap by at most ``max_retries`` per call.
    """

    def __init__(self, client: Any, budget: UsageBudget) -> None:
        self.client = client
        self.budget = budget
        self._per_request = self._guard_requests(client)

    def describe(self) -> dict:
        return self.client.describe()

    def _guard_requests(self, client: Any) -> bool:
        """Route every request ``client`` sends through the budget; False if it has no such hook.

        ``ChatClient.send_through`` sees every HTTP request the client sends, retries included, and
        none for a reply served from its cache.
        """
        from insvie.backends.chat import ChatClient

        if not isinstance(client, ChatClient):
            return False  # reserved per call instead (see the class docstring)
        budget = self.budget

        def reserved(
            payload: dict[str, Any], send: Callable[[dict[str, Any]], dict[str, Any]]
        ) -> dict[str, Any]:
            reservation = budget.reserve(
                estimate_prompt_tokens(payload.get("messages"), payload.get("max_tokens"))
            )
            try:
                body = send(payload)
            except BaseException:
                # Sent (or tried) and failed: charged as a request, as the client counts attempts.
                budget.settle(reservation, requests=1, usage=None)
                raise
            budget.settle(reservation, requests=1, usage=body.get("usage"))
            return body

        client.send_through = reserved
        return True

    def complete_json(self, messages: list[dict], schema: dict, *, name: str, seed: int | None = None) -> Any:
        if self._per_request:
            return self.client.complete_json(messages, schema, name=name, seed=seed)
        from insvie.backends.chat import ChatError

        reservation = self.budget.reserve(estimate_prompt_tokens(messages))
        try:
            reply = self.client.complete_json(messages, schema, name=name, seed=seed)
        except ChatError as exc:
            self.budget.settle(reservation, requests=exc.attempts, usage=exc.usage)
            raise
        except BaseException:
            self.budget.settle(reservation, requests=1, usage=None)  # unknown cost: keep the request
            raise
        if reply.cached:
            self.budget.release(reservation)
        else:
            self.budget.settle(reservation, requests=reply.attempts, usage=reply.usage)
        return reply
