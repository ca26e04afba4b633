"""Sharpness, exposure, blockiness and colourfulness respond to the degradations they name."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_analysis_scenes import blocky, jpeg, pan, texture

from insvie.backends.analysis.quality import (
    FrameQuality,
    blockiness,
    clip_quality,
    colourfulness,
    exposure,
    frame_quality,
    sharpness,
)

FRAME = texture(240, 360, seed=3)


def test_sharpness_falls_steadily_with_blur() -> None:
    scores = [sharpness(cv2.GaussianBlur(FRAME, (0, 0), s)) if s else sharpness(FRAME) for s in (0, 1, 2, 4)]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < scores[0] / 10


def test_sharpness_does_not_depend_on_storage_resolution() -> None:
    big = texture(480, 720, seed=4)
    half = cv2.resize(big, (360, 240), interpolation=cv2.INTER_AREA)
    assert sharpness(half) == pytest.approx(sharpness(big), rel=0.1)
    # Without the fixed working size the two would differ a lot.
    assert sharpness(half, size=None) > 1.5 * sharpness(big, size=None)


def test_flat_frame_has_zero_sharpness_and_neutral_blockiness() -> None:
    flat = np.full((64, 96, 3), 128, np.uint8)
    assert sharpness(flat) == 0.0
    assert blockiness(flat) == pytest.approx(1.0)
    assert colourfulness(flat) == pytest.approx(0.0)


def test_exposure_reports_level_contrast_and_clipping() -> None:
    dark = (FRAME // 8).astype(np.uint8)
    bright = np.clip(FRAME.astype(int) + 150, 0, 255).astype(np.uint8)
    normal = exposure(FRAME)
    assert exposure(dark).mean_luma < 0.15 < normal.mean_luma < exposure(bright).mean_luma
    assert exposure(dark).dark_fraction > 0.5 > normal.dark_fraction
    assert exposure(bright).bright_fraction > 0.3 > normal.bright_fraction
    assert exposure(np.full((8, 8, 3), 200, np.uint8)).contrast == 0.0


def test_blockiness_is_neutral_on_clean_frames_wherever_the_grid_sits() -> None:
    assert blockiness(FRAME) < 1.2
    assert blockiness(FRAME[3:, 5:]) < 1.2


def test_blockiness_rises_with_block_quantisation() -> None:
    clean = blockiness(FRAME)
    soft = blockiness(jpeg(FRAME, 40))
    hard = blockiness(jpeg(FRAME, 8))
    assert clean < soft < hard
    assert hard > 1.5
    assert blockiness(blocky(FRAME)) > 2.0
    # Pixelation (nearest upscaling of 8x8 blocks) is the extreme case, and a crop does not hide it.
    pixelated = cv2.resize(
        cv2.resize(FRAME, (45, 30), interpolation=cv2.INTER_AREA), (360, 240), interpolation=0
    )
    assert blockiness(pixelated) > 10
    assert blockiness(pixelated[3:, 5:]) > 10
    with pytest.raises(ValueError, match="block"):
        blockiness(FRAME, block=1)


def test_colourfulness_orders_grey_dull_vivid() -> None:
    grey = np.repeat(cv2.cvtColor(FRAME, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    dull = ((FRAME.astype(int) + 2 * grey) // 3).astype(np.uint8)
    assert colourfulness(grey) < 1 < colourfulness(dull) < colourfulness(FRAME)


def test_frame_and_clip_quality_are_json_ready() -> None:
    quality = frame_quality(FRAME)
    assert isinstance(quality, FrameQuality)
    assert quality.sharpness == pytest.approx(sharpness(FRAME))
    clip = pan([(i, 0) for i in range(6)])
    summary = clip_quality(clip, frames=3)
    assert set(summary) == {*quality.as_dict(), "min_sharpness", "max_blockiness"}
    assert summary["min_sharpness"] <= summary["sharpness"]
    json.dumps(summary)
    single = clip_quality(FRAME[None], frames=5)
    assert single["sharpness"] == pytest.approx(quality.sharpness)
