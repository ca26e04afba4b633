"""All refilter metrics at once, the default limits (on real footage and on SynthEdit edits that the
whole-frame motion and flicker measures rejected), and the curation summary.

Every function here is the one the build runs (``insvie.stages.refilter`` calls ``refilter_pair``,
``split`` and ``clip_filter`` call ``clip_signals``), with the build's limits (``RefilterConfig``)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_analysis_scenes import pan, tint

from insvie.backends.analysis.consistency import source_flows
from insvie.backends.analysis.curation import clip_signals
from insvie.backends.analysis.motion import motion_label
from insvie.backends.analysis.phash import clip_hash
from insvie.backends.analysis.refilter import CHECKS, refilter_failures, refilter_metrics, refilter_pair
from insvie.media import read_frames, write_video
from insvie.stages.filter import ClipFilterConfig
from insvie.stages.refilter import RefilterConfig
from insvie.synth import generate_sample

GRADE = (25, 5, -25)
LIMITS = RefilterConfig()  # the build's default limits


@pytest.fixture(scope="module")
def horse(shared_media: Path) -> np.ndarray:
    return read_frames(shared_media / "horse_gallop.mp4")


@pytest.fixture(scope="module")
def graded_horse(horse: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """A faithful global edit as a propagator would deliver it: graded, then H.264 encoded."""
    path = tmp_path_factory.mktemp("refilter") / "graded.mp4"
    write_video(path, tint(horse, GRADE), 8, crf=23)
    return read_frames(path)


def test_metrics_are_a_flat_json_dict_of_floats() -> None:
    clip = pan([(2 * i, 0) for i in range(9)])
    metrics = refilter_metrics(clip, tint(clip, GRADE))
    assert all(isinstance(v, float) for v in metrics.values())
    json.dumps(metrics)
    assert {
        "motion_tracked_relative_epe",
        "flicker_unexplained_ratio",
        "motion_relative_epe",
        "flicker_ratio",
        "persistence",
        "sharpness_ratio",
        "detail_ratio",
        "blockiness_delta",
    } <= set(metrics)
    assert refilter_failures(metrics, LIMITS) == []


def test_a_faithful_edit_of_real_footage_passes(horse: np.ndarray, graded_horse: np.ndarray) -> None:
    flows = source_flows(horse)
    metrics = refilter_metrics(horse, graded_horse, flows=flows)
    assert refilter_failures(metrics, LIMITS) == []
    assert metrics["persistence"] > 0.9
    assert metrics["flicker_ratio"] < 1.1
    # the step's verdict (its own flows) records exactly these metrics and passes the pair
    verdict = refilter_pair(horse, graded_horse, LIMITS)
    assert verdict.reason is None
    assert verdict.output == {"metrics": metrics, "failed_checks": []}


def test_videos_of_different_shapes_are_a_shape_mismatch(horse: np.ndarray) -> None:
    verdict = refilter_pair(horse, horse[:5], LIMITS)
    assert verdict.reason == "shape_mismatch"
    assert verdict.output == {"source": list(horse.shape), "edited": [5, *horse.shape[1:]]}


def test_broken_edits_of_real_footage_fail_for_the_right_reason(
    horse: np.ndarray, graded_horse: np.ndarray
) -> None:
    flows = source_flows(horse)
    # Reversal is motion that differs, not flicker: the reversed clip's own flow explains it.
    reversed_ = refilter_failures(refilter_metrics(horse, graded_horse[::-1].copy(), flows=flows), LIMITS)
    assert "motion_mismatch" in reversed_
    gains = [12 * (-1) ** t for t in range(len(graded_horse))]
    flickering = np.stack([tint(f, (g, g, g)) for f, g in zip(graded_horse, gains, strict=True)])
    assert "flicker" in refilter_failures(refilter_metrics(horse, flickering, flows=flows), LIMITS)
    faded = graded_horse.copy()
    faded[10:] = horse[10:]
    assert "edit_faded" in refilter_failures(refilter_metrics(horse, faded, flows=flows), LIMITS)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.5) for f in graded_horse])
    blurred_metrics = refilter_metrics(horse, blurred, flows=flows)
    assert "blurry" in refilter_failures(blurred_metrics, LIMITS)
    # painterly styles smooth on purpose: the detail check spares them, and only it
    assert "blurry" not in refilter_failures(blurred_metrics, LIMITS, "style")
    pixelated = np.stack([f[::8, ::8].repeat(8, axis=0).repeat(8, axis=1) for f in graded_horse])
    assert "blocky" in refilter_failures(refilter_metrics(horse, pixelated, flows=flows), LIMITS)


def test_limits_can_be_relaxed_or_disabled() -> None:
    metrics = {
        "motion_tracked_relative_epe": 0.9,
        "flicker_unexplained_ratio": 4.0,
        "persistence": 0.1,
        "detail_ratio": 0.2,
        "blockiness_delta": 1.0,
    }
    assert len(refilter_failures(metrics, LIMITS)) == 5
    off = RefilterConfig(**{check.limit: None for check in CHECKS})  # every check's limit unset
    assert refilter_failures(metrics, off) == []
    relaxed = RefilterConfig(max_relative_epe=1.0, max_flicker_ratio=None)
    assert refilter_failures(metrics, relaxed) == ["edit_faded", "blurry", "blocky"]
    # a value on a limit passes it
    on_the_limits = {**metrics, "persistence": 0.5, "detail_ratio": 0.4, "blockiness_delta": 0.25}
    assert refilter_failures(on_the_limits, relaxed) == []


# SynthEdit samples (240x360, 17 frames) whose clean edit the whole-frame measures rejected: an added
# object moving fast over a near-still source (relative EPE 1.5, flicker ratio 1.9), and a sepia look
# that merges a checkerboard's two colours so the edited clip's flow is guessed (relative EPE 2.3).
NEAR_STILL_ADD, FLATTENING_SEPIA = 6124212097763280, 3237230779865705


@pytest.mark.parametrize("seed", [NEAR_STILL_ADD, FLATTENING_SEPIA])
def test_clean_synthedit_edits_pass_and_their_broken_versions_fail(seed: int) -> None:
    config = RefilterConfig()
    clean = generate_sample(seed)
    assert refilter_failures(refilter_metrics(clean.source, clean.edited), config) == []
    for kind in ("motion_mismatch", "flicker"):
        broken = generate_sample(seed, broken=kind)
        assert kind in refilter_failures(refilter_metrics(broken.source, broken.edited), config)


def test_clip_signals_of_real_footage(horse: np.ndarray) -> None:
    signals = clip_signals(horse)
    # the label is the clip gate's (its threshold, read from its config)
    assert motion_label(signals["motion"], ClipFilterConfig().static_threshold) == "dynamic"
    assert len(signals["phash"]) == 3
    json.dumps(signals)
    assert signals["quality"]["blockiness"] < 1.5
    assert [int(h, 16) for h in signals["phash"]] == list(clip_hash(horse))
