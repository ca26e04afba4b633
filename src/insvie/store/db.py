"""The dataset's SQLite database: connection settings, schema and migrations.

The schema version lives in ``PRAGMA user_version`` and the file is marked as insvie's with
``PRAGMA application_id``, so opening tells a fresh file, an older dataset, a newer one and some
other program's database apart before touching anything. Each migration brings the schema from
version N-1 to N inside one transaction together with the version bump, so a crash mid-migration
leaves the old version intact.

WAL mode lets worker processes read while one writes; ``synchronous=NORMAL`` in WAL mode never
corrupts and never loses a commit to a killed process (only, at worst, the last commits to a power
cut; media files are fsynced before their rows so such a loss leaves orphan files, never rows
pointing at missing files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from insvie.errors import SchemaError, StoreError

APPLICATION_ID = 0x496E5356  # "InSV"
BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 64 * 1024


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (``executescript`` would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1(conn: sqlite3.Connection) -> None:
    """Items, their media, per-stage results and the configs those results were made under."""
    _run_script(
        conn,
        """
        CREATE TABLE media (
            relpath    TEXT PRIMARY KEY,
            sha256     TEXT NOT NULL,
            size       INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX media_sha256 ON media(sha256);

        CREATE TABLE items (
            id         TEXT PRIMARY KEY,
            kind       TEXT NOT NULL,
            source     TEXT,
            media      TEXT REFERENCES media(relpath),
            parent     TEXT REFERENCES items(id),
            meta       TEXT NOT NULL CHECK (json_valid(meta)),
            created_at REAL NOT NULL
        );
        CREATE INDEX items_kind ON items(kind);
        CREATE INDEX items_parent ON items(parent);

        CREATE TABLE configs (
            hash       TEXT PRIMARY KEY,
            config     TEXT NOT NULL CHECK (json_valid(config)),
            created_at REAL NOT NULL
        );

        CREATE TABLE results (
            stage       TEXT NOT NULL,
            item_id     TEXT NOT NULL REFERENCES items(id),
            config_hash TEXT NOT NULL,
            status      TEXT NOT NULL CHECK (status IN ('done', 'rejected', 'failed')),
            reason      TEXT,
            output      TEXT CHECK (output IS NULL OR json_valid(output)),
            error       TEXT,
            attempts    INTEGER NOT NULL,
            updated_at  REAL NOT NULL,
            UNIQUE (stage, item_id, config_hash)
        );
        CREATE INDEX results_stage_status ON results(stage, config_hash, status);
        CREATE INDEX results_item ON results(item_id, stage, updated_at);
        """,
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Human reviews: one verdict per item, the latest wins."""
    _run_script(
        conn,
        """
        CREATE TABLE reviews (
            item_id     TEXT PRIMARY KEY REFERENCES items(id),
            verdict     TEXT NOT NULL CHECK (verdict IN ('accept', 'reject')),
            reason      TEXT,
            reviewer    TEXT,
            reviewed_at REAL NOT NULL
        );
        """,
    )


def _v3(conn: sqlite3.Connection) -> None:
    """Inputs that ingest could not take (unreadable, a symlink loop, a bad pair line), by path."""
    _run_script(
        conn,
        """
        CREATE TABLE skipped_inputs (
            path    TEXT PRIMARY KEY,
            reason  TEXT NOT NULL,
            seen_at REAL NOT NULL
        );
        """,
    )


def _v4(conn: sqlite3.Connection) -> None:
    """Ingest's index of input files (see ``ingest_index``): a re-run takes an unchanged file's fingerprint
    from here instead of reading the file again. Keyed by path alone, so ``WITHOUT ROWID``."""
    _run_script(
        conn,
        """
        CREATE TABLE ingest_index (
            path        TEXT PRIMARY KEY,
            size        INTEGER NOT NULL,
            mtime_ns    INTEGER NOT NULL,
            ctime_ns    INTEGER NOT NULL,
            inode       INTEGER NOT NULL,
            fingerprint TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    )


def _v5(conn: sqlite3.Connection) -> None:
    """For builds of millions:

    - items by kind in id order: a step pages through its pending items in id order
      (``work_queue.pending_page``), which keeps its inserts local in every index. The index on kind
      alone stays: it walks a kind in the order items were added (``items.iterate``), which this one
      could only give by sorting the whole kind for every page;
    - change counters (``changes``), and the counters at which a step last had nothing pending
      (``step_marks``), so a no-op re-run checks a step without scanning its items.
    """
    _run_script(
        conn,
        """
        CREATE INDEX items_kind_id ON items(kind, id);
        CREATE TABLE changes (
            what TEXT PRIMARY KEY,
            n    INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE step_marks (
            stage       TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            mark        TEXT NOT NULL CHECK (json_valid(mark)),
            PRIMARY KEY (stage, config_hash)
        ) WITHOUT ROWID;
        """,
    )


# The JSON checks v6 removes, in the table definitions v1 wrote.
_JSON_CHECKS = {
    "items": " CHECK (json_valid(meta))",
    "results": " CHECK (output IS NULL OR json_valid(output))",
}


def _v6(conn: sqlite3.Connection) -> None:
    """Without the ``json_valid`` checks on item meta and result outputs.

    SQLite parsed every stored value again to check it: a third of the cost of recording a result,
    the largest single part of the driver's cost per item. The store writes these columns only through
    ``records.to_json``, which refuses what is not JSON (NaN included) before SQLite sees it.

    Removing a CHECK does not change how rows are stored, so this is SQLite's documented in-place edit
    of the table's definition (https://www.sqlite.org/lang_altertable.html, "removing CHECK ...
    constraints"), O(1) at any size, instead of copying every row into a new table.
    """
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        for table, check in _JSON_CHECKS.items():
            (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
            if sql[0].count(check) != 1:
                raise StoreError(f"unexpected definition of table {table}, cannot migrate: {sql[0]}")
            conn.execute(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (sql[0].replace(check, ""), table),
            )
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


# MIGRATIONS[n - 1] brings a database from version n - 1 to n; append, never edit a released one.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5, _v6)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open ``path`` with the settings every insvie connection needs; ``create=False`` never makes a file.

    Transactions are explicit (``isolation_level=None``): writers use ``BEGIN IMMEDIATE`` so that
    two processes never deadlock upgrading read locks, and ``busy_timeout`` makes them queue.
    """
    uri = f"{path.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the dataset database ({exc})") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(
                f"{path}: SQLite refused WAL mode (got {mode!r}); is the folder on a network filesystem?"
            )
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # SQLite's default page cache is 2 MiB: once the indexes outgrow it, every insert reads pages
        # back from disk. 64 MiB keeps the indexes of a few million rows cached.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable SQLite database ({exc})") from exc
    except StoreError:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` or raise saying why not; returns the version it had.

    The version is read inside the write transaction so that two processes opening a fresh
    dataset at once do not both create the schema.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc})") from exc
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if version == 0 and app_id == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"{path}: an SQLite database of some other program, not an insvie dataset")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif app_id != APPLICATION_ID:
            raise StoreError(
                f"{path}: an SQLite database of some other program (application_id {app_id:#x}), "
                "not an insvie dataset"
            )
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{path}: dataset schema version {version} is newer than this insvie supports "
                f"(version {SCHEMA_VERSION}); upgrade insvie to open it"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target - 1](conn)
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version
