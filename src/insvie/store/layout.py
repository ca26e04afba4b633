"""The dataset folder: which names are in it, and how a folder is opened (or made) as one.

Layout::

    <root>/insvie.db        SQLite (WAL): items, media, stage results, configs, reviews
    <root>/media/ab/<sha256><ext>
    <root>/exports/         manifests and archives made from the database
    <root>/tmp/             files being written; leftovers are removed when a build takes the lock
    <root>/writer.lock      held by the one build writing (see :meth:`Dataset.writing`)
"""

from __future__ import annotations

import os
from pathlib import Path

from insvie.errors import StoreError
from insvie.store import db, fsio
from insvie.store.blobs import MEDIA_DIR
from insvie.store.media_files import TMP_DIR
from insvie.store.state_db import StateDb

DB_NAME = "insvie.db"
EXPORTS_DIR = "exports"


def open_folder(root: str | os.PathLike[str], *, create: bool) -> StateDb:
    """Open the dataset at ``root``, creating it if ``create`` and the folder is absent or empty.

    A non-empty folder without a database is refused even with ``create``: pointing a run at
    the wrong folder (a folder of source videos, a home directory) must not silently turn it
    into a dataset. Older schemas are migrated; newer ones raise SchemaError.
    """
    root = _checked_root(Path(root), create)
    conn = db.connect(root / DB_NAME, create=create)
    try:
        db.migrate(conn, root / DB_NAME)
        for sub in (MEDIA_DIR, TMP_DIR, EXPORTS_DIR):
            (root / sub).mkdir(exist_ok=True)
        fsio.sweep_stale_temps(root / EXPORTS_DIR)
    except BaseException:
        conn.close()
        raise
    return StateDb(root, root / DB_NAME, conn)


def _checked_root(root: Path, create: bool) -> Path:
    """``root`` resolved, once it is a dataset folder or (with ``create``) a fresh one made for it."""
    db_path = root / DB_NAME
    try:
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: not a folder, so not an insvie dataset")
        if not db_path.exists():
            if not create:
                raise StoreError(f"{root}: not an insvie dataset (no {DB_NAME} in it)")
            if root.exists() and any(root.iterdir()):
                raise StoreError(
                    f"{root}: not an insvie dataset: the folder holds other files but no {DB_NAME}; "
                    "refusing to make a dataset in it"
                )
            root.mkdir(parents=True, exist_ok=True)
        elif not db_path.is_file():
            raise StoreError(f"{db_path}: not a file, so not an insvie dataset database")
        return root.resolve()
    except OSError as exc:
        raise StoreError(f"{root}: cannot open as a dataset ({exc})") from exc
