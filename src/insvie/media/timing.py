"""Frame times: resampling onto a constant-rate grid and telling constant from variable rate.

Phone and screen recordings are often variable frame rate; counting frames there does not measure
time, so a target fps is met by choosing frames by presentation time. Times are exact fractions of
seconds (pts x time base), which keeps a 30000/1001 fps grid from drifting over a long clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise


def as_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction (29.97 stays 2997/100; pass Fraction(30000, 1001) for NTSC)."""
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return rate


class ConstantRateGrid:
    """Grid instants ``origin + k / fps``, each shown by the frame on screen at that instant.

    A frame is on screen from its own time until the next frame's. Times are compared with a
    tolerance because muxers round them to whole ticks of the time base: in a millisecond time base a
    30 fps frame due at 66.67 ms is stored at 67 ms and must still count as on screen at 66.67 ms.
    Half a tick covers rounding; pass it as ``tolerance``.
    """

    def __init__(self, fps: float | Fraction, tolerance: Fraction = Fraction(0)) -> None:
        self.period = 1 / as_rate(fps)
        self.tolerance = tolerance
        self.origin: Fraction | None = None
        self.filled = 0

    def slots_before(self, time: Fraction) -> int:
        """How many further grid instants fall before ``time``.

        Call it with each frame's start time in order: the answer is how many output frames the
        previous frame fills. The first call sets the grid's origin and returns 0. At the end, call it
        with the last frame's end time.
        """
        if self.origin is None:
            self.origin = time
            return 0
        reached = math.ceil((time - self.tolerance - self.origin) / self.period)
        count = max(0, reached - self.filled)
        self.filled += count
        return count


def resample_indices(
    times: Sequence[float | Fraction],
    fps: float | Fraction,
    end_time: float | Fraction,
    tolerance: float | Fraction = 0,
) -> list[int]:
    """For each output frame at ``fps``, the index of the source frame it shows.

    ``times`` are the source frames' start times in seconds, in presentation order; ``end_time`` is
    when the last one stops being shown (its time plus its duration). An 8 fps clip of 49 frames read
    at 4 fps gives ``[0, 2, 4, ..., 48]``.
    """
    grid = ConstantRateGrid(fps, Fraction(tolerance))
    picks: list[int] = []
    for index, time in enumerate(times):
        picks.extend([index - 1] * grid.slots_before(Fraction(time)))
    if times:
        picks.extend([len(times) - 1] * grid.slots_before(Fraction(end_time)))
    return picks


def is_variable_rate(timestamps: Sequence[int]) -> bool:
    """Whether frame timestamps (in ticks of one time base) are spaced unevenly.

    Spacing may wobble by one tick (rounding to the time base, e.g. 33/34 ms at 30 fps) or 1% before
    the rate counts as variable.
    """
    ordered = sorted(set(timestamps))
    deltas = sorted(later - earlier for earlier, later in pairwise(ordered))
    if len(deltas) < 2:
        return False
    median = deltas[len(deltas) // 2]
    allowed = max(1, median / 100)
    return deltas[-1] - median > allowed or median - deltas[0] > allowed
