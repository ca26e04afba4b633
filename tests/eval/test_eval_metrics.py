"""The weight-free metrics on cases with known answers: identical, shuffled, constant, shifted videos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from insvie.errors import ConfigError
from insvie.eval.metrics import PSNR_CAP, MetricUnavailable, build_metrics, parse_metric_names, psnr, ssim
from insvie.eval.metrics.pixels import SSIM_SIGMA, SSIM_WINDOW, ssim_map
from insvie.eval.sample import EvalSample, SampleFrames
from insvie.synth import generate_sample

SAMPLE = EvalSample("s1", source=__file__, instruction="make it blue")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def moving() -> np.ndarray:
    """A textured SynthEdit scene with a moving camera and objects: 13 frames of 64x96."""
    return generate_sample(7, size=(64, 96), num_frames=13).source


def scores(name: str, frames: SampleFrames) -> dict[str, float]:
    (metric,) = build_metrics([name])
    return metric.score(SAMPLE, frames)


def test_psnr_matches_the_direct_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / mse))
    assert psnr(a, a) == PSNR_CAP


def test_ssim_is_one_for_identical_and_the_closed_form_for_constant_frames() -> None:
    a = np.full((2, 16, 16, 3), 100, np.uint8)
    b = np.full((2, 16, 16, 3), 140, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, a) == pytest.approx(1.0)
    # Flat frames: no variance, so SSIM is the luminance term alone.
    assert ssim(a, b) == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1))


def test_ssim_map_matches_an_explicit_gaussian_window_inside_the_frame() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) // 2 + rng.integers(0, 60, x.shape), 0, 255).astype(np.uint8)
    offsets = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    g = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    row, col = 9, 11
    values = []
    for channel in range(3):
        px = x[row - 5 : row + 6, col - 5 : col + 6, channel].astype(float)
        py = y[row - 5 : row + 6, col - 5 : col + 6, channel].astype(float)
        mx, my = (window * px).sum(), (window * py).sum()
        vx, vy = (window * (px - mx) ** 2).sum(), (window * (py - my) ** 2).sum()
        cov = (window * (px - mx) * (py - my)).sum()
        values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    assert ssim_map(x, y)[row, col] == pytest.approx(np.mean(values), abs=1e-6)


def test_identical_videos_score_perfectly(moving: np.ndarray) -> None:
    mask = np.zeros(moving.shape[:3], bool)
    mask[:, 10:30, 20:50] = True
    frames = SampleFrames(moving, moving.copy(), mask=mask, ground_truth=moving)
    assert scores("preserve", frames)["psnr"] == PSNR_CAP
    assert scores("preserve", frames)["ssim"] == pytest.approx(1.0)
    assert scores("gt", frames) == pytest.approx({"psnr": PSNR_CAP, "ssim": 1.0})
    assert scores("motion", frames)["epe"] == pytest.approx(0.0, abs=1e-9)
    warp = scores("warp", frames)
    assert warp["ratio"] == pytest.approx(1.0) and warp["excess"] == pytest.approx(0.0)


def test_shuffled_frames_break_motion_and_raise_the_warping_error(moving: np.ndarray) -> None:
    order = np.random.default_rng(3).permutation(len(moving))
    frames = SampleFrames(moving, moving[order])
    ordered = SampleFrames(moving, moving.copy())
    assert scores("motion", frames)["epe"] > scores("motion", ordered)["epe"] + 0.01
    assert scores("warp", frames)["ratio"] > 1.2
    assert scores("warp", frames)["error"] > scores("warp", ordered)["error"]


def test_an_added_pan_is_caught_by_motion_fidelity(moving: np.ndarray) -> None:
    shifted = np.stack([np.roll(frame, 3 * t, axis=1) for t, frame in enumerate(moving)])
    result = scores("motion", SampleFrames(moving, shifted))
    assert result["epe"] > 0.02
    assert result["relative_epe"] > 0.5


def test_preservation_ignores_the_masked_region(moving: np.ndarray) -> None:
    mask = np.zeros(moving.shape[:3], bool)
    mask[:, 16:40, 24:64] = True
    edited = moving.copy()
    edited[mask] = np.random.default_rng(2).integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    masked = scores("preserve", SampleFrames(moving, edited, mask=mask))
    assert masked["psnr"] == PSNR_CAP  # every unmasked pixel is untouched
    assert masked["fraction"] == pytest.approx(1 - mask.mean())
    # SSIM windows near the mask's border still see the noise, but far less than the whole frame does.
    whole = ssim(moving, edited)
    assert masked["ssim"] > 0.9 > whole


def test_metrics_decline_samples_they_cannot_score(moving: np.ndarray) -> None:
    frames = SampleFrames(moving, moving)
    for name, reason in (
        ("preserve", "no edit mask"),
        ("gt", "no ground-truth"),
        ("seam", "no window seams"),
    ):
        with pytest.raises(MetricUnavailable, match=reason):
            scores(name, frames)
    full = SampleFrames(moving, moving, mask=np.ones(moving.shape[:3], bool))
    with pytest.raises(MetricUnavailable, match="covers every pixel"):
        scores("preserve", full)


def test_a_seam_jump_reads_above_one(moving: np.ndarray) -> None:
    still = np.repeat(moving[:1], 12, axis=0).astype(np.int16)
    still += np.arange(12, dtype=np.int16)[:, None, None, None]  # a slow, even brightness ramp
    jumped = still.copy()
    jumped[6:] += 40
    smooth = scores("seam", SampleFrames(moving[:12], np.clip(still, 0, 255).astype(np.uint8), seams=(6,)))
    jump = scores("seam", SampleFrames(moving[:12], np.clip(jumped, 0, 255).astype(np.uint8), seams=(6,)))
    assert smooth["ratio_mean"] == pytest.approx(1.0, abs=0.1)
    assert jump["ratio_max"] > 10 and jump["count"] == 1


def test_unknown_metric_names_are_refused_by_name() -> None:
    assert parse_metric_names("clip_t, motion,clip_t") == ["clip_t", "motion"]
    with pytest.raises(ConfigError, match=r"unknown metric.*bogus"):
        parse_metric_names("motion,bogus")
