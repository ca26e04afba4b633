"""What a step has left to do, read a page at a time, and what its tasks read: for builds of millions.

A step's pending items are those of its kind that its feeding step kept (or made from an item it
kept) and that it has no final result for under its config hash. Deciding that in SQL, a page at a
time in insertion order, keeps the driver's memory flat whatever the dataset's size, and answers "is
anything left?" without loading a single item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from insvie.errors import StoreError
from insvie.store.records import Item, from_json, to_json
from insvie.store.results import FINAL
from insvie.store.rows import ITEM_COLUMNS, item_from_row
from insvie.store.state_db import StateDb


@dataclass(frozen=True)
class PendingQuery:
    """The items ``stage`` (under ``config_hash``) still has to run: of ``kind``, kept by the feeding
    step ``after`` (its name and config hash; ``None``: every item of the kind), and without a done or
    rejected result, or failed fewer than ``max_attempts`` times."""

    stage: str
    config_hash: str
    kind: str
    after: tuple[str, str] | None
    max_attempts: int

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise StoreError(
                f"pending {self.stage}: max_attempts must be at least 1, got {self.max_attempts}"
            )

    def where(self) -> tuple[str, tuple[Any, ...]]:
        after_name, after_hash = self.after if self.after else (None, None)
        sql = (
            "i.kind = ? AND (? IS NULL OR EXISTS (SELECT 1 FROM results AS a WHERE a.stage = ? "
            "AND a.config_hash = ? AND a.status = 'done' AND a.item_id IN (i.id, i.parent))) "
            "AND NOT EXISTS (SELECT 1 FROM results AS r WHERE r.stage = ? AND r.config_hash = ? "
            f"AND r.item_id = i.id AND {FINAL})"
        )
        params = (
            self.kind,
            after_name,
            after_name,
            after_hash,
            self.stage,
            self.config_hash,
            self.max_attempts,
        )
        return sql, params


def count_pending(db: StateDb, query: PendingQuery) -> int:
    where, params = query.where()
    return int(db.conn().execute(f"SELECT count(*) FROM items AS i WHERE {where}", params).fetchone()[0])


def pending_page(db: StateDb, query: PendingQuery, after_rowid: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` pending (rowid, item id) pairs after ``after_rowid``, in insertion order.

    Keyset paging (not OFFSET) stays correct while the caller records results between pages.
    """
    where, params = query.where()
    rows = (
        db.conn()
        .execute(
            f"SELECT i.rowid, i.id FROM items AS i WHERE i.rowid > ? AND {where} ORDER BY i.rowid LIMIT ?",
            (after_rowid, *params, limit),
        )
        .fetchall()
    )
    return [(int(row[0]), row[1]) for row in rows]


def with_parents(db: StateDb, ids: Sequence[str]) -> list[tuple[Item, Item | None]]:
    """The items ``ids`` (in that order) with their parents, in one query."""
    parent_columns = ", ".join(f"p.{column.strip()}" for column in ITEM_COLUMNS.split(","))
    item_columns = ", ".join(f"i.{column.strip()}" for column in ITEM_COLUMNS.split(","))
    rows = (
        db.conn()
        .execute(
            f"SELECT {item_columns}, {parent_columns} FROM json_each(?) AS j "
            "CROSS JOIN items AS i ON i.id = j.value LEFT JOIN items AS p ON p.id = i.parent ORDER BY j.key",
            (to_json(list(ids), "item ids"),),
        )
        .fetchall()
    )
    width = len(ITEM_COLUMNS.split(","))
    return [
        (item_from_row(row[:width]), None if row[width] is None else item_from_row(row[width:]))
        for row in rows
    ]


def done_outputs(db: StateDb, stage: str, config_hash: str, ids: Sequence[str]) -> dict[str, Any]:
    """The outputs ``stage`` recorded as done under ``config_hash`` for those of ``ids`` it kept."""
    rows = (
        db.conn()
        .execute(
            # CROSS JOIN keeps the page's ids as the outer loop: otherwise SQLite may walk every done
            # result of the step (its status index) once per id.
            "SELECT r.item_id, r.output FROM json_each(?) AS j CROSS JOIN results AS r ON r.stage = ? "
            "AND r.config_hash = ? AND r.item_id = j.value AND r.status = 'done'",
            (to_json(list(ids), "item ids"), stage, config_hash),
        )
        .fetchall()
    )
    return {row[0]: from_json(row[1]) or {} for row in rows}
