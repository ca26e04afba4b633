"""Checking a dataset: the database's own integrity, and every recorded media file against its row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from insvie.store.blobs import hash_file
from insvie.store.state_db import StateDb


def verify(db: StateDb, resolve: Callable[[str], Path], rehash: bool) -> list[str]:
    """Problems found in the dataset, as messages naming what is wrong; empty when healthy.

    Checks SQLite's integrity and foreign keys and that every recorded media file exists with
    its recorded size (and, with ``rehash``, its hash, which reads every byte).
    """
    conn = db.conn()
    problems = [f"database: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    problems += [
        f"database: row {rowid} of {table} points to a missing row of {parent}"
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
    ]
    for relpath, sha, size in conn.execute("SELECT relpath, sha256, size FROM media").fetchall():
        path = resolve(relpath)
        if not path.is_file():
            problems.append(f"{relpath}: recorded but missing")
        elif path.stat().st_size != size:
            problems.append(f"{relpath}: {path.stat().st_size} bytes on disk, {size} recorded")
        elif rehash and hash_file(path)[0] != sha:
            problems.append(f"{relpath}: content does not match its sha256")
    return problems
