"""Colour maps baked into look-up tables, so a per-pixel edit costs ~1 ms per 720x480 frame.

Two table kinds cover every pointwise operator:

- :class:`ChannelCurves`: one 256-entry curve per channel (``cv2.LUT``): exact, for separable maps
  (white balance, levels, posterize).
- :class:`Cube`: a 3D table, exact along blue (256 slices) and sampled on ``nodes`` points along red
  and green. The slices are stacked into one 2D image so that a single ``cv2.remap`` does the
  bilinear red/green interpolation inside the right blue slice. A full 256^3 table would be 50 MB
  and a numpy gather from it ~7 ms per frame; trilinear interpolation in numpy ~30 ms; this ~1.5 ms.
  Bilinear interpolation reproduces affine maps exactly, so matrices (grayscale, sepia) lose nothing
  beyond uint8 rounding of the nodes.

Both are pointwise by construction: the output of a pixel depends on its colour only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

# A colour function maps float RGB in [0, 1] of shape (..., 3) to the same shape; it may overshoot.
ColourFn = Callable[[np.ndarray], np.ndarray]

DEFAULT_NODES = 33


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim < 3 or image.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB (..., H, W, 3), got {image.dtype} {image.shape}")


@dataclass(frozen=True, eq=False)
class ChannelCurves:
    """Per-channel 256-entry curves, applied with ``cv2.LUT``."""

    table: np.ndarray  # (256, 3) uint8

    @classmethod
    def from_fn(cls, fn: Callable[[np.ndarray], np.ndarray]) -> ChannelCurves:
        """Bake ``fn`` (float (256, 3) in [0, 1] -> same) evaluated on every level of every channel."""
        levels = np.repeat((np.arange(256, dtype=np.float32) / 255.0)[:, None], 3, axis=1)
        return cls(_to_uint8(fn(levels)))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        _check_image(image)
        lut = self.table.reshape(256, 1, 3)
        flat = image.reshape(-1, image.shape[-2], 3)  # cv2.LUT wants 2D images; stacks of frames are rows
        return cv2.LUT(flat, lut).reshape(image.shape)


@dataclass(frozen=True, eq=False)
class Cube:
    """A 3D colour table: exact in blue, ``nodes`` samples along red and green (see module doc)."""

    table: np.ndarray  # (256 * nodes, nodes, 3) uint8: row = blue * nodes + red node, column = green node
    nodes: int = DEFAULT_NODES
    _scale: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.table.shape != (256 * self.nodes, self.nodes, 3) or self.table.dtype != np.uint8:
            raise ValueError(
                f"a {self.nodes}-node cube needs a (256*n, n, 3) uint8 table, got {self.table.shape}"
            )
        object.__setattr__(self, "_scale", (self.nodes - 1) / 255.0)

    @staticmethod
    def grid(nodes: int = DEFAULT_NODES, blue_levels: int = 256) -> np.ndarray:
        """Float RGB of the table's entries, shape (blue_levels, nodes, nodes, 3): [blue, red, green]."""
        axis = np.linspace(0.0, 1.0, nodes, dtype=np.float32)
        blue = np.linspace(0.0, 1.0, blue_levels, dtype=np.float32)
        b, r, g = np.meshgrid(blue, axis, axis, indexing="ij")
        return np.stack([r, g, b], axis=-1)

    @classmethod
    def from_fn(cls, fn: ColourFn, nodes: int = DEFAULT_NODES, *, blue_nodes: int | None = None) -> Cube:
        """Bake ``fn`` on the table's grid (256 * nodes^2 colours: ~280k for 33 nodes).

        ``blue_nodes`` evaluates ``fn`` on that many blue levels only and interpolates the rest
        linearly: ~8x cheaper for a costly ``fn`` that is smooth in blue.
        """
        if blue_nodes is None or blue_nodes >= 256:
            values = fn(cls.grid(nodes))
        else:
            coarse = fn(cls.grid(nodes, blue_nodes))
            position = np.arange(256, dtype=np.float32) * ((blue_nodes - 1) / 255.0)
            low = np.minimum(position.astype(np.int64), blue_nodes - 2)
            frac = (position - low)[:, None, None, None]
            values = coarse[low] * (1.0 - frac) + coarse[low + 1] * frac
        return cls(_to_uint8(values).reshape(256 * nodes, nodes, 3), nodes)

    def _frame(self, frame: np.ndarray) -> np.ndarray:
        red, green, blue = cv2.split(frame)
        map_x = cv2.multiply(green, self._scale, dtype=cv2.CV_32F)
        map_y = cv2.addWeighted(blue, float(self.nodes), red, self._scale, 0.0, dtype=cv2.CV_32F)
        return cv2.remap(self.table, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        _check_image(image)
        if image.ndim == 3:
            return self._frame(image)
        flat = image.reshape(-1, *image.shape[-3:])
        out = np.empty_like(flat)
        for index, frame in enumerate(flat):  # remap maps are limited to 32767 rows: go frame by frame
            out[index] = self._frame(frame)
        return out.reshape(image.shape)

    def lookup(self, rgb: np.ndarray) -> np.ndarray:
        """The table at float RGB points in [0, 1] (..., 3), interpolated like :meth:`__call__` does."""
        shape = rgb.shape
        pixels = _to_uint8(rgb.reshape(1, -1, 3))
        return self._frame(pixels).reshape(shape).astype(np.float32) / 255.0


Stage = ChannelCurves | Cube


@dataclass(frozen=True, eq=False)
class ColourMap:
    """A pointwise colour map: tables applied in order."""

    stages: tuple[Stage, ...]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        _check_image(image)
        out = image
        for stage in self.stages:
            out = stage(out)
        return out if out is not image else image.copy()

    def to_cube(self, nodes: int = DEFAULT_NODES) -> Cube:
        """The whole map as one cube (sampled through the stages), e.g. for export or a faster apply."""
        grid = _to_uint8(Cube.grid(nodes)).reshape(256 * nodes, nodes, 3)
        return Cube(self(grid), nodes)

    def lut3d(self, size: int = 33) -> np.ndarray:
        """A regular ``size``^3 float table indexed [r, g, b] (the layout of .cube files, red fastest)."""
        axis = np.rint(np.linspace(0, 255, size)).astype(np.uint8)
        r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
        colours = np.stack([r, g, b], axis=-1).reshape(size * size, size, 3)
        return self(colours).reshape(size, size, size, 3).astype(np.float32) / 255.0


def compose(stages: Sequence[Stage]) -> ColourMap:
    """A :class:`ColourMap` of ``stages``, merging neighbouring curves into one table."""
    merged: list[Stage] = []
    for stage in stages:
        if merged and isinstance(stage, ChannelCurves) and isinstance(merged[-1], ChannelCurves):
            previous = merged[-1].table
            channels = [stage.table[previous[:, c], c] for c in range(3)]
            merged[-1] = ChannelCurves(np.stack(channels, axis=1))
        else:
            merged.append(stage)
    return ColourMap(tuple(merged))
