"""An image pair becomes a video pair with real motion: animate the source, propagate the edit through it.

The camera-path animation of the image branch moves a still picture; nothing in it moves by itself.
Here the image-to-video model invents the motion: it samples a video from noise that starts on the
source image, then the edited image is carried through that video by inversion and injection, so the
edited video moves exactly as the source video does and differs from it by the edit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from insvie.backends.propagation.i2v.propagator import I2VPropagator


def animate_pair(
    propagator: I2VPropagator, source: np.ndarray, edited: np.ndarray, num_frames: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(source video, edited video, per-frame diagnostics of the propagation), both videos of the
    images' size; ``edited`` must have the source's shape."""
    if edited.shape != source.shape:
        raise ValueError(f"the edited image {edited.shape} must have the source's shape {source.shape}")
    source_video = propagator.animate(source, num_frames)
    edited_video, diagnostics = propagator(source_video, edited)
    return source_video, edited_video, diagnostics
