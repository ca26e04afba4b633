"""Inputs that gave nothing: files ingest could not take, and inputs the first step that read them
turned down, so that ``insvie status --rejected`` can list every one with its reason.

Skips are kept by path with the latest reason; ingest forgets a skip once a later run takes the file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from insvie.store.records import to_json
from insvie.store.state_db import StateDb

INPUT_KINDS = ("video", "image", "pair")  # items ingest makes from the files it is given


def record_skip(db: StateDb, path: str, reason: str) -> None:
    """Remember that ingest could not take ``path`` and why (the latest reason wins)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO skipped_inputs (path, reason, seen_at) VALUES (?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
            (path, reason, time.time()),
        )


def clear_skips(db: StateDb, paths: Iterable[str]) -> None:
    """Forget earlier skips of ``paths`` (they were taken this time), in one statement however many."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM skipped_inputs WHERE path IN (SELECT value FROM json_each(?))",
            (to_json(list(paths), "input paths"),),
        )
