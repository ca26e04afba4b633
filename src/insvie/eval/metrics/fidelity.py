"""Pixel fidelity: preservation outside the edit mask, and agreement with a known correct edit.

``preserve`` asks whether the editor left alone what the instruction did not mention: PSNR and SSIM of
edited against source over the pixels the mask marks as not to be changed. ``gt`` compares the edit
with the ground-truth edited video where a benchmark knows it (SynthEdit), over every pixel.
"""

from __future__ import annotations

from insvie.eval.metrics.base import MetricUnavailable, check_pair
from insvie.eval.metrics.pixels import PSNR_CAP, psnr, ssim
from insvie.eval.sample import EvalSample, SampleFrames


class PreservationMetric:
    """PSNR/SSIM of edited vs source where the mask is zero; ``fraction`` is the share of such pixels."""

    name = "preserve"

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        if frames.mask is None:
            raise MetricUnavailable("no edit mask for this sample")
        check_pair(frames.source, frames.edited, "the edited video")
        keep = ~frames.mask
        if not keep.any():
            raise MetricUnavailable("the mask covers every pixel (a global edit): nothing to preserve")
        return {
            "psnr": psnr(frames.source, frames.edited, keep),
            "ssim": ssim(frames.source, frames.edited, keep),
            "fraction": float(keep.mean()),
        }

    def meta(self) -> dict[str, str]:
        return {"region": "mask == 0", "psnr_cap_db": str(PSNR_CAP), "ssim": "gaussian 11x11 sigma 1.5"}


class GroundTruthMetric:
    """PSNR/SSIM of the edited video against the correct edit, over every pixel."""

    name = "gt"

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]:
        if frames.ground_truth is None:
            raise MetricUnavailable("no ground-truth edit for this sample")
        check_pair(frames.ground_truth, frames.edited, "the edited video")
        return {
            "psnr": psnr(frames.ground_truth, frames.edited),
            "ssim": ssim(frames.ground_truth, frames.edited),
        }

    def meta(self) -> dict[str, str]:
        return {"psnr_cap_db": str(PSNR_CAP), "ssim": "gaussian 11x11 sigma 1.5"}
