"""Seam consistency of a windowed edit (``insvie.editor.windows.seam_consistency``).

A long video edited window by window can jump where windows meet; the seams' frame-to-frame change over
the video's typical change reads about 1 when the seams are as smooth as ordinary motion.
"""

from __future__ import annotations

from insvie.editor.windows import seam_consistency
from insvie.eval.metrics.base import MetricUnavailable
from insvie.eval.sample import EvalSample, SampleFrames


class SeamMetric:
    name = "seam"

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        seams = [s for s in frames.seams if 0 < s < len(frames.edited)]
        if not seams:
            raise MetricUnavailable("no window seams within the frames scored (not a windowed edit)")
        report = seam_consistency(frames.edited, seams)
        return {"ratio_mean": report.mean_ratio, "ratio_max": report.max_ratio, "count": float(len(seams))}

    def meta(self) -> dict[str, str]:
        return {"measure": "seam frame difference / median frame difference"}
