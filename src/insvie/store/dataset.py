"""A dataset directory: the state database, content-addressed media and exports, in one folder.

Everything a run makes lives here, so re-running on the same folder resumes: results are keyed by
(stage, item, config hash) and :meth:`Dataset.pending` lists what is left. Rows are only written
after the files they name are durably in place, so a killed process leaves at worst an orphan
file, never a row pointing at a missing or half-written one.

:class:`Dataset` is the one object callers hold; it only composes the parts that do the work, each a
module with one job: the folder (``layout``), the per-process connection and transactions
(``state_db``), media files (``media_files``), items and media rows (``items``), configs (``configs``),
results (``results``, ``summaries``), inputs that gave nothing (``inputs``), reviews (``reviews``) and
checks (``health``).

One :class:`Dataset` may be shared with worker processes: each process opens its own SQLite
connection on first use (connections must not cross ``fork``), and pickling reopens by path.
A connection is not shared between threads; give each thread its own ``Dataset.open``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from insvie.store import (
    configs,
    fsio,
    health,
    ingest_index,
    input_problems,
    inputs,
    items,
    summaries,
    work_queue,
)
from insvie.store import results as result_rows
from insvie.store import reviews as review_rows
from insvie.store.ingest_index import IndexedFile
from insvie.store.layout import DB_NAME, EXPORTS_DIR, open_folder
from insvie.store.lock import WriterLock
from insvie.store.media_files import TMP_DIR, MediaFiles, PendingMedia
from insvie.store.paths import resolve_inside
from insvie.store.records import (
    FailureGroup,
    Funnel,
    InputProblem,
    Item,
    NewItem,
    NewResult,
    Result,
    Review,
    Status,
    Verdict,
)
from insvie.store.state_db import StateDb
from insvie.store.summaries import change_marker
from insvie.store.work_queue import PendingQuery


def _reopen(root: str) -> Dataset:
    return Dataset.open(root, create=False)


class Dataset:
    """The facade over one dataset directory; get one with :meth:`Dataset.open`."""

    def __init__(self, db: StateDb) -> None:
        self.root = db.root
        self._db = db
        self._media = MediaFiles(self.root, self.resolve, partial(items.record_media, db))

    # -- opening, closing, locking -------------------------------------------------------------

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, create: bool = True) -> Dataset:
        """Open the dataset at ``root``, creating it if ``create`` and the folder is absent or empty
        (see :func:`insvie.store.layout.open_folder` for what is refused)."""
        return cls(open_folder(root, create=create))

    def close(self) -> None:
        self._db.close()

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

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes so they commit together; nested uses join the outermost transaction."""
        with self._db.transaction():
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

    # -- media ---------------------------------------------------------------------------------

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

    def adopt_many(self, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        """:meth:`adopt` for a group of files, with one sync per folder (the runner's bulk path)."""
        return self._media.adopt_many(paths)

    # -- items and configs ---------------------------------------------------------------------

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
        """Add an item, or return it unchanged if the same item was added before (see :func:`items.add`)."""
        return items.add(self._db, item_id, kind, source=source, media=media, parent=parent, meta=meta)

    def add_items(self, new: Sequence[NewItem]) -> None:
        """Add many items in one statement, with :meth:`add_item`'s rules (the runner's bulk path)."""
        items.add_many(self._db, new)

    def get_item(self, item_id: str) -> Item | None:
        return items.get(self._db, item_id)

    def iter_items(self, kind: str | None = None) -> Iterator[Item]:
        """Items in the order they were added; the caller may write to the dataset while iterating."""
        return items.iterate(self._db, kind)

    def register_config(self, config: Mapping[str, Any]) -> str:
        """Store a stage config under its :func:`config_hash` and return the hash."""
        return configs.register(self._db, config)

    def get_config(self, digest: str) -> dict[str, Any] | None:
        return configs.get(self._db, digest)

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
        """Record what ``stage`` made of an item; again under the same key counts one more attempt."""
        return result_rows.record(
            self._db, stage, item_id, config_hash, status, output=output, reason=reason, error=error
        )

    def record_results(self, stage: str, config_hash: str, new: Sequence[NewResult]) -> None:
        """Record many results of one step in one statement, not read back (the runner's bulk path)."""
        result_rows.record_many(self._db, stage, config_hash, new)

    def get_result(self, stage: str, item_id: str, config_hash: str) -> Result | None:
        return result_rows.get(self._db, stage, item_id, config_hash)

    def results(self, stage: str, config_hash: str, *, status: Status | None = None) -> list[Result]:
        """Every result ``stage`` recorded under ``config_hash`` (optionally only one status), by item id."""
        return result_rows.for_config(self._db, stage, config_hash, status)

    def latest_results(self, kind: str | None = None) -> list[Result]:
        """For every item (of ``kind``) and stage, the most recently recorded result under any config."""
        return result_rows.latest(self._db, kind)

    def pending(
        self, stage: str, config_hash: str, item_ids: Iterable[str], *, max_attempts: int = 3
    ) -> list[str]:
        """The ids (in the given order) that ``stage`` still has to run under ``config_hash``."""
        return result_rows.pending(self._db, stage, config_hash, item_ids, max_attempts)

    # -- a step's work, a page at a time (see ``work_queue``) ---------------------------------------

    def count_pending(self, query: PendingQuery) -> int:
        return work_queue.count_pending(self._db, query)

    def nothing_pending_since_mark(self, query: PendingQuery) -> bool:
        return work_queue.nothing_pending_since_mark(self._db, query)

    def mark_nothing_pending(self, query: PendingQuery) -> None:
        work_queue.mark_nothing_pending(self._db, query)

    def pending_page(self, query: PendingQuery, after_id: str, limit: int) -> list[str]:
        """Up to ``limit`` pending item ids after ``after_id`` (``""``: from the start), in id order."""
        return work_queue.pending_page(self._db, query, after_id, limit)

    def items_with_parents(self, ids: Sequence[str]) -> list[tuple[Item, Item | None]]:
        return work_queue.with_parents(self._db, ids)

    def done_outputs(self, stage: str, config_hash: str, ids: Sequence[str]) -> dict[str, Any]:
        """The outputs ``stage`` recorded as done under ``config_hash`` for those of ``ids`` it kept."""
        return work_queue.done_outputs(self._db, stage, config_hash, ids)

    def funnel(self, stage: str, config_hash: str | None = None) -> Funnel:
        """Counts of what ``stage`` did: items in, kept, rejected by reason, failed."""
        return summaries.funnel(self._db, stage, config_hash)

    def failures(self, stage: str, config_hash: str, *, examples: int = 3) -> list[FailureGroup]:
        """The stage's failed results under ``config_hash`` grouped by error, most common first."""
        return summaries.failures(self._db, stage, config_hash, examples)

    # -- inputs that gave nothing --------------------------------------------------------------

    def record_skipped_input(self, path: str, reason: str) -> None:
        """Remember that ingest could not take ``path`` and why (the latest reason wins)."""
        inputs.record_skip(self._db, path, reason)

    def clear_skipped_inputs(self, paths: Iterable[str]) -> None:
        """Forget earlier skips of every path in ``paths``, in one statement (ingest's whole run)."""
        inputs.clear_skips(self._db, paths)

    def input_problems(self) -> list[InputProblem]:
        """Every input that gave nothing: skipped at ingest, or turned down by the step that read it."""
        return input_problems.input_problems(self._db)

    # -- ingest's index of input files (see ``ingest_index``) ----------------------------------

    def indexed_inputs(self, paths: Sequence[str]) -> dict[str, IndexedFile]:
        """How ingest last hashed those of ``paths`` (absolute) it has hashed, by path, in one query."""
        return ingest_index.lookup(self._db, paths)

    def index_inputs(self, files: Sequence[IndexedFile]) -> None:
        """Remember how ``files`` were hashed, in one statement, so a re-run need not read them again."""
        ingest_index.record(self._db, files)

    def known_items(self, item_ids: Sequence[str]) -> set[str]:
        """Those of ``item_ids`` already in the dataset, in one query (ingest's bulk "already known?")."""
        return ingest_index.known_items(self._db, item_ids)

    # -- reviews and health --------------------------------------------------------------------

    def set_review(
        self, item_id: str, verdict: Verdict, *, reason: str | None = None, reviewer: str | None = None
    ) -> Review:
        """Record a person's accept/reject of an item, replacing any earlier verdict."""
        return review_rows.set_review(self._db, item_id, verdict, reason, reviewer)

    def get_review(self, item_id: str) -> Review | None:
        return review_rows.get(self._db, item_id)

    def reviews(self) -> dict[str, Review]:
        """Every review, by item id."""
        return review_rows.all_reviews(self._db)

    def verify(self, *, rehash: bool = False) -> list[str]:
        """Problems found in the dataset, as messages naming what is wrong; empty when healthy."""
        return health.verify(self._db, self.resolve, rehash)

    def change_marker(self) -> dict[str, int]:
        """The change counters of items, results and reviews; unchanged values mean nothing an export
        reads has changed (see :func:`insvie.store.summaries.change_marker`)."""
        return change_marker(self._db.conn())
