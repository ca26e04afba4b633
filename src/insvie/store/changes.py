"""Change counters: how many writes each item kind, each step's results and the reviews have had.

A no-op re-run of a build of millions must tell "nothing changed since" without scanning a table: the
counters are bumped by the store's own writers (items, results, reviews), in the transaction of the
write, once per statement (not per row: a trigger per row costs as much as the row's insert), and read
in one indexed lookup each. Equal counters mean no write happened in between; a counter may move
without a real change (a re-added item), which only costs a recount.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping

REVIEWS = "reviews"


def items_key(kind: str) -> str:
    return f"items:{kind}"


def results_key(stage: str) -> str:
    return f"results:{stage}"


def bump(conn: sqlite3.Connection, writes: Mapping[str, int] | Iterable[str]) -> None:
    """Add the writes (a count per counter, or one per name given) inside the caller's transaction."""
    counts = Counter(writes) if not isinstance(writes, Mapping) else writes
    conn.executemany(
        "INSERT INTO changes (what, n) VALUES (?, ?) ON CONFLICT (what) DO UPDATE SET n = n + excluded.n",
        [(what, n) for what, n in counts.items() if n],
    )


def read(conn: sqlite3.Connection, keys: Iterable[str] | None = None) -> dict[str, int]:
    """The counters named (0 for one never bumped), or all of them."""
    if keys is None:
        return dict(conn.execute("SELECT what, n FROM changes ORDER BY what").fetchall())
    keys = list(keys)
    found = dict(
        conn.execute(
            "SELECT what, n FROM changes WHERE what IN (SELECT value FROM json_each(?))",
            (json.dumps(keys),),
        ).fetchall()
    )
    return {key: found.get(key, 0) for key in keys}
