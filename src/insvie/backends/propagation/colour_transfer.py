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
frame is one table lookup: 3-6 ms single-threaded on the shared 2-core machine, half that through
:meth:`ColourTransfer.rgba` (the same lookup on a 4-channel table, which OpenCV vectorises; the
propagator's path). For a pointwise edit (grades, sepia, seasons) the map reproduces the edit on
other frames to within a few levels; for a spatial edit (cartoon outlines, local changes) it
captures only the colour shift, and ``explained`` says how much of the edit that is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from insvie.backends.procedural.lut import Cube

# Tukey's biweight constant: 95% efficiency under Gaussian noise, zero weight for far outliers.
_TUKEY = 4.685


def poly_features(rgb: np.ndarray, degree: int) -> np.ndarray:
    """Monomials of centred RGB up to ``degree`` (1, 2 or 3), one row per monomial:
    (N, 3) -> (4 | 10 | 20, N) float32."""
    u = np.ascontiguousarray(rgb.astype(np.float32).T) - 0.5
    r, g, b = u
    rows = [np.ones_like(r), r, g, b]
    if degree >= 2:
        rows += [r * r, g * g, b * b, r * g, r * b, g * b]
    if degree >= 3:
        rows += [
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
    return np.stack(rows)


# The fit's products are sums over tens of thousands of pixels of a few rows. numpy's default einsum
# loops run them in one thread along contiguous rows; BLAS (``@``) splits such thin products over
# threads whose start-up and spinning cost 5-20x the product in CPU time on a busy 2-core machine,
# which the propagator's own helper threads keep busy.


def _apply(coefficients: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The polynomial part (N, 3): ``features`` (K, N) weighted by ``coefficients`` (K, 3)."""
    return np.einsum("kc,kn->cn", coefficients, features).T


_BLOCK = 1000  # samples per float32 partial sum in _products


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T`` for float32 rows (I, N) and (J, N), as float64 (I, J). einsum adds in order, so
    float32 sums over all N lose ~1e-6 (enough to move colour-table entries by a level): it sums
    blocks of ``_BLOCK`` in float32, then the blocks in float64 (~5e-8, like BLAS, one thread)."""
    pad = -a.shape[1] % _BLOCK
    if pad:
        a, b = (np.pad(rows, ((0, 0), (0, pad))) for rows in (a, b))
    blocks = a.shape[1] // _BLOCK
    partial = np.einsum("ibn,jbn->bij", a.reshape(len(a), blocks, _BLOCK), b.reshape(len(b), blocks, _BLOCK))
    return partial.sum(axis=0, dtype=np.float64)


def _solve(features: np.ndarray, target: np.ndarray, weights: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge-regularised weighted least squares: ``features`` (K, N), ``target`` (3, N) -> (K, 3)."""
    weighted = features * weights
    penalty = ridge * max(float(weights.sum()), 1.0) * np.eye(features.shape[0], dtype=np.float64)
    penalty[0, 0] = 0.0  # the constant term (an overall shift) is not penalised
    return np.linalg.solve(_products(weighted, features) + penalty, _products(weighted, target))


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
    # One flat gather per corner (three fancy indices cost ~3x more) and the weights as products of
    # per-axis factors, multiplied in the order np.prod would.
    nodes = grid.reshape(-1, 3)
    base = (low[:, 0] * size + low[:, 1]) * size + low[:, 2]
    factors = [(1.0 - frac[:, axis], frac[:, axis]) for axis in range(3)]
    out = np.zeros((rgb.shape[0], 3), dtype=np.float32)
    for corner in range(8):
        r, g, b = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
        weight = factors[0][r] * factors[1][g] * factors[2][b]
        out += weight[:, None] * nodes[base + (r * size + g) * size + b]
    return out


@dataclass(frozen=True, eq=False)
class ColourTransfer:
    """A fitted global colour map; call it on uint8 RGB frames (any leading shape)."""

    coefficients: np.ndarray  # (monomials, 3): polynomial part, predicting edited - source
    degree: int
    correction: np.ndarray  # (n, n, n, 3) residual grid indexed [r, g, b], values in [0, 1] units
    cube: Cube
    rms_error: float  # levels: RMS of edited - map(source) over frame 0
    explained: float  # share of the edit's energy (edited - source) that the map reproduces
    _rgba_table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The cube's table with a fourth (alpha) channel, for rgba(): OpenCV's remap vectorises
        # 4-channel lookups, which halves their cost against the 3-channel table.
        object.__setattr__(self, "_rgba_table", cv2.cvtColor(self.cube.table, cv2.COLOR_RGB2RGBA))

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """The exact (unbaked) map on float RGB (N, 3) in [0, 1]."""
        out = rgb + _apply(self.coefficients, poly_features(rgb, self.degree))
        return np.clip(out + _trilinear(self.correction, rgb), 0.0, 1.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.cube(image)

    def rgba(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The map applied to one uint8 RGB frame (H, W, 3), as RGBA with alpha 255 (into ``out`` if
        given): the same colours as calling it, for the propagator, which works on 4-channel frames
        (the lookup of :class:`~insvie.backends.procedural.lut.Cube`, on the 4-channel table)."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected one uint8 RGB frame (H, W, 3), got {frame.dtype} {frame.shape}")
        nodes = self.cube.nodes
        scale = (nodes - 1) / 255.0
        red, green, blue = cv2.split(frame)
        map_x = cv2.multiply(green, scale, dtype=cv2.CV_32F)
        map_y = cv2.addWeighted(blue, float(nodes), red, scale, 0.0, dtype=cv2.CV_32F)
        return cv2.remap(
            self._rgba_table, map_x, map_y, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_REPLICATE
        )


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

    ``samples`` random pixels are used (seeded): the fit costs ~70-80 ms single-threaded on the shared
    2-core machine, regardless of frame size (it cost 115 ms with BLAS products in one thread, and
    ~290 ms of CPU with OpenBLAS threads spinning on the busy machine).
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
    target_rows = np.ascontiguousarray(target.T)
    weights = np.ones(len(x), dtype=np.float32)
    coefficients = _solve(features, target_rows, weights, ridge)
    for _ in range(robust_iterations):
        distance = np.linalg.norm(target - _apply(coefficients.astype(np.float32), features), axis=1)
        scale = max(1.4826 * float(np.median(distance)), 2.0 / 255.0)
        weights = np.clip(1.0 - (distance / (_TUKEY * scale)) ** 2, 0.0, 1.0) ** 2
        coefficients = _solve(features, target_rows, weights, ridge)
    coefficients32 = coefficients.astype(np.float32)
    poly = np.clip(x + _apply(coefficients32, features), 0.0, 1.0)
    cells_rgb = np.rint(x * (grid - 1)).astype(np.int64)
    cells = (cells_rgb[:, 0] * grid + cells_rgb[:, 1]) * grid + cells_rgb[:, 2]
    medians, count = _cell_medians(cells, y - poly, grid)
    medians *= (count / (count + shrink))[:, None].astype(np.float32)
    correction = _fill_empty(medians.reshape(grid, grid, grid, 3), count)

    def colour_map(rgb: np.ndarray) -> np.ndarray:
        flat = rgb.reshape(-1, 3)
        out = flat + _apply(coefficients32, poly_features(flat, degree))
        return (np.clip(out, 0.0, 1.0) + _trilinear(correction, flat)).reshape(rgb.shape)

    cube = Cube.from_fn(colour_map, blue_nodes=33)
    # Sums of squared uint8 differences, exact in OpenCV's integer norm (no float copies of frames).
    error_energy = cv2.norm(edited, cube(source), cv2.NORM_L2SQR) / source.size
    edit_energy = cv2.norm(edited, source, cv2.NORM_L2SQR) / source.size
    rms = float(np.sqrt(error_energy))
    explained = 1.0 - error_energy / edit_energy if edit_energy > 1e-6 else 1.0
    return ColourTransfer(coefficients32, degree, correction, cube, rms, explained)
