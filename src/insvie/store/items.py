"""Item rows, and the media rows they point at.

An item's media must already be recorded and its parent already added, so the rows here only ever
name things that exist; media rows are written by :class:`MediaFiles` only once the file is durably
in place (see ``insvie.store.media_files``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from insvie.errors import StoreError
from insvie.store import changes
from insvie.store.blobs import Blob
from insvie.store.paths import check_relpath
from insvie.store.records import Item, NewItem, check_item_id, check_name, from_json, to_json
from insvie.store.rows import ITEM_COLUMNS, item_from_row
from insvie.store.state_db import StateDb, all_or_nothing

_PAGE = 1000
_FIELDS = ("kind", "source", "media", "parent", "meta")


def record_media(db: StateDb, blobs: Sequence[Blob]) -> None:
    """Record stored files' rows; storing the same content again changes nothing."""
    now = time.time()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO media (relpath, sha256, size, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (relpath) DO NOTHING",
            [(blob.relpath, blob.sha256, blob.size, now) for blob in blobs],
        )


def exists(conn: sqlite3.Connection, item_id: str) -> bool:
    """Whether the item is in the dataset; rows naming an item check this inside their transaction."""
    return conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is not None


def add(
    db: StateDb,
    item_id: str,
    kind: str,
    *,
    source: str | None,
    media: str | None,
    parent: str | None,
    meta: Mapping[str, Any] | None,
) -> Item:
    """Add an item, or return it unchanged if the same item was added before (so re-runs are no-ops).

    Adding an existing id with different fields is an error rather than an overwrite: item ids
    are meant to be derived from content, so a clash means two different things got one id.
    """
    fields = _checked_fields(item_id, kind, source, media, parent, meta)
    with db.transaction() as conn:
        row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is not None:
            differing = [name for name, old, new in zip(_FIELDS, row[1:6], fields, strict=True) if old != new]
            if "meta" in differing and from_json(row[5]) == from_json(fields[4]):
                differing.remove("meta")  # equal values in another spelling (1e-05 by an older to_json)
            if differing:
                raise StoreError(f"item {item_id!r} already exists with a different {', '.join(differing)}")
            return item_from_row(row)
        kind, source, media, parent, meta_json = fields
        if parent is not None and not exists(conn, parent):
            raise StoreError(f"item {item_id!r}: parent {parent!r} is not in the dataset")
        if (
            media is not None
            and not conn.execute("SELECT 1 FROM media WHERE relpath = ?", (media,)).fetchone()
        ):
            raise StoreError(
                f"item {item_id!r}: media {media!r} is not in the dataset; store it with "
                "put_file, put_bytes or write_media first"
            )
        now = time.time()
        conn.execute(
            f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", (item_id, *fields, now)
        )
        changes.bump(conn, [changes.items_key(kind)])
    return Item(item_id, kind, source, media, parent, from_json(meta_json), now)


def add_many(db: StateDb, new: Sequence[NewItem]) -> None:
    """Add many items in one statement, with :func:`add`'s rules: adding an item again is a no-op, a
    different item under an existing id is an error, and parents and media must exist.

    The runner records whole groups of batches this way. The rare re-add (a batch redone after a crash)
    and any row the database refuses fall back to :func:`add` row by row, which names the item and why.
    """
    if not new:
        return
    now = time.time()
    rows = [
        (item.id, *_checked_fields(item.id, item.kind, item.source, item.media, item.parent, item.meta), now)
        for item in new
    ]
    with db.transaction() as conn:
        before = conn.total_changes
        try:
            with all_or_nothing(conn):
                conn.executemany(
                    f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    rows,
                )
            if conn.total_changes - before == len(rows):
                changes.bump(conn, [changes.items_key(row[1]) for row in rows])
                return
        except sqlite3.IntegrityError:
            pass
        for item in new:
            add(
                db,
                item.id,
                item.kind,
                source=item.source,
                media=item.media,
                parent=item.parent,
                meta=item.meta,
            )


def _checked_fields(
    item_id: str,
    kind: str,
    source: str | None,
    media: str | None,
    parent: str | None,
    meta: Mapping[str, Any] | None,
) -> tuple[str, str | None, str | None, str | None, str]:
    """The item's columns after ``id`` in their stored form (``meta`` as canonical JSON), or a StoreError."""
    check_item_id(item_id)
    check_name(kind, "item kind")
    if media is not None:
        media = check_relpath(media)
    if parent is not None:
        check_item_id(parent)
    if source is not None and not isinstance(source, str):
        raise StoreError(f"item {item_id!r}: source must be a str, got {type(source).__name__}")
    if meta is not None and not isinstance(meta, Mapping):
        raise StoreError(f"item {item_id!r}: meta must be a mapping, got {type(meta).__name__}")
    return kind, source, media, parent, to_json(dict(meta or {}), f"meta of item {item_id!r}")


def get(db: StateDb, item_id: str) -> Item | None:
    row = db.conn().execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
    return None if row is None else item_from_row(row)


def iterate(db: StateDb, kind: str | None) -> Iterator[Item]:
    """Items in the order they were added, read a page at a time.

    Paging (rather than one open cursor) keeps no read statement open between pages, so the
    caller may write to the dataset while iterating.
    """
    conn = db.conn()
    where = "" if kind is None else "AND kind = ?"
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT rowid, {ITEM_COLUMNS} FROM items WHERE rowid > ? {where} ORDER BY rowid LIMIT ?",
            (last, *(() if kind is None else (kind,)), _PAGE),
        ).fetchall()
        for row in rows:
            yield item_from_row(row[1:])
        if len(rows) < _PAGE:
            return
        last = rows[-1][0]
