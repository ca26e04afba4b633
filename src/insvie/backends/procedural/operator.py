"""The operator contract of the ``procedural`` image editor.

An operator is a deterministic global edit with a ``strength`` in [0, 1]: the sweep over strength
stands in for a diffusion editor's guidance sweep when several first-frame candidates are made.
Strength 0 is the identity for every operator, so a sweep starts at "no edit" and a judge can rank
candidates by how far the edit went.

``pointwise`` operators are per-pixel colour maps baked into look-up tables (:mod:`.lut`): the same
map re-applied to every frame of a video is exact and free of flicker, and costs ~1-2 ms per
720x480 frame. Other operators (:class:`FilterOperator`) look at neighbourhoods (edges, smoothing,
paper texture) and may flicker when re-applied frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np

from insvie.backends.procedural.lut import ChannelCurves, ColourMap, Cube, Stage, compose

Category = Literal["style", "colour_grade", "season", "time_of_day"]
CATEGORIES: tuple[Category, ...] = ("style", "colour_grade", "season", "time_of_day")

# Strengths are rounded to this many decimals before use, so cached tables are keyed exactly.
_STRENGTH_DECIMALS = 4


def check_strength(strength: float) -> float:
    """``strength`` as a float in [0, 1], rounded so equal sweeps hit the same cached tables."""
    value = float(strength)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return round(value, _STRENGTH_DECIMALS)


def check_image(image: np.ndarray) -> None:
    """Operators take one uint8 RGB frame (H, W, 3)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(
            f"expected a uint8 RGB image (H, W, 3), got {getattr(image, 'dtype', type(image))} {shape}"
        )


def check_video(frames: np.ndarray) -> None:
    """Videos are uint8 RGB (T, H, W, 3)."""
    if (
        not isinstance(frames, np.ndarray)
        or frames.dtype != np.uint8
        or frames.ndim != 4
        or frames.shape[3] != 3
    ):
        shape = getattr(frames, "shape", None)
        raise ValueError(
            f"expected a uint8 RGB video (T, H, W, 3), got {getattr(frames, 'dtype', type(frames))} {shape}"
        )


@dataclass(frozen=True, kw_only=True)
class Operator:
    """A named global edit: what it does, how to ask for it and how to describe its result."""

    name: str
    category: Category
    instructions: tuple[str, ...]  # imperative phrasings, e.g. "Give it a sepia look"
    caption: str  # appended to a source caption to describe the result, e.g. "in sepia tones"
    pointwise: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.name}: category must be one of {CATEGORIES}, got {self.category!r}")
        if not self.instructions:
            raise ValueError(f"{self.name}: needs at least one instruction phrasing")

    def apply(self, image: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        """The edited copy of ``image`` (uint8 RGB, same shape)."""
        raise NotImplementedError

    def apply_video(self, frames: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        """Every frame edited independently with the same strength and seed."""
        check_video(frames)
        return (
            np.stack([self.apply(frame, strength, seed) for frame in frames])
            if len(frames)
            else frames.copy()
        )

    def instruction(self, rng: np.random.Generator | None = None) -> str:
        """One phrasing: the first, or a random one when ``rng`` is given."""
        if rng is None:
            return self.instructions[0]
        return self.instructions[int(rng.integers(len(self.instructions)))]

    def target_caption(self, source_caption: str) -> str:
        """``source_caption`` extended to describe the edited result."""
        base = source_caption.strip().rstrip(".")
        return f"{base}, {self.caption}" if base else self.caption


@dataclass(frozen=True, kw_only=True)
class PointwiseOperator(Operator):
    """A per-pixel colour map: ``build(strength)`` returns the tables that make it."""

    build: Callable[[float], Sequence[Stage]]
    pointwise: ClassVar[bool] = True

    def colour_map(self, strength: float) -> ColourMap:
        """The baked map for ``strength`` (cached: building a cube costs ~20 ms, applying it ~1.5 ms)."""
        return _colour_map(self, check_strength(strength))

    def apply(self, image: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        check_image(image)
        return self.colour_map(strength)(image)

    def apply_video(self, frames: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        check_video(frames)
        return self.colour_map(strength)(frames)


@lru_cache(maxsize=128)
def _colour_map(operator: PointwiseOperator, strength: float) -> ColourMap:
    if strength == 0.0:
        return ColourMap(())
    return compose(operator.build(strength))


@dataclass(frozen=True, kw_only=True)
class FilterOperator(Operator):
    """A neighbourhood filter: ``effect(image, strength, seed)`` for strength > 0."""

    effect: Callable[[np.ndarray, float, int], np.ndarray]

    def apply(self, image: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
        check_image(image)
        value = check_strength(strength)
        if value == 0.0:
            return image.copy()
        out = self.effect(np.ascontiguousarray(image), value, int(seed))
        if out.shape != image.shape or out.dtype != np.uint8:
            raise RuntimeError(f"{self.name}: effect returned {out.dtype} {out.shape} for {image.shape}")
        return out


def cube(fn: Callable[[np.ndarray], np.ndarray]) -> Cube:
    """A 3D table baked from a float colour function."""
    return Cube.from_fn(fn)


def curves(fn: Callable[[np.ndarray], np.ndarray]) -> ChannelCurves:
    """Per-channel curves baked from a float function applied to each channel's 256 levels."""
    return ChannelCurves.from_fn(fn)
