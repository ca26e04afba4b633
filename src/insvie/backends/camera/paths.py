"""Camera paths: a start and an end window, eased between, that never leave the image.

Every path is built from two key windows at a given ``strength`` in [0, 1] (0 = no motion) and
interpolated linearly in centre, scale and angle with an easing curve. For unrotated windows,
linear interpolation keeps any rectangle that both key windows contain (the image extent, the
region to keep in view) contained in every frame, so the pan, zoom and dolly paths are valid by
construction; rotations are checked frame by frame. When a path cannot satisfy the constraints at
the requested strength, :func:`plan_path` lowers the strength (bisection) until it can: a weaker
move beats a move that cuts off the edit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from insvie.backends.camera.easing import EASINGS, progress
from insvie.backends.camera.window import BBox, Window, centre_range, max_scale, rotated_fit_scale

MAX_PAN = 0.6  # the longest pan crosses this share of the window's own width (or height)
MAX_ZOOM = 0.8  # zoom paths change the scale by up to 1 + this
MAX_DOLLY_ZOOM = 0.5
MAX_ANGLE = 10.0  # degrees
PAN_ZOOM = 0.5  # pans zoom in by up to 1 + this, to have room to move


@dataclass(frozen=True)
class Frame:
    """What a path needs to know about the picture."""

    image_size: tuple[int, int]  # (H, W)
    out_size: tuple[int, int]  # (h, w)
    margin: float  # keep samples this far inside the image (room for pre-shrinking)
    keep: BBox | None  # region that must stay in view

    @property
    def base_scale(self) -> float:
        return max_scale(self.image_size, self.out_size, self.margin)

    @property
    def focus(self) -> tuple[float, float]:
        """Where zooms aim: the kept region's centre, else the image centre."""
        if self.keep is not None:
            x0, y0, x1, y1 = self.keep
            return (x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0
        height, width = self.image_size
        return (width - 1) / 2.0, (height - 1) / 2.0

    def keep_scale(self) -> float:
        """The smallest scale at which the kept region fits an unrotated window (0 without one)."""
        if self.keep is None:
            return 0.0
        x0, y0, x1, y1 = self.keep
        out_h, out_w = self.out_size
        return max((x1 - 1 - x0) / max(out_w - 1, 1), (y1 - 1 - y0) / max(out_h - 1, 1))

    def ranges(self, scale: float, angle: float = 0.0) -> tuple[tuple[float, float], tuple[float, float]]:
        """Allowed centre ranges along x and y for a window of this scale and angle."""
        out_h, out_w = self.out_size
        a, b = scale * (out_w - 1) / 2.0, scale * (out_h - 1) / 2.0
        theta = math.radians(abs(angle))
        half_x, half_y = a * math.cos(theta) + b * math.sin(theta), a * math.sin(theta) + b * math.cos(theta)
        keep_x = keep_y = None
        if self.keep is not None and angle == 0.0:
            x0, y0, x1, y1 = self.keep
            keep_x, keep_y = (x0, x1), (y0, y1)
        height, width = self.image_size
        return (
            centre_range(width, half_x, self.margin, keep_x),
            centre_range(height, half_y, self.margin, keep_y),
        )

    def place(self, scale: float, prefer: tuple[float, float], angle: float = 0.0) -> Window:
        """A window of ``scale`` and ``angle`` centred as near ``prefer`` as the constraints allow."""
        (lo_x, hi_x), (lo_y, hi_y) = self.ranges(scale, angle)
        (img_x, img_y) = Frame(self.image_size, self.out_size, self.margin, None).ranges(scale, angle)
        cx = _clamp(prefer[0], lo_x, hi_x) if lo_x <= hi_x else _clamp(prefer[0], *img_x)
        cy = _clamp(prefer[1], lo_y, hi_y) if lo_y <= hi_y else _clamp(prefer[1], *img_y)
        return Window(cx, cy, scale, angle)


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi) if lo <= hi else (lo + hi) / 2.0


Builder = Callable[[Frame, float, np.random.Generator], tuple[Window, Window]]


def _static(frame: Frame, strength: float, rng: np.random.Generator) -> tuple[Window, Window]:
    window = frame.place(frame.base_scale, frame.focus)
    return window, window


def _pan(axis: int, sign: int) -> Builder:
    def build(frame: Frame, strength: float, rng: np.random.Generator) -> tuple[Window, Window]:
        scale = max(frame.base_scale / (1.0 + PAN_ZOOM * strength), min(frame.keep_scale(), frame.base_scale))
        ranges = frame.ranges(scale)
        lo, hi = ranges[axis]
        if lo > hi:  # the kept region does not fit: no room to pan
            window = frame.place(scale, frame.focus)
            return window, window
        out_extent = frame.out_size[1 - axis] - 1
        travel = strength * min(hi - lo, MAX_PAN * scale * out_extent)
        middle = _clamp(frame.focus[axis], lo + travel / 2.0, hi - travel / 2.0)
        start, end = middle - sign * travel / 2.0, middle + sign * travel / 2.0
        anchor = frame.place(scale, frame.focus)
        if axis == 0:
            return Window(start, anchor.cy, scale), Window(end, anchor.cy, scale)
        return Window(anchor.cx, start, scale), Window(anchor.cx, end, scale)

    return build


def _zoom(direction: int, amount: float, offset: bool) -> Builder:
    def build(frame: Frame, strength: float, rng: np.random.Generator) -> tuple[Window, Window]:
        wide_scale = frame.base_scale
        close_scale = max(wide_scale / (1.0 + amount * strength), min(frame.keep_scale(), wide_scale))
        target = frame.focus
        if offset:  # a dolly drifts sideways while it zooms: aim off-centre, in a seeded direction
            phi = rng.uniform(0.0, 2.0 * math.pi)
            out_h, out_w = frame.out_size
            reach = 0.35 * strength * close_scale
            target = (target[0] + math.cos(phi) * reach * out_w, target[1] + math.sin(phi) * reach * out_h)
        wide = frame.place(wide_scale, frame.focus)
        close = frame.place(close_scale, target)
        return (wide, close) if direction > 0 else (close, wide)

    return build


def _rotate(sign: int) -> Builder:
    def build(frame: Frame, strength: float, rng: np.random.Generator) -> tuple[Window, Window]:
        angle = sign * MAX_ANGLE * strength
        scale = min(
            rotated_fit_scale(frame.image_size, frame.out_size, angle, frame.margin), frame.base_scale
        )
        start = frame.place(scale, frame.focus, angle)
        return Window(start.cx, start.cy, scale, 0.0), start

    return build


PATHS: dict[str, Builder] = {
    "static": _static,
    "pan_left": _pan(0, -1),
    "pan_right": _pan(0, 1),
    "pan_up": _pan(1, -1),
    "pan_down": _pan(1, 1),
    "zoom_in": _zoom(1, MAX_ZOOM, offset=False),
    "zoom_out": _zoom(-1, MAX_ZOOM, offset=False),
    "dolly_in": _zoom(1, MAX_DOLLY_ZOOM, offset=True),
    "dolly_out": _zoom(-1, MAX_DOLLY_ZOOM, offset=True),
    "rotate_cw": _rotate(-1),  # the picture turns clockwise on screen
    "rotate_ccw": _rotate(1),
}


def list_paths() -> list[str]:
    """Names of the camera paths."""
    return sorted(PATHS)


def interpolate(start: Window, end: Window, eased: np.ndarray) -> list[Window]:
    """Windows along the straight line from ``start`` to ``end`` at each eased progress value."""
    return [
        Window(
            start.cx + t * (end.cx - start.cx),
            start.cy + t * (end.cy - start.cy),
            start.scale + t * (end.scale - start.scale),
            start.angle + t * (end.angle - start.angle),
        )
        for t in eased
    ]


@dataclass(frozen=True)
class Plan:
    """A path's windows, the strength it was built at and whether the kept region stays in view."""

    windows: list[Window]
    strength: float
    kept_in_view: bool


def _valid(windows: list[Window], frame: Frame) -> tuple[bool, bool]:
    inside = all(w.inside(frame.image_size, frame.out_size, frame.margin) for w in windows)
    shows = frame.keep is None or all(w.shows(frame.keep, frame.out_size) for w in windows)
    return inside, shows


def plan_path(
    name: str,
    frame: Frame,
    *,
    num_frames: int,
    strength: float,
    easing: str = "ease_in_out",
    seed: int = 0,
) -> Plan:
    """The windows of path ``name``; lowers ``strength`` when needed to respect the constraints."""
    if name not in PATHS:
        raise ValueError(f"unknown camera path {name!r}; known: {', '.join(list_paths())}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    eased = progress(num_frames, easing)

    def attempt(value: float) -> tuple[list[Window], bool, bool]:
        start, end = PATHS[name](frame, value, np.random.default_rng(seed))
        windows = interpolate(start, end, eased)
        return (windows, *_valid(windows, frame))

    windows, inside, shows = attempt(strength)
    if inside and shows:
        return Plan(windows, strength, True)
    low, best = 0.0, None
    high = strength
    for _ in range(14):
        middle = (low + high) / 2.0
        trial = attempt(middle)
        if trial[1] and trial[2]:
            low, best = middle, trial
        else:
            high = middle
    if best is not None:
        return Plan(best[0], low, True)
    windows, inside, shows = attempt(0.0)
    if not inside:  # the kept region pulled a window off the image: drop the constraint
        unconstrained = Frame(frame.image_size, frame.out_size, frame.margin, None)
        start, end = PATHS[name](unconstrained, 0.0, np.random.default_rng(seed))
        windows = interpolate(start, end, eased)
    return Plan(windows, 0.0, False)


def random_path(
    rng: np.random.Generator, *, static_share: float = 0.15, paths: list[str] | None = None
) -> dict[str, object]:
    """Keyword arguments for :func:`~insvie.backends.camera.animate.animate_pair`: a random path,
    strength in [0.3, 1], easing (mostly ease-in-out) and seed. ``static_share`` of draws are static,
    the InsViE image branch's still subset."""
    names = [p for p in (paths or list_paths()) if p != "static"]
    if paths is not None and "static" not in paths:
        static_share = 0.0
    if not names or rng.random() < static_share:
        return {"path": "static", "strength": 0.0, "easing": "linear", "seed": int(rng.integers(2**31))}
    easing = "ease_in_out" if rng.random() < 0.7 else str(rng.choice(sorted(EASINGS)))
    return {
        "path": str(rng.choice(names)),
        "strength": round(float(rng.uniform(0.3, 1.0)), 3),
        "easing": easing,
        "seed": int(rng.integers(2**31)),
    }
