"""Motion amount in diagonal units, its camera/object split and the static/dynamic label."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_analysis_scenes import moving_square, pan

from insvie.backends.analysis.flow import video_flows
from insvie.backends.analysis.motion import (
    STATIC_THRESHOLD,
    camera_flow,
    motion_from_flows,
    motion_label,
    motion_stats,
)
from insvie.media import read_frames, read_image

DIAGONAL = float(np.hypot(120, 180))


def noisy_still(frames: int = 9, seed: int = 0) -> np.ndarray:
    """One picture held still, with fresh sensor-like noise in every frame."""
    rng = np.random.default_rng(seed)
    base = pan([(0, 0)])[0].astype(np.int16)
    return np.stack([np.clip(base + rng.integers(-3, 4, base.shape), 0, 255) for _ in range(frames)]).astype(
        np.uint8
    )


def test_a_known_pan_measures_its_speed_over_the_diagonal() -> None:
    clip = pan([(3 * i, 0) for i in range(9)])
    stats = motion_stats(clip, max_side=None)
    assert stats.amount == pytest.approx(3 / DIAGONAL, rel=0.1)
    assert stats.peak >= stats.amount
    assert stats.label == "dynamic"
    assert stats.pairs == 8


def test_motion_does_not_depend_on_resolution() -> None:
    big = pan([(4 * i, 2 * i) for i in range(7)], size=(240, 360))
    small = np.stack([cv2.resize(f, (180, 120), interpolation=cv2.INTER_AREA) for f in big])
    at_big = motion_stats(big, max_side=None).amount
    at_small = motion_stats(small, max_side=None).amount
    working = motion_stats(big, max_side=128).amount
    assert at_small == pytest.approx(at_big, rel=0.1)
    assert working == pytest.approx(at_big, rel=0.1)


def test_a_still_is_static_and_a_slow_pan_is_dynamic() -> None:
    still = motion_stats(noisy_still())
    assert still.label == "static"
    assert still.amount < STATIC_THRESHOLD / 3
    slow = motion_stats(pan([(i, 0) for i in range(9)]))  # 1 px/frame at 180x120: ~0.0046
    assert slow.label == "dynamic"
    assert motion_label(0.0) == "static"
    assert motion_label(0.1) == "dynamic"
    assert motion_label(0.001, static_threshold=0.0005) == "dynamic"


def test_pan_is_camera_motion_and_a_moving_object_is_object_motion() -> None:
    panned = motion_stats(pan([(3 * i, -i) for i in range(9)]), max_side=None)
    assert panned.camera > 0.8 * panned.amount
    assert panned.object < 0.2 * panned.amount
    square = motion_stats(moving_square([(4 * i, 0) for i in range(9)], side=50), max_side=None)
    assert square.object > 3 * square.camera
    assert square.label == "dynamic"


def test_camera_flow_reproduces_a_zoom() -> None:
    ys, xs = np.mgrid[0:60, 0:90].astype(np.float32)
    zoom = np.stack([(xs - 45) * 0.05, (ys - 30) * 0.05], axis=-1).astype(np.float32)
    np.testing.assert_allclose(camera_flow(zoom), zoom, atol=1e-3)


def test_flows_are_reusable_and_split_can_be_skipped() -> None:
    clip = pan([(2 * i, 0) for i in range(6)])
    flows = video_flows(clip, pairs=3, max_side=None)
    stats = motion_from_flows(flows)
    assert stats.pairs == 3
    assert stats.amount == pytest.approx(2 / DIAGONAL, rel=0.1)
    quick = motion_from_flows(flows, split=False)
    assert quick.amount == stats.amount
    assert quick.camera == quick.object == 0.0
    json.dumps(stats.as_dict())


def test_a_single_frame_has_no_motion() -> None:
    stats = motion_stats(pan([(0, 0)]))
    assert (stats.amount, stats.pairs, stats.label) == (0.0, 0, "static")


def test_real_footage_is_dynamic_and_a_held_photo_is_static(shared_media: Path) -> None:
    horse = motion_stats(read_frames(shared_media / "horse_gallop.mp4", max_size=320))
    assert horse.label == "dynamic"
    assert horse.amount > 5 * STATIC_THRESHOLD
    photo = read_image(shared_media / "camping.png")
    held = motion_stats(np.repeat(photo[None], 5, axis=0))
    assert held.label == "static"
    assert held.amount < STATIC_THRESHOLD / 10
