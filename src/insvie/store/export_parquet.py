"""A Parquet manifest of a dataset: one row per item, for pandas, DuckDB, Spark or a quick look.

Columns: ``id, kind, source, media, parent, created_at, meta`` (the full meta as a JSON string),
``meta_<key>`` for every top-level meta key whose values are scalars of one type across the
exported items (so common fields can be filtered without JSON functions), ``review`` and
``review_reason``, and ``status_<stage>`` / ``reason_<stage>`` with each item's latest result per
stage. Keys or values that do not fit a typed column stay only in ``meta``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from insvie.store.dataset import Dataset
from insvie.store.fsio import write_atomically

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT64 = (-(2**63), 2**63 - 1)


def _scalar_type(values: list[Any]) -> pa.DataType | None:
    """The one Arrow type that holds every non-null value, or None if they are not uniform scalars."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if any(isinstance(v, bool) for v in present):
        return None
    if all(isinstance(v, int) and _INT64[0] <= v <= _INT64[1] for v in present):
        return pa.int64()
    if all(isinstance(v, (int, float)) for v in present):
        return pa.float64()
    if all(isinstance(v, str) for v in present):
        return pa.string()
    return None


def _meta_columns(metas: list[dict[str, Any]]) -> dict[str, pa.Array]:
    keys = sorted({key for meta in metas for key in meta if _IDENT.match(key)})
    columns = {}
    for key in keys:
        values = [meta.get(key) for meta in metas]
        arrow_type = _scalar_type(values)
        if arrow_type is not None:
            columns[f"meta_{key}"] = pa.array(values, type=arrow_type)
    return columns


def manifest_table(dataset: Dataset, *, kind: str | None = None) -> pa.Table:
    """The manifest as an Arrow table, rows sorted by item id."""
    items = sorted(dataset.iter_items(kind), key=lambda item: item.id)
    reviews = dataset.reviews()
    latest: dict[str, dict[str, tuple[str, str | None]]] = {}
    for result in dataset.latest_results(kind):
        latest.setdefault(result.stage, {})[result.item_id] = (result.status, result.reason)

    def strings(values: list[Any]) -> pa.Array:
        return pa.array(values, type=pa.string())

    columns: dict[str, pa.Array] = {
        "id": strings([item.id for item in items]),
        "kind": strings([item.kind for item in items]),
        "source": strings([item.source for item in items]),
        "media": strings([item.media for item in items]),
        "parent": strings([item.parent for item in items]),
        "created_at": pa.array(
            [datetime.fromtimestamp(item.created_at, timezone.utc) for item in items],
            type=pa.timestamp("us", tz="UTC"),
        ),
        "meta": strings([json.dumps(item.meta, sort_keys=True, ensure_ascii=False) for item in items]),
    }
    columns.update(_meta_columns([item.meta for item in items]))
    review_of = [reviews.get(item.id) for item in items]
    columns["review"] = strings([r.verdict if r else None for r in review_of])
    columns["review_reason"] = strings([r.reason if r else None for r in review_of])
    for stage in sorted(latest):
        by_item = latest[stage]
        columns[f"status_{stage}"] = strings([by_item.get(item.id, (None, None))[0] for item in items])
        columns[f"reason_{stage}"] = strings([by_item.get(item.id, (None, None))[1] for item in items])
    return pa.table(columns)


def export_parquet(
    dataset: Dataset, dest: str | os.PathLike[str] | None = None, *, kind: str | None = None
) -> Path:
    """Write the manifest to ``dest``, by default ``exports/manifest.parquet`` (``manifest-<kind>.parquet``).

    The file is written under a temporary name and renamed, so readers never see a partial manifest.
    """
    if dest is None:
        dest = dataset.exports_dir / ("manifest.parquet" if kind is None else f"manifest-{kind}.parquet")
    table = manifest_table(dataset, kind=kind)
    return write_atomically(Path(os.path.abspath(dest)), lambda tmp: pq.write_table(table, tmp))
