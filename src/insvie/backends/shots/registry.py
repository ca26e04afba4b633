"""Shot detectors behind one interface, so the split stage names one in config and never branches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from insvie.backends.analysis.shots import ShotConfig, detect_shots
from insvie.errors import ConfigError

SHOT_DETECTORS = ("content", "transnetv2")


class ShotBoundaryModel(Protocol):
    name: str

    def shots(self, frames: Sequence[np.ndarray]) -> list[tuple[int, int]]:
        """Shots ``[(start, end_exclusive)]`` of uint8 RGB frames, in order; frames between shots are
        transitions (a learned detector marks dissolves as belonging to no shot)."""
        ...


class ContentShots:
    """PySceneDetect-style content detector (:mod:`insvie.backends.analysis.shots`)."""

    name = "content"

    def __init__(self, threshold: float | None = None) -> None:
        self.config = ShotConfig() if threshold is None else ShotConfig(threshold=threshold)

    def shots(self, frames: Sequence[np.ndarray]) -> list[tuple[int, int]]:
        return detect_shots(frames, self.config)


def make_shot_detector(
    name: str, *, threshold: float | None = None, device: str = "cpu"
) -> ShotBoundaryModel:
    """The detector called ``name``; ``transnetv2`` needs the ``shots`` extra (its weights ship with it)."""
    if name == "content":
        return ContentShots(threshold)
    if name == "transnetv2":
        from insvie.backends.shots.transnet import TransNetShots

        return TransNetShots(threshold=0.5 if threshold is None else threshold, device=device)
    raise ConfigError(f"shot detector {name!r}: must be one of {list(SHOT_DETECTORS)}")
