"""An image pair becomes a video pair with real motion: animate the source, propagate the edit through it.

The camera-path animation of the image branch moves a still picture; nothing in it moves by itself.
Here the image-to-video model invents the motion: it samples a video from noise that starts on the
source image, then the edited image is carried through that video by inversion and injection, so the
edited video moves exactly as the source video does and differs from it by the edit. Several pairs go
together: their sources share sampling loops, then their propagations share inversion and sampling loops,
each pair with its own seed (:mod:`.propagator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from insvie.backends.propagation.i2v.propagator import I2VPropagator


def animate_pair(
    propagator: I2VPropagator, source: np.ndarray, edited: np.ndarray, num_frames: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(source video, edited video, per-frame diagnostics of the propagation), both videos of the
    images' size; ``edited`` must have the source's shape. Seeded by ``propagator.settings.seed``."""
    return animate_pairs(propagator, [(source, edited, propagator.settings.seed)], num_frames)[0]


def animate_pairs(
    propagator: I2VPropagator, pairs: Sequence[tuple[np.ndarray, np.ndarray, int]], num_frames: int
) -> list[tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]]:
    """:func:`animate_pair` of every ``(source, edited, seed)``, in order, the pairs batched."""
    for source, edited, _ in pairs:
        if edited.shape != source.shape:
            raise ValueError(f"the edited image {edited.shape} must have the source's shape {source.shape}")
    videos = propagator.animate_batch([(source, seed) for source, _, seed in pairs], num_frames)
    edited = propagator.propagate_batch(
        [(video, pair[1], pair[2]) for video, pair in zip(videos, pairs, strict=True)]
    )
    return [(video, made, diagnostics) for video, (made, diagnostics) in zip(videos, edited, strict=True)]
