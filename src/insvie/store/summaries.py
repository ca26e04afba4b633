"""What a stage did, summed up from its result rows: the funnel of counts, and failures grouped by cause."""

from __future__ import annotations

import sqlite3

from insvie.store import changes
from insvie.store.records import FailureGroup, Funnel, error_line
from insvie.store.state_db import StateDb


def funnel(db: StateDb, stage: str, config_hash: str | None) -> Funnel:
    """Counts of what ``stage`` did: items in, kept, rejected by reason, failed.

    With ``config_hash``, counts that config's results; without, each item's latest result, so
    a re-run under a new config is not counted twice.
    """
    if config_hash is None:
        return _latest_funnel(db, stage)
    # kept and failed are counted off the status index alone, without reading a row (one count per status
    # is faster than a GROUP BY); only the rejected rows are read, for their reasons
    conn = db.conn()
    where = "WHERE stage = ? AND config_hash = ? AND status = ?"
    kept, failed = (
        conn.execute(f"SELECT count(*) FROM results {where}", (stage, config_hash, status)).fetchone()[0]
        for status in ("done", "failed")
    )
    rejected = dict(
        conn.execute(
            f"SELECT reason, count(*) FROM results {where} GROUP BY reason", (stage, config_hash, "rejected")
        )
    )
    return Funnel(stage, kept + failed + sum(rejected.values()), kept, rejected, failed)


def _latest_funnel(db: StateDb, stage: str) -> Funnel:
    query = (
        "SELECT status, reason, count(*) FROM (SELECT status, reason, row_number() OVER "
        "(PARTITION BY item_id ORDER BY updated_at DESC, rowid DESC) AS rank FROM results "
        "WHERE stage = ?) WHERE rank = 1 GROUP BY status, reason"
    )
    kept = failed = 0
    rejected: dict[str, int] = {}
    for status, reason, count in db.conn().execute(query, (stage,)):
        if status == "done":
            kept += count
        elif status == "failed":
            failed += count
        else:
            rejected[reason] = rejected.get(reason, 0) + count
    return Funnel(stage, kept + failed + sum(rejected.values()), kept, rejected, failed)


def failures(db: StateDb, stage: str, config_hash: str, examples: int) -> list[FailureGroup]:
    """The stage's failed results under ``config_hash`` grouped by error, most common first.

    Errors are grouped on their first line, so one cause (a missing model folder) is one row
    however many items it failed, with ``examples`` item ids to look at. The rows are folded as they
    are read, so memory holds the groups, not every failure.
    """
    # ``+item_id``: sort the few failed rows found by the status index, rather than walk every row of the
    # stage in item order (which the unique index offers) to find them
    rows = db.conn().execute(
        "SELECT item_id, error FROM results "
        "WHERE stage = ? AND config_hash = ? AND status = 'failed' ORDER BY +item_id",
        (stage, config_hash),
    )
    counts: dict[str, int] = {}
    firsts: dict[str, list[str]] = {}
    for item_id, error in rows:
        key = error_line(error) or "(no error text)"
        counts[key] = counts.get(key, 0) + 1
        ids = firsts.setdefault(key, [])
        if len(ids) < examples:
            ids.append(item_id)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [FailureGroup(error, count, firsts[error]) for error, count in ordered]


def change_marker(conn: sqlite3.Connection) -> dict[str, int]:
    """The change counters of items, results and reviews (:mod:`insvie.store.changes`): equal markers
    mean none of them was written in between.

    Exports are made from these three tables, so a build can skip re-exporting when the marker it
    recorded at its last export is still the current one. Reading it costs one lookup per counter,
    not a scan of the tables.
    """
    return changes.read(conn)
