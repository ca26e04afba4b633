"""Optical flow at a working resolution, and the field algebra the propagator needs.

Flow is estimated with OpenCV's DIS on grey frames shrunk so their longer side is ``flow_size``:
the propagator needs two flows per frame and has ~16 ms for everything. At 240x160 the backward
flow, refined down to the finest pyramid level (small movers need it), costs ~2 ms with the
``ultrafast`` preset (~4 ms ``fast``); the forward flow that only feeds the consistency check stops
one level higher (~0.5 ms). At 720x480 the same flows would cost 3-14 ms each. Fields are kept as
displacements, not absolute coordinates, so that upsampling them to full resolution is exact for a
zero field and smooth at the borders.

Convention: ``flow(a, b)[y, x] = d`` means pixel (x, y) of ``a`` shows what ``b`` shows at (x, y) + d.
"""

from __future__ import annotations

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) shrunk so the longer side is at most ``max_side``; never enlarged."""
    longest = max(height, width)
    if longest <= max_side:
        return height, width
    scale = max_side / longest
    return max(8, round(height * scale)), max(8, round(width * scale))


def shrink_grey(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grey frame at ``size`` (height, width); halves with the fast 2x area path while it can."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    height, width = size
    while grey.shape[0] // 2 >= height and grey.shape[1] // 2 >= width:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if grey.shape != (height, width):
        grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return grey


_MIN_SIDE = 16


class FlowEstimator:
    """DIS optical flow between grey frames of one size."""

    def __init__(self, preset: str = "fast", finest_scale: int | None = None) -> None:
        """``finest_scale`` overrides the preset's (2 for ultrafast/fast, 1 for medium): the pyramid
        level, counted from full size, at which DIS stops; flow below it is upsampled, so a fast
        preset's flow at 360x240 really has only 90x60 vectors and underestimates small movers."""
        if preset not in PRESETS:
            raise ValueError(f"flow preset must be one of {sorted(PRESETS)}, got {preset!r}")
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])
        if finest_scale is not None:
            self._dis.setFinestScale(int(finest_scale))

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 from ``a`` to ``b`` (see module convention)."""
        height, width = a.shape[:2]
        if height >= _MIN_SIDE and width >= _MIN_SIDE:
            return self._dis.calc(a, b, None)
        # DIS refuses frames smaller than its patches: pad (replicating edges), then crop.
        bottom, right = max(0, _MIN_SIDE - height), max(0, _MIN_SIDE - width)
        pad = [cv2.copyMakeBorder(x, 0, bottom, 0, right, cv2.BORDER_REPLICATE) for x in (a, b)]
        return np.ascontiguousarray(self._dis.calc(pad[0], pad[1], None)[:height, :width])


def pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 of each pixel's own (x, y)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.stack([xs, ys], axis=-1)


def sample(field: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``field`` bilinearly sampled at ``positions`` (H, W, 2 absolute x, y); edges replicate."""
    return cv2.remap(
        field, positions[..., 0], positions[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


_SUM_CHANNELS = np.ones((1, 2), dtype=np.float32)


def squared_norm(field: np.ndarray) -> np.ndarray:
    """|v|^2 of a (H, W, 2) float32 field (OpenCV: numpy's sum over a length-2 axis is ~10x slower)."""
    return cv2.transform(cv2.multiply(field, field), _SUM_CHANNELS)


def consistent(
    backward: np.ndarray, forward: np.ndarray, grid: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    """Where the backward flow is trusted: float32 mask (H, W) in {0, 1}.

    ``backward`` maps frame t to t-1, ``forward`` t-1 to t. A pixel passes when following it back
    and then forward returns near its start (Sundaram et al. 2010:
    ``|b + f(x + b)|^2 <= alpha (|b|^2 + |f(x + b)|^2) + beta``) and its match lies inside frame t-1.
    Failing pixels are occluded in t-1 or badly matched.
    """
    height, width = backward.shape[:2]
    target = grid + backward
    forward_there = sample(forward, target)
    loop = backward + forward_there
    error = squared_norm(loop)
    bound = alpha * (squared_norm(backward) + squared_norm(forward_there)) + beta
    inside = (target[..., 0] >= 0) & (target[..., 0] <= width - 1) & (target[..., 1] >= 0)
    inside &= target[..., 1] <= height - 1
    return ((error <= bound) & inside).astype(np.float32)


def upsample_displacement(displacement: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A displacement field (h, w, 2) in working pixels, resized to ``size`` in full-size pixels."""
    height, width = size
    small_h, small_w = displacement.shape[:2]
    if (small_h, small_w) == (height, width):
        return displacement
    out = cv2.resize(displacement, (width, height), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= width / small_w
    out[..., 1] *= height / small_h
    return out


PATCH = 5


def mismatch(
    anchor_grey: np.ndarray, grey: np.ndarray, grid: np.ndarray, displacement: np.ndarray
) -> np.ndarray:
    """Mean |anchor - current| grey difference over 5x5 patches, with the anchor warped by
    ``displacement``: how badly each pixel's match into the anchor fits (float32 grey levels)."""
    warped = sample(anchor_grey, grid + displacement)
    return cv2.blur(cv2.absdiff(warped, grey), (PATCH, PATCH)).astype(np.float32)


# Diagonal neighbours only: measured as good as all eight on the moving-object scenes, at half the cost.
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def repair(
    displacement: np.ndarray,
    valid: np.ndarray,
    error: np.ndarray,
    anchor_grey: np.ndarray,
    grey: np.ndarray,
    grid: np.ndarray,
    radius: int,
    accept: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give pixels that lost their match a neighbour's, when the neighbour's fits them better.

    Flow is smooth across motion boundaries, so the rim of a moving object -- its leading edge
    above all -- gets a blend of object and background motion, fails the checks and would drop the
    edit there, a little more at every anchor until the edit shrinks off the object. Here each pixel
    that is invalid or fits worse than ``accept`` grey levels tries the anchor displacement of its
    diagonal neighbours ``radius`` pixels away (a PatchMatch-style propagation step) and takes
    the valid candidate with the best patch fit, if that fit is within ``accept``. Revealed
    background finds no neighbour that fits (the anchor shows the object there) and stays invalid.
    Returns the updated (displacement, valid, error).
    """
    need = (valid < 0.5) | (error > accept)
    if radius <= 0 or not need.any():
        return displacement, valid, error
    best_error = np.where(valid >= 0.5, error, np.float32(np.inf)).astype(np.float32)
    best_displacement = displacement.copy()
    best_valid = valid.copy()
    pad = radius
    padded_d = cv2.copyMakeBorder(displacement, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    padded_v = cv2.copyMakeBorder(valid, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    height, width = valid.shape
    for dx, dy in _DIRECTIONS:
        ys, xs = pad + dy * radius, pad + dx * radius
        candidate = np.ascontiguousarray(padded_d[ys : ys + height, xs : xs + width])
        candidate_valid = padded_v[ys : ys + height, xs : xs + width]
        candidate_error = mismatch(anchor_grey, grey, grid, candidate)
        better = need & (candidate_valid >= 0.5) & (candidate_error < np.minimum(best_error, accept))
        best_error = np.where(better, candidate_error, best_error)
        best_displacement[better] = candidate[better]
        best_valid = np.where(better, candidate_valid, best_valid)
    return best_displacement, best_valid, np.where(np.isfinite(best_error), best_error, error)
