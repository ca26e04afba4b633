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

Both files are streamed: read from SQL a page at a time in one snapshot of the database and written a
row group at a time (``manifest_rows``, ``failure_rows``, ``parquet_stream``), so an export's memory does
not grow with the dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from insvie.errors import StoreError
from insvie.store.dataset import Dataset
from insvie.store.export_triplets import check_destination
from insvie.store.failure_rows import FAILURES_SCHEMA, failure_batches
from insvie.store.fsio import fsync_dir, fsync_file, sweep_dead_temps, temp_name
from insvie.store.manifest_rows import manifest_batches, manifest_schema
from insvie.store.parquet_stream import write_parquet
from insvie.store.reader import reading

# Where insvie before one-manifest-per-dataset put `insvie export`'s manifest (exports/parquet/).
_LEGACY_FOLDER = "parquet"


def manifest_table(dataset: Dataset, *, kind: str | None = None) -> pa.Table:
    """The manifest as one Arrow table, rows sorted by item id (what :func:`export_parquet` streams)."""
    with reading(dataset, snapshot=True) as db:
        schema = manifest_schema(db, kind)
        return pa.Table.from_batches(list(manifest_batches(db, kind, schema)), schema)


def failures_table(dataset: Dataset, *, kind: str | None = None) -> pa.Table:
    """Every current failure as one Arrow table, sorted by stage then item id.

    Only each item's latest result per stage counts: a failure later retried to success, or
    superseded by a run under a new config, is history rather than something to fix.
    """
    with reading(dataset, snapshot=True) as db:
        return pa.Table.from_batches(list(failure_batches(db, kind)), FAILURES_SCHEMA)


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
    temps = {target: target.with_name(f".{target.name}.{temp_name()}") for target in (manifest, failures)}
    try:
        with reading(dataset, snapshot=True) as db:  # one state of the database for both files
            schema = manifest_schema(db, kind)
            write_parquet(temps[manifest], schema, manifest_batches(db, kind, schema))
            write_parquet(temps[failures], FAILURES_SCHEMA, failure_batches(db, kind))
        for tmp in temps.values():
            fsync_file(tmp)
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
