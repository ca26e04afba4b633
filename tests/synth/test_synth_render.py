"""SynthEdit scenes and rendering: shapes, determinism, camera motion, occlusion, looks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from insvie.synth import (
    Background,
    Camera,
    Scene,
    SceneObject,
    Trajectory,
    object_coverage,
    random_scene,
    render,
)
from insvie.synth.colours import OBJECT_COLOURS
from insvie.synth.render import apply_look
from insvie.synth.shapes import SHAPES, area

SIZE = (48, 64)
FRAMES = 9
WALL = Background(kind="checker", colours=("grey", "beige"), scale=6.0)


def _still(shape: str, radius: float = 14.0) -> Scene:
    obj = SceneObject(
        shape=shape,
        colour="red",
        size="large",
        radius=radius,
        trajectory=Trajectory(kind="linear", start=(60.0, 50.0)),
        depth=0,
        angle=0.3,
    )
    return Scene(size=(100, 120), num_frames=1, background=WALL, objects=(obj,))


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_cover_their_area_in_their_colour(shape):
    rendered = render(_still(shape))
    inside = rendered.labels[0] == 0
    assert inside.sum() == pytest.approx(area(shape, 14.0), rel=0.05)
    assert (rendered.frames[0][inside] == OBJECT_COLOURS["red"]).all()
    assert (rendered.frames[0][~inside] != OBJECT_COLOURS["red"]).any(axis=-1).all()


def test_shapes_are_told_apart():
    masks = {shape: render(_still(shape)).labels[0] == 0 for shape in SHAPES}
    for a in SHAPES:
        for b in SHAPES:
            if a < b:
                assert (masks[a] != masks[b]).sum() > 20, (a, b)


def test_same_seed_same_scene_and_frames_different_seed_differs():
    first = random_scene(np.random.default_rng(3), SIZE, FRAMES)
    again = random_scene(np.random.default_rng(3), SIZE, FRAMES)
    other = random_scene(np.random.default_rng(4), SIZE, FRAMES)
    assert first == again
    assert first != other
    assert np.array_equal(render(first).frames, render(again).frames)
    assert not np.array_equal(render(first).frames, render(other).frames)


@pytest.mark.parametrize(
    "camera",
    [
        Camera(kind="pan", pan=(9.0, -4.0)),
        Camera(kind="zoom", zoom=1.3, centre=(32.0, 24.0)),
        Camera(kind="zoom", zoom=0.8, centre=(32.0, 24.0)),
        Camera(kind="rotate", rotation=math.radians(15), centre=(32.0, 24.0)),
    ],
    ids=["pan", "zoom-in", "zoom-out", "rotate"],
)
def test_camera_motion_moves_the_background(camera):
    for kind in ("checker", "brick", "noise", "stripes"):
        scene = Scene(SIZE, FRAMES, Background(kind, ("grey", "cream"), 5.0, angle=0.4, seed=1), (), camera)
        frames = render(scene).frames
        assert not np.array_equal(frames[0], frames[-1]), kind
        # Every frame is a nearest-neighbour resampling: no colour appears that the texture lacks.
        if kind in ("checker", "stripes"):
            assert len(np.unique(frames.reshape(-1, 3), axis=0)) == 2


def test_still_camera_shows_the_same_background_every_frame():
    scene = Scene(SIZE, FRAMES, WALL, (), Camera(kind="static"))
    frames = render(scene).frames
    assert all(np.array_equal(frames[0], frame) for frame in frames)


def test_zero_pan_is_the_identity_and_pan_is_a_whole_pixel_shift():
    still = render(Scene(SIZE, 2, WALL, ())).frames
    panned = render(Scene(SIZE, 2, WALL, (), Camera(kind="pan", pan=(6.0, 0.0)))).frames
    assert np.array_equal(still[0], panned[0])
    # The camera moved right by 6 pixels: the view's content moves 6 pixels left.
    assert np.array_equal(panned[1][:, :-6], still[0][:, 6:])


def test_objects_pass_each_other_and_the_nearer_one_shows():
    seen = 0
    for seed in range(12):
        scene = random_scene(np.random.default_rng(seed), SIZE, FRAMES)
        labels = render(scene).labels
        covers = [object_coverage(scene, i) for i in range(len(scene.objects))]
        for i in range(len(scene.objects)):
            assert not (labels == i)[~covers[i]].any()  # an object shows only where it is
            for j in range(i + 1, len(scene.objects)):
                overlap = covers[i] & covers[j]
                if overlap.any():
                    seen += 1
                    near = i if scene.objects[i].depth < scene.objects[j].depth else j
                    assert (labels[overlap] != (j if near == i else i)).all()
    assert seen >= 3


def test_moving_objects_move():
    scene = random_scene(np.random.default_rng(0), SIZE, FRAMES)
    labels = render(scene).labels
    for i in range(len(scene.objects)):
        assert not np.array_equal(labels[0] == i, labels[-1] == i)


def test_bounce_stays_in_bounds():
    path = Trajectory(kind="bounce", start=(10.0, 10.0), velocity=(7.0, 5.0), bounds=(5.0, 5.0, 59.0, 43.0))
    points = np.array([path.position(t) for t in range(60)])
    assert points[:, 0].min() >= 5 and points[:, 0].max() <= 59
    assert points[:, 1].min() >= 5 and points[:, 1].max() <= 43
    assert len(np.unique(np.sign(np.diff(points[:, 0])))) == 2  # it turned around


def test_looks():
    frames = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    gray = apply_look(frames, "grayscale")
    assert gray.dtype == np.uint8 and gray.shape == frames.shape
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    sepia = apply_look(frames, "sepia")
    assert (sepia[..., 0] >= sepia[..., 1]).all() and (sepia[..., 1] >= sepia[..., 2]).all()
    assert apply_look(frames, None) is frames
