"""Dataclasses describing a SynthEdit scene, and the captions that describe one in words.

A scene is pure data (frozen dataclasses of plain Python values) so that an edit is just
``dataclasses.replace`` of a scene, the edited video is a re-render with the very same camera and
trajectories, and a scene serialises to JSON for the dataset records.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from insvie.synth.colours import with_article

BACKGROUND_KINDS = ("noise", "stripes", "checker", "brick", "gradient")
TRAJECTORY_KINDS = ("linear", "bounce", "circular")
CAMERA_KINDS = ("static", "pan", "zoom", "rotate")
LOOKS = ("grayscale", "sepia")


@dataclass(frozen=True)
class Background:
    """A procedural texture defined on world pixel coordinates (so the camera can move over it)."""

    kind: str
    colours: tuple[str, str]
    scale: float  # texture period / cell / brick height / gradient length, in pixels
    angle: float = 0.0  # radians, for stripes and gradient
    seed: int = 0  # lattice of noise values and per-brick tint
    origin: tuple[float, float] = (0.0, 0.0)  # gradient midpoint (x, y)

    def describe(self) -> str:
        """``"a brick wall"``, ``"a beige and teal checkerboard"``, ... (with its article)."""
        first, second = self.colours
        if self.kind == "brick":
            return "a brick wall"
        if self.kind == "stripes":
            return with_article(f"{first} and {second} striped pattern")
        if self.kind == "checker":
            return with_article(f"{first} and {second} checkerboard")
        if self.kind == "gradient":
            return with_article(f"{first} to {second} gradient")
        return f"a mottled {first} and {second} texture"


@dataclass(frozen=True)
class Trajectory:
    """Where an object's centre is at frame ``t``: straight line, bouncing in a box, or an orbit."""

    kind: str
    start: tuple[float, float]  # position at t=0 (linear, bounce) or orbit centre (circular)
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per frame (linear, bounce)
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x0, y0, x1, y1 (bounce)
    radius: float = 0.0  # orbit radius (circular)
    angular_speed: float = 0.0  # radians per frame (circular)
    phase: float = 0.0  # radians at t=0 (circular)

    def position(self, t: float) -> tuple[float, float]:
        if self.kind == "circular":
            angle = self.phase + self.angular_speed * t
            return (
                self.start[0] + self.radius * math.cos(angle),
                self.start[1] + self.radius * math.sin(angle),
            )
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        if self.kind == "bounce":
            x0, y0, x1, y1 = self.bounds
            x, y = _reflect(x, x0, x1), _reflect(y, y0, y1)
        return x, y


def _reflect(value: float, low: float, high: float) -> float:
    """Fold ``value`` into [low, high] as a ball bouncing between two walls would be."""
    span = high - low
    if span <= 0:
        return low
    folded = (value - low) % (2 * span)
    return low + (2 * span - folded if folded > span else folded)


@dataclass(frozen=True)
class SceneObject:
    """A flat shape with a named colour, drawn at its trajectory's position, nearer when depth is lower."""

    shape: str
    colour: str
    size: str  # "small" | "medium" | "large"
    radius: float  # pixels
    trajectory: Trajectory
    depth: int
    texture: str | None = None  # None | "stripes" | "dots" | "grid"
    angle: float = 0.0  # radians at t=0
    spin: float = 0.0  # radians per frame

    @property
    def name(self) -> str:
        """What an instruction calls it: colour and shape, e.g. ``"red circle"``."""
        return f"{self.colour} {self.shape}"

    def describe(self) -> str:
        adjective = {"stripes": "striped ", "dots": "dotted ", "grid": "checked "}.get(self.texture or "", "")
        return f"{adjective}{self.colour} {self.shape}"


@dataclass(frozen=True)
class Camera:
    """A per-frame affine map from view pixels to world pixels, sampled nearest-neighbour."""

    kind: str = "static"
    pan: tuple[float, float] = (0.0, 0.0)  # total world shift over the clip, pixels
    zoom: float = 1.0  # magnification reached at the last frame
    rotation: float = 0.0  # radians reached at the last frame (positive: clockwise on screen)
    centre: tuple[float, float] = (0.0, 0.0)  # zoom / rotation centre (x, y)

    def transform(
        self, t: int, num_frames: int
    ) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
        """``(a, b, c, d), (e, f)`` with world = [[a, b], [c, d]] @ view + (e, f) at frame ``t``."""
        progress = t / (num_frames - 1) if num_frames > 1 else 0.0
        cx, cy = self.centre
        if self.kind == "pan":
            return (1.0, 0.0, 0.0, 1.0), (self.pan[0] * progress, self.pan[1] * progress)
        if self.kind == "zoom":
            inverse = 1.0 / (1.0 + (self.zoom - 1.0) * progress)
            return (inverse, 0.0, 0.0, inverse), (cx - cx * inverse, cy - cy * inverse)
        if self.kind == "rotate":
            theta = self.rotation * progress
            cos, sin = math.cos(theta), math.sin(theta)
            return (cos, -sin, sin, cos), (cx - (cos * cx - sin * cy), cy - (sin * cx + cos * cy))
        return (1.0, 0.0, 0.0, 1.0), (0.0, 0.0)

    def describe(self) -> str:
        if self.kind == "pan":
            dx, dy = self.pan
            if abs(dx) >= abs(dy):
                return "as the camera pans " + ("right" if dx > 0 else "left")
            return "as the camera pans " + ("down" if dy > 0 else "up")
        if self.kind == "zoom":
            return "as the camera zooms " + ("in" if self.zoom > 1 else "out")
        if self.kind == "rotate":
            return "as the camera rotates " + ("clockwise" if self.rotation > 0 else "counterclockwise")
        return "seen by a still camera"


@dataclass(frozen=True)
class Scene:
    """Everything needed to render a clip: size (height, width), length, background, objects, camera."""

    size: tuple[int, int]
    num_frames: int
    background: Background
    objects: tuple[SceneObject, ...]
    camera: Camera = field(default_factory=Camera)
    look: str | None = None  # None | "grayscale" | "sepia": a global colour treatment

    def unique_objects(self) -> list[int]:
        """Indices of objects whose (colour, shape) no other object shares: those an instruction can name."""
        names = [obj.name for obj in self.objects]
        return [i for i, name in enumerate(names) if names.count(name) == 1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _list_phrase(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def describe_scene(scene: Scene) -> str:
    """A one-sentence caption: objects (grouped when alike), background, camera motion and look."""
    counts: dict[str, int] = {}
    for obj in scene.objects:
        counts[obj.describe()] = counts.get(obj.describe(), 0) + 1
    parts = [
        with_article(label) if count == 1 else f"{_NUMBERS.get(count, str(count))} {label}s"
        for label, count in counts.items()
    ]
    background = scene.background.describe()
    if parts:
        verb = "moves" if len(parts) == 1 and counts[next(iter(counts))] == 1 else "move"
        sentence = f"{_list_phrase(parts)} {verb} in front of {background}"
    else:
        sentence = f"{background} with nothing in front of it"
    sentence = f"{sentence[0].upper()}{sentence[1:]} {scene.camera.describe()}"
    if scene.look == "grayscale":
        sentence += ", in black and white"
    elif scene.look == "sepia":
        sentence += ", in sepia tones"
    return sentence + "."
