"""The dataset's database as one process sees it: its own SQLite connection, and transactions over it.

SQLite connections must not cross ``fork``: a worker process that inherited a :class:`StateDb` opens
its own connection on first use. Every other part of the store reaches the database through here, so
that rule and the transaction rule live in one place.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from insvie.errors import StoreError
from insvie.store import db

# Connections a forked child inherited from its parent. Using or even closing one in the child can
# release the parent's locks or corrupt its WAL index, so they are kept referenced, never closed.
_INHERITED: list[sqlite3.Connection] = []


class StateDb:
    """The connection to ``path`` for the current process; ``root`` names the dataset in errors."""

    def __init__(self, root: Path, path: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.path = path
        self._conn = conn
        self._pid = os.getpid()
        self._closed = False

    def conn(self) -> sqlite3.Connection:
        """This process's connection, opened afresh in a forked child; refused once closed."""
        if self._closed:
            raise StoreError(f"{self.root}: the dataset was closed")
        if self._pid != os.getpid():
            _INHERITED.append(self._conn)
            self._conn = db.connect(self.path, create=False)
            self._pid = os.getpid()
        return self._conn

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pid == os.getpid():
            self._conn.close()
        else:
            _INHERITED.append(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group writes so they commit together; nested uses join the outermost transaction.

        The engine wraps each batch in one transaction: a crash then loses at most that batch,
        and committing once per batch instead of per row keeps SQLite fast.
        """
        conn = self.conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextmanager
def all_or_nothing(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside a transaction: the statements of the block are undone together if it raises (a savepoint),
    so a bulk statement refused part-way leaves nothing behind for the row-by-row retry to double."""
    conn.execute("SAVEPOINT bulk")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO bulk")
        conn.execute("RELEASE bulk")
        raise
    conn.execute("RELEASE bulk")
