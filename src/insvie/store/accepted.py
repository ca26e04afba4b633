"""Accepted triplets in SQL: kept by the final stage's current result and not rejected in review.

Exports page through them in id order to write each one out; ``insvie status`` only counts them, by
category, with GROUP BY: at ten million triplets it cannot afford a Python object, a parsed meta or a
resolved path per triplet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from insvie.errors import StoreError
from insvie.store.latest import IS_LATEST
from insvie.store.pages import keyset_pages
from insvie.store.records import Item
from insvie.store.rows import item_from_row
from insvie.store.state_db import StateDb

TRIPLET = "triplet"
_ITEM = "i.id, i.kind, i.source, i.media, i.parent, i.meta, i.created_at"  # rows.ITEM_COLUMNS of items AS i
# An accepted triplet of the stage :stage: items AS i, its result r and its review v (if any).
_ACCEPTED = f"i.kind = '{TRIPLET}' AND r.status = 'done' AND v.verdict IS NOT 'reject' AND {IS_LATEST}"
# Exports walk the stage's results in item order (its unique index), a page at a time.
_PAGE = (
    f"SELECT {_ITEM}, v.verdict FROM results AS r JOIN items AS i ON i.id = r.item_id "
    "LEFT JOIN reviews AS v ON v.item_id = r.item_id "
    f"WHERE r.stage = :stage AND r.item_id > :after AND {_ACCEPTED} ORDER BY r.item_id LIMIT :limit"
)
# Counts start from the triplets (CROSS JOIN keeps that order): the final stage may have run over
# millions of items of other kinds, which would each be read to learn that they are not triplets.
_FROM_TRIPLETS = (
    "FROM items AS i CROSS JOIN results AS r ON r.item_id = i.id AND r.stage = :stage "
    f"LEFT JOIN reviews AS v ON v.item_id = i.id WHERE {_ACCEPTED}"
)
# True when SQL can vouch for the parts: all non-empty strings. Others are checked in Python.
_SURELY_COMPLETE = (
    "(i.media IS NOT NULL "
    "AND json_type(i.meta, '$.source_media') = 'text' AND json_extract(i.meta, '$.source_media') <> '' "
    "AND json_type(i.meta, '$.instruction') = 'text' AND json_extract(i.meta, '$.instruction') <> '')"
)
_SUSPECT = f"SELECT {_ITEM} {_FROM_TRIPLETS} AND NOT {_SURELY_COMPLETE} ORDER BY i.id"
_CATEGORIES = (
    "SELECT json_type(i.meta, '$.category'), json_extract(i.meta, '$.category'), count(*), "
    f"max(NOT {_SURELY_COMPLETE}) {_FROM_TRIPLETS} GROUP BY 1, 2 ORDER BY min(i.id)"
)


def triplet_parts(item: Item) -> tuple[str, str, str]:
    """A triplet's source media, edited media and instruction; a StoreError naming it if it lacks one."""
    source, instruction = item.meta.get("source_media"), item.meta.get("instruction")
    if not item.media or not source or not instruction:
        raise StoreError(f"triplet {item.id!r} lacks its edited media, source_media or instruction")
    return source, item.media, instruction


def accepted(db: StateDb, final_stage: str) -> Iterator[tuple[Item, str | None]]:
    """Every accepted triplet with its review verdict (``accept`` or None), by id, read a page at a time."""
    for rows in keyset_pages(db.conn(), _PAGE, {"after": ""}, {"stage": final_stage}):
        for row in rows:
            yield item_from_row(row[:7]), row[7]


def _category_name(json_type: str | None, value: Any) -> str:
    """What ``str(meta.get("category", "unknown"))`` gives for the value SQLite found under that key."""
    if json_type is None:
        return "unknown"
    if json_type in ("array", "object"):
        return str(json.loads(value))
    if json_type == "null":
        return str(None)
    if json_type in ("true", "false"):
        return str(json_type == "true")
    return str(value)


def count_by_category(db: StateDb, final_stage: str) -> dict[str, int]:
    """Accepted triplets per ``category`` of their meta (``unknown`` without one), counted by SQLite.

    Categories come in the order of their first triplet by id, as a walk over the triplets would meet them.
    A triplet that an export would refuse (it lacks a part) raises :func:`triplet_parts`' error here too,
    for the first such triplet by id.
    """
    groups = db.conn().execute(_CATEGORIES, {"stage": final_stage}).fetchall()
    if any(suspect for *_, suspect in groups):
        for row in db.conn().execute(_SUSPECT, {"stage": final_stage}):
            triplet_parts(item_from_row(row))
    counts: dict[str, int] = {}
    for json_type, value, count, _ in groups:
        name = _category_name(json_type, value)
        counts[name] = counts.get(name, 0) + count
    return counts
