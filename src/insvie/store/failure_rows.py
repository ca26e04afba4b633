"""The rows of ``failures.parquet``: every current failure, read from SQL a page at a time.

A current failure is an item's latest result of a stage when that result is a failure; one retried to
success or superseded under a new config is history. The pages follow the ``(stage, item_id)`` order of
the results' unique index, so each continues where the last stopped and memory holds one page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pyarrow as pa

from insvie.store.latest import IS_LATEST
from insvie.store.pages import keyset_pages
from insvie.store.records import error_line
from insvie.store.state_db import StateDb

# The exception class an error text starts with, after an optional "step: " or "setup of X failed: "
# prefix: "ValueError: ...", "judge: TimeoutError: ...", "setup of judge failed: OSError(...)".
_ERROR_TYPE = re.compile(r"(?:^|: )([A-Z][A-Za-z0-9_]*)(?=: |\(|$)")
FAILURES_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("item_id", pa.string()),
        ("kind", pa.string()),
        ("error_type", pa.string()),
        ("error_line", pa.string()),
        ("error", pa.string()),
        ("attempts", pa.int64()),
        ("config_hash", pa.string()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
_PAGE = (
    "SELECT r.stage, r.item_id, i.kind, r.error, r.attempts, r.config_hash, r.updated_at "
    "FROM results AS r LEFT JOIN items AS i ON i.id = r.item_id "
    "WHERE (r.stage, r.item_id) > (:after_stage, :after_item) AND r.status = 'failed' {where} "
    f"AND {IS_LATEST} ORDER BY r.stage, r.item_id LIMIT :limit"
)


def error_type(error: str | None) -> str | None:
    """The exception class named at the start of a recorded error, the key failures group by; else None.

    Error texts carry item-specific details (paths, sizes), so grouping by the text itself gives one
    group per item; the class name is what is shared by failures of one cause.
    """
    match = _ERROR_TYPE.search(error or "")
    return match.group(1) if match else None


def failure_batches(db: StateDb, kind: str | None) -> Iterator[pa.RecordBatch]:
    """Every current failure (of items of ``kind``), by stage then item id, one record batch per page."""
    sql = _PAGE.format(where="" if kind is None else "AND i.kind = :kind")
    for rows in keyset_pages(db.conn(), sql, {"after_stage": "", "after_item": ""}, {"kind": kind}):
        stage, item_id, kinds, errors, attempts, config_hash, updated_at = (
            list(c) for c in zip(*rows, strict=True)
        )
        columns = {
            "stage": stage,
            "item_id": item_id,
            "kind": kinds,
            "error_type": [error_type(error) for error in errors],
            "error_line": [error_line(error) for error in errors],
            "error": errors,
            "attempts": attempts,
            "config_hash": config_hash,
            "updated_at": [datetime.fromtimestamp(at, timezone.utc) for at in updated_at],
        }
        yield pa.RecordBatch.from_pydict(columns, schema=FAILURES_SCHEMA)
