"""A global colour map fitted between a source frame and its edit: the propagator's fallback.

Wherever the flow cannot carry the edited first frame (disocclusions, new content, unreliable
matches), the edit is guessed from colour alone: the map that best turns source colours into edited
colours in frame 0, applied to the current source frame. Fitted in two layers:

1. a low-degree polynomial in RGB (least squares, ridge toward the identity so colours frame 0 never
   showed are extrapolated conservatively; Tukey-reweighted so a local edit, say one recoloured
   object, counts as an outlier instead of tinting everything);
2. a coarse 3D grid of per-cell median residuals (a 3D-histogram map), shrunk toward zero where few
   pixels back it: this catches what no low-degree polynomial can, e.g. greens turned orange.

The sum is baked into a :class:`~insvie.backends.procedural.lut.Cube`, so applying it to a 720x480
frame costs ~1.5 ms. For a pointwise edit (grades, sepia, seasons) the map reproduces the edit on
other frames to within a few levels; for a spatial edit (cartoon outlines, local changes) it
captures only the colour shift, and ``explained`` says how much of the edit that is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insvie.backends.procedural.lut import Cube

# Tukey's biweight constant: 95% efficiency under Gaussian noise, zero weight for far outliers.
_TUKEY = 4.685


def poly_features(rgb: np.ndarray, degree: int) -> np.ndarray:
    """Monomials of centred RGB up to ``degree`` (1, 2 or 3): (N, 3) -> (N, 4 | 10 | 20)."""
    u = rgb.astype(np.float32) - 0.5
    r, g, b = u[:, 0], u[:, 1], u[:, 2]
    columns = [np.ones_like(r), r, g, b]
    if degree >= 2:
        columns += [r * r, g * g, b * b, r * g, r * b, g * b]
    if degree >= 3:
        columns += [
            r**3,
            g**3,
            b**3,
            r * r * g,
            r * r * b,
            g * g * r,
            g * g * b,
            b * b * r,
            b * b * g,
            r * g * b,
        ]
    return np.stack(columns, axis=1)


def _solve(features: np.ndarray, target: np.ndarray, weights: np.ndarray, ridge: float) -> np.ndarray:
    weighted = features * weights[:, None]
    gram = weighted.T @ features
    penalty = ridge * max(float(weights.sum()), 1.0) * np.eye(features.shape[1], dtype=np.float64)
    penalty[0, 0] = 0.0  # the constant term (an overall shift) is not penalised
    return np.linalg.solve(gram.astype(np.float64) + penalty, (weighted.T @ target).astype(np.float64))


_STEPS = 4096  # residuals are sorted as integers in steps of 1/4096 (0.06 levels): one sort, no argsort


def _cell_medians(cells: np.ndarray, residual: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell median of each residual channel and the cell counts: (size^3, 3), (size^3,)."""
    count = np.bincount(cells, minlength=size**3)
    occupied = count > 0
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    middle = starts[occupied] + count[occupied] // 2
    medians = np.zeros((size**3, 3), dtype=np.float32)
    for channel in range(3):
        steps = np.clip(np.rint((residual[:, channel] + 1.0) * _STEPS), 0, 2 * _STEPS).astype(np.int64)
        keys = np.sort(cells * (2 * _STEPS + 1) + steps)
        medians[occupied, channel] = (keys[middle] % (2 * _STEPS + 1)) / _STEPS - 1.0
    return medians, count


def _fill_empty(grid: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Empty cells take half the count-weighted mean of their 3x3x3 neighbours (a soft edge)."""
    size = grid.shape[0]
    weight = np.minimum(count.reshape(size, size, size), 20).astype(np.float32)
    padded_v = np.pad(grid * weight[..., None], ((1, 1), (1, 1), (1, 1), (0, 0)))
    padded_w = np.pad(weight, 1)
    total_v = np.zeros_like(grid)
    total_w = np.zeros_like(weight)
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                total_v += padded_v[dz : dz + size, dy : dy + size, dx : dx + size]
                total_w += padded_w[dz : dz + size, dy : dy + size, dx : dx + size]
    filled = 0.5 * total_v / np.maximum(total_w, 1e-6)[..., None]
    return np.where((weight > 0)[..., None], grid, filled)


def _trilinear(grid: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``grid`` (n, n, n, 3) indexed [r, g, b] on nodes spanning [0, 1], sampled at rgb (N, 3)."""
    size = grid.shape[0]
    position = np.clip(rgb, 0.0, 1.0) * (size - 1)
    low = np.minimum(position.astype(np.int64), size - 2)
    frac = (position - low).astype(np.float32)
    out = np.zeros((rgb.shape[0], 3), dtype=np.float32)
    for corner in range(8):
        offset = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        index = low + offset
        weight = np.prod(np.where(offset == 1, frac, 1.0 - frac), axis=1)
        out += weight[:, None] * grid[index[:, 0], index[:, 1], index[:, 2]]
    return out


@dataclass(frozen=True, eq=False)
class ColourTransfer:
    """A fitted global colour map; call it on uint8 RGB frames (any leading shape)."""

    coefficients: np.ndarray  # (features, 3): polynomial part, predicting edited - source
    degree: int
    correction: np.ndarray  # (n, n, n, 3) residual grid indexed [r, g, b], values in [0, 1] units
    cube: Cube
    rms_error: float  # levels: RMS of edited - map(source) over frame 0
    explained: float  # share of the edit's energy (edited - source) that the map reproduces

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """The exact (unbaked) map on float RGB (N, 3) in [0, 1]."""
        out = rgb + poly_features(rgb, self.degree) @ self.coefficients.astype(np.float32)
        return np.clip(out + _trilinear(self.correction, rgb), 0.0, 1.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.cube(image)


def fit_colour_transfer(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    degree: int = 2,
    grid: int = 17,
    ridge: float = 1e-3,
    samples: int = 60_000,
    robust_iterations: int = 3,
    shrink: float = 8.0,
    seed: int = 0,
) -> ColourTransfer:
    """The colour map taking ``source`` (H, W, 3 uint8) to ``edited`` (same shape); see module doc.

    ``samples`` random pixels are used (seeded): the fit costs ~30-60 ms regardless of frame size.
    ``shrink`` is the pixel count at which a grid cell's median counts half.
    """
    if source.shape != edited.shape or source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(
            f"source and edited must be equal-shaped (H, W, 3), got {source.shape} and {edited.shape}"
        )
    if degree not in (1, 2, 3) or grid < 2:
        raise ValueError(f"degree must be 1, 2 or 3 and grid at least 2, got {degree}, {grid}")
    src = source.reshape(-1, 3)
    dst = edited.reshape(-1, 3)
    if len(src) > samples:
        pick = np.random.default_rng(seed).choice(len(src), samples, replace=False)
        src, dst = src[pick], dst[pick]
    x = src.astype(np.float32) / 255.0
    y = dst.astype(np.float32) / 255.0
    features = poly_features(x, degree)
    target = y - x
    weights = np.ones(len(x), dtype=np.float32)
    coefficients = _solve(features, target, weights, ridge)
    for _ in range(robust_iterations):
        distance = np.linalg.norm(target - features @ coefficients.astype(np.float32), axis=1)
        scale = max(1.4826 * float(np.median(distance)), 2.0 / 255.0)
        weights = np.clip(1.0 - (distance / (_TUKEY * scale)) ** 2, 0.0, 1.0) ** 2
        coefficients = _solve(features, target, weights, ridge)
    poly = np.clip(x + features @ coefficients.astype(np.float32), 0.0, 1.0)
    cells_rgb = np.rint(x * (grid - 1)).astype(np.int64)
    cells = (cells_rgb[:, 0] * grid + cells_rgb[:, 1]) * grid + cells_rgb[:, 2]
    medians, count = _cell_medians(cells, y - poly, grid)
    medians *= (count / (count + shrink))[:, None].astype(np.float32)
    correction = _fill_empty(medians.reshape(grid, grid, grid, 3), count)
    coefficients32 = coefficients.astype(np.float32)

    def colour_map(rgb: np.ndarray) -> np.ndarray:
        flat = rgb.reshape(-1, 3)
        out = flat + poly_features(flat, degree) @ coefficients32
        return (np.clip(out, 0.0, 1.0) + _trilinear(correction, flat)).reshape(rgb.shape)

    cube = Cube.from_fn(colour_map, blue_nodes=33)
    mapped = cube(source).astype(np.float32)
    error = edited.astype(np.float32) - mapped
    edit = edited.astype(np.float32) - source.astype(np.float32)
    edit_energy = float(np.mean(edit**2))
    rms = float(np.sqrt(np.mean(error**2)))
    explained = 1.0 - float(np.mean(error**2)) / edit_energy if edit_energy > 1e-6 else 1.0
    return ColourTransfer(coefficients32, degree, correction, cube, rms, explained)
