"""Float colour maths shared by the operators: RGB in [0, 1], arrays of shape (..., 3).

Written once here so every look is built from the same few, well-behaved pieces (luma-preserving
saturation, soft-light toning, smooth hue moves) rather than ad-hoc per-operator formulas.
"""

from __future__ import annotations

import numpy as np

# Rec.601 weights: the luma most photo tools use for "black and white" and for toning masks.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Luma (..., 1), kept as a trailing axis so it broadcasts against RGB."""
    return (rgb @ LUMA)[..., None]


def mix(a: np.ndarray | float, b: np.ndarray | float, t: np.ndarray | float) -> np.ndarray:
    """Linear interpolation ``a + t (b - a)``."""
    return np.asarray(a + (np.asarray(b) - a) * t, dtype=np.float32)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``edge0``, 1 above ``edge1``, a C1 ramp between: soft masks without banding."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def saturate(rgb: np.ndarray, amount: float | np.ndarray) -> np.ndarray:
    """Scale chroma around luma: 0 is grey, 1 unchanged, above 1 more vivid."""
    y = luma(rgb)
    return y + (rgb - y) * amount


def contrast(rgb: np.ndarray, amount: float) -> np.ndarray:
    """S-shaped contrast: ``amount`` in [0, 1] blends toward smoothstep, which stays within [0, 1]."""
    x = np.clip(rgb, 0.0, 1.0)
    return mix(x, x * x * (3.0 - 2.0 * x), amount)


def soft_light(base: np.ndarray, blend: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Pegtop soft light: tones ``base`` toward ``blend`` without clipping; 0.5 grey is neutral."""
    b = np.asarray(blend, dtype=np.float32)
    return (1.0 - 2.0 * b) * base * base + 2.0 * b * base


def screen(base: np.ndarray, blend: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Screen blend: brightens toward ``blend`` (light added, never darker)."""
    return 1.0 - (1.0 - base) * (1.0 - np.asarray(blend, dtype=np.float32))


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """Hue in [0, 1) (fraction of a turn), saturation and value in [0, 1]."""
    x = np.clip(rgb, 0.0, 1.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    c = v - x.min(axis=-1)
    safe = np.where(c > 0, c, 1.0)
    h = np.where(v == r, ((g - b) / safe) % 6.0, np.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(c > 0, h / 6.0, 0.0)
    s = np.where(v > 0, c / np.where(v > 0, v, 1.0), 0.0)
    return np.stack([h, s, v], axis=-1).astype(np.float32)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv` (hue wraps)."""
    h, s, v = hsv[..., 0] % 1.0, np.clip(hsv[..., 1], 0.0, 1.0), hsv[..., 2]
    k = np.stack([(5.0 + h * 6.0) % 6.0, (3.0 + h * 6.0) % 6.0, (1.0 + h * 6.0) % 6.0], axis=-1)
    weight = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (v[..., None] - v[..., None] * s[..., None] * weight).astype(np.float32)


def hue_distance(hue: np.ndarray, centre: float) -> np.ndarray:
    """Signed shortest distance (turns, in [-0.5, 0.5)) from ``centre`` to ``hue``."""
    return (hue - centre + 0.5) % 1.0 - 0.5


def gamma(rgb: np.ndarray, exponent: float | np.ndarray) -> np.ndarray:
    """Power curve on [0, 1]: exponents below 1 brighten the mid-tones, above 1 darken them."""
    return np.power(np.clip(rgb, 0.0, 1.0), exponent)
