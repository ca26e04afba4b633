"""A dataset directory: the state database, content-addressed media and exports, in one folder.

Layout::

    <root>/insvie.db        SQLite (WAL): items, media, stage results, configs, reviews
    <root>/media/ab/<sha256><ext>
    <root>/exports/         manifests and archives made from the database
    <root>/tmp/             files being written; leftovers are removed when a build takes the lock
    <root>/writer.lock      held by the one build writing (see :meth:`Dataset.writing`)

Everything a run makes lives here, so re-running on the same folder resumes: results are keyed by
(stage, item, config hash) and :meth:`Dataset.pending` lists what is left. Rows are only written
after the files they name are durably in place, so a killed process leaves at worst an orphan
file, never a row pointing at a missing or half-written one.

One :class:`Dataset` may be shared with worker processes: each process opens its own SQLite
connection on first use (connections must not cross ``fork``), and pickling reopens by path.
A connection is not shared between threads; give each thread its own ``Dataset.open``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from insvie.errors import StoreError
from insvie.store import db, fsio
from insvie.store.blobs import MEDIA_DIR, Blob, hash_file
from insvie.store.lock import WriterLock
from insvie.store.media_files import TMP_DIR, MediaFiles, PendingMedia
from insvie.store.paths import check_relpath, resolve_inside
from insvie.store.records import (
    STATUSES,
    VERDICTS,
    FailureGroup,
    Funnel,
    InputProblem,
    Item,
    Result,
    Review,
    Status,
    Verdict,
    check_item_id,
    check_name,
    config_hash,
    error_line,
    to_json,
)

DB_NAME = "insvie.db"
EXPORTS_DIR = "exports"

# Connections a forked child inherited from its parent. Using or even closing one in the child can
# release the parent's locks or corrupt its WAL index, so they are kept referenced, never closed.
_INHERITED: list[sqlite3.Connection] = []

_ITEM_COLUMNS = "id, kind, source, media, parent, meta, created_at"
_RESULT_COLUMNS = "stage, item_id, config_hash, status, reason, output, error, attempts, updated_at"
_PAGE = 1000
INPUT_KINDS = ("video", "image", "pair")  # items ingest makes from the files it is given


def _item(row: tuple) -> Item:
    return Item(row[0], row[1], row[2], row[3], row[4], _loads(row[5]), row[6])


def _result(row: tuple) -> Result:
    return Result(row[0], row[1], row[2], row[3], row[4], _loads(row[5]), row[6], row[7], row[8])


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _error_text(error: str | BaseException) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _reopen(root: str) -> Dataset:
    return Dataset.open(root, create=False)


class Dataset:
    """The facade over one dataset directory; get one with :meth:`Dataset.open`."""

    def __init__(self, root: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self._conn = conn
        self._pid = os.getpid()
        self._closed = False
        self._media = MediaFiles(root, self.resolve, self._record_media)

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, create: bool = True) -> Dataset:
        """Open the dataset at ``root``, creating it if ``create`` and the folder is absent or empty.

        A non-empty folder without a database is refused even with ``create``: pointing a run at
        the wrong folder (a folder of source videos, a home directory) must not silently turn it
        into a dataset. Older schemas are migrated; newer ones raise SchemaError.
        """
        root = Path(root)
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
            root = root.resolve()
        except OSError as exc:
            raise StoreError(f"{root}: cannot open as a dataset ({exc})") from exc
        conn = db.connect(root / DB_NAME, create=create)
        try:
            db.migrate(conn, root / DB_NAME)
            for sub in (MEDIA_DIR, TMP_DIR, EXPORTS_DIR):
                (root / sub).mkdir(exist_ok=True)
            fsio.sweep_stale_temps(root / EXPORTS_DIR)
        except BaseException:
            conn.close()
            raise
        return cls(root, conn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pid == os.getpid():
            self._conn.close()
        else:
            _INHERITED.append(self._conn)

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_reopen, (str(self.root),))

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r})"

    @contextmanager
    def writing(self, command: str) -> Iterator[None]:
        """Hold the dataset's writer lock for the block (a second writer is refused, naming this one)
        and start clean: every temporary file in ``tmp/`` is a dead writer's, so it is removed."""
        with WriterLock(self.root, command):
            fsio.remove_temps(self.root / TMP_DIR)
            yield

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def exports_dir(self) -> Path:
        return self.root / EXPORTS_DIR

    def resolve(self, relpath: str) -> Path:
        """The file a stored path names; raises PathEscapeError for any path leaving the dataset."""
        return resolve_inside(self.root, relpath)

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.root}: the dataset was closed")
        if self._pid != os.getpid():
            _INHERITED.append(self._conn)
            self._conn = db.connect(self.db_path, create=False)
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes so they commit together; nested uses join the outermost transaction.

        The engine wraps each batch in one transaction: a crash then loses at most that batch,
        and committing once per batch instead of per row keeps SQLite fast.
        """
        conn = self._connection()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- media (written by MediaFiles, recorded here) ----------------------------------------------

    def put_file(self, src: str | os.PathLike[str], *, ext: str | None = None) -> str:
        """Copy a file into the dataset and return its stored path; ``ext`` defaults to the file's suffix."""
        return self._media.put_file(src, ext=ext)

    def put_bytes(self, data: bytes, ext: str) -> str:
        """Store ``data`` as a media file and return its stored path."""
        return self._media.put_bytes(data, ext)

    def write_media(self, ext: str) -> AbstractContextManager[PendingMedia]:
        """Let an encoder write straight into the dataset, then store the result by its hash
        (see :meth:`MediaFiles.write_media`)."""
        return self._media.write_media(ext)

    def temp_path(self, ext: str) -> Path:
        """A fresh temporary file in the dataset's tmp area, for a writer that will :meth:`adopt` it."""
        return self._media.temp_path(ext)

    def adopt(self, path: str | os.PathLike[str]) -> str:
        """Move a finished file from the tmp area to its content address and record it; its relpath."""
        return self._media.adopt(path)

    def _record_media(self, blob: Blob) -> None:
        with self.transaction():
            self._connection().execute(
                "INSERT INTO media (relpath, sha256, size, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (relpath) DO NOTHING",
                (blob.relpath, blob.sha256, blob.size, time.time()),
            )

    # -- items ---------------------------------------------------------------------------------

    def add_item(
        self,
        item_id: str,
        kind: str,
        *,
        source: str | None = None,
        media: str | None = None,
        parent: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Item:
        """Add an item, or return it unchanged if the same item was added before (so re-runs are no-ops).

        Adding an existing id with different fields is an error rather than an overwrite: item ids
        are meant to be derived from content, so a clash means two different things got one id.
        """
        check_item_id(item_id)
        check_name(kind, "item kind")
        if media is not None:
            media = check_relpath(media)
        if parent is not None:
            check_item_id(parent)
        if source is not None and not isinstance(source, str):
            raise StoreError(f"item {item_id!r}: source must be a str, got {type(source).__name__}")
        if meta is not None and not isinstance(meta, Mapping):
            raise StoreError(f"item {item_id!r}: meta must be a mapping, got {type(meta).__name__}")
        meta_json = to_json(dict(meta or {}), f"meta of item {item_id!r}")
        fields = (kind, source, media, parent, meta_json)
        conn = self._connection()
        with self.transaction():
            row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is not None:
                differing = [
                    name
                    for name, old, new in zip(
                        ("kind", "source", "media", "parent", "meta"), row[1:6], fields, strict=True
                    )
                    if old != new
                ]
                if differing:
                    raise StoreError(
                        f"item {item_id!r} already exists with a different {', '.join(differing)}"
                    )
                return _item(row)
            if (
                parent is not None
                and not conn.execute("SELECT 1 FROM items WHERE id = ?", (parent,)).fetchone()
            ):
                raise StoreError(f"item {item_id!r}: parent {parent!r} is not in the dataset")
            if (
                media is not None
                and not conn.execute("SELECT 1 FROM media WHERE relpath = ?", (media,)).fetchone()
            ):
                raise StoreError(
                    f"item {item_id!r}: media {media!r} is not in the dataset; store it with "
                    "put_file, put_bytes or write_media first"
                )
            now = time.time()
            conn.execute(
                f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item_id, *fields, now),
            )
        return Item(item_id, kind, source, media, parent, json.loads(meta_json), now)

    def get_item(self, item_id: str) -> Item | None:
        row = (
            self._connection()
            .execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,))
            .fetchone()
        )
        return None if row is None else _item(row)

    def iter_items(self, kind: str | None = None) -> Iterator[Item]:
        """Items in the order they were added, read a page at a time.

        Paging (rather than one open cursor) keeps no read statement open between pages, so the
        caller may write to the dataset while iterating.
        """
        conn = self._connection()
        where = "" if kind is None else "AND kind = ?"
        last = 0
        while True:
            rows = conn.execute(
                f"SELECT rowid, {_ITEM_COLUMNS} FROM items WHERE rowid > ? {where} ORDER BY rowid LIMIT ?",
                (last, *(() if kind is None else (kind,)), _PAGE),
            ).fetchall()
            for row in rows:
                yield _item(row[1:])
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    # -- configs -------------------------------------------------------------------------------

    def register_config(self, config: Mapping[str, Any]) -> str:
        """Store a stage config under its :func:`config_hash` and return the hash.

        Results only carry the hash; registering the config makes provenance resolvable to the
        full settings later.
        """
        digest = config_hash(config)
        with self.transaction():
            self._connection().execute(
                "INSERT INTO configs (hash, config, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING",
                (digest, to_json(dict(config), "config"), time.time()),
            )
        return digest

    def get_config(self, digest: str) -> dict[str, Any] | None:
        row = self._connection().execute("SELECT config FROM configs WHERE hash = ?", (digest,)).fetchone()
        return None if row is None else _loads(row[0])

    # -- stage results -------------------------------------------------------------------------

    def record_result(
        self,
        stage: str,
        item_id: str,
        config_hash: str,
        status: Status,
        *,
        output: Any = None,
        reason: str | None = None,
        error: str | BaseException | None = None,
    ) -> Result:
        """Record what ``stage`` made of an item: done, rejected (with a reason) or failed (with an error).

        Recording again under the same key replaces the row and increments ``attempts``, which is
        how a failing item's retries are counted.
        """
        check_name(stage, "stage")
        check_item_id(item_id)
        if not isinstance(config_hash, str) or not config_hash:
            raise StoreError(f"{stage} result for item {item_id!r}: config_hash must be a non-empty str")
        if status not in STATUSES:
            raise StoreError(
                f"{stage} result for item {item_id!r}: status {status!r} is not one of {sorted(STATUSES)}"
            )
        if status == "rejected" and not reason:
            raise StoreError(f"{stage} result for item {item_id!r}: a rejection needs a reason")
        if status == "failed" and error is None:
            raise StoreError(f"{stage} result for item {item_id!r}: a failure needs an error")
        if status != "failed" and error is not None:
            raise StoreError(f"{stage} result for item {item_id!r}: only a failed result carries an error")
        output_json = None if output is None else to_json(output, f"{stage} output of item {item_id!r}")
        error_text = None if error is None else _error_text(error)
        key = (stage, item_id, config_hash)
        conn = self._connection()
        with self.transaction():
            if not conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone():
                raise StoreError(f"cannot record a {stage} result for item {item_id!r}: no such item")
            conn.execute(
                f"INSERT INTO results ({_RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (stage, item_id, config_hash) DO UPDATE SET status = excluded.status, "
                "reason = excluded.reason, output = excluded.output, error = excluded.error, "
                "attempts = results.attempts + 1, updated_at = excluded.updated_at",
                (*key, status, reason, output_json, error_text, time.time()),
            )
            row = conn.execute(
                f"SELECT {_RESULT_COLUMNS} FROM results WHERE stage = ? AND item_id = ? AND config_hash = ?",
                key,
            ).fetchone()
        return _result(row)

    def get_result(self, stage: str, item_id: str, config_hash: str) -> Result | None:
        row = (
            self._connection()
            .execute(
                f"SELECT {_RESULT_COLUMNS} FROM results WHERE stage = ? AND item_id = ? AND config_hash = ?",
                (stage, item_id, config_hash),
            )
            .fetchone()
        )
        return None if row is None else _result(row)

    def results(self, stage: str, config_hash: str, *, status: Status | None = None) -> list[Result]:
        """Every result ``stage`` recorded under ``config_hash`` (optionally only one status), by item id."""
        where = "" if status is None else "AND status = ?"
        rows = (
            self._connection()
            .execute(
                f"SELECT {_RESULT_COLUMNS} FROM results WHERE stage = ? AND config_hash = ? {where} "
                "ORDER BY item_id",
                (stage, config_hash, *(() if status is None else (status,))),
            )
            .fetchall()
        )
        return [_result(row) for row in rows]

    def latest_results(self, kind: str | None = None) -> list[Result]:
        """For every item (of ``kind``) and stage, the most recently recorded result under any config."""
        where = "" if kind is None else "WHERE item_id IN (SELECT id FROM items WHERE kind = ?)"
        rows = (
            self._connection()
            .execute(
                f"SELECT {_RESULT_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY item_id, stage "
                f"ORDER BY updated_at DESC, rowid DESC) AS rank FROM results {where}) "
                "WHERE rank = 1 ORDER BY item_id, stage",
                () if kind is None else (kind,),
            )
            .fetchall()
        )
        return [_result(row) for row in rows]

    def pending(
        self, stage: str, config_hash: str, item_ids: Iterable[str], *, max_attempts: int = 3
    ) -> list[str]:
        """The ids (in the given order) that ``stage`` still has to run under ``config_hash``.

        An item is pending when it has no result under this key, or has failed fewer than
        ``max_attempts`` times; done and rejected items are never redone, and an item that has
        failed ``max_attempts`` times stays recorded as failed.
        """
        if max_attempts < 1:
            raise StoreError(f"pending {stage}: max_attempts must be at least 1, got {max_attempts}")
        ids = [check_item_id(item_id) for item_id in item_ids]
        rows = (
            self._connection()
            .execute(
                "SELECT j.value FROM json_each(?) AS j LEFT JOIN results AS r "
                "ON r.stage = ? AND r.config_hash = ? AND r.item_id = j.value "
                "WHERE r.status IS NULL OR (r.status = 'failed' AND r.attempts < ?) ORDER BY j.key",
                (to_json(ids, "item ids"), stage, config_hash, max_attempts),
            )
            .fetchall()
        )
        return [row[0] for row in rows]

    def funnel(self, stage: str, config_hash: str | None = None) -> Funnel:
        """Counts of what ``stage`` did: items in, kept, rejected by reason, failed.

        With ``config_hash``, counts that config's results; without, each item's latest result, so
        a re-run under a new config is not counted twice.
        """
        if config_hash is None:
            query = (
                "SELECT status, reason, count(*) FROM (SELECT status, reason, row_number() OVER "
                "(PARTITION BY item_id ORDER BY updated_at DESC, rowid DESC) AS rank FROM results "
                "WHERE stage = ?) WHERE rank = 1 GROUP BY status, reason"
            )
            params: tuple[str, ...] = (stage,)
        else:
            query = (
                "SELECT status, reason, count(*) FROM results WHERE stage = ? AND config_hash = ? "
                "GROUP BY status, reason"
            )
            params = (stage, config_hash)
        kept = failed = 0
        rejected: dict[str, int] = {}
        for status, reason, count in self._connection().execute(query, params):
            if status == "done":
                kept += count
            elif status == "failed":
                failed += count
            else:
                rejected[reason] = rejected.get(reason, 0) + count
        return Funnel(stage, kept + failed + sum(rejected.values()), kept, rejected, failed)

    def failures(self, stage: str, config_hash: str, *, examples: int = 3) -> list[FailureGroup]:
        """The stage's failed results under ``config_hash`` grouped by error, most common first.

        Errors are grouped on their first line, so one cause (a missing model folder) is one row
        however many items it failed, with ``examples`` item ids to look at.
        """
        rows = (
            self._connection()
            .execute(
                "SELECT item_id, error FROM results "
                "WHERE stage = ? AND config_hash = ? AND status = 'failed' ORDER BY item_id",
                (stage, config_hash),
            )
            .fetchall()
        )
        groups: dict[str, list[str]] = {}
        for item_id, error in rows:
            key = error_line(error) or "(no error text)"
            groups.setdefault(key, []).append(item_id)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return [FailureGroup(error, len(ids), ids[:examples]) for error, ids in ordered]

    # -- inputs that gave nothing ----------------------------------------------------------------

    def record_skipped_input(self, path: str, reason: str) -> None:
        """Remember that ingest could not take ``path`` and why (the latest reason wins)."""
        with self.transaction():
            self._connection().execute(
                "INSERT INTO skipped_inputs (path, reason, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                (path, reason, time.time()),
            )

    def clear_skipped_input(self, path: str) -> None:
        """Forget an earlier skip of ``path`` (it was taken this time)."""
        with self.transaction():
            self._connection().execute("DELETE FROM skipped_inputs WHERE path = ?", (path,))

    def input_problems(self) -> list[InputProblem]:
        """Every input that gave nothing: skipped at ingest, or rejected or failed by the step that
        read it (its latest result), by path."""
        conn = self._connection()
        problems = [
            InputProblem(path, "ingest", "skipped", reason)
            for path, reason in conn.execute("SELECT path, reason FROM skipped_inputs ORDER BY path")
        ]
        sources = {
            item_id: source
            for item_id, source in conn.execute(
                f"SELECT id, source FROM items WHERE kind IN ({', '.join('?' * len(INPUT_KINDS))})",
                INPUT_KINDS,
            )
        }
        for kind in INPUT_KINDS:
            for result in self.latest_results(kind):
                if result.status == "done":
                    continue
                reason = result.reason if result.status == "rejected" else result.error
                problems.append(
                    InputProblem(
                        sources.get(result.item_id) or result.item_id,
                        result.stage,
                        result.status,
                        reason or "",
                        result.item_id,
                    )
                )
        return sorted(problems, key=lambda problem: (problem.path, problem.step))

    # -- reviews -------------------------------------------------------------------------------

    def set_review(
        self, item_id: str, verdict: Verdict, *, reason: str | None = None, reviewer: str | None = None
    ) -> Review:
        """Record a person's accept/reject of an item, replacing any earlier verdict."""
        if verdict not in VERDICTS:
            raise StoreError(
                f"review of item {item_id!r}: verdict {verdict!r} is not one of {sorted(VERDICTS)}"
            )
        conn = self._connection()
        now = time.time()
        with self.transaction():
            if not conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone():
                raise StoreError(f"cannot review item {item_id!r}: no such item")
            conn.execute(
                "INSERT INTO reviews (item_id, verdict, reason, reviewer, reviewed_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason, "
                "reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at",
                (item_id, verdict, reason, reviewer, now),
            )
        return Review(item_id, verdict, reason, reviewer, now)

    def get_review(self, item_id: str) -> Review | None:
        row = (
            self._connection()
            .execute(
                "SELECT item_id, verdict, reason, reviewer, reviewed_at FROM reviews WHERE item_id = ?",
                (item_id,),
            )
            .fetchone()
        )
        return None if row is None else Review(*row)

    def reviews(self) -> dict[str, Review]:
        """Every review, by item id."""
        rows = self._connection().execute(
            "SELECT item_id, verdict, reason, reviewer, reviewed_at FROM reviews"
        )
        return {row[0]: Review(*row) for row in rows}

    # -- health --------------------------------------------------------------------------------

    def verify(self, *, rehash: bool = False) -> list[str]:
        """Problems found in the dataset, as messages naming what is wrong; empty when healthy.

        Checks SQLite's integrity and foreign keys and that every recorded media file exists with
        its recorded size (and, with ``rehash``, its hash, which reads every byte).
        """
        conn = self._connection()
        problems = [f"database: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [
            f"database: row {rowid} of {table} points to a missing row of {parent}"
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
        ]
        for relpath, sha, size in conn.execute("SELECT relpath, sha256, size FROM media").fetchall():
            path = self.resolve(relpath)
            if not path.is_file():
                problems.append(f"{relpath}: recorded but missing")
            elif path.stat().st_size != size:
                problems.append(f"{relpath}: {path.stat().st_size} bytes on disk, {size} recorded")
            elif rehash and hash_file(path)[0] != sha:
                problems.append(f"{relpath}: content does not match its sha256")
        return problems
