"""What a stage did, summed up from its result rows: the funnel of counts, and failures grouped by cause."""

from __future__ import annotations

from insvie.store.records import FailureGroup, Funnel, error_line
from insvie.store.state_db import StateDb


def funnel(db: StateDb, stage: str, config_hash: str | None) -> Funnel:
    """Counts of what ``stage`` did: items in, kept, rejected by reason, failed.

    With ``config_hash``, counts that config's results; without, each item's latest result, so
    a re-run under a new config is not counted twice.
    """
    if config_hash is None:
        query = (
            "SELECT status, reason, count(*) FROM (SELECT status, reason, row_number() OVER "
            "(PARTITION BY item_id ORDER BY updated_at DESC, rowid DESC) AS rank FROM results "
            "WHERE stage = ?) WHERE rank = 1 GROUP BY status, reason"
        )
        params: tuple[str, ...] = (stage,)
    else:
        query = (
            "SELECT status, reason, count(*) FROM results WHERE stage = ? AND config_hash = ? "
            "GROUP BY status, reason"
        )
        params = (stage, config_hash)
    kept = failed = 0
    rejected: dict[str, int] = {}
    for status, reason, count in db.conn().execute(query, params):
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
    however many items it failed, with ``examples`` item ids to look at.
    """
    rows = (
        db.conn()
        .execute(
            "SELECT item_id, error FROM results "
            "WHERE stage = ? AND config_hash = ? AND status = 'failed' ORDER BY item_id",
            (stage, config_hash),
        )
        .fetchall()
    )
    groups: dict[str, list[str]] = {}
    for item_id, error in rows:
        key = error_line(error) or "(no error text)"
        groups.setdefault(key, []).append(item_id)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [FailureGroup(error, len(ids), ids[:examples]) for error, ids in ordered]
