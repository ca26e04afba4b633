"""Optical flow at a working resolution, and the field algebra the propagator needs.

Flow is estimated with OpenCV's DIS on grey frames shrunk so their longer side is ``flow_size``: the
propagator needs two flows per frame and has ~16 ms of two cores for everything at 60 frames/s. At
240x160 the backward flow, refined down to the finest pyramid level (small movers need it), costs
7-10 ms single-threaded with the ``ultrafast`` preset on the shared 2-core machine (~1 ms at the
preset's own finest level, two up); the forward flow that only feeds the consistency check stops one
level higher (~2-3 ms). With the check they are over a third of the propagator's work, so they run
ahead of it on helper threads (:mod:`.flow_warp`). Fields are kept as displacements, not absolute
coordinates, so that upsampling them to full resolution is exact for a zero field and smooth at the
borders; OpenCV's remap takes them as they are (a relative map: no pixel grid to add).

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


def sample(field: np.ndarray, displacement: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``field`` bilinearly sampled at each pixel plus ``displacement`` (H, W, 2: x, y), into ``out``
    if given; edges replicate. OpenCV adds the pixel's own position (a relative map): no grid to add."""
    flags = cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP
    return cv2.remap(field, displacement, None, flags, dst=out, borderMode=cv2.BORDER_REPLICATE)


def squared_norm(field: np.ndarray) -> np.ndarray:
    """|v|^2 of a (H, W, 2) float32 field (two strided numpy products: ~3x faster than an OpenCV
    channel transform at these sizes, and the same floats)."""
    x, y = field[..., 0], field[..., 1]
    return x * x + y * y


def consistent(
    backward: np.ndarray, forward: np.ndarray, grid: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    """Where the backward flow is trusted: float32 mask (H, W) in {0, 1}.

    ``backward`` maps frame t to t-1, ``forward`` t-1 to t; ``grid`` is the pixel grid (for the
    inside test). A pixel passes when following it back and then forward returns near its start
    (Sundaram et al. 2010: ``|b + f(x + b)|^2 <= alpha (|b|^2 + |f(x + b)|^2) + beta``) and its match
    lies inside frame t-1. Failing pixels are occluded in t-1 or badly matched.
    """
    height, width = backward.shape[:2]
    forward_there = sample(forward, backward)
    error = squared_norm(backward + forward_there)
    bound = alpha * (squared_norm(backward) + squared_norm(forward_there)) + beta
    inside = cv2.inRange(grid + backward, (0.0, 0.0), (width - 1.0, height - 1.0))  # 255: both coordinates
    return cv2.bitwise_and(cv2.compare(error, bound, cv2.CMP_LE), inside).astype(np.float32) / 255.0


def upsample_displacement(
    displacement: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None
) -> np.ndarray:
    """A displacement field (h, w, 2) in working pixels, resized to ``size`` in full-size pixels
    (scaled first, at the working size: one full-size pass, not three), into ``out`` if given."""
    height, width = size
    small_h, small_w = displacement.shape[:2]
    if (small_h, small_w) == (height, width):
        return displacement
    scale = np.array([width / small_w, height / small_h], dtype=np.float32)
    return cv2.resize(displacement * scale, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)


PATCH = 5


def mismatch(anchor_grey: np.ndarray, grey: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Mean |anchor - current| grey difference over 5x5 patches, with the anchor warped by
    ``displacement``: how badly each pixel's match into the anchor fits (float32 grey levels)."""
    warped = sample(anchor_grey, displacement)
    return cv2.blur(cv2.absdiff(warped, grey), (PATCH, PATCH)).astype(np.float32)


# Diagonal neighbours only: measured as good as all eight on the moving-object scenes, at half the cost.
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def repair(
    displacement: np.ndarray,
    valid: np.ndarray,
    error: np.ndarray,
    anchor_grey: np.ndarray,
    grey: np.ndarray,
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
    need = cv2.bitwise_or(cv2.compare(valid, 0.5, cv2.CMP_LT), cv2.compare(error, accept, cv2.CMP_GT))
    if radius <= 0 or not cv2.countNonZero(need):
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
        candidate_valid = np.ascontiguousarray(padded_v[ys : ys + height, xs : xs + width])
        candidate_error = mismatch(anchor_grey, grey, candidate)
        # Masks and masked copies in OpenCV (uint8 masks, in place): numpy's boolean indexing of the
        # two-channel field costs several times more.
        better = cv2.bitwise_and(need, cv2.compare(candidate_valid, 0.5, cv2.CMP_GE))
        limit = cv2.min(best_error, accept)
        better = cv2.bitwise_and(better, cv2.compare(candidate_error, limit, cv2.CMP_LT))
        cv2.copyTo(candidate_error, better, best_error)
        cv2.copyTo(candidate, better, best_displacement)
        cv2.copyTo(candidate_valid, better, best_valid)
    return best_displacement, best_valid, np.where(np.isfinite(best_error), best_error, error)
