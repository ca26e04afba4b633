"""Turning input folders and pair lists into dataset items, idempotently.

Inputs are not copied into the dataset: an item records where its file is and a fingerprint of
its bytes, and the first stage reads it from there. Ids come from the fingerprint, so re-running
with the same inputs adds nothing, the same file found twice is one item, and renaming a folder
does not make old work look new.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from insvie.store import Dataset

VIDEO_EXTS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts"})
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
_EDGE = 1 << 20


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


def _files(inputs: list[Path], report: IngestReport) -> list[Path]:
    """Every candidate file under ``inputs``; links that lead nowhere are reported, not silently dropped."""
    found: list[Path] = []
    for root in inputs:
        broken = _unusable_link(root)
        if broken:
            report.skipped[str(root)] = broken
        elif root.is_file():
            found.append(root)
        elif root.is_dir():
            for path in sorted(p for p in root.rglob("*") if not p.name.startswith(".")):
                broken = _unusable_link(path)
                if broken:
                    report.skipped[str(path)] = broken
                elif path.is_file():
                    found.append(path)
        else:
            report.skipped[str(root)] = "no such file or folder"
    return found


def ingest(dataset: Dataset, inputs: list[Path], pairs: list[Path] | None = None) -> IngestReport:
    """Add every video and image under ``inputs`` and every pair listed in ``pairs`` (JSONL files).

    What cannot be taken is recorded in the dataset with its reason (``insvie status --rejected``),
    and forgotten again once a later run takes it.
    """
    report = IngestReport()
    taken: list[str] = []
    with dataset.transaction():
        for path in _files([Path(p) for p in inputs], report):
            ext = path.suffix.lower()
            kind = "video" if ext in VIDEO_EXTS else "image" if ext in IMAGE_EXTS else None
            if kind is None:
                report.skipped[str(path)] = f"not a video or image extension ({ext or 'none'})"
                continue
            try:
                digest = fingerprint(path)
            except OSError as exc:
                report.skipped[str(path)] = f"cannot read ({exc.strerror or exc})"
                continue
            _add(dataset, report, f"{kind}-{digest[:24]}", kind, str(path.resolve()), {"name": path.name})
            taken.append(str(path))
        for listing in pairs or []:
            _ingest_pairs(dataset, Path(listing), report)
        dataset.clear_skipped_inputs(taken)
        for path, why in report.skipped.items():
            dataset.record_skipped_input(path, why)
    return report


def _add(dataset: Dataset, report: IngestReport, item_id: str, kind: str, source: str, meta: dict) -> None:
    if dataset.get_item(item_id) is not None:
        report.known += 1
        return
    dataset.add_item(item_id, kind, source=source, meta=meta)
    report.added[kind] = report.added.get(kind, 0) + 1


def _ingest_pairs(dataset: Dataset, listing: Path, report: IngestReport) -> None:
    """Existing image-edit pairs (MagicBrush, InstructPix2Pix exports): JSONL of source, edited, instruction.

    Image paths are relative to the listing's folder unless absolute.
    """
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        report.skipped[str(listing)] = f"cannot read pair list ({exc.strerror or exc})"
        return
    for number, line in enumerate(lines, 1):
        where = f"{listing}:{number}"
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            source, edited, instruction = row["source"], row["edited"], row["instruction"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            report.skipped[where] = f"not a pair record with source, edited, instruction ({exc})"
            continue
        if not isinstance(instruction, str) or not instruction.strip():
            report.skipped[where] = "empty instruction"
            continue
        paths = [(listing.parent / p).resolve() for p in (source, edited)]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            report.skipped[where] = f"missing image {missing[0]}"
            continue
        digest = hashlib.sha256(
            "\x00".join([fingerprint(paths[0]), fingerprint(paths[1]), instruction]).encode()
        ).hexdigest()
        meta = {
            "source_image": str(paths[0]),
            "edited_image": str(paths[1]),
            "instruction": instruction.strip(),
            "category": str(row.get("category") or "image_pair"),
        }
        _add(dataset, report, f"pair-{digest[:24]}", "pair", where, meta)
