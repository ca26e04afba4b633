"""Exports of finished triplets: WebDataset shards and the released InsViE folder layout.

A triplet is an item of kind ``triplet`` whose media is the edited video and whose meta names the
source video (``source_media``) and the ``instruction``. It is exported when the final filtering
stage kept it under its latest config and no person rejected it in review; the review travels
with it either way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insvie.errors import StoreError
from insvie.store.dataset import Dataset
from insvie.store.fsio import write_atomically
from insvie.store.records import Item

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


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
    """Triplets kept by ``final_stage`` (its latest result per item) and not rejected in review, by id."""
    kept = {
        r.item_id for r in dataset.latest_results("triplet") if r.stage == final_stage and r.status == "done"
    }
    reviews = dataset.reviews()
    for item in sorted(dataset.iter_items("triplet"), key=lambda item: item.id):
        review = reviews.get(item.id)
        if item.id not in kept or (review is not None and review.verdict == "reject"):
            continue
        source_rel, instruction = item.meta.get("source_media"), item.meta.get("instruction")
        if not item.media or not source_rel or not instruction:
            raise StoreError(f"triplet {item.id!r} lacks its edited media, source_media or instruction")
        yield Triplet(
            item,
            dataset.resolve(source_rel),
            dataset.resolve(item.media),
            instruction,
            None if review is None else review.verdict,
        )


def _record(triplet: Triplet) -> dict[str, Any]:
    return {
        "id": triplet.item.id,
        "instruction": triplet.instruction,
        "review": triplet.review,
        **triplet.item.meta,
    }


def export_webdataset(
    dataset: Dataset, dest: str | os.PathLike[str], *, shard_size: int = 1000, final_stage: str = "refilter"
) -> list[Path]:
    """WebDataset tar shards: ``<key>.src.mp4``, ``<key>.tgt.mp4`` and ``<key>.json`` per triplet.

    Keys have no dots (WebDataset splits a member name at the first dot). Each shard is written
    under a temporary name and renamed, so a reader never sees half a shard.
    """
    if shard_size < 1:
        raise StoreError(f"shard_size must be at least 1, got {shard_size}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    batch: list[Triplet] = []

    def flush() -> None:
        path = dest / f"shard-{len(shards):06d}.tar"
        members = list(batch)

        def write(tmp: Path) -> None:
            with tarfile.open(tmp, "w") as tar:
                for triplet in members:
                    key = _UNSAFE.sub("_", triplet.item.id)
                    tar.add(triplet.source, arcname=f"{key}.src.mp4")
                    tar.add(triplet.edited, arcname=f"{key}.tgt.mp4")
                    data = json.dumps(_record(triplet), sort_keys=True, ensure_ascii=False).encode()
                    info = tarfile.TarInfo(f"{key}.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))

        shards.append(write_atomically(path, write))
        batch.clear()

    for triplet in accepted_triplets(dataset, final_stage=final_stage):
        batch.append(triplet)
        if len(batch) == shard_size:
            flush()
    if batch:
        flush()
    for stale in sorted(dest.glob("shard-*.tar"))[len(shards) :]:
        stale.unlink()  # left from an earlier, larger export of the same dataset
    return shards


def export_insvie_csv(
    dataset: Dataset, dest: str | os.PathLike[str], *, final_stage: str = "refilter"
) -> Path:
    """The released InsViE layout: ``source/NAME.mp4``, ``edited/NAME.mp4`` and a ``video,instruct`` CSV.

    Tools written for InsViE-1M read this folder unchanged. Files are copied, not linked, so the
    export survives the dataset folder being moved or cleaned.
    """
    dest = Path(dest)
    for sub in ("source", "edited"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for triplet in accepted_triplets(dataset, final_stage=final_stage):
        name = f"{triplet.stem}.mp4"
        if name in seen:
            name = f"{_UNSAFE.sub('-', triplet.item.id)}.mp4"
        seen.add(name)
        for sub, path in (("source", triplet.source), ("edited", triplet.edited)):
            target = dest / sub / name
            if not target.exists() or target.stat().st_size != path.stat().st_size:
                write_atomically(target, lambda tmp, path=path: shutil.copyfile(path, tmp))
        rows.append((name, triplet.instruction))

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["video", "instruct"])
            writer.writerows(rows)

    return write_atomically(dest / "metadata.csv", write)
