"""Motion kept and flicker added, from the source's optical flow (``insvie.backends.analysis``).

Both metrics need the source's forward and backward DIS flows, the expensive part; :class:`SourceFlows`
computes them once per sample for whichever of the two runs first.
"""

from __future__ import annotations

import numpy as np

from insvie.backends.analysis.consistency import (
    DEFAULT_MAX_SIDE,
    DEFAULT_PAIRS,
    flicker,
    motion_fidelity,
    source_flows,
)
from insvie.backends.analysis.flow import VideoFlows
from insvie.eval.metrics.base import MetricUnavailable, check_pair
from insvie.eval.sample import EvalSample, SampleFrames


class SourceFlows:
    """The source flows of the sample being scored, shared by the motion and warp metrics."""

    def __init__(self, *, pairs: int | None = DEFAULT_PAIRS, max_side: int | None = DEFAULT_MAX_SIDE) -> None:
        self.pairs = pairs
        self.max_side = max_side
        self._source: np.ndarray | None = None
        self._flows: VideoFlows | None = None

    def of(self, source: np.ndarray) -> VideoFlows:
        if len(source) < 2:
            raise MetricUnavailable("one frame: no motion to compare")
        if self._source is not source:
            self._flows = source_flows(source, pairs=self.pairs, max_side=self.max_side)
            self._source = source
        assert self._flows is not None
        return self._flows

    def meta(self) -> dict[str, str]:
        return {"flow": "opencv DIS", "pairs": str(self.pairs), "max_side": str(self.max_side)}


class MotionMetric:
    """End-point error of the edited video's flow against the source's, in fractions of the diagonal.

    ``epe`` near 0 means the edit kept the motion; ``relative_epe`` divides by the source's own motion
    (about 1: as wrong as the motion is large, about 2: reversed).
    """

    name = "motion"

    def __init__(self, flows: SourceFlows) -> None:
        self.flows = flows

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        check_pair(frames.source, frames.edited, "the edited video")
        result = motion_fidelity(frames.source, frames.edited, flows=self.flows.of(frames.source))
        return {
            "epe": result.epe,
            "relative_epe": result.relative_epe,
            "source_motion": result.source_motion,
            "edited_motion": result.edited_motion,
        }

    def meta(self) -> dict[str, str]:
        return self.flows.meta()


class WarpMetric:
    """Warping error (Lai et al. 2018) of the edited video under the source's flow, and over the source's.

    ``error`` is the mean absolute RGB error (0-1) of each frame against its predecessor warped onto it,
    over pixels visible in both; ``ratio`` divides by the source's own error (about 1: no flicker
    added); ``excess`` is the difference.
    """

    name = "warp"

    def __init__(self, flows: SourceFlows) -> None:
        self.flows = flows

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        check_pair(frames.source, frames.edited, "the edited video")
        result = flicker(frames.source, frames.edited, flows=self.flows.of(frames.source))
        return {"error": result.edited_warp_error, "ratio": result.ratio, "excess": result.excess}

    def meta(self) -> dict[str, str]:
        return self.flows.meta()
