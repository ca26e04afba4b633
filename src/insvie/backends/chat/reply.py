"""What a successful structured chat call returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatReply:
    """A reply whose ``data`` was parsed from the model's text and validated against the schema.

    ``model`` is the name the server reported (it may pin a dated version of the requested alias),
    which is what provenance should record, with ``system_fingerprint`` (the backend configuration
    OpenAI reports, when it does) beside it. ``usage`` sums the token counts of every attempt, failed
    ones included, because all of them were billed. ``attempts`` is the number of requests sent; a
    reply served from the cache has ``cached=True`` and ``attempts=0`` (it cost nothing this time)
    and keeps the usage recorded when it was first fetched.
    """

    data: dict[str, Any]
    model: str
    raw: str
    usage: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    cached: bool = False
    system_fingerprint: str | None = None


def add_usage(total: dict[str, Any], more: Any) -> dict[str, Any]:
    """Sum two OpenAI ``usage`` objects field by field (nested ``*_details`` included)."""
    if not isinstance(more, dict):
        return total
    out = dict(total)
    for key, value in more.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            previous = out.get(key, 0)
            out[key] = (previous if isinstance(previous, (int, float)) else 0) + value
        elif isinstance(value, dict):
            previous = out.get(key)
            out[key] = add_usage(previous if isinstance(previous, dict) else {}, value)
    return out
