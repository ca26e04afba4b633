"""A connection of its own to a dataset's database, for the long reads of status and exports.

Status and exports read every row of a dataset that may hold millions. On a connection of their own they
neither disturb the caller's (its transaction, its open cursors) nor hold its connection while they page;
they see what is committed, not the caller's uncommitted writes. With ``snapshot`` every query of the
block reads one state of the database even while a build writes beside it: a streamed manifest sizes its
columns in one pass and fills them in the next, and both passes must see the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from insvie.store import db
from insvie.store.state_db import StateDb

if TYPE_CHECKING:
    from insvie.store.dataset import Dataset


@contextmanager
def reading(dataset: Dataset, *, snapshot: bool = False) -> Iterator[StateDb]:
    """The dataset's database on a new connection for the block, in one read transaction if ``snapshot``."""
    state = StateDb(dataset.root, dataset.db_path, db.connect(dataset.db_path, create=False))
    try:
        if snapshot:
            state.conn().execute("BEGIN")  # deferred: the snapshot is taken by the first read
        yield state
    finally:
        state.close()  # closing ends the read transaction; nothing was written
