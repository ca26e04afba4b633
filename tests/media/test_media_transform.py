"""Resizing, cropping, 4k+1 windows and constant-rate resampling: pure functions on arrays and times."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from insvie.media import (
    aligned_random_crop,
    center_crop,
    fit_within,
    largest_valid_length,
    resample_indices,
    resize,
    resize_center_crop,
    window_spans,
)
from insvie.media.timing import is_variable_rate


def coords(height: int, width: int, frames: int | None = None) -> np.ndarray:
    """An array whose pixels name their own position: channel 0 = row, channel 1 = column."""
    rows, cols = np.mgrid[0:height, 0:width]
    frame = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.int32)
    return frame if frames is None else np.repeat(frame[None], frames, axis=0)


# -- resize -----------------------------------------------------------------------------------


def test_resize_frame_and_clip_to_size():
    frame = np.zeros((48, 64, 3), np.uint8)
    assert resize(frame, (24, 32)).shape == (24, 32, 3)
    assert resize(np.stack([frame] * 5), (100, 90)).shape == (5, 100, 90, 3)
    mask = np.zeros((3, 48, 64, 1), np.uint8)
    assert resize(mask, (24, 32)).shape == (3, 24, 32, 1)  # a single channel survives OpenCV


def test_downscale_averages_areas():
    checker = np.indices((64, 64)).sum(axis=0) % 2 * 255
    frame = np.repeat(checker[:, :, None], 3, axis=2).astype(np.uint8)
    small = resize(frame, (16, 16))
    assert np.abs(small.astype(int) - 128).max() <= 1  # no aliasing into stripes


def test_resize_to_max_side_keeps_aspect_and_never_enlarges():
    frame = np.zeros((480, 720, 3), np.uint8)
    assert resize(frame, max_side=360).shape == (240, 360, 3)
    assert resize(frame, max_side=1000) is frame
    assert fit_within(720, 480, 360) == (360, 240)
    with pytest.raises(ValueError, match="exactly one"):
        resize(frame, (10, 10), max_side=5)
    with pytest.raises(ValueError, match="exactly one"):
        resize(frame)


# -- crops ------------------------------------------------------------------------------------


def test_center_crop_takes_the_middle():
    crop = center_crop(coords(10, 20), (4, 6))
    assert crop.shape == (4, 6, 3)
    assert (crop[0, 0, 0], crop[0, 0, 1]) == (3, 7)
    clip = center_crop(coords(10, 20, frames=3), (4, 6))
    assert clip.shape == (3, 4, 6, 3)
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(coords(10, 20), (11, 6))


def test_resize_center_crop_covers_then_crops():
    wide = np.zeros((480, 720, 3), np.uint8)
    wide[:, 240:480] = 255  # the central square third is white
    square = resize_center_crop(wide, (240, 240))
    assert square.shape == (240, 240, 3)
    # Scaled to 240x360 (white in columns 120..240), then columns 60..300 kept: white lands at 60..180.
    assert square[:, 62:178].min() == 255
    assert square[:, :58].max() == 0 and square[:, 182:].max() == 0
    tall = resize_center_crop(np.zeros((2, 100, 50, 3), np.uint8), (60, 80))
    assert tall.shape == (2, 60, 80, 3)


def test_aligned_random_crop_cuts_pairs_identically():
    source = coords(30, 40, frames=2)
    edited = source * 2
    rng = np.random.default_rng(3)
    positions = set()
    for _ in range(20):
        a, b = aligned_random_crop(source, edited, (8, 10), rng)
        assert a.shape == b.shape == (2, 8, 10, 3)
        np.testing.assert_array_equal(b, a * 2)
        positions.add((int(a[0, 0, 0, 0]), int(a[0, 0, 0, 1])))
    assert len(positions) > 10  # really random
    top, left = max(positions)
    assert top <= 22 and left <= 30


def test_aligned_random_crop_allows_a_mask_but_not_a_different_size():
    rng = np.random.default_rng(0)
    frames = np.zeros((2, 20, 20, 3), np.uint8)
    crop, mask = aligned_random_crop(frames, np.zeros((2, 20, 20, 1), np.uint8), (5, 5), rng)
    assert crop.shape == (2, 5, 5, 3) and mask.shape == (2, 5, 5, 1)
    with pytest.raises(ValueError, match="differ in shape"):
        aligned_random_crop(frames, np.zeros((2, 20, 21, 3), np.uint8), (5, 5), rng)


# -- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "length"), [(1, 1), (4, 1), (5, 5), (48, 45), (49, 49), (52, 49), (53, 53)]
)
def test_largest_valid_length(frames: int, length: int):
    assert largest_valid_length(frames) == length


def test_window_spans():
    assert window_spans(49, 49) == [(0, 49)]
    assert window_spans(100, 49) == [(0, 49), (49, 98)]
    assert window_spans(100, 49, stride=24) == [(0, 49), (24, 73), (48, 97)]
    assert window_spans(10, 49) == []
    with pytest.raises(ValueError, match="4k\\+1"):
        window_spans(100, 48)
    with pytest.raises(ValueError, match="stride"):
        window_spans(100, 49, stride=0)
    with pytest.raises(ValueError):
        largest_valid_length(0)


# -- timing -----------------------------------------------------------------------------------


def test_resample_indices_on_constant_rate():
    times = [Fraction(index, 8) for index in range(49)]
    assert resample_indices(times, 4, Fraction(49, 8)) == list(range(0, 49, 2))
    assert resample_indices(times, 8, Fraction(49, 8)) == list(range(49))
    assert resample_indices(times, 16, Fraction(49, 8)) == [index // 2 for index in range(98)]
    assert resample_indices([], 8, 0) == []


def test_resample_tolerates_times_rounded_to_the_time_base():
    # 30 fps stored in milliseconds: 0, 33, 67, 100, ... A strict comparison would drop and repeat frames.
    times = [Fraction(round(index * 1000 / 30), 1000) for index in range(90)]
    picks = resample_indices(times, 30, Fraction(3), tolerance=Fraction(1, 2000))
    assert picks == list(range(90))
    assert is_variable_rate([round(index * 1000 / 30) for index in range(90)]) is False


def test_variable_rate_detection():
    assert is_variable_rate([0, 100, 150, 400, 450, 500]) is True
    assert is_variable_rate([0, 2048, 4096, 6144]) is False
    assert is_variable_rate([4096, 0, 2048]) is False  # decode order does not matter
    assert is_variable_rate([0]) is False
