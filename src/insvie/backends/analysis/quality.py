"""Single-frame quality signals for curation: sharpness, exposure, blockiness, colourfulness.

Each is cheap (well under a millisecond at 720x480) and meant to be read on a few sampled frames per
clip. Sharpness and exposure are measured at a fixed working size so that a clip's score does not depend
on its storage resolution; blockiness is measured at the size given, because codec blocks live on the
stored pixel grid and any resampling smears them away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

from insvie.backends.analysis.working import check_video, evenly_spaced, gray_small, shrink, to_gray

SHARPNESS_SIZE = 256
BLOCK = 8
DARK_LEVEL = 16  # luma at or below: crushed black (video legal black is 16)
BRIGHT_LEVEL = 239  # luma at or above: clipped white (legal white is 235)


def sharpness(frame: np.ndarray, *, size: int | None = SHARPNESS_SIZE) -> float:
    """Variance of the Laplacian of luma shrunk to long side ``size``: higher is sharper.

    The fixed working size makes the value comparable across storage resolutions (a 4K clip and its
    720p copy score alike); frames smaller than ``size`` are measured at their own size. Flat or
    blurred frames score near 0; crisp natural 256-px frames typically score in the hundreds or more.
    """
    gray = gray_small(frame, size)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)
    _, std = cv2.meanStdDev(laplacian)
    return float(std[0, 0] ** 2)


def detail(frame: np.ndarray, *, size: int | None = SHARPNESS_SIZE) -> float:
    """Sharpness relative to contrast: variance of the Laplacian over variance of luma, at ``size``.

    Unlike :func:`sharpness` it does not move when a colour grade darkens or flattens a frame (both
    variances scale alike), so comparing an edited video with its source reads blur, not the grade.
    """
    gray = gray_small(frame, size).astype(np.float32)
    _, lap_std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_32F))
    _, std = cv2.meanStdDev(gray)
    return float(lap_std[0, 0] ** 2 / (std[0, 0] ** 2 + 1e-3))


def detail_ratio(source: np.ndarray, edited: np.ndarray, *, frames: int = 3) -> float:
    """Mean :func:`detail` of ``frames`` evenly spaced edited frames over the source's (1 = no blur added)."""
    check_video(source)
    picks = evenly_spaced(len(source), frames)
    base = float(np.mean([detail(source[i]) for i in picks]))
    return float(np.mean([detail(edited[i]) for i in picks])) / max(base, 1e-6)


@dataclass(frozen=True)
class Exposure:
    """Luma statistics in [0, 1]: mean level, spread, and the shares of crushed and clipped pixels."""

    mean_luma: float
    contrast: float
    dark_fraction: float
    bright_fraction: float


def exposure(frame: np.ndarray, *, size: int | None = SHARPNESS_SIZE) -> Exposure:
    """Exposure of a frame from its luma at working size ``size``.

    ``contrast`` is the luma standard deviation; ``dark_fraction`` and ``bright_fraction`` count
    pixels at or below :data:`DARK_LEVEL` and at or above :data:`BRIGHT_LEVEL` out of 255.
    """
    gray = gray_small(frame, size)
    mean, std = cv2.meanStdDev(gray)
    total = gray.size
    dark = np.count_nonzero(gray <= DARK_LEVEL) / total
    bright = np.count_nonzero(gray >= BRIGHT_LEVEL) / total
    return Exposure(float(mean[0, 0]) / 255, float(std[0, 0]) / 255, float(dark), float(bright))


def _axis_blockiness(diffs: np.ndarray, block: int, axis: int) -> float:
    """Max-phase over median-phase mean neighbour difference along one axis."""
    profile = cv2.reduce(diffs, axis, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
    usable = len(profile) // block * block
    if usable < 2 * block:
        return 1.0
    phases = profile[:usable].reshape(-1, block).mean(axis=0)
    peak = int(np.argmax(phases))
    others = np.delete(phases, peak)
    # Half a grey level of slack keeps flat frames at 1 instead of 0/0.
    return float((phases[peak] + 0.5) / (np.median(others) + 0.5))


def blockiness(frame: np.ndarray, *, block: int = BLOCK) -> float:
    """How much stronger luma steps are on one ``block``-pixel grid phase than on the others.

    For each axis, the mean absolute difference between neighbouring pixels is averaged per position
    modulo ``block``; the score is the strongest phase over the median of the rest, averaged over the
    two axes. Natural frames score ~1.0-1.2 wherever their grid sits (crops shift it), heavily
    quantised JPEG/H.264 frames 1.5-3, pixelated (nearest-upscaled) frames far more. Measure it on
    frames at their stored size: resampling destroys the grid.
    """
    if block < 2:
        raise ValueError(f"block must be at least 2, got {block}")
    gray = to_gray(frame)
    horizontal = cv2.absdiff(gray[:, 1:], gray[:, :-1])  # column k: step between columns k and k+1
    vertical = cv2.absdiff(gray[1:, :], gray[:-1, :])
    return 0.5 * (_axis_blockiness(horizontal, block, 0) + _axis_blockiness(vertical, block, 1))


def colourfulness(frame: np.ndarray, *, size: int | None = SHARPNESS_SIZE) -> float:
    """Hasler and Suesstrunk's (2003) colourfulness on 0-255 RGB: ~0 grey, ~15 dull, >100 vivid."""
    rgb = shrink(frame, size).astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@dataclass(frozen=True)
class FrameQuality:
    """Every single-frame signal at once; ``as_dict`` gives plain floats for JSON."""

    sharpness: float
    blockiness: float
    colourfulness: float
    mean_luma: float
    contrast: float
    dark_fraction: float
    bright_fraction: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


_FIELDS = tuple(field.name for field in fields(FrameQuality))


def frame_quality(
    frame: np.ndarray, *, size: int | None = SHARPNESS_SIZE, block: int = BLOCK
) -> FrameQuality:
    """All quality signals of one frame; shrinks it once for the working-size ones."""
    small = shrink(frame, size)
    exp = exposure(small, size=None)
    return FrameQuality(
        sharpness=sharpness(small, size=None),
        blockiness=blockiness(frame, block=block),
        colourfulness=colourfulness(small, size=None),
        mean_luma=exp.mean_luma,
        contrast=exp.contrast,
        dark_fraction=exp.dark_fraction,
        bright_fraction=exp.bright_fraction,
    )


def clip_quality(
    video: np.ndarray, *, frames: int = 5, size: int | None = SHARPNESS_SIZE, block: int = BLOCK
) -> dict[str, float]:
    """Quality of a clip from ``frames`` evenly spaced frames: the mean of each signal, plus
    ``min_sharpness`` and ``max_blockiness`` (one bad stretch spoils a training clip)."""
    check_video(video)
    measured = [frame_quality(video[i], size=size, block=block) for i in evenly_spaced(len(video), frames)]
    out = {key: float(np.mean([getattr(q, key) for q in measured])) for key in _FIELDS}
    out["min_sharpness"] = float(min(q.sharpness for q in measured))
    out["max_blockiness"] = float(max(q.blockiness for q in measured))
    return out
