"""Which result row is an item's current one for a stage, as a condition any query over ``results`` can use.

An item may have results under several configs of a stage; the current one is the most recently recorded
(``updated_at``, then ``rowid`` for a tie), as :func:`insvie.store.results.latest` ranks them. Written as
"no newer row exists" rather than a window function, a query keeps its own row order and index (a page of
ids, a stage in item order) and each row is checked by one seek on ``results_item``, instead of every
result of the dataset being ranked first.
"""

from __future__ import annotations

# For a query over ``results AS r``: true when r is its item's latest result of its stage.
IS_LATEST = (
    "NOT EXISTS (SELECT 1 FROM results AS newer WHERE newer.item_id = r.item_id AND newer.stage = r.stage "
    "AND (newer.updated_at, newer.rowid) > (r.updated_at, r.rowid))"
)
