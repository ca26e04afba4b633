"""The one frame an image-level step looks at: a clip's first frame, or the image itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from insvie.engine import Task
from insvie.media import read_frames, read_image


def item_frame(task: Task) -> np.ndarray:
    """The first frame of a clip item, or an image item's picture."""
    if task.kind == "clip" and task.media is not None:
        return read_frames(task.media, end=1)[0]
    return read_image(Path(task.source or task.meta.get("source_file") or ""))


def request_frame(task: Task) -> np.ndarray:
    """The frame an edit request edits: its clip's first frame, or the source image."""
    if task.parent_media is not None:
        return read_frames(task.parent_media, end=1)[0]
    return read_image(Path(task.meta.get("source_file") or ""))
