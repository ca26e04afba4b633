"""Ingest's index of input files: what each file's fingerprint was when its metadata was last seen.

A re-run of ``insvie build`` over a million inputs must not read a million files again to learn that
nothing changed. Ingest records, for every file it hashed, the metadata ``os.stat`` reports (size,
mtime, ctime, inode) and the fingerprint; a later run whose stat matches takes the fingerprint from
here. ctime and inode are part of the match because they change on what size and mtime miss: a file
replaced by one with a copied mtime (``cp -p``, ``rsync -t``), or a permission change that makes a
file unreadable (which must still be reported as a skip).

Rows are read and written for a page of inputs at a time, never one by one: the index is only worth
having if looking it up is much cheaper than hashing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from insvie.store.records import to_json
from insvie.store.state_db import StateDb

_COLUMNS = "path, size, mtime_ns, ctime_ns, inode, fingerprint"
_ALIASED = ", ".join(f"x.{column}" for column in _COLUMNS.split(", "))


def _signed64(value: int) -> int:
    """``value`` as SQLite's signed 64-bit INTEGER holds it (inode numbers may use all 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class IndexedFile(NamedTuple):
    """One input file as ingest last hashed it: its absolute path, stat metadata and fingerprint.

    A tuple rather than a dataclass: a re-run makes one per input, and a tuple is several times cheaper.
    """

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    fingerprint: str

    @classmethod
    def of(cls, path: str, stat: os.stat_result, fingerprint: str) -> IndexedFile:
        return cls(
            path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, _signed64(stat.st_ino), fingerprint
        )

    def matches(self, stat: os.stat_result) -> bool:
        """Whether the file still has the metadata it had when it was hashed, so the fingerprint holds."""
        return (
            self.size == stat.st_size
            and self.mtime_ns == stat.st_mtime_ns
            and self.ctime_ns == stat.st_ctime_ns
            and self.inode == _signed64(stat.st_ino)
        )


def lookup(db: StateDb, paths: Sequence[str]) -> dict[str, IndexedFile]:
    """The index rows of those of ``paths`` that have one, by path, in one query."""
    rows = (
        db.conn()
        .execute(
            # The page's paths as the outer loop, one seek each: a quarter cheaper than IN (SELECT ...),
            # which first builds a temporary index of them.
            f"SELECT {_ALIASED} FROM json_each(?) AS j CROSS JOIN ingest_index AS x ON x.path = j.value",
            (to_json(list(paths), "input paths"),),
        )
        .fetchall()
    )
    return {row[0]: IndexedFile._make(row) for row in rows}


def record(db: StateDb, files: Sequence[IndexedFile]) -> None:
    """Remember how ``files`` were hashed, replacing what an earlier run recorded for the same paths."""
    if not files:
        return
    with db.transaction() as conn:
        conn.executemany(
            f"INSERT INTO ingest_index ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE "
            "SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, "
            "inode = excluded.inode, fingerprint = excluded.fingerprint",
            files,
        )


def known_items(db: StateDb, item_ids: Sequence[str]) -> set[str]:
    """Those of ``item_ids`` the dataset already holds, in one query (ingest's bulk "already known?")."""
    rows = db.conn().execute(
        "SELECT i.id FROM json_each(?) AS j CROSS JOIN items AS i ON i.id = j.value",  # as in lookup
        (to_json(list(item_ids), "item ids"),),
    )
    return {row[0] for row in rows}
