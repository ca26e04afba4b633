"""Easing curves: progress in [0, 1] -> eased progress in [0, 1], with f(0) = 0 and f(1) = 1.

A virtual camera that starts and stops abruptly looks synthetic; ``ease_in_out`` (a half cosine)
starts and ends at zero speed, so a clip cut from the middle of a move and one that shows the whole
move both look like a real operator's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Easing = Callable[[np.ndarray], np.ndarray]

EASINGS: dict[str, Easing] = {
    "linear": lambda u: u,
    "ease_in_out": lambda u: (1.0 - np.cos(np.pi * u)) / 2.0,
    "ease_in": lambda u: 1.0 - np.cos(np.pi * u / 2.0),
    "ease_out": lambda u: np.sin(np.pi * u / 2.0),
}


def progress(num_frames: int, easing: str) -> np.ndarray:
    """Eased progress of each frame: ``num_frames`` values from 0 to 1 (all 0 for one frame)."""
    if easing not in EASINGS:
        raise ValueError(f"easing must be one of {sorted(EASINGS)}, got {easing!r}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if num_frames == 1:
        return np.zeros(1)
    return np.asarray(EASINGS[easing](np.linspace(0.0, 1.0, num_frames)), dtype=np.float64)
