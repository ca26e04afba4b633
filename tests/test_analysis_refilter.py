"""All refilter metrics at once, the default limits (on real footage and on SynthEdit edits that the
whole-frame motion and flicker measures rejected), and the curation summary."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_analysis_scenes import pan, tint

from insvie.backends.analysis.consistency import source_flows
from insvie.backends.analysis.curation import clip_signals
from insvie.backends.analysis.refilter import RefilterLimits, edit_metrics, refilter_failures
from insvie.media import read_frames, write_video
from insvie.stages.refilter import RefilterConfig, failures, measure
from insvie.synth import generate_sample

GRADE = (25, 5, -25)


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
    metrics = edit_metrics(clip, tint(clip, GRADE))
    assert all(isinstance(v, float) for v in metrics.values())
    json.dumps(metrics)
    assert {
        "motion_tracked_relative_epe",
        "flicker_unexplained_ratio",
        "motion_relative_epe",
        "flicker_ratio",
        "persistence",
        "sharpness_ratio",
        "blockiness_delta",
    } <= set(metrics)
    assert refilter_failures(metrics) == []


def test_a_faithful_edit_of_real_footage_passes(horse: np.ndarray, graded_horse: np.ndarray) -> None:
    flows = source_flows(horse)
    metrics = edit_metrics(horse, graded_horse, flows=flows)
    assert refilter_failures(metrics) == []
    assert metrics["persistence"] > 0.9
    assert metrics["flicker_ratio"] < 1.1


def test_broken_edits_of_real_footage_fail_for_the_right_reason(
    horse: np.ndarray, graded_horse: np.ndarray
) -> None:
    flows = source_flows(horse)
    # Reversal is motion that differs, not flicker: the reversed clip's own flow explains it.
    reversed_ = refilter_failures(edit_metrics(horse, graded_horse[::-1].copy(), flows=flows))
    assert any("motion" in r for r in reversed_)
    gains = [12 * (-1) ** t for t in range(len(graded_horse))]
    flickering = np.stack([tint(f, (g, g, g)) for f, g in zip(graded_horse, gains, strict=True)])
    assert any("flicker" in r for r in refilter_failures(edit_metrics(horse, flickering, flows=flows)))
    faded = graded_horse.copy()
    faded[10:] = horse[10:]
    assert any("fades" in r for r in refilter_failures(edit_metrics(horse, faded, flows=flows)))
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.5) for f in graded_horse])
    assert any("sharpness" in r for r in refilter_failures(edit_metrics(horse, blurred, flows=flows)))
    pixelated = np.stack([f[::8, ::8].repeat(8, axis=0).repeat(8, axis=1) for f in graded_horse])
    assert any("blocks" in r for r in refilter_failures(edit_metrics(horse, pixelated, flows=flows)))


def test_limits_can_be_relaxed_or_disabled() -> None:
    metrics = {
        "motion_tracked_relative_epe": 0.9,
        "flicker_unexplained_ratio": 4.0,
        "persistence": 0.1,
        "sharpness_ratio": 0.2,
        "blockiness_delta": 1.0,
    }
    assert len(refilter_failures(metrics)) == 5
    assert refilter_failures(metrics, RefilterLimits(None, None, None, None, None)) == []
    assert refilter_failures(metrics, RefilterLimits(max_relative_epe=1.0, max_flicker_ratio=None)) == [
        "edit fades over time: persistence=0.1 below 0.5",
        "edit lost sharpness: sharpness_ratio=0.2 below 0.6",
        "edit added compression blocks: blockiness_delta=1 above 0.25",
    ]


# SynthEdit samples (240x360, 17 frames) whose clean edit the whole-frame measures rejected: an added
# object moving fast over a near-still source (relative EPE 1.5, flicker ratio 1.9), and a sepia look
# that merges a checkerboard's two colours so the edited clip's flow is guessed (relative EPE 2.3).
NEAR_STILL_ADD, FLATTENING_SEPIA = 6124212097763280, 3237230779865705


@pytest.mark.parametrize("seed", [NEAR_STILL_ADD, FLATTENING_SEPIA])
def test_clean_synthedit_edits_pass_and_their_broken_versions_fail(seed: int) -> None:
    config = RefilterConfig()
    clean = generate_sample(seed)
    assert failures(measure(clean.source, clean.edited), config) == []
    for kind in ("motion_mismatch", "flicker"):
        broken = generate_sample(seed, broken=kind)
        assert kind in failures(measure(broken.source, broken.edited), config)


def test_clip_signals_of_real_footage(horse: np.ndarray) -> None:
    signals = clip_signals(horse)
    assert signals.motion.label == "dynamic"
    assert len(signals.clip_hash) == 3
    flat = signals.as_dict()
    json.dumps(flat)
    assert flat["motion_label"] == "dynamic"
    assert flat["blockiness"] < 1.5
    assert [int(h, 16) for h in str(flat["phash"]).split(",")] == list(signals.clip_hash)
