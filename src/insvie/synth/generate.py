"""Sampling random scenes from a numpy Generator: backgrounds, objects, trajectories, camera paths.

Every choice is drawn from the one Generator passed in, so a scene is a pure function of its seed.
Trajectories are chosen to keep objects inside the view, and most scenes send two objects across the
same point at mid-clip so that one passes in front of the other (occlusion by depth order).
"""

from __future__ import annotations

import math

import numpy as np

from insvie.synth.colours import BACKGROUND_COLOURS, OBJECT_COLOURS
from insvie.synth.scene import BACKGROUND_KINDS, Background, Camera, Scene, SceneObject, Trajectory
from insvie.synth.shapes import SHAPES
from insvie.synth.textures import OBJECT_TEXTURES

# Object radius as a fraction of the shorter frame side.
SIZES = {"small": 0.075, "medium": 0.1, "large": 0.13}
_BRICK_COLOURS = ("rust", "brown", "dark grey", "sand")
_MORTAR_COLOURS = ("light grey", "cream", "beige")
_CROSSING_PROBABILITY = 0.7
_DUPLICATE_PROBABILITY = 0.2


def _choice(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def random_background(
    rng: np.random.Generator, size: tuple[int, int], *, exclude_kinds: tuple[str, ...] = ()
) -> Background:
    """A textured or gradient background, of none of ``exclude_kinds`` (background edits need a new one)."""
    height, width = size
    side = min(height, width)
    kinds = tuple(k for k in BACKGROUND_KINDS if k not in exclude_kinds)
    kind = _choice(rng, kinds)
    if kind == "brick":
        colours = (_choice(rng, _BRICK_COLOURS), _choice(rng, _MORTAR_COLOURS))
    else:
        names = list(BACKGROUND_COLOURS)
        first = int(rng.integers(len(names)))
        second = (first + 1 + int(rng.integers(len(names) - 1))) % len(names)
        colours = (names[first], names[second])
    scale_range = {
        "noise": (0.15, 0.3),
        "stripes": (0.06, 0.14),
        "checker": (0.08, 0.16),
        "brick": (0.07, 0.12),
        "gradient": (1.0, 1.6),
    }[kind]
    scale = max(
        2.0, float(rng.uniform(*scale_range)) * (math.hypot(height, width) if kind == "gradient" else side)
    )
    return Background(
        kind=kind,
        colours=colours,
        scale=round(scale, 3),
        angle=round(float(rng.uniform(0, math.pi)), 4),
        seed=int(rng.integers(2**31)),
        origin=(width / 2, height / 2),
    )


def _point(rng: np.random.Generator, size: tuple[int, int], low: float, high: float) -> tuple[float, float]:
    height, width = size
    return float(rng.uniform(low, high) * width), float(rng.uniform(low, high) * height)


def random_trajectory(
    rng: np.random.Generator, size: tuple[int, int], num_frames: int, radius: float
) -> Trajectory:
    """Linear, bouncing or circular motion that keeps the object's centre inside the view."""
    height, width = size
    side = min(height, width)
    steps = max(num_frames - 1, 1)
    kind = _choice(rng, ("linear", "bounce", "circular"))
    if kind == "circular":
        orbit = float(rng.uniform(0.12, 0.28)) * side
        centre = (
            float(rng.uniform(orbit + radius, max(orbit + radius, width - orbit - radius))),
            float(rng.uniform(orbit + radius, max(orbit + radius, height - orbit - radius))),
        )
        turns = float(rng.uniform(0.35, 0.9)) * (1 if rng.random() < 0.5 else -1)
        return Trajectory(
            kind="circular",
            start=centre,
            radius=orbit,
            angular_speed=2 * math.pi * turns / steps,
            phase=float(rng.uniform(0, 2 * math.pi)),
        )
    if kind == "linear":
        start = _point(rng, size, 0.15, 0.85)
        end = _point(rng, size, 0.15, 0.85)
        return Trajectory(
            kind="linear", start=start, velocity=((end[0] - start[0]) / steps, (end[1] - start[1]) / steps)
        )
    travel = float(rng.uniform(0.8, 1.8)) * width
    heading = float(rng.uniform(0, 2 * math.pi))
    low_x, low_y = min(radius, width / 2), min(radius, height / 2)
    return Trajectory(
        kind="bounce",
        start=_point(rng, size, 0.2, 0.8),
        velocity=(travel * math.cos(heading) / steps, travel * math.sin(heading) / steps),
        bounds=(low_x, low_y, width - low_x, height - low_y),
    )


def _crossing_pair(
    rng: np.random.Generator, size: tuple[int, int], num_frames: int
) -> tuple[Trajectory, Trajectory]:
    """Two straight paths through one point at mid-clip, from different directions: one will occlude."""
    height, width = size
    side = min(height, width)
    steps = max(num_frames - 1, 1)
    meet = _point(rng, size, 0.35, 0.65)
    first_heading = float(rng.uniform(0, 2 * math.pi))
    headings = (first_heading, first_heading + float(rng.uniform(0.5, 1.0)) * math.pi)
    paths = []
    for heading in headings:
        half = float(rng.uniform(0.2, 0.3)) * side
        dx, dy = half * math.cos(heading), half * math.sin(heading)
        start = (meet[0] - dx, meet[1] - dy)
        paths.append(Trajectory(kind="linear", start=start, velocity=(2 * dx / steps, 2 * dy / steps)))
    return paths[0], paths[1]


def random_object(
    rng: np.random.Generator,
    size: tuple[int, int],
    num_frames: int,
    *,
    depth: int = 0,
    colour: str | None = None,
    shape: str | None = None,
    trajectory: Trajectory | None = None,
) -> SceneObject:
    """A shape with a named colour, a size, maybe a texture, spin and a trajectory."""
    colour = colour or _choice(rng, tuple(OBJECT_COLOURS))
    shape = shape or _choice(rng, SHAPES)
    size_name = _choice(rng, tuple(SIZES))
    radius = round(SIZES[size_name] * min(size), 3)
    texture = _choice(rng, OBJECT_TEXTURES) if rng.random() < 0.35 else None
    spin = 0.0 if shape == "circle" and texture is None else float(rng.uniform(-0.12, 0.12))
    return SceneObject(
        shape=shape,
        colour=colour,
        size=size_name,
        radius=radius,
        trajectory=trajectory or random_trajectory(rng, size, num_frames, radius),
        depth=depth,
        texture=texture,
        angle=round(float(rng.uniform(0, 2 * math.pi)), 4),
        spin=round(spin, 4),
    )


def random_camera(rng: np.random.Generator, size: tuple[int, int]) -> Camera:
    """Still (30%), pan, zoom in or out, or rotate: modest moves so the objects stay in view."""
    height, width = size
    centre = (width / 2, height / 2)
    draw = rng.random()
    if draw < 0.3:
        return Camera(kind="static", centre=centre)
    if draw < 0.55:
        heading = float(rng.uniform(0, 2 * math.pi))
        distance = float(rng.uniform(0.1, 0.25)) * width
        return Camera(
            kind="pan", pan=(distance * math.cos(heading), distance * math.sin(heading)), centre=centre
        )
    if draw < 0.75:
        zoom = float(rng.uniform(1.15, 1.4)) if rng.random() < 0.5 else float(rng.uniform(0.75, 0.87))
        return Camera(kind="zoom", zoom=zoom, centre=centre)
    degrees = float(rng.uniform(8, 20)) * (1 if rng.random() < 0.5 else -1)
    return Camera(kind="rotate", rotation=math.radians(degrees), centre=centre)


def random_scene(rng: np.random.Generator, size: tuple[int, int], num_frames: int) -> Scene:
    """2-4 moving objects over a random background, seen by a random camera."""
    count = int(rng.integers(2, 5))
    depths = [int(d) for d in rng.permutation(count)]
    crossing = _crossing_pair(rng, size, num_frames) if rng.random() < _CROSSING_PROBABILITY else None
    objects: list[SceneObject] = []
    for i in range(count):
        colour = shape = None
        if objects and rng.random() < _DUPLICATE_PROBABILITY:  # a look-alike: instructions must avoid it
            twin = objects[int(rng.integers(len(objects)))]
            colour, shape = twin.colour, twin.shape
        trajectory = crossing[i] if crossing is not None and i < 2 else None
        objects.append(
            random_object(
                rng, size, num_frames, depth=depths[i], colour=colour, shape=shape, trajectory=trajectory
            )
        )
    return Scene(
        size=(int(size[0]), int(size[1])),
        num_frames=int(num_frames),
        background=random_background(rng, size),
        objects=tuple(objects),
        camera=random_camera(rng, size),
    )
