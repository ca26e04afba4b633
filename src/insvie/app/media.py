"""The media guard: the only way a dataset file reaches the browser.

Gradio copies every file a handler returns into its cache and serves it from there. The guard
decides which dataset files may be handed over at all: only regular files under the dataset's
``media/`` folder (never the database, exports or anything a symlink points at outside), resolved
through the store's own escape check, with a media extension. Accepted files are linked (or
copied across filesystems) into the app's staging folder, so Gradio's ``allowed_paths`` can stay
empty: nothing of the dataset directory is served by path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from insvie.errors import PathEscapeError
from insvie.store import Dataset

MEDIA_SUFFIXES = frozenset({".mp4", ".webm", ".mov", ".png", ".jpg", ".jpeg", ".webp"})


class MediaGuard:
    """Hands out copies of dataset media files, and nothing else, from one staging folder."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        staging.mkdir(parents=True, exist_ok=True)

    def check(self, dataset: Dataset, relpath: str) -> Path:
        """The dataset file ``relpath`` names, if the app may show it; raises PathEscapeError otherwise."""
        path = dataset.resolve(relpath)  # lexical and symlink escape checks
        media_root = Path(os.path.realpath(dataset.root / "media"))
        real = Path(os.path.realpath(path))
        if media_root not in real.parents:
            raise PathEscapeError(f"{relpath!r}: only files under the dataset's media/ folder are shown")
        if real.suffix.lower() not in MEDIA_SUFFIXES:
            raise PathEscapeError(f"{relpath!r}: not a media file ({real.suffix or 'no extension'})")
        if not real.is_file():
            raise PathEscapeError(f"{relpath!r}: no such media file in the dataset")
        return real

    def stage(self, dataset: Dataset, relpath: str) -> Path:
        """A path in the staging folder holding the same bytes as the dataset file ``relpath``."""
        real = self.check(dataset, relpath)
        key = hashlib.sha256(str(real).encode()).hexdigest()[:16]
        target = self.staging / f"{key}{real.suffix.lower()}"
        if not target.exists():
            partial = target.with_name(f".{target.name}.{os.getpid()}.part")
            try:
                os.link(real, partial)
            except OSError:  # another filesystem, or links not allowed
                shutil.copyfile(real, partial)
            os.replace(partial, target)
        return target
