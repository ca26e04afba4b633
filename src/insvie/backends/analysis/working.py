"""Working resolution: the one place frames are shrunk before they are measured.

Every metric in this package looks at a frame far smaller than the source (long side 64-320), both for
speed and so that its value does not depend on the resolution a clip happened to be stored at. OpenCV's
area interpolation has a fast path only for an exact 2x reduction (about 0.1 ms for 720x480 against
0.5-1 ms for an arbitrary factor), so :func:`shrink` halves while it can and resamples once at the end.
Repeated 2x box filters approximate one larger box filter closely enough for measuring, never for output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from insvie.media import fit_within


def fit_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(height, width) scaled down, keeping aspect, so the longer side is at most ``max_side``.

    ``None`` means no limit. Never enlarges; sides are at least 1.
    """
    return (height, width) if max_side is None else fit_within(height, width, max_side)


def shrink(frame: np.ndarray, max_side: int | None, *, fast: bool = False) -> np.ndarray:
    """``frame`` (HxW or HxWxC) area-downscaled so its longer side is at most ``max_side``.

    Returned unchanged (not copied) when it already fits, so callers may pre-shrink a clip once and
    pass it on to functions that shrink again. ``fast`` does the last, less-than-2x step bilinearly
    (5x cheaper than area on small frames, but it aliases: it raises Laplacian variance by 10-50%),
    for signals that only compare frames of one clip with each other, such as shot detection.
    """
    height, width = frame.shape[:2]
    target_h, target_w = fit_size(height, width, max_side)
    if (target_h, target_w) == (height, width):
        return frame
    out = frame
    # Halve while the result stays at least the target size; the last step does the odd ratio.
    while out.shape[0] // 2 >= target_h and out.shape[1] // 2 >= target_w:
        h, w = out.shape[:2]
        out = cv2.resize(out, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    if out.shape[:2] != (target_h, target_w):
        last_step = cv2.INTER_LINEAR if fast else cv2.INTER_AREA
        out = cv2.resize(out, (target_w, target_h), interpolation=last_step)
    return out


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 luma of an RGB frame; a frame that is already single-channel passes through."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[..., 0]
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxW or HxWx3 frame, got shape {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@contextmanager
def opencv_threads(count: int) -> Iterator[None]:
    """OpenCV's own thread count for the block, the former one restored after.

    For callers that measure several clips on threads of their own: OpenCV splitting each small
    working-size operation over its pool again only adds synchronisation (a clip's signals took 52 ms
    of CPU with one OpenCV thread and 68-75 ms with two, on 2 cores). The setting is process-wide, as
    OpenCV has no per-thread one, so use it where nothing else runs OpenCV at the same time.
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def gray_small(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """Luma at working resolution: converts after shrinking, which is cheaper than before."""
    return to_gray(shrink(frame, max_side))


def shrink_video(video: np.ndarray, max_side: int | None) -> np.ndarray:
    """Every frame of a TxHxWxC (or TxHxW) clip shrunk by :func:`shrink`; the clip itself if it fits."""
    check_video(video)
    height, width = video.shape[1:3]
    if fit_size(height, width, max_side) == (height, width):
        return video
    return np.stack([shrink(frame, max_side) for frame in video])


def check_video(video: np.ndarray, *, min_frames: int = 1) -> None:
    """Refuse anything but a uint8 TxHxW(xC) array of at least ``min_frames`` frames."""
    if not isinstance(video, np.ndarray) or video.ndim not in (3, 4):
        shape = getattr(video, "shape", None)
        raise ValueError(f"expected a clip TxHxWx3 (or TxHxW), got shape {shape}")
    if video.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {video.dtype}")
    if len(video) < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {len(video)}")


def check_same_shape(source: np.ndarray, edited: np.ndarray) -> None:
    """Source and edited clips are compared frame by frame, so they must match exactly in shape."""
    check_video(source)
    if source.shape != edited.shape:
        raise ValueError(f"source {source.shape} and edited {edited.shape} clips differ in shape")


def evenly_spaced(count: int, num: int) -> list[int]:
    """``num`` distinct indices spread evenly over ``range(count)``, first and last included."""
    if count <= 0 or num <= 0:
        return []
    if num >= count:
        return list(range(count))
    if num == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (num - 1)) for i in range(num)})


def frame_pairs(num_frames: int, pairs: int | None, *, gap: int = 1) -> list[tuple[int, int]]:
    """Up to ``pairs`` frame pairs ``(t, t + gap)`` spread evenly over the clip; all of them if ``None``."""
    if gap < 1:
        raise ValueError(f"gap must be at least 1, got {gap}")
    starts = num_frames - gap
    if starts <= 0:
        return []
    chosen = range(starts) if pairs is None else evenly_spaced(starts, pairs)
    return [(t, t + gap) for t in chosen]
