"""The manifest's schema and rows, read from SQL a page of items at a time (see ``export_parquet``).

Streaming needs the schema before the first row: which ``meta_<key>`` columns exist and their types was
read off every value of the one-shot table, and is now an aggregate SQLite computes over ``json_each``
(one row per key and JSON type), and the stages come from ``SELECT DISTINCT``. The rows then come a page
of items at a time, by id, each page with its items' current results and reviews, so memory holds a page.
Read both passes in one snapshot (``reader.reading(snapshot=True)``): a row written since the first pass
could hold a value its column's type cannot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pyarrow as pa

from insvie.store.latest import IS_LATEST
from insvie.store.pages import keyset_pages
from insvie.store.records import to_json
from insvie.store.rows import ITEM_COLUMNS, item_from_row
from insvie.store.state_db import StateDb

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The ``meta`` column's text: sorted keys, readable unicode, JSON's default separators. One encoder for
# every row (``json.dumps`` with options builds a new one per call).
_META_TEXT = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
TIMESTAMP = pa.timestamp("us", tz="UTC")
_BOOLS = {"true", "false"}
_NUMBERS = {"integer", "bigint", "real"}
_FIXED = [
    ("id", pa.string()),
    ("kind", pa.string()),
    ("source", pa.string()),
    ("media", pa.string()),
    ("parent", pa.string()),
    ("created_at", TIMESTAMP),
    ("meta", pa.string()),
]
# JSON types of each top-level meta key; an integer SQLite cannot hold in 64 bits is a "bigint".
_META_TYPES = (
    "SELECT j.key, CASE WHEN j.type = 'integer' AND typeof(j.value) <> 'integer' THEN 'bigint' "
    "ELSE j.type END FROM items AS i, json_each(i.meta) AS j {where} GROUP BY 1, 2"
)
_STAGES = "SELECT DISTINCT r.stage FROM results AS r {where}"
_KIND_OF_RESULT = "WHERE r.item_id IN (SELECT id FROM items WHERE kind = :kind)"
# ``+kind`` keeps SQLite on the id index: a page must be read in id order, not found among all of a kind.
_ITEMS_PAGE = f"SELECT {ITEM_COLUMNS} FROM items WHERE id > :after {{where}} ORDER BY id LIMIT :limit"
_LATEST_OF_PAGE = (
    "SELECT r.item_id, r.stage, r.status, r.reason FROM json_each(:ids) AS j "
    f"JOIN results AS r ON r.item_id = j.value WHERE {IS_LATEST}"
)
_REVIEWS_OF_PAGE = (
    "SELECT v.item_id, v.verdict, v.reason FROM json_each(:ids) AS j JOIN reviews AS v ON v.item_id = j.value"
)


def _arrow_type(json_types: set[str]) -> pa.DataType | None:
    """The one Arrow type that holds every non-null value of a key, or None if they are not uniform scalars.

    Booleans, integers that fit 64 bits, numbers (any other mix of integers and reals) and strings type a
    column; a key mixing booleans with anything, or holding lists or objects, stays only in ``meta``.
    """
    present = json_types - {"null"}
    if not present or (present & _BOOLS and not present <= _BOOLS):
        return None
    if present <= _BOOLS:
        return pa.bool_()
    if present == {"integer"}:
        return pa.int64()
    if present <= _NUMBERS:
        return pa.float64()
    return pa.string() if present == {"text"} else None


def _meta_fields(db: StateDb, kind: str | None) -> list[pa.Field]:
    where = "" if kind is None else "WHERE i.kind = :kind"
    types: dict[str, set[str]] = {}
    for key, json_type in db.conn().execute(_META_TYPES.format(where=where), {"kind": kind}):
        if _IDENT.match(key):
            types.setdefault(key, set()).add(json_type)
    fields = [(key, _arrow_type(types[key])) for key in sorted(types)]
    return [pa.field(f"meta_{key}", arrow_type) for key, arrow_type in fields if arrow_type is not None]


def _stages(db: StateDb, kind: str | None) -> list[str]:
    where = "" if kind is None else _KIND_OF_RESULT
    return sorted(stage for (stage,) in db.conn().execute(_STAGES.format(where=where), {"kind": kind}))


def manifest_schema(db: StateDb, kind: str | None) -> pa.Schema:
    """Columns ``id, kind, source, media, parent, created_at, meta``, the typed ``meta_<key>`` ones, then
    ``review, review_reason`` and ``status_<stage>, reason_<stage>`` for every stage, sorted by name."""
    strings = pa.string()
    stages = [
        (f"{column}_{stage}", strings) for stage in _stages(db, kind) for column in ("status", "reason")
    ]
    return pa.schema(
        [*_FIXED, *_meta_fields(db, kind), ("review", strings), ("review_reason", strings), *stages]
    )


def manifest_batches(db: StateDb, kind: str | None, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The manifest's rows in id order, one record batch per page of items."""
    conn = db.conn()
    meta_keys = [name.removeprefix("meta_") for name in schema.names if name.startswith("meta_")]
    stages = [name.removeprefix("status_") for name in schema.names if name.startswith("status_")]
    where = "" if kind is None else "AND +kind = :kind"
    for rows in keyset_pages(conn, _ITEMS_PAGE.format(where=where), {"after": ""}, {"kind": kind}):
        items = [item_from_row(row) for row in rows]
        ids = {"ids": to_json([item.id for item in items], "item ids")}
        latest = {
            (item_id, stage): (status, reason)
            for item_id, stage, status, reason in conn.execute(_LATEST_OF_PAGE, ids)
        }
        reviews = {
            item_id: (verdict, reason) for item_id, verdict, reason in conn.execute(_REVIEWS_OF_PAGE, ids)
        }
        columns = {
            "id": [item.id for item in items],
            "kind": [item.kind for item in items],
            "source": [item.source for item in items],
            "media": [item.media for item in items],
            "parent": [item.parent for item in items],
            "created_at": [datetime.fromtimestamp(item.created_at, timezone.utc) for item in items],
            "meta": [_META_TEXT(item.meta) for item in items],
        }
        for key in meta_keys:
            columns[f"meta_{key}"] = [item.meta.get(key) for item in items]
        review_of = [reviews.get(item.id, (None, None)) for item in items]
        columns["review"] = [verdict for verdict, _ in review_of]
        columns["review_reason"] = [reason for _, reason in review_of]
        for stage in stages:
            outcome = [latest.get((item.id, stage), (None, None)) for item in items]
            columns[f"status_{stage}"] = [status for status, _ in outcome]
            columns[f"reason_{stage}"] = [reason for _, reason in outcome]
        yield pa.RecordBatch.from_pydict(columns, schema=schema)
