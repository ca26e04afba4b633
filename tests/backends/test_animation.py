"""The animator registry: how an image pair becomes a video pair, picked by name."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.backends.animation import AnimationInputs, get_animator, list_animators
from insvie.backends.camera import animate_pair, random_path


def pair() -> tuple[np.ndarray, np.ndarray]:
    source = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    edited = source.copy()
    edited[10:20, 10:20] = 255
    return source, edited


def test_the_camera_animator_films_both_images_along_the_drawn_path() -> None:
    source, edited = pair()
    path = random_path(np.random.default_rng(0), static_share=0.0)
    camera = get_animator("camera")
    assert not camera.image_to_video and list_animators() == ["camera", "i2v"]
    animated = camera.run(source, edited, AnimationInputs(path, 5))
    src, edt, params = animate_pair(source, edited, num_frames=5, keep_in_view="changed", **path)
    assert np.array_equal(animated.source, src) and np.array_equal(animated.edited, edt)
    assert animated.camera.keys() == params.keys() and animated.meta == {}


def test_the_i2v_animator_leaves_static_pairs_to_the_camera() -> None:
    source, edited = pair()
    i2v = get_animator("i2v")
    assert i2v.image_to_video
    still = random_path(np.random.default_rng(0), static_share=1.0)
    held = i2v.run(source, edited, AnimationInputs(still, 3))  # no model needed to hold still
    filmed = get_animator("camera").run(source, edited, AnimationInputs(still, 3))
    assert np.array_equal(held.source, filmed.source) and np.array_equal(held.edited, filmed.edited)
    moving = random_path(np.random.default_rng(0), static_share=0.0)
    with pytest.raises(ValueError, match="I2VSettings"):
        i2v.run(source, edited, AnimationInputs(moving, 3))
    with pytest.raises(ValueError, match="known"):
        get_animator("wobble")
