"""Reviews from the app: a person's accept or reject of a triplet, written to the dataset's database.

`insvie export` reads the same table: a rejected triplet is left out of every export and the
verdict travels with each exported row, so a review in the browser is a curation decision.
"""

from __future__ import annotations

from pathlib import Path

from insvie.errors import StoreError
from insvie.store import Dataset, Review

MAX_REASON_CHARS = 500


def save_review(
    root: str | Path, item_id: str, verdict: str, *, reason: str = "", reviewer: str | None = None
) -> Review:
    """Record ``verdict`` ("accept" or "reject") on the triplet ``item_id``; replaces an earlier review.

    The reason is optional and trimmed; overly long text is refused rather than cut, so what is
    stored is what the person wrote.
    """
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise StoreError(f"the reason is {len(reason)} characters; at most {MAX_REASON_CHARS} are stored")
    with Dataset.open(root, create=False) as dataset:
        item = dataset.get_item(item_id)
        if item is None or item.kind != "triplet":
            raise StoreError(f"no triplet {item_id!r} in {root}")
        return dataset.set_review(item_id, verdict, reason=reason or None, reviewer=reviewer or None)
