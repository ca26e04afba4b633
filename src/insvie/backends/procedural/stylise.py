"""Artistic styles: posterize (pointwise) and neighbourhood filters (cartoon, sketch, paint).

The filters are OpenCV's edge-aware smoothing plus a little of our own (outlines, paper grain).
They are deterministic for a given seed, but re-applied frame by frame they can flicker where edges
or smoothing decisions flip between frames: propagate them with ``flow_warp``, not ``framewise``.
"""

from __future__ import annotations

import cv2
import numpy as np

from insvie.backends.procedural.colour import contrast, saturate
from insvie.backends.procedural.lut import Stage
from insvie.backends.procedural.operator import FilterOperator, PointwiseOperator, cube, curves


def _posterize(s: float) -> list[Stage]:
    levels = max(2, round(256.0 ** (1.0 - s) * 4.0**s))  # 256 levels (identity) at 0, 4 at full strength

    def quantise(x: np.ndarray) -> np.ndarray:
        return np.rint(x * (levels - 1)) / (levels - 1)

    return [cube(lambda x: saturate(contrast(x, 0.5 * s), 1.0 + 0.7 * s)), curves(quantise)]


def _blend(image: np.ndarray, effect: np.ndarray, s: float) -> np.ndarray:
    return cv2.addWeighted(image, 1.0 - s, effect, s, 0.0)


def _half(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Large frames are filtered at half size: the look is coarse anyway and 4x cheaper."""
    height, width = image.shape[:2]
    if min(height, width) < 256:
        return image, False
    return cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA), True


def _paper(shape: tuple[int, int], seed: int, amplitude: float) -> np.ndarray:
    """Seeded paper grain: fine noise plus a softer fibre layer, mean 1."""
    rng = np.random.default_rng(seed)
    fine = rng.standard_normal(shape).astype(np.float32)
    coarse = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 3.0) * 3.0
    return 1.0 + amplitude * (0.6 * fine + 0.4 * coarse)


def _cartoon(image: np.ndarray, s: float, seed: int) -> np.ndarray:
    height, width = image.shape[:2]
    small, halved = _half(image)
    smooth = small
    for _ in range(2 + round(3 * s)):
        smooth = cv2.bilateralFilter(smooth, 7, 30 + 40 * s, 5)
    if halved:
        smooth = cv2.resize(smooth, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = (smooth // 24) * 24 + 12  # flat colour cells
    flat = cv2.addWeighted(smooth, 0.4, flat, 0.6, 0.0)
    # Ink where the smoothed frame has edges: texture (gravel, foliage) is already flattened there, so
    # the outlines follow shapes instead of turning into noise.
    gray = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)
    lines = cv2.dilate(cv2.Canny(gray, 50, 120), np.ones((2, 2), np.uint8))
    edges = cv2.bitwise_not(lines)
    inked = cv2.bitwise_and(flat, flat, mask=edges)
    return _blend(image, inked, s)


def _pencil_sketch(image: np.ndarray, s: float, seed: int) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    sigma = 1.5 + 0.01 * max(image.shape[:2])
    blurred = cv2.GaussianBlur(255 - gray, (0, 0), sigma)
    dodge = cv2.divide(gray, 255 - blurred, scale=256).astype(np.float32)  # colour dodge: outlines stay
    dodge = dodge * dodge / 255.0  # the dodge alone is faint: square it to darken the strokes
    sketch = np.clip(dodge * _paper(gray.shape, seed, 0.03), 0, 255)
    paper_tint = np.array([1.0, 0.98, 0.93], dtype=np.float32)
    out = cv2.convertScaleAbs(sketch[..., None] * paper_tint)
    return _blend(image, out, s)


def _oil_paint(image: np.ndarray, s: float, seed: int) -> np.ndarray:
    small, halved = _half(image)
    painted = cv2.edgePreservingFilter(small, flags=cv2.RECURS_FILTER, sigma_s=20 + 40 * s, sigma_r=0.35)
    painted = cv2.medianBlur(painted, 5)  # blotchy daubs
    if halved:
        painted = cv2.resize(painted, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    blur = cv2.GaussianBlur(painted, (0, 0), 2.0)
    painted = cv2.addWeighted(painted, 1.6, blur, -0.6, 0.0)  # crisp stroke edges
    rich = saturate(painted.astype(np.float32) / 255.0, 1.3)
    return _blend(image, cv2.convertScaleAbs(rich, alpha=255.0), s)


def _watercolour(image: np.ndarray, s: float, seed: int) -> np.ndarray:
    small, halved = _half(image)
    washed = cv2.stylization(small, sigma_s=30 + 40 * s, sigma_r=0.35 + 0.2 * s)
    if halved:
        washed = cv2.resize(washed, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    lighter = 0.12 + 0.88 * saturate(washed.astype(np.float32) / 255.0, 0.9)  # pigment on white paper
    out = lighter * _paper(image.shape[:2], seed, 0.025)[..., None]
    return _blend(image, cv2.convertScaleAbs(out, alpha=255.0), s)


OPERATORS = (
    PointwiseOperator(
        name="posterize",
        category="style",
        instructions=(
            "Make it look like pop art",
            "Posterize the image",
            "Turn it into a bold pop-art poster",
        ),
        caption="as a bold pop-art poster",
        build=_posterize,
    ),
    FilterOperator(
        name="cartoon",
        category="style",
        instructions=(
            "Make it look like a cartoon",
            "Turn it into a cartoon",
            "Make it look hand-drawn like a comic",
        ),
        caption="as a cartoon with flat colours and ink outlines",
        effect=_cartoon,
    ),
    FilterOperator(
        name="pencil_sketch",
        category="style",
        instructions=(
            "Turn it into a pencil sketch",
            "Make it look like a pencil drawing",
            "Draw it in pencil",
        ),
        caption="as a pencil sketch",
        effect=_pencil_sketch,
    ),
    FilterOperator(
        name="oil_paint",
        category="style",
        instructions=(
            "Make it look like an oil painting",
            "Turn it into an oil painting",
            "Paint it in oils",
        ),
        caption="as an oil painting",
        effect=_oil_paint,
    ),
    FilterOperator(
        name="watercolour",
        category="style",
        instructions=(
            "Make it look like a watercolour painting",
            "Turn it into a watercolor",
            "Paint it in watercolours",
        ),
        caption="as a watercolour painting",
        effect=_watercolour,
    ),
)
