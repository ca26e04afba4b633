"""Rendering a scene to frames: uint8 RGB (T, H, W, 3) plus a label map of which object shows where.

Each view pixel is mapped through the camera's affine transform to a world point and rounded down to a
world pixel (nearest sampling), and everything is evaluated at that world pixel's centre. Nothing is
interpolated, so two renders of scenes that differ in one object differ in exactly that object's
visible pixels: the property the ground-truth masks rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insvie.synth.scene import Scene
from insvie.synth.shapes import coverage, extent, local_coords
from insvie.synth.textures import background_pixels, object_pixels

BACKGROUND_LABEL = -1

_GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])
_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


@dataclass(frozen=True)
class Rendered:
    """Frames (T, H, W, 3) uint8 and labels (T, H, W) int16: index of the visible object, or -1."""

    frames: np.ndarray
    labels: np.ndarray


def world_pixels(scene: Scene, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer world pixel (x, y) that each view pixel shows at frame ``t``."""
    height, width = scene.size
    (a, b, c, d), (e, f) = scene.camera.transform(t, scene.num_frames)
    vy, vx = np.mgrid[0:height, 0:width].astype(np.float64)
    vx += 0.5
    vy += 0.5
    wx = a * vx + b * vy + e
    wy = c * vx + d * vy + f
    return np.floor(wx).astype(np.int64), np.floor(wy).astype(np.int64)


def apply_look(frames: np.ndarray, look: str | None) -> np.ndarray:
    """A global colour treatment of uint8 RGB frames (any leading shape): grayscale or sepia."""
    if look is None:
        return frames
    values = frames.astype(np.float64)
    if look == "grayscale":
        gray = np.rint(values @ _GRAY_WEIGHTS).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if look == "sepia":
        return np.rint(values @ _SEPIA.T).clip(0, 255).astype(np.uint8)
    raise ValueError(f"unknown look {look!r}")


def render(scene: Scene) -> Rendered:
    """Render every frame of ``scene``; objects are painted far to near (higher depth first)."""
    height, width = scene.size
    frames = np.empty((scene.num_frames, height, width, 3), dtype=np.uint8)
    labels = np.full((scene.num_frames, height, width), BACKGROUND_LABEL, dtype=np.int16)
    order = sorted(range(len(scene.objects)), key=lambda i: (-scene.objects[i].depth, i))
    cached: tuple[bytes, np.ndarray] | None = None
    for t in range(scene.num_frames):
        xi, yi = world_pixels(scene, t)
        key = xi.tobytes() + yi.tobytes()
        if cached is None or cached[0] != key:  # a still camera shows the same background every frame
            cached = (key, background_pixels(scene.background, xi, yi))
        frame = cached[1].copy()
        label = labels[t]
        xs, ys = xi + 0.5, yi + 0.5
        for index in order:
            obj = scene.objects[index]
            cx, cy = obj.trajectory.position(t)
            reach = extent(obj.shape, obj.radius) + 1.0
            rows, cols = np.nonzero((np.abs(xs - cx) <= reach) & (np.abs(ys - cy) <= reach))
            if rows.size == 0:
                continue
            u, v = local_coords(xs[rows, cols], ys[rows, cols], cx, cy, obj.angle + obj.spin * t)
            inside = coverage(obj.shape, u, v, obj.radius)
            rows, cols = rows[inside], cols[inside]
            frame[rows, cols] = object_pixels(obj, u[inside], v[inside])
            label[rows, cols] = index
        frames[t] = apply_look(frame, scene.look)
    return Rendered(frames, labels)


def object_coverage(scene: Scene, index: int) -> np.ndarray:
    """(T, H, W) boolean: where object ``index`` would show if nothing were in front of it."""
    obj = scene.objects[index]
    height, width = scene.size
    out = np.zeros((scene.num_frames, height, width), dtype=bool)
    for t in range(scene.num_frames):
        xi, yi = world_pixels(scene, t)
        cx, cy = obj.trajectory.position(t)
        u, v = local_coords(xi + 0.5, yi + 0.5, cx, cy, obj.angle + obj.spin * t)
        out[t] = coverage(obj.shape, u, v, obj.radius)
    return out
