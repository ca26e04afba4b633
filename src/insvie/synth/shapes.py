"""Flat shapes as inside/outside tests on points in the shape's own (rotated, centred) coordinates.

Analytic tests rather than rasterised sprites: a shape can be evaluated at whatever world points the
camera samples, with no drawing library, and its coverage is exact and cheap to recompute for masks.
"""

from __future__ import annotations

import math

import numpy as np

SHAPES = ("circle", "square", "triangle", "star")

# Each shape is scaled from its "radius" so that the four look about equally big.
_SQUARE_HALF = 0.85
_TRIANGLE_OUTER = 1.25
_STAR_OUTER = 1.3
_STAR_INNER = 0.5  # of the outer radius


def local_coords(
    xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points relative to a centre, rotated by ``-angle``: the frame in which the shape is upright."""
    dx, dy = xs - cx, ys - cy
    cos, sin = math.cos(angle), math.sin(angle)
    return cos * dx + sin * dy, -sin * dx + cos * dy


def extent(shape: str, radius: float) -> float:
    """Radius of a circle around the centre that contains the whole shape at any rotation."""
    return (
        radius
        * {
            "circle": 1.0,
            "square": _SQUARE_HALF * math.sqrt(2),
            "triangle": _TRIANGLE_OUTER,
            "star": _STAR_OUTER,
        }[shape]
    )


def area(shape: str, radius: float) -> float:
    """Exact area of the continuous shape, for checks of what is rendered."""
    if shape == "circle":
        return math.pi * radius**2
    if shape == "square":
        return (2 * _SQUARE_HALF * radius) ** 2
    if shape == "triangle":
        return 3 * math.sqrt(3) / 4 * (_TRIANGLE_OUTER * radius) ** 2
    if shape == "star":
        outer = _STAR_OUTER * radius
        return 10 * 0.5 * outer * outer * _STAR_INNER * math.sin(math.pi / 5)
    raise ValueError(f"unknown shape {shape!r}")


def _star_vertices(outer: float) -> np.ndarray:
    angles = -math.pi / 2 + np.arange(11) * (math.pi / 5)
    radii = np.where(np.arange(11) % 2 == 0, outer, outer * _STAR_INNER)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def coverage(shape: str, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Boolean: which points (in shape coordinates, y down) lie inside the shape. Triangles and stars
    point up at angle 0."""
    if shape == "circle":
        return u * u + v * v <= radius * radius
    if shape == "square":
        half = _SQUARE_HALF * radius
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == "triangle":
        outer = _TRIANGLE_OUTER * radius
        # Outward edge normals at 90, 210 and 330 degrees; the inradius is half the circumradius.
        inside = np.ones(u.shape, dtype=bool)
        for degrees in (90.0, 210.0, 330.0):
            phi = math.radians(degrees)
            inside &= u * math.cos(phi) + v * math.sin(phi) <= outer / 2
        return inside
    if shape == "star":
        # The point's angular sector picks one polygon edge; inside iff on the centre's side of that edge.
        vertices = _star_vertices(_STAR_OUTER * radius)
        sector = np.floor((np.arctan2(v, u) + math.pi / 2) / (math.pi / 5)).astype(np.int64) % 10
        ax, ay = vertices[sector, 0], vertices[sector, 1]
        bx, by = vertices[sector + 1, 0], vertices[sector + 1, 1]
        point_side = (bx - ax) * (v - ay) - (by - ay) * (u - ax)
        centre_side = (bx - ax) * (-ay) - (by - ay) * (-ax)
        return point_side * centre_side >= 0
    raise ValueError(f"unknown shape {shape!r}")
