"""How rows of the ``items`` and ``results`` tables become the records the store hands out.

The column lists and the row readers sit together so that a query and the reader of its rows can
never disagree on column order.
"""

from __future__ import annotations

from insvie.store.records import Item, Result, from_json

ITEM_COLUMNS = "id, kind, source, media, parent, meta, created_at"
RESULT_COLUMNS = "stage, item_id, config_hash, status, reason, output, error, attempts, updated_at"


def item_from_row(row: tuple) -> Item:
    return Item(row[0], row[1], row[2], row[3], row[4], from_json(row[5]), row[6])


def result_from_row(row: tuple) -> Result:
    return Result(row[0], row[1], row[2], row[3], row[4], from_json(row[5]), row[6], row[7], row[8])
