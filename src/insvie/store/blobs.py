"""Content addressing of media: a file's name is the sha256 of its bytes.

Naming files by content makes writes idempotent (re-running a stage that produces the same clip
stores it once), lets anyone check a file against its name, and means a file under its final name
is never rewritten with different bytes. Files are sharded by the first two hex digits so that no
folder grows to millions of entries.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from insvie.errors import StoreError

MEDIA_DIR = "media"
_CHUNK = 1 << 20
_EXT = re.compile(r"^(\.[a-z0-9]+){0,2}$")


@dataclass(frozen=True)
class Blob:
    """A file's identity in the store: its hash, size and extension."""

    sha256: str
    size: int
    ext: str

    @property
    def relpath(self) -> str:
        return f"{MEDIA_DIR}/{self.sha256[:2]}/{self.sha256}{self.ext}"


def normalize_ext(ext: str) -> str:
    """Lower-case ``ext`` and add its dot; extensions become part of file names, so only plain ones pass."""
    norm = ext.lower()
    if norm and not norm.startswith("."):
        norm = "." + norm
    if len(norm) > 16 or not _EXT.match(norm):
        raise StoreError(
            f"{ext!r}: not a usable media extension (letters and digits after a dot, e.g. '.mp4')"
        )
    return norm


def copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` in one pass, returning the sha256 and size of what was copied."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file, read in chunks so that videos never sit whole in memory."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
