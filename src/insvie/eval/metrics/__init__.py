"""Per-sample metrics of an edited video, one small module per family; each implements ``Metric``.

    motion / warp     flow end-point error vs the source, warping error (flicker)      motion.py
    preserve / gt     PSNR/SSIM outside the edit mask, and against a ground-truth edit  fidelity.py
    seam              seam consistency of a windowed edit                               seam.py
    clip_t / clip_f / clip_dir   CLIP-T, CLIP-F, directional similarity             clip.py
    dino              DINOv2 frame consistency                                           dino.py
    pickscore         PickScore against the target caption                              pickscore.py

``build_metrics(names, MetricOptions(...))`` builds them by name; the default set needs no weights.
A metric with nothing to measure on a sample raises ``MetricUnavailable`` with the reason.
"""

from insvie.eval.metrics.base import MetricUnavailable
from insvie.eval.metrics.pixels import PSNR_CAP, psnr, ssim, ssim_map
from insvie.eval.metrics.registry import (
    DEFAULT_METRICS,
    METRIC_NAMES,
    MODEL_METRICS,
    MetricOptions,
    build_metrics,
    parse_metric_names,
)

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_NAMES",
    "MODEL_METRICS",
    "PSNR_CAP",
    "MetricOptions",
    "MetricUnavailable",
    "build_metrics",
    "parse_metric_names",
    "psnr",
    "ssim",
    "ssim_map",
]
