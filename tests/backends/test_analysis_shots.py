"""Shot boundaries: exact hard cuts, none inside a moving shot, on synthetic and real footage."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from test_analysis_scenes import pan, tint

from insvie.backends.analysis.shots import (
    ShotConfig,
    ShotDetector,
    content_score,
    content_scores,
    cuts_from_scores,
    detect_shots,
    hsv_signature,
    shots_from_cuts,
)
from insvie.media import read_frames


def three_shots() -> np.ndarray:
    """Panning shots of three different textures: 12, 15 and 10 frames (cuts at 12 and 27)."""
    return np.concatenate(
        [
            pan([(2 * i, 0) for i in range(12)], seed=1),
            pan([(0, i) for i in range(15)], seed=2),
            pan([(-i, i) for i in range(10)], seed=3),
        ]
    )


def test_cuts_are_found_at_the_exact_frames() -> None:
    clip = three_shots()
    assert detect_shots(clip) == [(0, 12), (12, 27), (27, 37)]
    assert detect_shots(clip, ShotConfig(adaptive=True)) == [(0, 12), (12, 27), (27, 37)]


def test_scores_separate_cuts_from_motion_by_a_wide_margin() -> None:
    scores = content_scores(three_shots())
    assert scores.shape == (36,)
    cut_scores = scores[[11, 26]]
    inside = np.delete(scores, [11, 26])
    assert cut_scores.min() > 1.3 * ShotConfig().threshold
    assert inside.max() < 0.6 * ShotConfig().threshold


def test_a_single_moving_shot_and_a_still_have_no_cut() -> None:
    assert detect_shots(pan([(3 * i, i) for i in range(20)])) == [(0, 20)]
    still = np.repeat(pan([(0, 0)]), 5, axis=0)
    assert detect_shots(still) == [(0, 5)]
    assert np.all(content_scores(still) == 0)


def test_brightness_change_within_a_shot_is_not_a_cut() -> None:
    clip = pan([(i, 0) for i in range(10)])
    clip[5:] = tint(clip[5:], (12, 12, 12))
    assert detect_shots(clip) == [(0, 10)]


def test_min_shot_len_drops_cuts_too_close_to_the_last() -> None:
    clip = three_shots()
    assert detect_shots(clip, ShotConfig(min_shot_len=13)) == [(0, 27), (27, 37)]
    assert detect_shots(clip, ShotConfig(min_shot_len=16)) == [(0, 27), (27, 37)]
    assert detect_shots(clip, ShotConfig(min_shot_len=28)) == [(0, 37)]
    with pytest.raises(ValueError, match="min_shot_len"):
        ShotConfig(min_shot_len=0)


def test_adaptive_mode_ignores_a_steady_high_score_but_not_a_spike() -> None:
    steady = np.full(20, 40.0)  # a fast pan: every consecutive difference is big
    spike = np.full(20, 8.0)
    spike[9] = 60.0
    assert cuts_from_scores(steady) != []  # the fixed threshold fires throughout
    assert cuts_from_scores(steady, ShotConfig(adaptive=True)) == []
    assert cuts_from_scores(spike, ShotConfig(adaptive=True)) == [10]
    quiet_spike = np.full(20, 2.0)
    quiet_spike[9] = 12.0  # six times its neighbours, but below min_score
    assert cuts_from_scores(quiet_spike, ShotConfig(adaptive=True)) == []


def test_streaming_matches_batch_and_shots_cover_every_frame() -> None:
    clip = three_shots()
    detector = ShotDetector()
    for frame in clip:
        detector.push(frame)
    assert detector.num_frames == len(clip)
    np.testing.assert_array_equal(detector.scores(), content_scores(clip))
    assert detector.cuts() == [12, 27]
    shots = detector.shots()
    assert shots[0][0] == 0
    assert shots[-1][1] == len(clip)
    assert all(a[1] == b[0] for a, b in pairwise(shots))
    with pytest.raises(ValueError, match="size changed"):
        detector.push(clip[0][:50])
    assert shots_from_cuts([], 0) == []
    assert shots_from_cuts([0, 3, 3, 9], 5) == [(0, 3), (3, 5)]
    assert ShotDetector().shots() == []


def test_hue_difference_wraps_around_the_colour_circle() -> None:
    a = hsv_signature(np.full((8, 8, 3), (255, 0, 4), np.uint8))  # hue just below 180 (red)
    b = hsv_signature(np.full((8, 8, 3), (255, 4, 0), np.uint8))  # hue just above 0 (red)
    assert content_score(a, b) < 1.0


def test_real_clips_have_no_cut_and_their_concatenation_has_one(shared_media: Path) -> None:
    horse = read_frames(shared_media / "horse_gallop.mp4", max_size=256)
    cat = read_frames(shared_media / "cat_grass.mp4", max_size=256)
    assert detect_shots(horse) == [(0, len(horse))]
    assert detect_shots(cat) == [(0, len(cat))]
    joined = np.concatenate([horse[:20], cat[:25]])
    assert detect_shots(joined) == [(0, 20), (20, 45)]
    assert detect_shots(joined, ShotConfig(adaptive=True)) == [(0, 20), (20, 45)]
    scores = content_scores(horse)
    assert scores.max() < ShotConfig().threshold * 0.75  # the horse gallops fast, yet stays well below
