"""Crop windows: where the virtual camera looks, and the affine map that renders it.

A window is a rectangle in image coordinates -- centre, scale (image pixels per output pixel) and
rotation -- whose output-pixel samples all land inside the image, so rendering never invents
border pixels. Geometry is in terms of sample points: an output of width w spans ``scale * (w - 1)``
image pixels between its first and last pixel centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels (x1, y1 exclusive)


@dataclass(frozen=True)
class Window:
    """Centre (cx, cy) in image pixels, ``scale`` image pixels per output pixel, ``angle`` in degrees
    (positive: the picture appears turned counter-clockwise on screen)."""

    cx: float
    cy: float
    scale: float
    angle: float = 0.0

    def half_extents(self, out_size: tuple[int, int]) -> tuple[float, float]:
        """Half the span of sample points along the window's own x and y axes, image pixels."""
        out_h, out_w = out_size
        return self.scale * (out_w - 1) / 2.0, self.scale * (out_h - 1) / 2.0

    def matrix(self, out_size: tuple[int, int]) -> np.ndarray:
        """2x3 affine taking output pixel (u, v) to image point (x, y) (``cv2.WARP_INVERSE_MAP``)."""
        out_h, out_w = out_size
        theta = math.radians(self.angle)
        cos, sin = math.cos(theta) * self.scale, math.sin(theta) * self.scale
        u0, v0 = (out_w - 1) / 2.0, (out_h - 1) / 2.0
        return np.array(
            [
                [cos, -sin, self.cx - cos * u0 + sin * v0],
                [sin, cos, self.cy - sin * u0 - cos * v0],
            ],
            dtype=np.float64,
        )

    def corners(self, out_size: tuple[int, int]) -> np.ndarray:
        """Image positions of the four corner samples, (4, 2)."""
        out_h, out_w = out_size
        m = self.matrix(out_size)
        uv = np.array(
            [[0, 0, 1], [out_w - 1, 0, 1], [out_w - 1, out_h - 1, 1], [0, out_h - 1, 1]], dtype=np.float64
        )
        return uv @ m.T

    def inside(self, image_size: tuple[int, int], out_size: tuple[int, int], margin: float = 0.0) -> bool:
        """Every sample within ``margin`` of the image's pixel-centre extent [0, W-1] x [0, H-1]."""
        height, width = image_size
        c = self.corners(out_size)
        eps = 1e-6
        return bool(
            (c[:, 0] >= margin - eps).all()
            and (c[:, 0] <= width - 1 - margin + eps).all()
            and (c[:, 1] >= margin - eps).all()
            and (c[:, 1] <= height - 1 - margin + eps).all()
        )

    def shows(self, bbox: BBox, out_size: tuple[int, int]) -> bool:
        """Whether the whole of ``bbox`` lies within the rendered view."""
        x0, y0, x1, y1 = bbox
        points = np.array([[x0, y0], [x1 - 1, y0], [x1 - 1, y1 - 1], [x0, y1 - 1]], dtype=np.float64)
        theta = math.radians(self.angle)
        rot = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
        local = (points - [self.cx, self.cy]) @ rot.T
        half_x, half_y = self.half_extents(out_size)
        eps = 1e-6
        return bool(
            (np.abs(local[:, 0]) <= half_x + eps).all() and (np.abs(local[:, 1]) <= half_y + eps).all()
        )

    def to_list(self) -> list[float]:
        return [float(self.cx), float(self.cy), float(self.scale), float(self.angle)]


def max_scale(image_size: tuple[int, int], out_size: tuple[int, int], margin: float = 0.0) -> float:
    """Scale of the largest unrotated window of the output's aspect that fits the image."""
    height, width = image_size
    out_h, out_w = out_size
    spans = [(width - 1 - 2 * margin) / max(out_w - 1, 1), (height - 1 - 2 * margin) / max(out_h - 1, 1)]
    return max(min(spans), 1e-6)


def rotated_fit_scale(
    image_size: tuple[int, int], out_size: tuple[int, int], angle: float, margin: float = 0.0
) -> float:
    """Scale of the largest window at ``angle`` degrees that fits the image when centred in it."""
    height, width = image_size
    out_h, out_w = out_size
    theta = math.radians(abs(angle))
    cos, sin = math.cos(theta), math.sin(theta)
    a, b = (out_w - 1) / 2.0, (out_h - 1) / 2.0  # half extents per unit scale
    limit_x = ((width - 1) / 2.0 - margin) / (a * cos + b * sin)
    limit_y = ((height - 1) / 2.0 - margin) / (a * sin + b * cos)
    return max(min(limit_x, limit_y), 1e-6)


def centre_range(
    extent: float, half: float, margin: float, keep: tuple[float, float] | None
) -> tuple[float, float]:
    """Allowed centres along one axis: the window [c - half, c + half] inside [margin, extent - 1 - margin]
    and, if given, containing the interval ``keep`` = (lo, hi - 1). Empty ranges come back with lo > hi."""
    lo, hi = margin + half, extent - 1 - margin - half
    if keep is not None:
        lo, hi = max(lo, keep[1] - half), min(hi, keep[0] + half)
    return lo, hi
