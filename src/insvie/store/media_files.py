"""Writing media into a dataset: temporary names in ``tmp/``, then a durable rename to the content address.

A file only ever appears under its final name complete and on disk, and its row is recorded only after
that rename is durable (by the callback the dataset passes in): killed in between, the dataset holds an
unrecorded file (harmless, and re-stored by the retry) but never a row without its file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from insvie.errors import StoreError
from insvie.store import fsio
from insvie.store.blobs import Blob, copy_hashing, hash_file, normalize_ext

TMP_DIR = "tmp"


class PendingMedia:
    """A media file being written in place by :meth:`MediaFiles.write_media`.

    Write to ``path``; once the ``with`` block ends without error, ``relpath`` names the stored file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.relpath: str | None = None


class MediaFiles:
    """The dataset's ``media/`` and ``tmp/`` areas; ``record(blobs)`` writes stored files' rows."""

    def __init__(
        self, root: Path, resolve: Callable[[str], Path], record: Callable[[Sequence[Blob]], None]
    ) -> None:
        self.root = root
        self._resolve = resolve
        self._record = record
        self._folders: dict[str, Path] = {}  # content-address folders known to exist, by stored name

    def put_file(self, src: str | os.PathLike[str], *, ext: str | None = None) -> str:
        src = Path(src)
        norm_ext = normalize_ext(src.suffix if ext is None else ext)
        tmp = self._temp_path(norm_ext)
        try:
            try:
                with open(src, "rb") as fin, open(tmp, "xb") as fout:
                    sha, size = copy_hashing(fin, fout)
            except OSError as exc:
                raise StoreError(f"{src}: cannot copy into the dataset {self.root} ({exc})") from exc
            return self._install(tmp, Blob(sha, size, norm_ext))
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes, ext: str) -> str:
        norm_ext = normalize_ext(ext)
        tmp = self._temp_path(norm_ext)
        try:
            tmp.write_bytes(data)
            return self._install(tmp, Blob(hashlib.sha256(data).hexdigest(), len(data), norm_ext))
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def write_media(self, ext: str) -> Iterator[PendingMedia]:
        """Yield a :class:`PendingMedia` whose ``path`` is a temporary file in the tmp area (same
        filesystem, so the final move is a rename, not a copy); store it by its hash after the block.
        If the block raises, the temporary file is removed and nothing is recorded."""
        norm_ext = normalize_ext(ext)
        pending = PendingMedia(self._temp_path(norm_ext))
        try:
            yield pending
            if not pending.path.is_file():
                raise StoreError(f"{pending.path}: the writer left no file to store")
            sha, size = hash_file(pending.path)
            pending.relpath = self._install(pending.path, Blob(sha, size, norm_ext))
        finally:
            pending.path.unlink(missing_ok=True)

    def temp_path(self, ext: str) -> Path:
        """A fresh temporary name in the tmp area. Engine workers write media there without touching the
        database; the runner adopts the files when it records the batch. Names carry the writer's pid;
        leftovers are removed when the next build takes the writer lock."""
        return self._temp_path(normalize_ext(ext))

    def adopt(self, path: str | os.PathLike[str]) -> str:
        """Only files inside this dataset's tmp area are adopted (a rename, never a copy); anything else
        is refused so that a stage cannot smuggle an outside path into the store."""
        return self.adopt_many([path])[0]

    def adopt_many(self, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        """:meth:`adopt` for a group of files: each is synced and renamed, then each folder they went to
        is synced once, then their rows are recorded. Rows of a group commit together, so one folder
        sync per group is as durable as one per file, and a crash still leaves no row without its file.
        """
        tmp_root = self._resolve(TMP_DIR)
        files = [Path(os.path.abspath(path)) for path in paths]
        for tmp, path in zip(files, paths, strict=True):
            if tmp.parent != tmp_root or not tmp.is_file():
                raise StoreError(f"{path}: only finished files in {tmp_root} can be adopted into the dataset")
        blobs, folders = [], set()
        try:
            for tmp in files:
                sha, size = hash_file(tmp)
                blob = Blob(sha, size, normalize_ext("".join(tmp.suffixes[-1:])))
                final = self._folder_for(blob) / Path(blob.relpath).name
                fsio.fsync_file(tmp)
                os.replace(tmp, final)
                folders.add(final.parent)
                blobs.append(blob)
            for folder in folders:
                fsio.fsync_dir(folder)
        finally:
            for tmp in files:
                tmp.unlink(missing_ok=True)
        self._record(blobs)
        return [blob.relpath for blob in blobs]

    def _folder_for(self, blob: Blob) -> Path:
        """The folder a blob goes to, made once (and resolved once) per folder."""
        name = blob.relpath.rsplit("/", 1)[0]
        if name not in self._folders:
            folder = self._resolve(blob.relpath).parent
            folder.mkdir(parents=True, exist_ok=True)
            self._folders[name] = folder
        return self._folders[name]

    def _temp_path(self, ext: str) -> Path:
        return self._resolve(f"{TMP_DIR}/{fsio.temp_name(ext)}")

    def _install(self, tmp: Path, blob: Blob) -> str:
        """Move a finished temporary file to its content address, then record it."""
        final = self._folder_for(blob) / Path(blob.relpath).name
        fsio.replace_durably(tmp, final)
        self._record([blob])
        return blob.relpath
