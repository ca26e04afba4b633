"""What a step has left to do, read a page at a time, and what its tasks read: for builds of millions.

A step's pending items are those of its kind that its feeding step kept (or made from an item it
kept) and that it has no final result for under its config hash. Deciding that in SQL, a page at a
time in id order, keeps the driver's memory flat whatever the dataset's size, and answers "is
anything left?" without loading a single item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from insvie.errors import StoreError
from insvie.store import changes
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
    """How many items the step has left: one pass over the items of its kind (seconds at millions; see
    :func:`nothing_pending_since_mark` for the re-run that skips it)."""
    where, params = query.where()
    return int(db.conn().execute(f"SELECT count(*) FROM items AS i WHERE {where}", params).fetchone()[0])


def pending_page(db: StateDb, query: PendingQuery, after_id: str, limit: int) -> list[str]:
    """Up to ``limit`` pending item ids after ``after_id`` (``""``: from the start), in id order.

    Keyset paging (not OFFSET) stays correct while the caller records results between pages. Id order,
    not insertion order: ids are content hashes, so in insertion order each page's results and children
    land on random pages of every index, and once the indexes outgrow SQLite's cache every insert reads
    pages back. In id order, consecutive results share index pages (the ``items_kind_id`` index walks
    the kind in that order).
    """
    where, params = query.where()
    rows = (
        db.conn()
        .execute(
            f"SELECT i.id FROM items AS i WHERE {where} AND i.id > ? ORDER BY i.id LIMIT ?",
            (*params, after_id, limit),
        )
        .fetchall()
    )
    return [row[0] for row in rows]


def _mark(conn: Any, query: PendingQuery) -> dict[str, Any]:
    """What a step's pending set depends on: its feeding step and attempt limit, and the change counters
    of the items of its kind, of its feeding step's results and of its own."""
    keys = [changes.items_key(query.kind), changes.results_key(query.stage)]
    if query.after is not None:
        keys.append(changes.results_key(query.after[0]))
    after = None if query.after is None else list(query.after)
    return {"after": after, "max_attempts": query.max_attempts, "changes": changes.read(conn, keys)}


def mark_nothing_pending(db: StateDb, query: PendingQuery) -> None:
    """Record that the step has nothing pending as the dataset is now (the caller knows it: it counted
    none, or ran every pending item to a final result)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO step_marks (stage, config_hash, mark) VALUES (?, ?, ?) "
            "ON CONFLICT (stage, config_hash) DO UPDATE SET mark = excluded.mark",
            (query.stage, query.config_hash, to_json(_mark(conn, query), f"{query.stage} step mark")),
        )


def nothing_pending_since_mark(db: StateDb, query: PendingQuery) -> bool:
    """Whether the step was marked as having nothing pending and nothing it depends on was written
    since: then a re-run skips the count over its items. Any write to its kind's items, its feeding
    step's results or its own, or another attempt limit, makes this False (and the step counts again)."""
    conn = db.conn()
    row = conn.execute(
        "SELECT mark FROM step_marks WHERE stage = ? AND config_hash = ?", (query.stage, query.config_hash)
    ).fetchone()
    return row is not None and from_json(row[0]) == _mark(conn, query)


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
