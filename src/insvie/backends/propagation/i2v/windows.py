"""Windows of a long video and the drift of an edit carried from one window to the next.

An image-to-video model makes a fixed number of frames, so a longer video is cut into windows that
share one frame: window ``j + 1`` is conditioned on the last edited frame of window ``j``. Whatever
the model got wrong in that frame is inherited and compounds, most visibly as a colour cast creeping in
or the edit fading, and as the picture coming loose from the source's layout. Two measures per frame:
:func:`colour_drift`, how far the edit's global colour shift (edited minus source mean Lab) has moved
from the shift of the original edit, in 8-bit Lab levels; and :func:`structure_drift`, how much of the
edge structure the edited frame shared with its source frame at the start has been lost since (edge
correlation, 0 = as aligned as the first frame). :func:`drifted` is the verdict on them: whether a
window went past the limits a caller sets (the propagate step's ``i2v.max_drift`` and
``i2v.max_structure_drift``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

_DRIFT_SIDE = 64
_STRUCTURE_SIDE = 128


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


def _shrink(frame: np.ndarray, side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _mean_lab(frame: np.ndarray) -> np.ndarray:
    small = _shrink(frame, _DRIFT_SIDE)
    return cv2.cvtColor(small, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64).mean(axis=0)


def colour_shift(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """The edit's global colour effect on one frame: mean Lab of the edited minus the source frame."""
    return _mean_lab(edited) - _mean_lab(source)


def colour_drift(reference_shift: np.ndarray, source: np.ndarray, edited: np.ndarray) -> float:
    """Lab distance between this frame's edit shift and ``reference_shift`` (the original edit's)."""
    return float(np.linalg.norm(colour_shift(source, edited) - reference_shift))


def edge_correlation(source: np.ndarray, edited: np.ndarray) -> float:
    """Correlation of the two frames' Sobel edge magnitudes (1: same layout; 1 when either is flat)."""

    def edges(frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(_shrink(frame, _STRUCTURE_SIDE), cv2.COLOR_RGB2GRAY).astype(np.float32)
        return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)).ravel()

    a, b = edges(source), edges(edited)
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 1.0
    return float(np.corrcoef(a, b)[0, 1])


def structure_drift(reference_correlation: float, source: np.ndarray, edited: np.ndarray) -> float:
    """Edge correlation lost since the first frame (``reference_correlation``); 0 when none is lost."""
    return max(0.0, reference_correlation - edge_correlation(source, edited))


def drifted(drift: Mapping[str, Sequence[float]], *, colour: float | None, structure: float | None) -> bool:
    """Whether any window drifted beyond a limit (None: no limit): ``colour`` in Lab levels, ``structure``
    in edge correlation lost, read from ``drift["colour"]`` and ``drift["structure"]`` as a propagation's
    summary records them (:func:`insvie.backends.propagation.summarize`)."""
    return any(
        limit is not None and max(drift[key]) > limit
        for key, limit in (("colour", colour), ("structure", structure))
    )
