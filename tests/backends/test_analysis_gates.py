"""The quality gates' decisions (``backends/analysis/gates.py``): check order, what is recorded, limits."""

from __future__ import annotations

import numpy as np

from insvie.backends.analysis.curation import ImageSignals, image_signals, text_ratio
from insvie.backends.analysis.gates import clip_verdict, exposure_reason, image_verdict
from insvie.stages.filter import ClipFilterConfig, ImageFilterConfig

GOOD = {
    "mean_luma": 0.5,
    "dark_fraction": 0.05,
    "bright_fraction": 0.05,
    "contrast": 0.2,
    "sharpness": 100.0,
    "min_sharpness": 90.0,
}


def clip(quality: dict | None = None, motion: float = 0.01) -> dict:
    return {"quality": {**GOOD, **(quality or {})}, "motion": motion, "phash": ["0" * 16]}


def test_exposure_reasons_come_in_a_fixed_order() -> None:
    limits = ClipFilterConfig()
    assert exposure_reason(GOOD, limits) is None
    assert exposure_reason({**GOOD, "mean_luma": 0.01, "contrast": 0.0}, limits) == "too_dark"
    assert exposure_reason({**GOOD, "mean_luma": 0.99}, limits) == "too_bright"
    assert exposure_reason({**GOOD, "dark_fraction": 0.4, "bright_fraction": 0.2}, limits) == "clipped"
    assert exposure_reason({**GOOD, "contrast": 0.01}, limits) == "flat"


def test_a_clip_is_rejected_for_its_first_failed_check_and_keeps_its_signals() -> None:
    limits = ClipFilterConfig()
    kept = clip_verdict(clip(), limits)
    assert kept.reason is None
    assert kept.output == {**clip(), "motion_label": "dynamic"}
    assert clip_verdict(clip({"min_sharpness": 1.0}, motion=0.5), limits).reason == "blurry"
    assert clip_verdict(clip(motion=0.5), limits).reason == "too_fast"
    dark = clip_verdict(clip({"mean_luma": 0.01}, motion=0.5), limits)
    assert dark.reason == "too_dark" and dark.output["motion_label"] == "dynamic"


def test_static_clips_are_labelled_and_dropped_only_when_asked() -> None:
    still = clip(motion=0.0)
    kept = clip_verdict(still, ClipFilterConfig())
    assert kept.reason is None and kept.output["motion_label"] == "static"
    assert clip_verdict(still, ClipFilterConfig(keep_static=False)).reason == "static"


def test_text_is_recorded_where_measured_and_checked_against_its_limit() -> None:
    limits = ClipFilterConfig(max_text_ratio=0.05)
    assert "text_ratio" not in clip_verdict(clip(), limits).output
    assert clip_verdict(clip(), limits, text_ratio=0.05).reason is None  # on the limit passes
    captioned = clip_verdict(clip(), limits, text_ratio=0.2)
    assert captioned.reason == "text" and captioned.output["text_ratio"] == 0.2
    assert clip_verdict(clip(motion=0.5), limits, text_ratio=0.2).reason == "too_fast"


def test_text_ratio_is_the_worst_of_evenly_spaced_frames() -> None:
    class Brightness:
        def ratio(self, frame: np.ndarray) -> float:
            return float(frame.mean()) / 255 / 3

    video = np.stack([np.full((4, 4, 3), level, np.uint8) for level in (0, 255, 30, 60, 90)])
    assert text_ratio(video, Brightness(), 2) == round(90 / 255 / 3, 6)  # frames 0 and 4
    assert text_ratio(video, Brightness(), 5) == round(1 / 3, 6)


def test_an_image_is_judged_on_its_measured_values_and_recorded_rounded() -> None:
    limits = ImageFilterConfig()
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    signals = image_signals(image)
    assert (signals.width, signals.height) == (400, 300)
    verdict = image_verdict(signals, limits)
    assert verdict.reason is None
    assert verdict.output["quality"] == {k: round(v, 6) for k, v in signals.quality.items()}
    assert verdict.output["phash"] == [f"{signals.phash:016x}"]
    small = ImageSignals(200, 300, {**GOOD, "mean_luma": 0.01}, 0)
    assert image_verdict(small, limits).reason == "too_small"
    just_dark = ImageSignals(400, 300, {**GOOD, "mean_luma": 0.0799999999}, 0)
    dark = image_verdict(just_dark, limits)
    assert dark.reason == "too_dark" and dark.output["quality"]["mean_luma"] == 0.08
    assert image_verdict(ImageSignals(400, 300, {**GOOD, "sharpness": 1.0}, 0), limits).reason == "blurry"
