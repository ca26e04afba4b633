"""The per-clip signals the clip gate decides on, in one call: quality means, motion amount, clip hash.

Shot boundaries come first and over the whole source video (:mod:`insvie.backends.analysis.shots`,
streaming); this summarises one shot-clean clip. Everything is computed on sampled frames at working
resolution, so the cost per clip is a few tens of milliseconds whatever its length, well under what
decoding it costs.

``split`` measures each clip here while its frames are still in memory and stores the result in the
clip's meta; ``clip_filter`` measures here only the clips that came without it. Both therefore record
exactly these values, and the gate (and any later re-run with other thresholds) decides on them
without decoding the clip again. The values are rounded to 6 digits, as they are stored, so a stored
clip and a re-measured one decide alike. What the gate reads from them (the static/dynamic label, the
exposure, sharpness and motion limits) is the gate's config, not decided here.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from insvie.backends.analysis.motion import motion_stats
from insvie.backends.analysis.phash import clip_hash
from insvie.backends.analysis.quality import clip_quality

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
