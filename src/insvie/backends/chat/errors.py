"""The one error a chat call raises, with a short machine reason a stage can record against an item.

Stages keep the reason (``"http_401"``, ``"schema_mismatch"``, ...) in the database and decide on it
(retry the item later, stop the run, count a rejection), so the reason is a stable token and the
human part goes in ``detail``. Neither ever holds the API key: the client scrubs it before raising.
"""

from __future__ import annotations

from typing import Any

from insvie.errors import InsvieError


class ChatError(InsvieError):
    """A chat request that did not produce a valid reply.

    ``attempts`` and ``usage`` say what the failed call still cost (requests sent, tokens billed), so a
    budget cap can count failures too. ``retryable`` and ``retry_after`` are the client's own hints
    for its retry loop; by the time a caller sees the error the retries are spent.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        attempts: int = 0,
        usage: dict[str, Any] | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
        self.usage = dict(usage or {})
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"{reason}: {detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle through self.args, which holds only the message; workers in a process
        # pool or on Ray must hand the reason and detail back intact.
        return (type(self), (self.reason, self.detail), self.__dict__.copy())
