"""Hard-cut shot-boundary detection from decoded frames (content-difference method).

The score between consecutive frames is PySceneDetect's ``ContentDetector`` signal: the mean absolute
difference of hue, saturation and value over the frame at low resolution, averaged over the three
channels, on a 0-255 scale (hue is OpenCV's 0-180, compared on its circle). A cut is declared where the
score reaches ``threshold`` (fixed mode), or, in adaptive mode, where it is ``adaptive_ratio`` times the
average of its ``window`` neighbours on each side and at least ``min_score`` (PySceneDetect's
``AdaptiveDetector``): camera pans and fast motion raise every score in a stretch, a cut raises one.
Cuts closer than ``min_shot_len`` frames to the previous cut (or to the start) are dropped.

Curation cuts source videos at these boundaries so that no training clip spans a cut. The detector
streams (:class:`ShotDetector`), keeping one small frame and one float per frame, so long videos are
never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from insvie.backends.analysis.working import shrink

DEFAULT_MAX_SIDE = 128
DEFAULT_THRESHOLD = 27.0
DEFAULT_MIN_SHOT_LEN = 6


@dataclass(frozen=True)
class ShotConfig:
    """Detector settings; defaults follow PySceneDetect except the working size (see the tests)."""

    threshold: float = DEFAULT_THRESHOLD
    min_shot_len: int = DEFAULT_MIN_SHOT_LEN
    adaptive: bool = False
    adaptive_ratio: float = 3.0
    window: int = 2
    min_score: float = 15.0
    max_side: int | None = DEFAULT_MAX_SIDE

    def __post_init__(self) -> None:
        if self.min_shot_len < 1:
            raise ValueError(f"min_shot_len must be at least 1, got {self.min_shot_len}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")


def hsv_signature(frame: np.ndarray, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """The frame as small uint8 HSV (OpenCV ranges: H 0-179, S and V 0-255), ready to compare."""
    return cv2.cvtColor(shrink(frame, max_side, fast=True), cv2.COLOR_RGB2HSV)


def content_score(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of the per-channel mean absolute HSV differences of two signatures (0-255 scale)."""
    diff = cv2.absdiff(a, b)
    hue = np.ascontiguousarray(diff[..., 0])
    np.minimum(hue, 180 - hue, out=hue)  # hue is circular: 179 and 1 are 2 apart
    _, saturation, value, _ = cv2.mean(diff)
    return (cv2.mean(hue)[0] + saturation + value) / 3.0


def cuts_from_scores(scores: np.ndarray, config: ShotConfig | None = None) -> list[int]:
    """Frame indices that start a new shot, from the consecutive-frame ``scores`` (length T-1).

    ``scores[k]`` compares frames k and k+1, so a cut there starts a shot at k + 1.
    """
    config = config or ShotConfig()
    scores = np.asarray(scores, dtype=np.float64)
    if config.adaptive:
        hits = []
        w = config.window
        for k in range(len(scores)):
            neighbours = np.concatenate([scores[max(0, k - w) : k], scores[k + 1 : k + 1 + w]])
            if scores[k] < config.min_score:
                continue
            average = neighbours.mean() if len(neighbours) else 0.0
            if average <= 0 or scores[k] / average >= config.adaptive_ratio:
                hits.append(k)
    else:
        hits = [int(k) for k in np.nonzero(scores >= config.threshold)[0]]
    cuts: list[int] = []
    previous = 0
    for k in hits:
        start = k + 1
        if start - previous >= config.min_shot_len:
            cuts.append(start)
            previous = start
    return cuts


def shots_from_cuts(cuts: Iterable[int], num_frames: int) -> list[tuple[int, int]]:
    """Shots ``[(start, end_exclusive)]`` covering ``range(num_frames)`` with boundaries at ``cuts``."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < num_frames), num_frames]
    return [(a, b) for a, b in pairwise(bounds) if b > a]


class ShotDetector:
    """Streaming detector: ``push`` frames in order, then read ``cuts()`` or ``shots()``.

    Holds only the previous frame's small signature and one score per frame.
    """

    def __init__(self, config: ShotConfig | None = None) -> None:
        self.config = config or ShotConfig()
        self._previous: np.ndarray | None = None
        self._scores: list[float] = []
        self.num_frames = 0

    def push(self, frame: np.ndarray) -> None:
        """Add the next decoded uint8 RGB frame."""
        signature = hsv_signature(frame, self.config.max_side)
        if self._previous is not None:
            if signature.shape != self._previous.shape:
                raise ValueError(f"frame size changed mid-stream: {frame.shape}")
            self._scores.append(content_score(self._previous, signature))
        self._previous = signature
        self.num_frames += 1

    def scores(self) -> np.ndarray:
        """Consecutive-frame content scores so far (length ``num_frames - 1``)."""
        return np.asarray(self._scores, dtype=np.float64)

    def cuts(self) -> list[int]:
        return cuts_from_scores(self.scores(), self.config)

    def shots(self) -> list[tuple[int, int]]:
        return shots_from_cuts(self.cuts(), self.num_frames)


def content_scores(frames: Iterable[np.ndarray], *, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Consecutive-frame content scores (length T-1) of a clip or any iterable of frames."""
    detector = ShotDetector(ShotConfig(max_side=max_side))
    for frame in frames:
        detector.push(frame)
    return detector.scores()


def detect_shots(frames: Iterable[np.ndarray], config: ShotConfig | None = None) -> list[tuple[int, int]]:
    """Shots ``[(start, end_exclusive)]`` of a TxHxWx3 clip (or a frame iterator), covering every frame."""
    detector = ShotDetector(config)
    for frame in frames:
        detector.push(frame)
    return detector.shots()
