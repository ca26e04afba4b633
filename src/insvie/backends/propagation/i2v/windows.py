"""Windows of a long video and the drift of an edit carried from one window to the next.

An image-to-video model makes a fixed number of frames, so a longer video is cut into windows that
share one frame: window ``j + 1`` is conditioned on the last edited frame of window ``j``. Whatever
the model got wrong in that frame is inherited and compounds, most visibly as a colour cast creeping in
or the edit fading. :func:`colour_drift` measures it per frame: how far the edit's global colour shift
(edited minus source mean Lab) has moved from the shift of the original edit, in 8-bit Lab levels.
"""

from __future__ import annotations

import cv2
import numpy as np

_DRIFT_SIDE = 64


def plan_windows(count: int, size: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``count`` frames with windows of at most ``size`` frames,
    each starting on the previous window's last frame; the last one may be shorter (at least 2)."""
    if size < 2:
        raise ValueError(f"a window needs at least 2 frames, got {size}")
    if count < 1:
        raise ValueError("no frames to cover")
    windows, start = [], 0
    while True:
        end = min(start + size, count)
        windows.append((start, end))
        if end == count:
            return windows
        start = end - 1


def _mean_lab(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = min(1.0, _DRIFT_SIDE / max(height, width))
    small = cv2.resize(
        frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.cvtColor(small, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64).mean(axis=0)


def colour_shift(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """The edit's global colour effect on one frame: mean Lab of the edited minus the source frame."""
    return _mean_lab(edited) - _mean_lab(source)


def colour_drift(reference_shift: np.ndarray, source: np.ndarray, edited: np.ndarray) -> float:
    """Lab distance between this frame's edit shift and ``reference_shift`` (the original edit's)."""
    return float(np.linalg.norm(colour_shift(source, edited) - reference_shift))
