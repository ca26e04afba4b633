"""The (stage, config hash) pairs that results were recorded under, found by seeking an index.

A dataset has a handful of steps and configs but millions of results: ``SELECT DISTINCT`` reads every
entry of an index, while one seek past the last pair found (``results_stage_status`` is ordered by
stage, then config) costs microseconds per pair. A query that wants few rows of every pair, such as its
rejections and failures, then seeks each pair's rows by status instead of scanning them all.
"""

from __future__ import annotations

from insvie.store.state_db import StateDb

# One column at a time: SQLite seeks ``stage > ?`` and ``stage = ? AND config_hash > ?`` straight to the next
# entry, while a row value ``(stage, config_hash) > (?, ?)`` would walk every entry of the current pair.
_NEXT_STAGE = "SELECT stage FROM results WHERE stage > ? ORDER BY stage LIMIT 1"
_NEXT_CONFIG = (
    "SELECT config_hash FROM results WHERE stage = ? AND config_hash > ? ORDER BY config_hash LIMIT 1"
)


def _following(db: StateDb, sql: str, *prefix: str) -> list[str]:
    """Each next value that ``sql`` finds after the last, from the empty string on."""
    conn = db.conn()
    values: list[str] = []
    while (row := conn.execute(sql, (*prefix, values[-1] if values else "")).fetchone()) is not None:
        values.append(row[0])
    return values


def stage_configs(db: StateDb) -> list[tuple[str, str]]:
    """Every (stage, config hash) pair with results, sorted."""
    return [
        (stage, digest)
        for stage in _following(db, _NEXT_STAGE)
        for digest in _following(db, _NEXT_CONFIG, stage)
    ]
