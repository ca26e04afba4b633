"""Named colours of SynthEdit.

Object colours are saturated and background colours muted, so an object pixel can never coincide with
a background pixel by accident: that keeps "the set of pixels the edit changed" equal to "the pixels of
the edited thing" and lets instructions name a colour a person would agree with.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

OBJECT_COLOURS: dict[str, RGB] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 225),
    "yellow": (240, 215, 40),
    "purple": (140, 60, 190),
    "orange": (245, 135, 30),
    "white": (245, 245, 245),
    "pink": (245, 120, 180),
    "cyan": (40, 210, 220),
}

BACKGROUND_COLOURS: dict[str, RGB] = {
    "grey": (128, 128, 128),
    "light grey": (185, 185, 180),
    "dark grey": (70, 70, 72),
    "beige": (205, 190, 160),
    "brown": (120, 85, 60),
    "slate": (90, 100, 115),
    "sand": (190, 170, 120),
    "olive": (120, 125, 80),
    "navy": (50, 60, 95),
    "cream": (225, 215, 190),
    "teal": (60, 115, 115),
    "rust": (150, 70, 50),
}

# Texture detail on objects (stripes, dots, grid lines) is this fraction of the base colour.
SHADE = 0.6


def shade(colour: RGB, factor: float = SHADE) -> RGB:
    """The darker tone of ``colour`` used for an object's texture detail."""
    return (round(colour[0] * factor), round(colour[1] * factor), round(colour[2] * factor))


def nearest_object_colour(rgb: tuple[float, float, float]) -> str:
    """The object colour name closest to ``rgb`` (Euclidean in RGB), for checks of what is rendered."""
    return min(
        OBJECT_COLOURS,
        key=lambda name: sum((a - b) ** 2 for a, b in zip(OBJECT_COLOURS[name], rgb, strict=True)),
    )


def with_article(phrase: str) -> str:
    """``"a red circle"`` / ``"an orange star"``."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase
