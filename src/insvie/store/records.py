"""The values the store hands out, and the JSON and hashing rules they are stored under.

Rows come back as frozen dataclasses rather than sqlite rows so that callers never depend on
column order and cannot mutate what looks like state but is only a copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson

from insvie.errors import ConfigError, StoreError

Status = Literal["done", "rejected", "failed"]
STATUSES: frozenset[str] = frozenset({"done", "rejected", "failed"})
Verdict = Literal["accept", "reject"]
VERDICTS: frozenset[str] = frozenset({"accept", "reject"})

# Stage names and item kinds become Parquet column names and CLI words, so they stay identifiers.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Where an integer may not fit in 64 bits (see from_json).
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise StoreError(
            f"{what} {value!r}: must be lower-case letters, digits and '_', starting with a letter"
        )
    return value


def check_item_id(item_id: str) -> str:
    if not isinstance(item_id, str) or not item_id or len(item_id) > 512 or "\x00" in item_id:
        raise StoreError(
            f"item id {item_id!r}: must be a non-empty str of at most 512 characters without NUL"
        )
    return item_id


def _canonical_json(value: Any) -> str:
    """Sorted keys and no whitespace make equal data equal text; NaN is refused as SQLite's JSON is strict."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# orjson refuses (so ``json`` decides) what it would otherwise write another way than ``json``:
# dataclasses, dates, and subclasses of str, int, dict and list.
_ORJSON = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def to_json(value: Any, what: str) -> str:
    """A value as the store keeps it: compact JSON with sorted keys, or a StoreError naming ``what``.

    orjson writes it, several times faster than ``json`` (the runner stores an output per item and
    step). The one textual difference is a number in exponent form (``1e-5``, not ``1e-05``): it reads
    back equal. What orjson refuses goes to ``json`` (integers beyond 64 bits, keys that are not
    strings, the passthrough types above), and so does any text with a ``null``, because orjson writes
    NaN and infinities as null where the store must refuse them. Config hashes keep ``json``'s text
    (:func:`config_hash`), so they are what they always were.
    """
    try:
        text = orjson.dumps(value, option=_ORJSON)
    except TypeError:  # orjson.JSONEncodeError is one
        text = None
    if text is not None and b"null" not in text:
        return text.decode()
    try:
        return _canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: not storable as JSON ({exc})") from exc


def from_json(text: str | None) -> Any:
    """A stored JSON column's value; SQL NULL is None (the inverse of :func:`to_json`).

    orjson parses about four times as fast as ``json``, and a step reads an item's meta, its parent's
    and the outputs it declares for every task. But it reads an integer beyond 64 bits as a float,
    where ``json`` keeps it exact, so text with a run of 19 digits or more is read by ``json``."""
    if text is None:
        return None
    return json.loads(text) if _LONG_DIGITS.search(text) else orjson.loads(text)


def config_hash(config: Mapping[str, Any]) -> str:
    """The sha256 of a config's canonical JSON: the same settings give the same hash in any key order.

    Results are keyed by this hash, so changing any setting of a stage makes it redo its items while
    an unchanged config resumes. Note that ``1`` and ``1.0`` are different settings here.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}")
    try:
        text = _canonical_json(dict(config))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config is not plain JSON data, so it cannot be hashed: {exc}") from exc
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Item:
    """Something the engine processes: a source video, image, clip, candidate or triplet.

    ``source`` records where the item came from as given (a path or URL outside the dataset; never
    opened by the store); ``media`` is the item's own file inside the dataset, if any.
    """

    id: str
    kind: str
    source: str | None
    media: str | None
    parent: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0


@dataclass(frozen=True)
class Result:
    """What one stage made of one item under one config.

    ``attempts`` counts how many times the stage recorded a result for this key; for a failed row
    that is the number of failed tries, which is what bounds retries.
    """

    stage: str
    item_id: str
    config_hash: str
    status: Status
    reason: str | None
    output: Any
    error: str | None
    attempts: int
    updated_at: float


class NewItem(NamedTuple):
    """An item to add in bulk (``Dataset.add_items``): what :meth:`Dataset.add_item` takes, as a row.

    A tuple rather than a frozen dataclass, like :class:`NewResult`: the runner makes one per child, and
    a tuple costs a fraction of a frozen dataclass to make."""

    id: str
    kind: str
    source: str | None = None
    media: str | None = None
    parent: str | None = None
    meta: Mapping[str, Any] | None = None


class NewResult(NamedTuple):
    """A result to record in bulk (``Dataset.record_results``), under the step and hash given there.

    A tuple: the runner makes one per item and step (see :class:`NewItem`)."""

    item_id: str
    status: Status
    output: Any = None
    reason: str | None = None
    error: str | BaseException | None = None


@dataclass(frozen=True)
class Review:
    """A person's verdict on an item; exports honour it over any automatic score."""

    item_id: str
    verdict: Verdict
    reason: str | None
    reviewer: str | None
    reviewed_at: float


@dataclass(frozen=True)
class Funnel:
    """How many items entered a stage and what became of them."""

    stage: str
    total: int
    kept: int
    rejected: dict[str, int]
    failed: int


ERROR_LINE_CHARS = 300


def error_line(error: str | None) -> str | None:
    """A recorded error's first line (at most 300 characters): the key failures are grouped by, in
    ``insvie status``, the build's console and ``failures.parquet``; None for no text."""
    lines = (error or "").strip().splitlines()
    return lines[0][:ERROR_LINE_CHARS] if lines else None


@dataclass(frozen=True)
class FailureGroup:
    """Failed results of one step that share an error (its first line): how many, and a few item ids."""

    error: str
    count: int
    examples: list[str]


@dataclass(frozen=True)
class InputProblem:
    """An input that gave nothing: skipped at ingest (``step`` is ``ingest``), or rejected or failed by
    the first step that read it. ``path`` is the file (or ``list:line`` of a pair list)."""

    path: str
    step: str
    status: str
    reason: str
    item_id: str | None = None
