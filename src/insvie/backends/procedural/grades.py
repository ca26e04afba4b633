"""Colour grades: looks a colourist would dial in, all pointwise (see :mod:`.operator`).

Each builder maps a strength in (0, 1] to lookup tables; at strength 0 every one of them is the
identity (the operator short-circuits it), and the move away from the source grows with strength.
Separable looks (white balance) use exact per-channel curves; cross-channel ones (luma, toning,
saturation) a cube.
"""

from __future__ import annotations

import numpy as np

from insvie.backends.procedural.colour import contrast, gamma, luma, mix, saturate, smoothstep, soft_light
from insvie.backends.procedural.lut import Stage
from insvie.backends.procedural.operator import PointwiseOperator, cube, curves

# The classic sepia matrix (rows give output R, G, B from input R, G, B), scaled so white maps to
# (1, 0.89, 0.69) instead of clipping: the unscaled matrix blows out everything above mid-grey.
SEPIA = (
    np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32) / 1.351
)
TEAL = np.array([0.20, 0.52, 0.60], dtype=np.float32)
ORANGE = np.array([0.74, 0.54, 0.28], dtype=np.float32)


def _grayscale(s: float) -> list[Stage]:
    return [cube(lambda x: mix(x, luma(x), s))]


def _sepia(s: float) -> list[Stage]:
    return [cube(lambda x: mix(x, np.clip(x @ SEPIA.T, 0.0, 1.0), s))]


def _warm(s: float) -> list[Stage]:
    exponents = np.array([1 / (1 + 0.35 * s), 1 / (1 + 0.08 * s), 1 + 0.45 * s], dtype=np.float32)
    return [curves(lambda x: gamma(x, exponents))]


def _cool(s: float) -> list[Stage]:
    exponents = np.array([1 + 0.40 * s, 1 + 0.03 * s, 1 / (1 + 0.40 * s)], dtype=np.float32)
    return [curves(lambda x: gamma(x, exponents))]


def _teal_orange(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        y = luma(x)
        tone = mix(TEAL, ORANGE, smoothstep(0.25, 0.75, y))
        toned = saturate(soft_light(x, mix(0.5, tone, 0.9)), 1.15)
        toned = toned + (y - luma(toned)) * 0.6  # keep most of the original brightness
        return mix(x, toned, s)

    return [cube(fn)]


def _punchy(s: float) -> list[Stage]:
    return [cube(lambda x: saturate(contrast(x, 0.8 * s), 1.0 + 0.45 * s))]


def _vintage_film(s: float) -> list[Stage]:
    lift, top = 0.10 * s, 1.0 - 0.08 * s

    def fn(x: np.ndarray) -> np.ndarray:
        faded = lift + saturate(x, 1.0 - 0.35 * s) * (top - lift)
        tone = mix(
            np.array([0.45, 0.52, 0.50]), np.array([0.58, 0.53, 0.42]), smoothstep(0.2, 0.8, luma(faded))
        )
        return soft_light(faded, mix(0.5, tone, s))

    return [cube(fn)]


OPERATORS: tuple[PointwiseOperator, ...] = (
    PointwiseOperator(
        name="grayscale",
        category="colour_grade",
        instructions=("Make it black and white", "Turn it into a grayscale image", "Remove all the colour"),
        caption="in black and white",
        build=_grayscale,
    ),
    PointwiseOperator(
        name="sepia",
        category="colour_grade",
        instructions=(
            "Give it a sepia look",
            "Make it look like an old sepia photograph",
            "Apply a sepia tone",
        ),
        caption="in sepia tones",
        build=_sepia,
    ),
    PointwiseOperator(
        name="warm",
        category="colour_grade",
        instructions=("Make the colours warmer", "Give it a warm colour grade", "Add a warm tint"),
        caption="with a warm colour grade",
        build=_warm,
    ),
    PointwiseOperator(
        name="cool",
        category="colour_grade",
        instructions=("Make the colours cooler", "Give it a cold blue grade", "Add a cool blue tint"),
        caption="with a cool blue colour grade",
        build=_cool,
    ),
    PointwiseOperator(
        name="teal_orange",
        category="colour_grade",
        instructions=("Give it a teal and orange film grade", "Make it look like a blockbuster movie"),
        caption="with a cinematic teal and orange grade",
        build=_teal_orange,
    ),
    PointwiseOperator(
        name="punchy",
        category="colour_grade",
        instructions=("Increase the contrast and saturation", "Make the colours pop", "Make it more vivid"),
        caption="with punchy, high-contrast colours",
        build=_punchy,
    ),
    PointwiseOperator(
        name="vintage_film",
        category="colour_grade",
        instructions=(
            "Make it look like faded vintage film",
            "Give it a retro film look",
            "Make it look like the 70s",
        ),
        caption="with a faded vintage film look",
        build=_vintage_film,
    ),
)
