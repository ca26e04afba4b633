"""The per-clip signals curation reads, in one call: motion, quality and a perceptual clip hash.

Shot boundaries come first and over the whole source video (:mod:`insvie.backends.analysis.shots`,
streaming); this summarises one shot-clean clip. Everything is computed on sampled frames at working
resolution, so the cost per clip is a few tens of milliseconds whatever its length, well under what
decoding it costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insvie.backends.analysis.motion import DEFAULT_PAIRS, STATIC_THRESHOLD, MotionStats, motion_stats
from insvie.backends.analysis.phash import DEFAULT_POSITIONS, clip_hash
from insvie.backends.analysis.quality import clip_quality


@dataclass(frozen=True)
class ClipSignals:
    """Motion statistics, mean quality signals and the clip hash (ints) of one clip."""

    motion: MotionStats
    quality: dict[str, float]
    clip_hash: tuple[int, ...]

    def as_dict(self) -> dict[str, float | str | int]:
        """Flat JSON-ready dict; the hash becomes ``phash`` as comma-separated 16-digit hex."""
        motion = self.motion
        return {
            "motion": motion.amount,
            "motion_peak": motion.peak,
            "camera_motion": motion.camera,
            "object_motion": motion.object,
            "motion_label": motion.label,
            **self.quality,
            "phash": ",".join(f"{h:016x}" for h in self.clip_hash),
        }


def clip_signals(
    video: np.ndarray,
    *,
    motion_pairs: int = DEFAULT_PAIRS,
    quality_frames: int = 5,
    static_threshold: float = STATIC_THRESHOLD,
    hash_positions: tuple[float, ...] = DEFAULT_POSITIONS,
) -> ClipSignals:
    """Curation signals of a TxHxWx3 uint8 clip (pass frames at stored size: blockiness needs it)."""
    return ClipSignals(
        motion=motion_stats(video, pairs=motion_pairs, static_threshold=static_threshold),
        quality=clip_quality(video, frames=quality_frames),
        clip_hash=clip_hash(video, hash_positions),
    )
