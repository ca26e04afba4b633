"""Exports of finished triplets: WebDataset shards and the released InsViE folder layout.

A triplet is an item of kind ``triplet`` whose media is the edited video and whose meta names the
source video (``source_media``) and the ``instruction``. It is exported when the final filtering
stage kept it under its latest config and no person rejected it in review; the review travels
with it either way.

Every export's destination is a folder (the one rule of ``insvie export --dest``). A triplet export
owns its folder: it is written whole into a temporary folder beside the destination and swapped in,
so a re-export equals a fresh export (nothing of a triplet rejected since stays behind) and a crash
mid-export leaves the previous export as it was. Because the swap replaces the folder, a destination
that holds anything other than an earlier export of the same format is refused, never replaced.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar

from insvie.errors import StoreError
from insvie.store.accepted import accepted, triplet_parts
from insvie.store.blobs import MEDIA_DIR
from insvie.store.dataset import EXPORTS_DIR, TMP_DIR, Dataset
from insvie.store.fsio import fsync_dir, fsync_file, link_or_copy, replace_folder
from insvie.store.reader import reading
from insvie.store.records import Item

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_T = TypeVar("_T")

# Folders of the dataset that the store (or a build) manages file by file; an export inside one would
# be swept as a leftover (tmp/) or sit among content-addressed files nothing records (media/, cache/).
_MANAGED_DIRS = (MEDIA_DIR, TMP_DIR, "cache")

# What an earlier export of each folder format may hold; anything else in a destination means it is
# somebody's folder, which the swap would delete.
_SHARD = re.compile(r"shard-\d{6}\.tar")
_EXPORT_ENTRIES: dict[str, Callable[[str], bool]] = {
    "webdataset": lambda name: bool(_SHARD.fullmatch(name)),
    "insvie-csv": lambda name: name in {"source", "edited", "metadata.csv"},
}


@dataclass(frozen=True)
class Triplet:
    """One exportable (source video, edited video, instruction), with paths resolved inside the dataset."""

    item: Item
    source: Path
    edited: Path
    instruction: str
    review: str | None

    @property
    def stem(self) -> str:
        """The released layout's ``<source>_<i>_<j>_<k>`` name where the meta knows the parts, else the id."""
        meta = self.item.meta
        parts = [meta.get("source_name"), meta.get("clip_index"), meta.get("edit_index"), meta.get("variant")]
        if all(part is not None for part in parts):
            name = "_".join(str(part) for part in parts)
        else:
            name = self.item.id
        return _UNSAFE.sub("-", name)


def accepted_triplets(dataset: Dataset, *, final_stage: str = "refilter") -> Iterator[Triplet]:
    """Triplets kept by ``final_stage`` (its latest result per item) and not rejected in review, by id.

    They are read a page at a time on a connection of their own (see ``accepted``), so the caller may
    write to the dataset while iterating and memory holds a page however many triplets there are.
    """
    with reading(dataset) as db:
        for item, verdict in accepted(db, final_stage):
            source, edited, instruction = triplet_parts(item)
            yield Triplet(item, dataset.resolve(source), dataset.resolve(edited), instruction, verdict)


def _record(triplet: Triplet) -> dict[str, Any]:
    return {
        "id": triplet.item.id,
        "instruction": triplet.instruction,
        "review": triplet.review,
        **triplet.item.meta,
    }


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_destination(dataset: Dataset, dest: str | os.PathLike[str], *, replaces: str | None = None) -> Path:
    """The export folder ``dest`` as an absolute real path, or a StoreError naming it and why it cannot be.

    ``replaces`` names the folder format (``webdataset``, ``insvie-csv``) when the export will replace
    the whole folder; then only a new folder, an empty one or an earlier export of that format is
    accepted. For a folder that only receives files (Parquet) the folder is created here.
    """
    shown = Path(os.path.abspath(dest))
    path = Path(os.path.realpath(shown))
    if path.exists() and not path.is_dir():
        raise StoreError(f"{shown}: is a file, but an export destination is a folder (for every format)")
    for sub in _MANAGED_DIRS:
        inner = dataset.root / sub
        if path == inner or inner in path.parents:
            raise StoreError(
                f"{shown}: inside the dataset's {sub}/, which the store manages; export to a folder "
                f"outside it (by default {dataset.exports_dir}/...)"
            )
    if replaces is not None:
        if path == dataset.root or path in dataset.root.parents:
            raise StoreError(
                f"{shown}: holds the dataset itself, and the {replaces} export replaces its whole folder"
            )
        if path == dataset.exports_dir:
            raise StoreError(
                f"{shown}: is the dataset's {EXPORTS_DIR}/ folder, which holds every export; a {replaces} "
                f"export goes into a folder of its own (by default {path / replaces})"
            )
        if path.is_dir():
            foreign = sorted(
                entry.name for entry in path.iterdir() if not _EXPORT_ENTRIES[replaces](entry.name)
            )
            if foreign:
                raise StoreError(
                    f"{shown}: holds files that are not a {replaces} export (such as {foreign[0]!r}); an "
                    "export replaces its whole folder, so choose a new or empty one"
                )
    folder = path if replaces is None else path.parent
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise StoreError(f"{shown}: cannot create the folder: {existing} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{shown}: cannot create the folder ({_reason(exc)})") from exc
    return path


def _export_folder(dest: Path, write: Callable[[Path], _T]) -> _T:
    """:func:`replace_folder` with filesystem failures reported as a StoreError naming the path.

    A failure inside the temporary folder is reported against ``dest`` (the temporary name means
    nothing to the user); one elsewhere, such as a media file gone missing, names that file.
    """
    try:
        return replace_folder(dest, write)
    except OSError as exc:
        where = str(exc.filename or dest)
        if Path(where).name.startswith(f".{dest.name}.tmp-") or f"/.{dest.name}.tmp-" in where:
            where = str(dest)
        raise StoreError(f"{where}: cannot write the export ({_reason(exc)})") from exc


def _add_to_shard(tar: tarfile.TarFile, triplet: Triplet) -> None:
    key = _UNSAFE.sub("_", triplet.item.id)
    tar.add(triplet.source, arcname=f"{key}.src.mp4")
    tar.add(triplet.edited, arcname=f"{key}.tgt.mp4")
    data = json.dumps(_record(triplet), sort_keys=True, ensure_ascii=False).encode()
    info = tarfile.TarInfo(f"{key}.json")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def export_webdataset(
    dataset: Dataset, dest: str | os.PathLike[str], *, shard_size: int = 1000, final_stage: str = "refilter"
) -> list[Path]:
    """WebDataset tar shards in the folder ``dest``: ``<key>.src.mp4``, ``<key>.tgt.mp4``, ``<key>.json``.

    Keys have no dots (WebDataset splits a member name at the first dot). The shards are written
    into a temporary folder swapped in for ``dest`` (see :func:`replace_folder`), so a reader never
    sees half an export and no shard of an earlier, larger export stays behind.
    """
    if shard_size < 1:
        raise StoreError(f"shard_size must be at least 1, got {shard_size}")
    final = check_destination(dataset, dest, replaces="webdataset")

    def write_shards(folder: Path) -> list[str]:
        names: list[str] = []
        triplets = enumerate(accepted_triplets(dataset, final_stage=final_stage))
        for index, members in groupby(triplets, key=lambda pair: pair[0] // shard_size):
            path = folder / f"shard-{index:06d}.tar"
            with tarfile.open(path, "w") as tar:
                for _, triplet in members:
                    _add_to_shard(tar, triplet)
            fsync_file(path)  # the folder is synced once, before it is swapped in
            names.append(path.name)
        return names

    return [final / name for name in _export_folder(final, write_shards)]


def export_insvie_csv(
    dataset: Dataset, dest: str | os.PathLike[str], *, final_stage: str = "refilter"
) -> Path:
    """The released InsViE layout in the folder ``dest``: ``source/``, ``edited/`` and ``metadata.csv``.

    Tools written for InsViE-1M read this folder unchanged. Files are hard links to the dataset's media
    where the filesystem allows (instant, no extra space), else copies; either survives the dataset folder
    being moved or cleaned. A link shares its data with the dataset's file, so edit an exported video by
    writing a new file, never in place. The folder is written whole and swapped in (see
    :func:`replace_folder`): a re-export equals a fresh export, so the files of a triplet rejected in
    review since the last export are gone, not just its CSV row. Nothing inside the temporary folder is
    renamed or synced file by file: each folder is synced once, before the swap.
    """
    final = check_destination(dataset, dest, replaces="insvie-csv")

    def write_layout(folder: Path) -> None:
        folders = [folder / "source", folder / "edited"]
        for sub in folders:
            sub.mkdir()
        with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["video", "instruct"])
            for triplet in accepted_triplets(dataset, final_stage=final_stage):
                name = f"{triplet.stem}.mp4"
                if (folder / "source" / name).exists():  # the folder is the record of the names taken
                    name = f"{_UNSAFE.sub('-', triplet.item.id)}.mp4"
                link_or_copy(triplet.source, folder / "source" / name)
                link_or_copy(triplet.edited, folder / "edited" / name)
                writer.writerow((name, triplet.instruction))
            fh.flush()
            os.fsync(fh.fileno())
        for sub in folders:  # one sync per folder for all its links (copies synced themselves)
            fsync_dir(sub)

    _export_folder(final, write_layout)
    return final / "metadata.csv"
