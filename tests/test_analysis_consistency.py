"""Edited-versus-source checks: motion fidelity, flicker (warping error) and quality ratio."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_analysis_scenes import blocky, pan, steps_to_positions, tint, wobble_steps

from insvie.backends.analysis.consistency import (
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
    visible_masks,
    warp_error,
)
from insvie.backends.analysis.flow import video_flows

SOURCE = pan(steps_to_positions(wobble_steps(17, amplitude=4)), size=(160, 240))
FLOWS = source_flows(SOURCE, pairs=6)


def test_identical_and_recoloured_videos_keep_the_motion() -> None:
    same = motion_fidelity(SOURCE, SOURCE.copy(), flows=FLOWS)
    assert same.epe == pytest.approx(0.0, abs=1e-6)
    assert same.pairs == 6
    assert same.source_motion > 0.005
    graded = motion_fidelity(SOURCE, tint(SOURCE, (30, -10, -25)), flows=FLOWS)
    assert graded.relative_epe < 0.1
    assert graded.edited_motion == pytest.approx(graded.source_motion, rel=0.1)


def test_reversed_time_shifted_and_frozen_videos_lose_the_motion() -> None:
    reversed_ = motion_fidelity(SOURCE, SOURCE[::-1].copy(), flows=FLOWS)
    shifted = motion_fidelity(SOURCE, np.concatenate([SOURCE[1:], SOURCE[-1:]]), flows=FLOWS)
    frozen = motion_fidelity(SOURCE, np.repeat(SOURCE[:1], len(SOURCE), axis=0), flows=FLOWS)
    graded = motion_fidelity(SOURCE, tint(SOURCE, (30, -10, -25)), flows=FLOWS)
    for broken in (reversed_, shifted, frozen):
        assert broken.relative_epe > 0.7
        assert broken.epe > 10 * graded.epe
    assert frozen.edited_motion < 0.1 * frozen.source_motion


def test_motion_fidelity_computes_source_flows_when_not_given() -> None:
    own = motion_fidelity(SOURCE, SOURCE[::-1].copy(), pairs=6)
    given = motion_fidelity(SOURCE, SOURCE[::-1].copy(), flows=FLOWS)
    assert own.epe == pytest.approx(given.epe, rel=1e-6)
    json.dumps(own.as_dict())


def test_flicker_ratio_is_one_for_faithful_edits_and_high_for_flickering_ones() -> None:
    assert flicker(SOURCE, SOURCE.copy(), flows=FLOWS).ratio == pytest.approx(1.0)
    graded = flicker(SOURCE, tint(SOURCE, (30, -10, -25)), flows=FLOWS)
    assert graded.ratio == pytest.approx(1.0, abs=0.1)
    gains = [15 * (-1) ** t for t in range(len(SOURCE))]
    flickering = np.stack([tint(f, (g, g, g)) for f, g in zip(SOURCE, gains, strict=True)])
    result = flicker(SOURCE, flickering, flows=FLOWS)
    assert result.ratio > 3
    assert result.edited_warp_error > result.source_warp_error
    assert result.excess == pytest.approx(result.edited_warp_error - result.source_warp_error)
    wobbling = np.stack([np.roll(f, 2 * (t % 2), axis=1) for t, f in enumerate(SOURCE)])
    assert flicker(SOURCE, wobbling, flows=FLOWS).ratio > 2


def test_warp_error_of_a_clip_with_its_own_flows_is_small() -> None:
    own = warp_error(SOURCE, pairs=4)
    assert 0 <= own < 0.02
    masks = visible_masks(FLOWS)
    assert len(masks) == 6
    assert all(m.mean() > 0.8 for m in masks)  # a pan occludes only the entering border
    assert warp_error(SOURCE, FLOWS, visible=masks) == warp_error(SOURCE, FLOWS)
    with pytest.raises(ValueError, match="backward"):
        warp_error(SOURCE, video_flows(SOURCE, pairs=2))


def test_quality_ratio_sees_blur_and_blocking() -> None:
    same = quality_ratio(SOURCE, SOURCE.copy())
    assert same.sharpness_ratio == pytest.approx(1.0)
    assert same.blockiness_delta == pytest.approx(0.0)
    blurred = quality_ratio(SOURCE, np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in SOURCE]))
    assert blurred.sharpness_ratio < 0.3
    blocked = quality_ratio(SOURCE, np.stack([blocky(f) for f in SOURCE]))
    assert blocked.blockiness_delta > 1.0
    json.dumps(blocked.as_dict())


def test_mismatched_clips_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        motion_fidelity(SOURCE, SOURCE[:-1])
    with pytest.raises(ValueError, match="differ in shape"):
        flicker(SOURCE, SOURCE[:, :-8])
    with pytest.raises(ValueError, match="computed on"):
        motion_fidelity(SOURCE[:-1], SOURCE[:-1], flows=FLOWS)
