"""Edited-versus-source checks: motion fidelity and tracked motion, flicker (warping error and the
unexplained low-frequency residual) and quality ratio."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_analysis_scenes import blocky, pan, steps_to_positions, texture, tint, wobble_steps

from insvie.backends.analysis.consistency import (
    edited_flows,
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
    tracked_motion,
    unexplained_flicker,
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


GRADED = tint(SOURCE, (30, -10, -25))
GAINS = [15 * (-1) ** t for t in range(len(SOURCE))]
FLICKERING = np.stack([tint(f, (g, g, g)) for f, g in zip(SOURCE, GAINS, strict=True)])


def test_tracked_motion_is_small_for_kept_motion_and_large_for_lost_motion() -> None:
    assert tracked_motion(SOURCE, SOURCE.copy(), flows=FLOWS).relative_epe == pytest.approx(0.0, abs=1e-6)
    graded = tracked_motion(SOURCE, GRADED, flows=FLOWS, edit_flows=edited_flows(GRADED, FLOWS))
    assert graded.relative_epe < 0.1
    assert graded.tracked_fraction > 0.5  # a textured pan: most pixels are measured
    reversed_ = tracked_motion(SOURCE, SOURCE[::-1].copy(), flows=FLOWS)
    shifted = tracked_motion(SOURCE, np.concatenate([SOURCE[1:], SOURCE[-1:]]), flows=FLOWS)
    frozen = tracked_motion(SOURCE, np.repeat(SOURCE[:1], len(SOURCE), axis=0), flows=FLOWS)
    for broken in (reversed_, shifted, frozen):
        assert broken.relative_epe > 0.5
    json.dumps(graded.as_dict())


def test_tracked_motion_skips_what_an_edit_flattened_and_a_still_source() -> None:
    # A grade that merges the colours of half the frame leaves nothing for flow to follow there: the
    # whole-frame EPE reads the edited clip's guessed flow as lost motion, the tracked one does not.
    flattened = SOURCE.copy()
    flattened[:, :, : SOURCE.shape[2] // 2] = 128
    assert motion_fidelity(SOURCE, flattened, flows=FLOWS).relative_epe > 0.3
    assert tracked_motion(SOURCE, flattened, flows=FLOWS).relative_epe < 0.1
    # A still source has no motion to keep: a square added moving over it is not a motion mismatch.
    still, added = _still_with_added_square()
    result = tracked_motion(still, added)
    assert result.relative_epe == 0.0
    assert result.tracked_fraction < 0.01


def _still_with_added_square() -> tuple[np.ndarray, np.ndarray]:
    """A still textured clip, and the same with a textured square crossing it (an "add" edit)."""
    still = np.repeat(texture(120, 180, seed=3)[None], 9, axis=0)
    square = texture(40, 40, seed=4)
    added = still.copy()
    for t in range(len(added)):
        added[t, 40:80, 20 + 6 * t : 60 + 6 * t] = square
    return still, added


def test_unexplained_flicker_sees_brightness_jumps_but_not_content_moving_its_own_way() -> None:
    assert unexplained_flicker(SOURCE, SOURCE.copy(), flows=FLOWS).ratio == pytest.approx(1.0)
    assert unexplained_flicker(SOURCE, GRADED, flows=FLOWS).ratio == pytest.approx(1.0, abs=0.2)
    result = unexplained_flicker(SOURCE, FLICKERING, flows=FLOWS)
    assert result.ratio > 5
    assert result.excess == pytest.approx(result.edited_residual - result.source_residual)
    # The added square moves where the source's flow says nothing moves: Lai et al.'s ratio reads
    # that as flicker, the edited clip's own flow explains it.
    # (The still source has no residual at all, so the floors set both ratios.)
    still, added = _still_with_added_square()
    lai, unexplained = flicker(still, added), unexplained_flicker(still, added)
    assert lai.ratio > 3
    assert unexplained.ratio < 2
    assert unexplained.excess < 0.25 * lai.excess
    json.dumps(result.as_dict())


def test_mismatched_clips_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        motion_fidelity(SOURCE, SOURCE[:-1])
    with pytest.raises(ValueError, match="differ in shape"):
        flicker(SOURCE, SOURCE[:, :-8])
    with pytest.raises(ValueError, match="computed on"):
        motion_fidelity(SOURCE[:-1], SOURCE[:-1], flows=FLOWS)
