"""A Parquet manifest of a dataset: one row per item, for pandas, DuckDB, Spark or a quick look.

Columns: ``id, kind, source, media, parent, created_at, meta`` (the full meta as a JSON string),
``meta_<key>`` for every top-level meta key whose values are scalars of one type across the
exported items (so common fields can be filtered without JSON functions), ``review`` and
``review_reason``, and ``status_<stage>`` / ``reason_<stage>`` with each item's latest result per
stage. Keys or values that do not fit a typed column stay only in ``meta``.

Beside it, ``failures.parquet`` lists every current failure (each item's latest result per stage, where
that result is a failure): ``stage, item_id, kind, error_type, error_line, error, attempts,
config_hash, updated_at``, so that failures can be grouped by cause with counts and examples in DuckDB
(``error_type`` is the exception class, ``error_line`` the error's first line).

The destination is a folder, as for every export; by default the dataset's ``exports/``, which is
also where ``insvie build`` writes it, so a dataset has one manifest. Unlike the triplet exports the
folder is shared (it holds the other exports too), so only the two files are replaced: both are
written under temporary names first and then renamed, so a crash leaves the previous pair in place.
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

from insvie.errors import StoreError
from insvie.store.dataset import Dataset
from insvie.store.export_triplets import check_destination
from insvie.store.fsio import fsync_dir, fsync_file, sweep_dead_temps, temp_name
from insvie.store.records import error_line

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT64 = (-(2**63), 2**63 - 1)
# The exception class an error text starts with, after an optional "step: " or "setup of X failed: "
# prefix: "ValueError: ...", "judge: TimeoutError: ...", "setup of judge failed: OSError(...)".
_ERROR_TYPE = re.compile(r"(?:^|: )([A-Z][A-Za-z0-9_]*)(?=: |\(|$)")
# Where insvie before one-manifest-per-dataset put `insvie export`'s manifest (exports/parquet/).
_LEGACY_FOLDER = "parquet"


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


def error_type(error: str | None) -> str | None:
    """The exception class named at the start of a recorded error, the key failures group by; else None.

    Error texts carry item-specific details (paths, sizes), so grouping by the text itself gives one
    group per item; the class name is what is shared by failures of one cause.
    """
    match = _ERROR_TYPE.search(error or "")
    return match.group(1) if match else None


def failures_table(dataset: Dataset, *, kind: str | None = None) -> pa.Table:
    """Every current failure as an Arrow table, sorted by stage then item id.

    Only each item's latest result per stage counts: a failure later retried to success, or
    superseded by a run under a new config, is history rather than something to fix.
    """
    failed = [r for r in dataset.latest_results(kind) if r.status == "failed"]
    failed.sort(key=lambda r: (r.stage, r.item_id))
    kinds: dict[str, str | None] = {}
    for result in failed:
        if result.item_id not in kinds:
            item = dataset.get_item(result.item_id)
            kinds[result.item_id] = None if item is None else item.kind
    strings = pa.string()
    return pa.table(
        {
            "stage": pa.array([r.stage for r in failed], type=strings),
            "item_id": pa.array([r.item_id for r in failed], type=strings),
            "kind": pa.array([kinds[r.item_id] for r in failed], type=strings),
            "error_type": pa.array([error_type(r.error) for r in failed], type=strings),
            "error_line": pa.array([error_line(r.error) for r in failed], type=strings),
            "error": pa.array([r.error for r in failed], type=strings),
            "attempts": pa.array([r.attempts for r in failed], type=pa.int64()),
            "config_hash": pa.array([r.config_hash for r in failed], type=strings),
            "updated_at": pa.array(
                [datetime.fromtimestamp(r.updated_at, timezone.utc) for r in failed],
                type=pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def _remove_legacy_manifest(dataset: Dataset) -> None:
    """Drop ``exports/parquet/manifest.parquet`` that older versions wrote, so one manifest remains.

    Only a folder holding nothing but that manifest (and its writer's temporaries) is removed;
    anything else there is somebody's and stays.
    """
    folder = dataset.exports_dir / _LEGACY_FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return
    entries = list(folder.iterdir())
    if all(
        e.is_file() and (e.name == "manifest.parquet" or e.name.startswith(".manifest.parquet."))
        for e in entries
    ):
        for entry in entries:
            entry.unlink()
        folder.rmdir()


def export_parquet(
    dataset: Dataset, dest: str | os.PathLike[str] | None = None, *, kind: str | None = None
) -> Path:
    """Write manifest and failures into the folder ``dest`` (default ``exports/``); returns the manifest.

    The files are ``manifest.parquet`` and ``failures.parquet`` (``manifest-<kind>.parquet`` and
    ``failures-<kind>.parquet`` with ``kind``). Both are written under temporary names and then
    renamed, so readers never see a partial file and a failed export leaves the previous ones.
    """
    if dest is not None and Path(dest).suffix == ".parquet" and not Path(dest).is_dir():
        raise StoreError(
            f"{os.path.abspath(dest)}: names a Parquet file, but the destination is the folder that "
            "manifest.parquet and failures.parquet are written into"
        )
    folder = check_destination(dataset, dataset.exports_dir if dest is None else dest)
    suffix = "" if kind is None else f"-{kind}"
    manifest, failures = folder / f"manifest{suffix}.parquet", folder / f"failures{suffix}.parquet"
    for target in (manifest, failures):
        if target.exists() and not target.is_file():
            raise StoreError(f"{target}: not a file, so the export cannot replace it")
    for target in (manifest, failures):
        sweep_dead_temps(target)
    tables = {manifest: manifest_table(dataset, kind=kind), failures: failures_table(dataset, kind=kind)}
    temps = {target: target.with_name(f".{target.name}.{temp_name()}") for target in tables}
    try:
        for target, table in tables.items():
            pq.write_table(table, temps[target])
            fsync_file(temps[target])
        for target, tmp in temps.items():
            os.replace(tmp, target)
        fsync_dir(folder)
    except OSError as exc:
        where = {str(tmp): str(target) for target, tmp in temps.items()}.get(str(exc.filename), str(folder))
        raise StoreError(f"{where}: cannot write the export ({exc.strerror or exc})") from exc
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    if folder == dataset.exports_dir:
        _remove_legacy_manifest(dataset)
    return manifest
