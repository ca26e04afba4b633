"""The quality gates' decisions: which clips and images curation drops, and what it records of each.

Given an item's measured signals (:mod:`.curation`) and the gate's limits, :func:`clip_verdict` and
:func:`image_verdict` return a :class:`~.verdict.Verdict`: the funnel reason of the first failed check
(None: kept) and the output recorded with the result either way. Clips and images share the exposure
and sharpness checks; clips add motion (labelled static or dynamic by the gate's threshold, as in the
InsViE data, with the too-static and the too-fast dropped as configured) and on-screen text, images a
least size. A clip is judged on its stored, rounded signals, so a re-run with other limits decides
without decoding it; an image on its measured values, recorded rounded.

The limits are read from any object with :class:`ClipLimits`' or :class:`ImageLimits`' attributes;
their defaults live in one place, the steps' configs (``insvie.stages.filter``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from insvie.backends.analysis.curation import DIGITS, ClipSignals, ImageSignals
from insvie.backends.analysis.motion import motion_label
from insvie.backends.analysis.verdict import Verdict


class ExposureLimits(Protocol):
    """What both gates check: sharpness, mean luma, the crushed-plus-clipped share and contrast."""

    @property
    def min_sharpness(self) -> float: ...
    @property
    def min_luma(self) -> float: ...
    @property
    def max_luma(self) -> float: ...
    @property
    def max_clipped(self) -> float: ...
    @property
    def min_contrast(self) -> float: ...


class ClipLimits(ExposureLimits, Protocol):
    """The clip gate's further limits: motion (``keep_static`` keeps labelled static clips) and text
    (``max_text_ratio``; None: off)."""

    @property
    def static_threshold(self) -> float: ...
    @property
    def keep_static(self) -> bool: ...
    @property
    def max_motion(self) -> float: ...
    @property
    def max_text_ratio(self) -> float | None: ...


class ImageLimits(ExposureLimits, Protocol):
    """The image gate's further limits: the least size."""

    @property
    def min_width(self) -> int: ...
    @property
    def min_height(self) -> int: ...


def exposure_reason(quality: Mapping[str, float], limits: ExposureLimits) -> str | None:
    """``too_dark``, ``too_bright``, ``clipped`` or ``flat`` (the first that applies), or None."""
    if quality["mean_luma"] < limits.min_luma:
        return "too_dark"
    if quality["mean_luma"] > limits.max_luma:
        return "too_bright"
    if quality["dark_fraction"] + quality["bright_fraction"] > limits.max_clipped:
        return "clipped"
    if quality["contrast"] < limits.min_contrast:
        return "flat"
    return None


def clip_verdict(signals: ClipSignals, limits: ClipLimits, text_ratio: float | None = None) -> Verdict:
    """A clip's verdict from its signals and, where text is checked, its :func:`~.curation.text_ratio`.

    Checks in order: exposure, ``blurry`` (the sharpness of its least sharp sampled frame), ``static``
    (when static clips are not kept), ``too_fast``, ``text``. The output is the signals with the motion
    label, and the text ratio where measured.
    """
    quality, motion = signals["quality"], signals["motion"]
    label = motion_label(motion, limits.static_threshold)
    output: dict[str, Any] = {**signals, "motion_label": label}
    reason = exposure_reason(quality, limits)
    if reason is None and quality["min_sharpness"] < limits.min_sharpness:
        reason = "blurry"
    if reason is None and label == "static" and not limits.keep_static:
        reason = "static"
    if reason is None and motion > limits.max_motion:
        reason = "too_fast"
    if text_ratio is not None:
        output["text_ratio"] = text_ratio
        if reason is None and limits.max_text_ratio is not None and text_ratio > limits.max_text_ratio:
            reason = "text"
    return Verdict(reason, output)


def image_verdict(signals: ImageSignals, limits: ImageLimits) -> Verdict:
    """An image's verdict: ``too_small``, then exposure, then ``blurry``. The output is its size, its
    quality rounded as stored and its hash in hex (what the image dedup compares)."""
    quality = signals.quality
    reason = "too_small" if signals.width < limits.min_width or signals.height < limits.min_height else None
    reason = reason or exposure_reason(quality, limits)
    if reason is None and quality["sharpness"] < limits.min_sharpness:
        reason = "blurry"
    output = {
        "width": signals.width,
        "height": signals.height,
        "quality": {k: round(v, DIGITS) for k, v in quality.items()},
        "phash": [f"{signals.phash:016x}"],
    }
    return Verdict(reason, output)
