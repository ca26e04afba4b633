"""Stage result rows, keyed by (stage, item, config hash), and the query of what is left to run.

That key is what makes a re-run on the same folder resume: an unchanged config finds its results and
skips them, a changed one (a new hash) redoes its items.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from insvie.errors import StoreError
from insvie.store import changes, items
from insvie.store.records import STATUSES, NewResult, Result, Status, check_item_id, check_name, to_json
from insvie.store.rows import RESULT_COLUMNS, result_from_row
from insvie.store.state_db import StateDb, all_or_nothing

# A result the step will not redo: done or rejected, or failed as many times as allowed (the ``?``).
# Both pending queries (ids given here, pages of a kind in ``work_queue``) read this one rule.
FINAL = "(r.status != 'failed' OR r.attempts >= ?)"
_UPSERT = (
    f"INSERT INTO results ({RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (stage, item_id, config_hash) DO UPDATE SET status = excluded.status, "
    "reason = excluded.reason, output = excluded.output, error = excluded.error, "
    "attempts = results.attempts + 1, updated_at = excluded.updated_at"
)
_BY_KEY = f"SELECT {RESULT_COLUMNS} FROM results WHERE stage = ? AND item_id = ? AND config_hash = ?"


def record(
    db: StateDb,
    stage: str,
    item_id: str,
    config_hash: str,
    status: Status,
    *,
    output: Any,
    reason: str | None,
    error: str | BaseException | None,
) -> Result:
    """Record what ``stage`` made of an item: done, rejected (with a reason) or failed (with an error).

    Recording again under the same key replaces the row and increments ``attempts``, which is
    how a failing item's retries are counted.
    """
    _check_outcome(stage, item_id, config_hash, status, reason, error)
    output_json = None if output is None else to_json(output, f"{stage} output of item {item_id!r}")
    error_text = None if error is None else _error_text(error)
    key = (stage, item_id, config_hash)
    with db.transaction() as conn:
        if not items.exists(conn, item_id):
            raise StoreError(f"cannot record a {stage} result for item {item_id!r}: no such item")
        conn.execute(_UPSERT, (*key, status, reason, output_json, error_text, time.time()))
        changes.bump(conn, [changes.results_key(stage)])
        row = conn.execute(_BY_KEY, key).fetchone()
    return result_from_row(row)


def record_many(db: StateDb, stage: str, config_hash: str, new: Sequence[NewResult]) -> None:
    """Record many results of one step in one statement, without reading them back (the runner's path).

    The checks of :func:`record` run first; if the database refuses a row (an unknown item), the group
    is recorded row by row instead, so the error names the item.
    """
    now = time.time()
    rows = []
    if new:
        _check_key(stage, config_hash, new[0].item_id)
    for result in new:
        # Item ids are not checked one by one: a row naming no item breaks the foreign key, and the
        # row-by-row fallback below then checks and names it.
        item_id, status, output, error = result.item_id, result.status, result.output, result.error
        _check_parts(stage, item_id, status, result.reason, error)
        output_json = None if output is None else to_json(output, f"{stage} output of item {item_id!r}")
        error_text = None if error is None else _error_text(error)
        rows.append((stage, item_id, config_hash, status, result.reason, output_json, error_text, now))
    with db.transaction() as conn:
        try:
            with all_or_nothing(conn):
                conn.executemany(_UPSERT, rows)
                changes.bump(conn, {changes.results_key(stage): len(rows)})
            return
        except sqlite3.IntegrityError:
            pass
        for result in new:
            record(
                db,
                stage,
                result.item_id,
                config_hash,
                result.status,
                output=result.output,
                reason=result.reason,
                error=result.error,
            )


def _check_outcome(
    stage: str,
    item_id: str,
    config_hash: str,
    status: str,
    reason: str | None,
    error: str | BaseException | None,
) -> None:
    """Refuse a result whose parts do not fit together, before anything is written."""
    check_item_id(item_id)
    _check_key(stage, config_hash, item_id)
    _check_parts(stage, item_id, status, reason, error)


def _check_key(stage: str, config_hash: str, item_id: str) -> None:
    check_name(stage, "stage")
    if not isinstance(config_hash, str) or not config_hash:
        raise StoreError(f"{stage} result for item {item_id!r}: config_hash must be a non-empty str")


def _check_parts(
    stage: str, item_id: str, status: str, reason: str | None, error: str | BaseException | None
) -> None:
    """The status, reason and error of one result fit together (the cheap per-row part of the checks)."""
    if status == "done" and error is None:
        return
    what = f"{stage} result for item {item_id!r}"
    if status not in STATUSES:
        raise StoreError(f"{what}: status {status!r} is not one of {sorted(STATUSES)}")
    if status == "rejected" and not reason:
        raise StoreError(f"{what}: a rejection needs a reason")
    if status == "failed" and error is None:
        raise StoreError(f"{what}: a failure needs an error")
    if status != "failed" and error is not None:
        raise StoreError(f"{what}: only a failed result carries an error")


def _error_text(error: str | BaseException) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def get(db: StateDb, stage: str, item_id: str, config_hash: str) -> Result | None:
    row = db.conn().execute(_BY_KEY, (stage, item_id, config_hash)).fetchone()
    return None if row is None else result_from_row(row)


def for_config(db: StateDb, stage: str, config_hash: str, status: Status | None) -> list[Result]:
    """Every result ``stage`` recorded under ``config_hash`` (optionally only one status), by item id."""
    where = "" if status is None else "AND status = ?"
    rows = (
        db.conn()
        .execute(
            f"SELECT {RESULT_COLUMNS} FROM results WHERE stage = ? AND config_hash = ? {where} "
            "ORDER BY item_id",
            (stage, config_hash, *(() if status is None else (status,))),
        )
        .fetchall()
    )
    return [result_from_row(row) for row in rows]


def latest(db: StateDb, kind: str | None) -> list[Result]:
    """For every item (of ``kind``) and stage, the most recently recorded result under any config."""
    where = "" if kind is None else "WHERE item_id IN (SELECT id FROM items WHERE kind = ?)"
    rows = (
        db.conn()
        .execute(
            f"SELECT {RESULT_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY item_id, stage "
            f"ORDER BY updated_at DESC, rowid DESC) AS rank FROM results {where}) "
            "WHERE rank = 1 ORDER BY item_id, stage",
            () if kind is None else (kind,),
        )
        .fetchall()
    )
    return [result_from_row(row) for row in rows]


def pending(
    db: StateDb, stage: str, config_hash: str, item_ids: Iterable[str], max_attempts: int
) -> list[str]:
    """The ids (in the given order) that ``stage`` still has to run under ``config_hash``.

    An item is pending when it has no result under this key, or has failed fewer than
    ``max_attempts`` times; done and rejected items are never redone, and an item that has
    failed ``max_attempts`` times stays recorded as failed.
    """
    if max_attempts < 1:
        raise StoreError(f"pending {stage}: max_attempts must be at least 1, got {max_attempts}")
    ids = [check_item_id(item_id) for item_id in item_ids]
    rows = (
        db.conn()
        .execute(
            "SELECT j.value FROM json_each(?) AS j LEFT JOIN results AS r "
            "ON r.stage = ? AND r.config_hash = ? AND r.item_id = j.value "
            f"WHERE r.status IS NULL OR NOT {FINAL} ORDER BY j.key",
            (to_json(ids, "item ids"), stage, config_hash, max_attempts),
        )
        .fetchall()
    )
    return [row[0] for row in rows]
