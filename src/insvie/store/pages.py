"""Keyset paging: a query read a page at a time, each page continuing after the last row of the one before.

Reading millions of rows with ``fetchall`` holds them all; ``OFFSET`` re-reads every skipped row on each
page. A keyset page starts from an index seek past the previous page's sort key, so each page costs its
own rows and memory stays one page whatever the size of the dataset.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

PAGE_ROWS = 4096


def keyset_pages(
    conn: sqlite3.Connection,
    sql: str,
    after: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> Iterator[list[tuple]]:
    """The rows of ``sql``, :data:`PAGE_ROWS` at a time (no empty page).

    ``sql`` selects its unique sort key first, as many columns as ``after`` names, and takes the key to
    continue after as the named parameters of ``after`` (their values start the first page, before every
    row) and the page size as ``:limit``; ``params`` are its other named parameters.
    """
    key, size = dict(after), PAGE_ROWS
    while True:
        rows = conn.execute(sql, {**(params or {}), **key, "limit": size}).fetchall()
        if rows:
            yield rows
        if len(rows) < size:
            return
        key = dict(zip(key, rows[-1][: len(key)], strict=True))
