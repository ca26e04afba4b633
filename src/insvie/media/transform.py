"""Resizing and cropping frames (HxWxC) and clips (TxHxWxC) of any dtype OpenCV can resize.

Sizes are ``(height, width)``, the order of numpy shapes, never OpenCV's ``(width, height)``.
Downscaling uses area averaging, which does not alias the way bilinear sampling does when a frame
shrinks by more than 2x; upscaling uses bicubic. Crops are views of the input: copy before writing.
"""

from __future__ import annotations

import cv2
import numpy as np


def fit_within(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) scaled down, keeping aspect, so the longer side is at most ``max_side``."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    longest = max(height, width)
    if longest <= max_side:
        return height, width
    scale = max_side / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


def _spatial(frames: np.ndarray) -> tuple[int, int]:
    if frames.ndim not in (3, 4):
        raise ValueError(f"expected a frame HxWxC or a clip TxHxWxC, got shape {frames.shape}")
    return frames.shape[-3], frames.shape[-2]


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive (height, width), got {size}")
    return int(height), int(width)


def _resize_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    shrinking = height <= frame.shape[0] and width <= frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(frame, (width, height), interpolation=interpolation)
    return resized.reshape(height, width, frame.shape[2])  # OpenCV drops a single channel axis


def resize(
    frames: np.ndarray, size: tuple[int, int] | None = None, *, max_side: int | None = None
) -> np.ndarray:
    """Resize to ``size`` (height, width), or shrink so the longer side is at most ``max_side``.

    Exactly one of the two is given. ``max_side`` keeps the aspect ratio and never enlarges. Input
    already at the target size is returned as is, not copied.
    """
    if (size is None) == (max_side is None):
        raise ValueError("give exactly one of size or max_side")
    in_height, in_width = _spatial(frames)
    height, width = _check_size(size) if size is not None else fit_within(in_height, in_width, max_side)
    if (height, width) == (in_height, in_width):
        return frames
    if frames.ndim == 3:
        return _resize_frame(frames, height, width)
    out = np.empty((frames.shape[0], height, width, frames.shape[3]), dtype=frames.dtype)
    for index, frame in enumerate(frames):
        out[index] = _resize_frame(frame, height, width)
    return out


def _crop(frames: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    return frames[..., top : top + height, left : left + width, :]


def _crop_fits(frames: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(in_height, in_width, height, width), refusing crops larger than the frames."""
    in_height, in_width = _spatial(frames)
    height, width = _check_size(size)
    if height > in_height or width > in_width:
        raise ValueError(f"cannot crop {height}x{width} (HxW) out of {in_height}x{in_width}")
    return in_height, in_width, height, width


def center_crop(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The central ``size`` (height, width) region."""
    in_height, in_width, height, width = _crop_fits(frames, size)
    return _crop(frames, (in_height - height) // 2, (in_width - width) // 2, height, width)


def resize_center_crop(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to cover ``size`` (height, width) keeping aspect, then crop the centre.

    This is how video-diffusion loaders bring clips of any shape to a training size without
    stretching them or adding borders.
    """
    in_height, in_width = _spatial(frames)
    height, width = _check_size(size)
    scale = max(height / in_height, width / in_width)
    cover = (max(height, round(in_height * scale)), max(width, round(in_width * scale)))
    return center_crop(resize(frames, cover), (height, width))


def aligned_random_crop(
    a: np.ndarray, b: np.ndarray, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Crop ``a`` and ``b`` at the same random position, so paired clips stay pixel-aligned.

    A source clip and its edited version (or mask) must be cut identically or the pair teaches the
    editor a shift. All dimensions but the channel count must match.
    """
    if a.shape[:-1] != b.shape[:-1]:
        raise ValueError(f"paired inputs differ in shape: {a.shape} vs {b.shape}")
    in_height, in_width, height, width = _crop_fits(a, size)
    top = int(rng.integers(0, in_height - height + 1))
    left = int(rng.integers(0, in_width - width + 1))
    return _crop(a, top, left, height, width), _crop(b, top, left, height, width)
