"""PSNR and SSIM of uint8 RGB videos, optionally over a subset of pixels.

SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03 and a
dynamic range of 255, computed per RGB channel and averaged over the channels into one map per frame
(scikit-image's ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``).
Restricting SSIM to a region is the mean of that map over the region's pixels, so the windows still
see their neighbourhood; borders are reflected so every pixel has a map value.

PSNR of identical pixels is infinite; it is reported as :data:`PSNR_CAP` dB so scores stay plain JSON
numbers and averages stay finite (100 dB is far above any lossy codec, ~50 dB at best).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PSNR_CAP = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _select(video: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    """Pixels (N, 3) of ``video`` (T, H, W, 3) where ``where`` (T, H, W) is true; all without it."""
    return video.reshape(-1, video.shape[-1]) if where is None else video[where]


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 videos over the pixels ``where`` is true.

    The mean squared error is taken over every selected pixel and channel of every frame at once
    (one PSNR per video, not an average of per-frame PSNRs). Identical pixels give :data:`PSNR_CAP`.
    """
    left = _select(a, where).astype(np.float64)
    right = _select(b, where).astype(np.float64)
    if left.size == 0:
        raise ValueError("no pixels selected for PSNR")
    mse = float(np.mean((left - right) ** 2))
    if mse == 0.0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(
        image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, sigmaY=SSIM_SIGMA, borderType=cv2.BORDER_REFLECT
    )


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (H, W) SSIM map of two uint8 frames (H, W, 3), averaged over the colour channels."""
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"ssim_map needs two frames (H, W, C) of one shape, got {a.shape} and {b.shape}")
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    mu_x, mu_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mu_x * mu_x
    var_y = _blur(y * y) - mu_y * mu_y
    cov = _blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * cov + _C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return (numerator / denominator).reshape(a.shape).mean(axis=-1)


def ssim(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Mean SSIM of two uint8 videos (T, H, W, 3) over the pixels ``where`` (T, H, W) is true."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two videos (T, H, W, C) of one shape, got {a.shape} and {b.shape}")
    total, count = 0.0, 0
    for index in range(len(a)):
        if where is not None and not where[index].any():
            continue
        frame_map = ssim_map(a[index], b[index])
        selected = frame_map if where is None else frame_map[where[index]]
        total += float(selected.sum())
        count += selected.size
    if count == 0:
        raise ValueError("no pixels selected for SSIM")
    return total / count
