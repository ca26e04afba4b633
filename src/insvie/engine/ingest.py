"""Turning input folders and pair lists into dataset items, idempotently.

Inputs are not copied into the dataset: an item records where its file is and a fingerprint of
its bytes, and the first stage reads it from there. Ids come from the fingerprint, so re-running
with the same inputs adds nothing, the same file found twice is one item, and renaming a folder
does not make old work look new.

A re-run must cost little however many inputs there are: fingerprints of files whose metadata has not
changed come from the dataset's ingest index instead of the files, and which items are already known
is asked a page of inputs at a time, never item by item.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple, TypeVar

from insvie.store import Dataset, NewItem
from insvie.store.ingest_index import IndexedFile

VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts"})
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
_EDGE = 1 << 20
_PAGE = 10_000  # inputs per bulk read of the ingest index and of the items already known
# A file whose timestamps are this close to the run may change again within the same timestamp tick
# (a second on some filesystems) without its metadata showing it, so it is hashed but not indexed.
_SETTLE_NS = 2_000_000_000

_T = TypeVar("_T")
_NAME = attrgetter("name")


@dataclass
class IngestReport:
    """What ingestion found: new items, ones already known, and files it could not take (with why)."""

    added: dict[str, int] = field(default_factory=dict)
    known: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def fingerprint(path: Path) -> str:
    """A content fingerprint: sha256 of the size, first and last MiB.

    Reading whole videos to hash them would cost more than decoding them; size plus both ends tells
    real videos apart in practice, and deduplication proper happens later on perceptual hashes.
    """
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(_EDGE))
        if size > 2 * _EDGE:
            fh.seek(-_EDGE, os.SEEK_END)
            digest.update(fh.read(_EDGE))
    return digest.hexdigest()


def _unusable_link(path: Path) -> str | None:
    """Why a symbolic link cannot be read (a loop, a missing target), or None for any other path."""
    if not path.is_symlink():
        return None
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"broken symlink (its target {os.readlink(path)} does not exist)"
    return None


class _File(NamedTuple):
    """A candidate file: its path as the inputs name it (what reports show) and its absolute path (the
    ingest index's key). Strings, not ``Path`` objects: a re-run walks a million of them, and making a
    ``Path`` cost more than everything else ingest does for an unchanged file."""

    path: str
    absolute: str


def _files(inputs: list[Path], report: IngestReport) -> Iterator[_File]:
    """Every candidate file under ``inputs``, lazily, in sorted path order; links that lead nowhere are
    reported, not silently dropped. Linked folders are not entered, and names starting with a dot are
    left out (the folders they hold are still searched)."""
    for root in inputs:
        broken = _unusable_link(root)
        if broken:
            report.skipped[str(root)] = broken
        elif root.is_file():
            yield _File(str(root), os.path.abspath(root))
        elif root.is_dir():
            for entry, absolute in _walk(str(root), os.path.abspath(root)):
                if entry.name.startswith("."):
                    continue
                broken = _unusable_link(Path(entry.path)) if entry.is_symlink() else None
                if broken:
                    report.skipped[entry.path] = broken
                elif entry.is_file():
                    yield _File(entry.path, absolute)
        else:
            report.skipped[str(root)] = "no such file or folder"


def _walk(folder: str, absolute: str) -> Iterator[tuple[os.DirEntry, str]]:
    """The entries under ``folder`` (whose absolute path is ``absolute``) with their absolute paths, in
    the order of their sorted paths (``Path`` compares part by part), without following linked folders.

    ``os.scandir`` knows each entry's type from the directory listing, so a million unchanged inputs
    cost no stat here (the fingerprint's stat is the only one), and nothing is held but one folder's
    listing per level: sorting a million paths up front held them all.
    """
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return  # an unreadable folder is searched no further, as Path.rglob does
    entries.sort(key=_NAME)  # paths sort part by part: a folder's names, then inside each
    prefix = absolute.rstrip(os.sep) + os.sep
    for entry in entries:
        yield entry, prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, prefix + entry.name)


class _Candidate(NamedTuple):
    """An item ingest would add: its id and kind, and how to make its row should it be new (a file's
    path is resolved for its source only then, which keeps an unchanged re-run from resolving them all).
    A tuple, as ``_File``: one per input of every re-run."""

    item_id: str
    kind: str
    make: Callable[[], NewItem]


class _Fingerprints:
    """The fingerprints of one ingest run: an unchanged file's from the ingest index, any other hashed.

    A file is indexed only once its timestamps are a little older than the run: one written again in
    the same timestamp tick as its hashing would otherwise keep a stale fingerprint (git's "racily
    clean" files). Such a file is hashed again next time, and indexed then.
    """

    def __init__(self, dataset: Dataset) -> None:
        self._dataset = dataset
        self._indexed: dict[str, IndexedFile] = {}
        self._hashed: list[IndexedFile] = []
        self._settled_before = time.time_ns() - _SETTLE_NS

    def prefetch(self, keys: list[str]) -> None:
        """Read the index rows of a page of files (absolute paths) in one query, before :meth:`of` asks
        for each."""
        self._indexed = self._dataset.indexed_inputs(keys)

    def of(self, key: str) -> str:
        """The fingerprint of the file at ``key`` (an absolute path); raises OSError if it is needed and
        the file cannot be read."""
        stat = os.stat(key)
        indexed = self._indexed.get(key)
        if indexed is not None and indexed.matches(stat):
            return indexed.fingerprint
        digest = fingerprint(Path(key))
        if max(stat.st_mtime_ns, stat.st_ctime_ns) < self._settled_before:
            self._indexed[key] = IndexedFile.of(key, stat, digest)
            self._hashed.append(self._indexed[key])
        return digest

    def save(self) -> None:
        """Index the files hashed since the last save, in one statement."""
        self._dataset.index_inputs(self._hashed)
        self._hashed = []


def _pages(values: Iterable[_T]) -> Iterator[list[_T]]:
    todo = iter(values)
    while page := list(islice(todo, _PAGE)):
        yield page


def _file_item(item_id: str, kind: str, path: str) -> NewItem:
    resolved = Path(path).resolve()
    return NewItem(item_id, kind, source=str(resolved), meta={"name": os.path.basename(path)})


def ingest(dataset: Dataset, inputs: list[Path], pairs: list[Path] | None = None) -> IngestReport:
    """Add every video and image under ``inputs`` and every pair listed in ``pairs`` (JSONL files).

    What cannot be taken is recorded in the dataset with its reason (``insvie status --rejected``),
    and forgotten again once a later run takes it.
    """
    report = IngestReport()
    with dataset.transaction():
        hashes = _Fingerprints(dataset)
        for page in _pages(_files([Path(p) for p in inputs], report)):
            hashes.prefetch([file.absolute for file in page])
            candidates: list[_Candidate] = []
            taken: list[str] = []
            for path, absolute in page:
                ext = os.path.splitext(path)[1].lower()
                kind = "video" if ext in VIDEO_EXTS else "image" if ext in IMAGE_EXTS else None
                if kind is None:
                    report.skipped[path] = f"not a video or image extension ({ext or 'none'})"
                    continue
                try:
                    digest = hashes.of(absolute)
                except OSError as exc:
                    report.skipped[path] = f"cannot read ({exc.strerror or exc})"
                    continue
                item_id = f"{kind}-{digest[:24]}"
                candidates.append(_Candidate(item_id, kind, partial(_file_item, item_id, kind, path)))
                taken.append(path)
            _add(dataset, report, candidates)
            hashes.save()
            dataset.clear_skipped_inputs(taken)
        for listing in pairs or []:
            _ingest_pairs(dataset, Path(listing), report, hashes)
        for path, why in report.skipped.items():
            dataset.record_skipped_input(path, why)
    return report


def _add(dataset: Dataset, report: IngestReport, candidates: list[_Candidate]) -> None:
    """Add the candidates the dataset does not hold yet, in their order, and count the others as known.

    One query tells which are known and one statement adds the rest; an id met twice is added the
    first time and known the second, as adding them one by one would have it.
    """
    seen = dataset.known_items([candidate.item_id for candidate in candidates])
    new: list[NewItem] = []
    for candidate in candidates:
        if candidate.item_id in seen:
            report.known += 1
            continue
        seen.add(candidate.item_id)
        new.append(candidate.make())
        report.added[candidate.kind] = report.added.get(candidate.kind, 0) + 1
    dataset.add_items(new)


def _ingest_pairs(dataset: Dataset, listing: Path, report: IngestReport, hashes: _Fingerprints) -> None:
    """Existing image-edit pairs (MagicBrush, InstructPix2Pix exports): JSONL of source, edited, instruction.

    Image paths are relative to the listing's folder unless absolute.
    """
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        report.skipped[str(listing)] = f"cannot read pair list ({exc.strerror or exc})"
        return
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    for page in _pages(numbered):
        pairs = [pair for number, line in page if (pair := _pair(listing, number, line, report))]
        hashes.prefetch([str(path) for _, paths, _, _ in pairs for path in paths])
        candidates: list[_Candidate] = []
        for where, paths, instruction, category in pairs:
            digest = hashlib.sha256(
                "\x00".join([hashes.of(str(paths[0])), hashes.of(str(paths[1])), instruction]).encode()
            ).hexdigest()
            meta = {
                "source_image": str(paths[0]),
                "edited_image": str(paths[1]),
                "instruction": instruction.strip(),
                "category": category,
            }
            item_id = f"pair-{digest[:24]}"
            candidates.append(
                _Candidate(item_id, "pair", partial(NewItem, item_id, "pair", where, meta=meta))
            )
        _add(dataset, report, candidates)
        hashes.save()


def _pair(
    listing: Path, number: int, line: str, report: IngestReport
) -> tuple[str, list[Path], str, str] | None:
    """A pair line's place, images, instruction and category; None (the skip reported) if it is unusable."""
    where = f"{listing}:{number}"
    try:
        row = json.loads(line)
        source, edited, instruction = row["source"], row["edited"], row["instruction"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        report.skipped[where] = f"not a pair record with source, edited, instruction ({exc})"
        return None
    if not isinstance(instruction, str) or not instruction.strip():
        report.skipped[where] = "empty instruction"
        return None
    paths = [(listing.parent / p).resolve() for p in (source, edited)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        report.skipped[where] = f"missing image {missing[0]}"
        return None
    return where, paths, instruction, str(row.get("category") or "image_pair")
