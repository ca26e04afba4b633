"""Procedural textures evaluated at pixel coordinates.

Backgrounds are functions of *world* pixel coordinates rather than fixed images, so a camera can pan,
zoom or rotate over an unbounded wall and the sampled pixels stay exact (no resampling blur, no edges).
Object textures are functions of an object's own rotated coordinates, so they move and spin with it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from insvie.synth.colours import BACKGROUND_COLOURS, OBJECT_COLOURS, shade
from insvie.synth.scene import Background, SceneObject

OBJECT_TEXTURES = ("stripes", "dots", "grid")
_LATTICE = 64  # noise and brick-tint tables repeat every 64 cells: far beyond any clip


@lru_cache(maxsize=64)
def _lattice(seed: int, octave: int) -> np.ndarray:
    return np.random.default_rng([seed, octave]).random((_LATTICE, _LATTICE))


def _value_noise(xs: np.ndarray, ys: np.ndarray, cell: float, lattice: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1]: bilinear (smoothstep) interpolation of a periodic random lattice."""
    gx, gy = xs / cell, ys / cell
    x0, y0 = np.floor(gx), np.floor(gy)
    fx, fy = gx - x0, gy - y0
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    ix0, iy0 = x0.astype(np.int64) % _LATTICE, y0.astype(np.int64) % _LATTICE
    ix1, iy1 = (ix0 + 1) % _LATTICE, (iy0 + 1) % _LATTICE
    top = lattice[iy0, ix0] * (1 - fx) + lattice[iy0, ix1] * fx
    bottom = lattice[iy1, ix0] * (1 - fx) + lattice[iy1, ix1] * fx
    return top * (1 - fy) + bottom * fy


def _mix(first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return np.rint(first + (second - first) * weight[..., None]).clip(0, 255).astype(np.uint8)


def background_pixels(background: Background, xi: np.ndarray, yi: np.ndarray) -> np.ndarray:
    """RGB uint8 of ``background`` at integer world pixels (``xi``, ``yi``), sampled at pixel centres."""
    xs, ys = xi + 0.5, yi + 0.5
    first = np.asarray(BACKGROUND_COLOURS[background.colours[0]], dtype=np.float64)
    second = np.asarray(BACKGROUND_COLOURS[background.colours[1]], dtype=np.float64)
    scale = max(float(background.scale), 2.0)
    kind = background.kind
    if kind == "noise":
        weight = 0.65 * _value_noise(xs, ys, scale, _lattice(background.seed, 0))
        weight += 0.35 * _value_noise(xs, ys, scale / 2, _lattice(background.seed, 1))
        return _mix(first, second, weight)
    if kind == "gradient":
        along = (xs - background.origin[0]) * np.cos(background.angle)
        along += (ys - background.origin[1]) * np.sin(background.angle)
        return _mix(first, second, np.clip(0.5 + along / scale, 0.0, 1.0))
    if kind == "stripes":
        along = xs * np.cos(background.angle) + ys * np.sin(background.angle)
        return _mix(first, second, (np.floor(along / scale) % 2).astype(np.float64))
    if kind == "checker":
        parity = (np.floor(xs / scale) + np.floor(ys / scale)) % 2
        return _mix(first, second, parity.astype(np.float64))
    if kind == "brick":
        # Bricks twice as wide as tall, alternate rows offset by half a brick, mortar of the second colour.
        height, width = scale, 2 * scale
        mortar = max(1.0, round(scale / 8))
        row = np.floor(ys / height)
        shifted = xs + (row % 2) * (width / 2)
        column = np.floor(shifted / width)
        tint = (
            0.85
            + 0.25
            * _lattice(background.seed, 2)[
                row.astype(np.int64) % _LATTICE, column.astype(np.int64) % _LATTICE
            ]
        )
        brick = np.rint(first * tint[..., None]).clip(0, 255)
        is_mortar = ((ys % height) < mortar) | ((shifted % width) < mortar)
        out = np.where(is_mortar[..., None], second, brick)
        return out.astype(np.uint8)
    raise ValueError(f"unknown background kind {kind!r}")


def texture_detail(texture: str | None, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Boolean: which points (object coordinates ``u``, ``v``) carry the darker detail tone."""
    if texture is None:
        return np.zeros(u.shape, dtype=bool)
    period = max(3.0, radius * 0.6)
    if texture == "stripes":
        return (u % period) < period / 3
    if texture == "dots":
        return ((u % period) - period / 2) ** 2 + ((v % period) - period / 2) ** 2 < (0.28 * period) ** 2
    if texture == "grid":
        return ((u % period) < period / 5) | ((v % period) < period / 5)
    raise ValueError(f"unknown object texture {texture!r}")


def object_pixels(obj: SceneObject, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """RGB uint8 of ``obj`` at points inside it: its named colour, with texture detail in a darker tone."""
    base = np.asarray(OBJECT_COLOURS[obj.colour], dtype=np.uint8)
    dark = np.asarray(shade(OBJECT_COLOURS[obj.colour]), dtype=np.uint8)
    detail = texture_detail(obj.texture, u, v, obj.radius)
    return np.where(detail[..., None], dark, base)
