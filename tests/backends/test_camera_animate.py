"""Camera paths: one geometry for both images, real and smooth motion, no invented borders, the edit
kept on screen, and a still variant that is truly still."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest

from insvie.backends.camera import (
    Window,
    animate_pair,
    changed_region,
    list_paths,
    random_path,
    render_path,
)
from insvie.backends.procedural import get_operator

OUT = (60, 80)


def picture(height: int = 150, width: int = 220, seed: int = 0) -> np.ndarray:
    """A photo-like image: smooth colour fields plus detail, and no pure magenta anywhere."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    for scale in (1.5, 5.0, 15.0):
        layer = cv2.GaussianBlur(rng.standard_normal((height, width, 3)).astype(np.float32), (0, 0), scale)
        acc += layer / (layer.std() + 1e-6)
    acc = (acc - acc.mean((0, 1))) / acc.std((0, 1))
    return np.clip(120 + 40 * acc, 10, 235).astype(np.uint8)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return picture()


def test_paths_are_listed() -> None:
    assert set(list_paths()) >= {
        "static",
        "pan_left",
        "pan_right",
        "pan_up",
        "pan_down",
        "zoom_in",
        "zoom_out",
        "rotate_cw",
        "rotate_ccw",
        "dolly_in",
        "dolly_out",
    }


@pytest.mark.parametrize("path", list_paths())
def test_both_images_share_one_geometry(image: np.ndarray, path: str) -> None:
    """A pointwise edit commutes with the camera: edit-then-film equals film-then-edit."""
    op = get_operator("warm")
    src, edt, params = animate_pair(
        image, op.apply(image, 0.9), path=path, out_size=OUT, strength=0.8, seed=1
    )
    assert src.shape == edt.shape == (17, *OUT, 3) and src.dtype == np.uint8
    diff = np.abs(op.apply_video(src, 0.9).astype(int) - edt)
    # Not exactly equal: interpolating then curving differs from curving then interpolating by the
    # curve's bend over neighbouring pixels (measured: mean 0.32-0.43, 99th percentile 1-2, max 3-5).
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2
    json.dumps(params)  # plain data, ready for a record


@pytest.mark.parametrize("path", list_paths())
def test_no_border_pixels_are_ever_shown(image: np.ndarray, path: str) -> None:
    src, _, params = animate_pair(image, image, path=path, out_size=OUT, strength=1.0, seed=2)
    height, width = image.shape[:2]
    for window in params["windows"]:
        corners = Window(*window).corners(tuple(params["out_size"]))
        assert (corners >= -1e-6).all() and (corners[:, 0] <= width - 1 + 1e-6).all()
        assert (corners[:, 1] <= height - 1 + 1e-6).all()
    sentinel = render_path(image, params, border_value=(255, 0, 255))
    magenta = (sentinel[..., 0] > 250) & (sentinel[..., 1] < 5) & (sentinel[..., 2] > 250)
    assert not magenta.any()
    # The border mode never mattered. OpenCV 5 rounds its constant-border and reflect-border warps
    # differently by one grey level at a few interior pixels, so the two renders agree within 1.
    assert np.abs(sentinel.astype(int) - src).max() <= 1, "the border mode mattered"


def _shifts(video: np.ndarray) -> np.ndarray:
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in video]
    return np.array([cv2.phaseCorrelate(a, b)[0] for a, b in itertools.pairwise(grey)])


def test_linear_pan_moves_at_constant_speed(image: np.ndarray) -> None:
    src, _, params = animate_pair(image, image, path="pan_right", out_size=OUT, strength=1.0, easing="linear")
    steps = np.diff(np.array(params["windows"])[:, 0])
    assert np.allclose(steps, steps[0]) and steps[0] > 0
    measured = _shifts(src)[:, 0]
    # The window moves right, so the picture slides left on screen, by the step in output pixels.
    expected = -steps[0] / params["windows"][0][2]
    assert abs(measured.mean() - expected) < 0.2 and abs(expected) > 1.0
    assert np.abs(measured - expected).max() < 0.6  # phase correlation's own jitter on 60x80 frames
    assert np.abs(_shifts(src)[:, 1]).max() < 0.3


def test_eased_pan_accelerates_then_decelerates(image: np.ndarray) -> None:
    src, _, _params = animate_pair(image, image, path="pan_down", out_size=OUT, strength=1.0, num_frames=17)
    speed = np.abs(_shifts(src)[:, 1])
    middle = len(speed) // 2
    assert speed[0] < 0.3 * speed[middle] and speed[-1] < 0.3 * speed[middle]
    assert np.all(np.diff(speed[: middle - 1]) > -0.2) and np.all(np.diff(speed[middle + 1 :]) < 0.2)
    assert np.abs(speed - speed[::-1]).max() < 0.4, "symmetric profile"


@pytest.mark.parametrize("path", ["zoom_in", "zoom_out", "rotate_cw", "rotate_ccw", "dolly_in", "pan_left"])
def test_every_moving_path_moves(image: np.ndarray, path: str) -> None:
    src, _, params = animate_pair(image, image, path=path, out_size=OUT, strength=0.7, seed=4)
    assert params["strength"] == pytest.approx(0.7)
    change = np.abs(src[-1].astype(int) - src[0]).mean()
    assert change > 5.0
    steps = [np.abs(b.astype(int) - a).mean() for a, b in itertools.pairwise(src)]
    assert max(steps) < change, "gradual, not a jump cut"
    windows = np.array(params["windows"])
    if path.startswith("zoom"):
        assert (np.diff(windows[:, 2]) < 0).all() if path == "zoom_in" else (np.diff(windows[:, 2]) > 0).all()
    if path.startswith("rotate"):
        assert abs(windows[-1, 3]) == pytest.approx(7.0) and windows[0, 3] == 0.0


def test_static_repeats_one_frame(image: np.ndarray) -> None:
    src, edt, _params = animate_pair(image, image[::-1].copy(), path="static", num_frames=9, out_size=OUT)
    assert all(np.array_equal(f, src[0]) for f in src) and all(np.array_equal(f, edt[0]) for f in edt)
    # The full height of the 150x220 image, the middle 200 columns (a 4:3 output), without aliasing.
    reference = cv2.resize(image[:, 10:210], OUT[::-1], interpolation=cv2.INTER_AREA)
    soft = [cv2.GaussianBlur(v, (0, 0), 1.0).astype(int) for v in (src[0], reference)]
    assert np.abs(soft[0] - soft[1]).mean() < 2.0


@pytest.mark.parametrize("path", list_paths())
def test_strength_zero_holds_still(image: np.ndarray, path: str) -> None:
    src, _, _ = animate_pair(image, image, path=path, out_size=OUT, strength=0.0)
    assert all(np.array_equal(f, src[0]) for f in src)


@pytest.mark.parametrize("path", list_paths())
def test_keep_in_view_box_stays_on_screen(image: np.ndarray, path: str) -> None:
    box = (150.0, 20.0, 200.0, 60.0)  # near the top-right corner
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[20:60, 150:200] = 1
    _src, _, params = animate_pair(
        image, image, path=path, out_size=OUT, strength=1.0, keep_in_view=box, seed=5
    )
    assert params["kept_in_view"]
    rendered = render_path(mask * 255, params)
    for window, shown in zip(params["windows"], rendered, strict=True):
        assert Window(*window).shows(box, tuple(params["out_size"]))
        area = (shown > 127).sum() * window[2] ** 2  # back in image pixels
        assert area == pytest.approx(50 * 40, rel=0.15), "the whole box is on screen"


def test_keep_in_view_accepts_a_mask_and_the_changed_region(image: np.ndarray) -> None:
    edited = image.copy()
    edited[100:130, 10:40] = 255 - edited[100:130, 10:40]
    assert changed_region(image, edited) == (10.0, 100.0, 40.0, 130.0)
    assert changed_region(image, image) is None
    _, _, by_change = animate_pair(
        image, edited, path="pan_right", out_size=OUT, strength=1.0, keep_in_view="changed"
    )
    mask = np.zeros(image.shape[:2], bool)
    mask[100:130, 10:40] = True
    _, _, by_mask = animate_pair(
        image, edited, path="pan_right", out_size=OUT, strength=1.0, keep_in_view=mask
    )
    assert by_change["windows"] == by_mask["windows"] and by_change["keep_in_view"] == [
        10.0,
        100.0,
        40.0,
        130.0,
    ]
    for window in by_mask["windows"]:
        assert Window(*window).shows((10.0, 100.0, 40.0, 130.0), OUT)


def test_a_box_too_big_to_move_around_weakens_the_move(image: np.ndarray) -> None:
    box = (5.0, 5.0, 210.0, 140.0)
    _, _, params = animate_pair(image, image, path="rotate_cw", out_size=OUT, strength=1.0, keep_in_view=box)
    assert params["strength"] < 1.0
    assert params["kept_in_view"] == all(Window(*w).shows(box, OUT) for w in params["windows"])


def test_random_path_is_seeded_and_usable(image: np.ndarray) -> None:
    draws = [random_path(np.random.default_rng(s)) for s in range(40)]
    assert draws[3] == random_path(np.random.default_rng(3))
    assert {d["path"] for d in draws} >= {"static", "zoom_in"}
    for kwargs in draws[:5]:
        src, _edt, params = animate_pair(image, image, out_size=OUT, num_frames=5, **kwargs)  # type: ignore[arg-type]
        assert src.shape == (5, *OUT, 3) and params["path"] == kwargs["path"]


def test_bad_input_is_refused(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shape"):
        animate_pair(image, image[:-1], path="static")
    with pytest.raises(ValueError, match="unknown camera path"):
        animate_pair(image, image, path="orbit")
    with pytest.raises(ValueError, match="easing"):
        animate_pair(image, image, easing="bounce")
    with pytest.raises(ValueError, match="strength"):
        animate_pair(image, image, strength=2.0)
