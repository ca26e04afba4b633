"""Season and time-of-day looks: the lighting and foliage of another moment, as colour maps.

All but ``sunset`` are pointwise. ``sunset`` adds a sky glow that depends on the row and a vignette:
a fixed screen-space pattern, so framewise re-application does not flicker, but it stays put on the
screen instead of following the scene, which a colour transfer cannot represent.
"""

from __future__ import annotations

import cv2
import numpy as np

from insvie.backends.procedural.colour import (
    gamma,
    hsv_to_rgb,
    luma,
    mix,
    rgb_to_hsv,
    saturate,
    screen,
    smoothstep,
    soft_light,
)
from insvie.backends.procedural.lut import Stage
from insvie.backends.procedural.operator import FilterOperator, PointwiseOperator, cube


def _winter(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        c = gamma(saturate(x, 1.0 - 0.55 * s), 1.0 / (1.0 + 0.3 * s))  # paler and brighter
        c = soft_light(c, mix(0.5, np.array([0.40, 0.48, 0.60]), s))  # cold light
        snow = smoothstep(0.55, 0.92, luma(c)) * 0.7 * s  # light tones go to bluish snow white
        return mix(c, np.array([0.96, 0.98, 1.0]), snow)

    return [cube(fn)]


def _autumn(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        hsv = rgb_to_hsv(x)
        hue, sat = hsv[..., 0], hsv[..., 1]
        # Foliage hues (yellow-green to cyan-green, 0.10-0.50 turns) swing to orange and red; deeper
        # greens go further, to red-orange. Faint colours barely move: their hue is noise.
        foliage = (
            smoothstep(0.10, 0.17, hue) * (1.0 - smoothstep(0.45, 0.52, hue)) * smoothstep(0.02, 0.12, sat)
        )
        target = mix(0.11, 0.025, smoothstep(0.17, 0.40, hue))
        weight = s * foliage
        hsv = np.stack(
            [
                hue + weight * (target - hue),
                np.clip(sat * (1.0 + 0.6 * weight), 0, 1),
                hsv[..., 2] * (1.0 - 0.06 * weight),
            ],
            axis=-1,
        )
        return soft_light(hsv_to_rgb(hsv), mix(0.5, np.array([0.56, 0.50, 0.43]), s))

    return [cube(fn)]


def _summer(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        c = saturate(x, 1.0 + 0.35 * s)
        return soft_light(c, mix(0.5, np.array([0.57, 0.53, 0.44]), s))

    return [cube(fn)]


def _golden_hour(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        tone = mix(np.array([0.52, 0.42, 0.42]), np.array([0.74, 0.57, 0.30]), smoothstep(0.2, 0.9, luma(x)))
        c = soft_light(x, mix(0.5, tone, s))
        c = screen(c, np.array([0.07, 0.045, 0.015]) * s)  # low sun: a warm veil lifts the shadows
        return saturate(c, 1.0 + 0.15 * s)

    return [cube(fn)]


def _night(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        c = gamma(saturate(x, 1.0 - 0.6 * s) * (1.0 - 0.6 * s), 1.0 + 0.35 * s)  # day for night
        moonlit = luma(c) * np.array([0.55, 0.75, 1.3])
        return mix(c, moonlit, 0.8 * s)

    return [cube(fn)]


def _overcast(s: float) -> list[Stage]:
    def fn(x: np.ndarray) -> np.ndarray:
        c = saturate(x, 1.0 - 0.45 * s)
        c = 0.5 + (c - 0.5) * (1.0 - 0.3 * s)  # diffuse light: flatter
        c = c * (1.0 - 0.06 * s) + 0.02 * s
        return soft_light(c, mix(0.5, np.array([0.47, 0.49, 0.53]), s))

    return [cube(fn)]


_GOLDEN = PointwiseOperator(
    name="golden_hour",
    category="time_of_day",
    instructions=(
        "Make it golden hour",
        "Make it look like it was shot at golden hour",
        "Add warm evening light",
    ),
    caption="in warm golden-hour light",
    build=_golden_hour,
)


def _sunset(image: np.ndarray, s: float, seed: int) -> np.ndarray:
    height, width = image.shape[:2]
    graded = _GOLDEN.apply(image, min(1.0, 0.4 + 0.6 * s)).astype(np.float32) / 255.0
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    glow = 0.45 * s * (1.0 - rows) ** 1.5  # the sky above the horizon catches the sunset colours
    graded = mix(graded, screen(graded, np.array([1.0, 0.45, 0.25])), glow)
    y, x = np.ogrid[-1.0 : 1.0 : complex(0, height), -1.0 : 1.0 : complex(0, width)]
    vignette = 1.0 - 0.35 * s * np.clip((x * x + y * y) / 2.0, 0.0, 1.0)
    out = graded * vignette[..., None].astype(np.float32)
    return cv2.convertScaleAbs(out, alpha=255.0)


OPERATORS = (
    PointwiseOperator(
        name="winter",
        category="season",
        instructions=(
            "Make it winter",
            "Make it look like a cold snowy winter day",
            "Turn the season to winter",
        ),
        caption="on a cold, snowy winter day",
        build=_winter,
    ),
    PointwiseOperator(
        name="autumn",
        category="season",
        instructions=("Make it autumn", "Turn the leaves orange and red", "Change the season to fall"),
        caption="in autumn with orange and red foliage",
        build=_autumn,
    ),
    PointwiseOperator(
        name="summer",
        category="season",
        instructions=(
            "Make it summer",
            "Make it look like a bright summer day",
            "Make the colours lush and sunny",
        ),
        caption="on a lush, sunny summer day",
        build=_summer,
    ),
    _GOLDEN,
    FilterOperator(
        name="sunset",
        category="time_of_day",
        instructions=("Make it sunset", "Change the time to sunset", "Make it look like the sun is setting"),
        caption="at sunset with a glowing orange sky",
        effect=_sunset,
    ),
    PointwiseOperator(
        name="night",
        category="time_of_day",
        instructions=("Make it night", "Turn day into night", "Make it look like it was filmed at night"),
        caption="at night under blue moonlight",
        build=_night,
    ),
    PointwiseOperator(
        name="overcast",
        category="time_of_day",
        instructions=("Make it overcast", "Make the weather grey and cloudy", "Make it a dull cloudy day"),
        caption="on a grey overcast day",
        build=_overcast,
    ),
)
