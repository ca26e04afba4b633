"""People's verdicts on items: one per item, the latest replacing any earlier one.

Exports honour a review over any automatic score, so a verdict is only taken for an item that exists.
"""

from __future__ import annotations

import time

from insvie.errors import StoreError
from insvie.store import changes, items
from insvie.store.records import VERDICTS, Review, Verdict
from insvie.store.state_db import StateDb

_COLUMNS = "item_id, verdict, reason, reviewer, reviewed_at"


def set_review(
    db: StateDb, item_id: str, verdict: Verdict, reason: str | None, reviewer: str | None
) -> Review:
    """Record a person's accept/reject of an item, replacing any earlier verdict."""
    if verdict not in VERDICTS:
        raise StoreError(f"review of item {item_id!r}: verdict {verdict!r} is not one of {sorted(VERDICTS)}")
    now = time.time()
    with db.transaction() as conn:
        if not items.exists(conn, item_id):
            raise StoreError(f"cannot review item {item_id!r}: no such item")
        conn.execute(
            f"INSERT INTO reviews ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (item_id) DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason, "
            "reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at",
            (item_id, verdict, reason, reviewer, now),
        )
        changes.bump(conn, [changes.REVIEWS])
    return Review(item_id, verdict, reason, reviewer, now)


def get(db: StateDb, item_id: str) -> Review | None:
    row = db.conn().execute(f"SELECT {_COLUMNS} FROM reviews WHERE item_id = ?", (item_id,)).fetchone()
    return None if row is None else Review(*row)


def all_reviews(db: StateDb) -> dict[str, Review]:
    """Every review, by item id."""
    return {row[0]: Review(*row) for row in db.conn().execute(f"SELECT {_COLUMNS} FROM reviews")}
