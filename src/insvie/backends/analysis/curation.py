"""The signals the quality gates decide on, in one call per item: quality, motion, hashes, text.

Shot boundaries come first and over the whole source video (:mod:`insvie.backends.analysis.shots`,
streaming); :func:`clip_signals` summarises one shot-clean clip. Everything is computed on sampled
frames at working resolution, so the cost per clip is a few tens of milliseconds whatever its length,
well under what decoding it costs.

``split`` measures each clip here while its frames are still in memory and stores the result in the
clip's meta; ``clip_filter`` measures here only the clips that came without it. Both therefore record
exactly these values, and the gate (and any later re-run with other thresholds) decides on them
without decoding the clip again. The values are rounded to 6 digits, as they are stored, so a stored
clip and a re-measured one decide alike. :func:`text_ratio` (on-screen text, optional) and
:func:`image_signals` (an image's size, quality and hash) are the gates' other measurements. What the
gates make of them (the static/dynamic label, the exposure, sharpness, motion, text and size limits)
is :mod:`.gates`', with the limits from the gates' config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from insvie.backends.analysis.motion import motion_stats
from insvie.backends.analysis.phash import clip_hash, phash
from insvie.backends.analysis.quality import clip_quality

if TYPE_CHECKING:
    from insvie.backends.text import TextCoverage

DIGITS = 6  # stored as JSON in the clip's meta; the gate decides on the stored values


class ClipSignals(TypedDict):
    """What :func:`clip_signals` returns (JSON-ready, as stored in a clip's ``signals`` meta)."""

    quality: dict[str, float]  # clip_quality's means over 5 frames, plus min_sharpness, max_blockiness
    motion: float  # mean flow magnitude, fraction of the diagonal per frame step
    phash: list[str]  # the clip hash, one 16-digit hex string per sampled position


def clip_signals(video: np.ndarray) -> ClipSignals:
    """The signals the clip gate decides on, of a TxHxWx3 uint8 clip at stored size (blockiness needs it).

    Motion is the amount only (``split=False``: the camera/object fit is skipped, nothing reads it);
    the static/dynamic label is left to the gate, whose config holds the threshold.
    """
    quality = clip_quality(video)
    return {
        "quality": {k: round(v, DIGITS) for k, v in quality.items()},
        "motion": round(motion_stats(video, split=False).amount, DIGITS),
        "phash": [f"{h:016x}" for h in clip_hash(video)],
    }


def text_ratio(video: np.ndarray, coverage: TextCoverage, frames: int) -> float:
    """The largest share of a frame that on-screen text covers, over ``frames`` evenly spaced frames of
    ``video`` (captions come and go, so the worst frame counts), rounded as stored."""
    picks = np.linspace(0, len(video) - 1, frames).round().astype(int)
    return round(max(coverage.ratio(video[i]) for i in picks), DIGITS)


@dataclass(frozen=True)
class ImageSignals:
    """An image's size, its frame quality (:func:`clip_quality` of one frame, unrounded: the image gate
    decides on these values and records them rounded) and its perceptual hash."""

    width: int
    height: int
    quality: dict[str, float]
    phash: int


def image_signals(image: np.ndarray) -> ImageSignals:
    """The signals the image gate decides on, of an HxWx3 uint8 image."""
    height, width = image.shape[:2]
    return ImageSignals(width, height, clip_quality(image[None], frames=1), phash(image))
