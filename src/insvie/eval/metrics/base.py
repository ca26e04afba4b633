"""What every metric shares: the way it declines a sample, and the shape check of compared videos.

A metric that cannot score a sample (no mask, no ground truth, no target caption) raises
:class:`MetricUnavailable` with the reason; the runner records it under the metric's name in
``SampleScores.declined`` (not ``errors``: nothing went wrong), so a report says how many samples each
figure covers and why the others lack it.
"""

from __future__ import annotations

import numpy as np

from insvie.errors import InsvieError


class MetricUnavailable(InsvieError):
    """This metric has nothing to measure on this sample; the message is the reason."""


def check_pair(source: np.ndarray, other: np.ndarray, what: str) -> None:
    """Two videos a metric compares pixel by pixel must have one shape (the runner resizes them)."""
    if source.shape != other.shape:
        raise ValueError(f"{what} has shape {other.shape}, the source {source.shape}: resize it first")
