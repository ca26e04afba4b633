"""Look-up tables: exactness for affine maps, composition, export layout."""

from __future__ import annotations

import numpy as np

from insvie.backends.procedural import ChannelCurves, Cube, get_operator
from insvie.backends.procedural.lut import compose


def all_colours_sample(n: int = 20000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, n, 3), dtype=np.uint8)


def test_cube_reproduces_affine_maps_to_rounding() -> None:
    matrix = np.array([[0.5, 0.3, 0.1], [0.1, 0.6, 0.2], [0.2, 0.1, 0.6]], dtype=np.float32)
    cube = Cube.from_fn(lambda x: x @ matrix.T + 0.05)
    colours = all_colours_sample()
    expected = np.clip(np.rint((colours / 255.0 @ matrix.T + 0.05) * 255), 0, 255)
    assert np.abs(cube(colours).astype(int) - expected).max() <= 1


def test_cube_of_identity_is_identity_and_handles_stacks() -> None:
    cube = Cube.from_fn(lambda x: x)
    colours = all_colours_sample().reshape(2, 100, 100, 3)
    assert np.abs(cube(colours).astype(int) - colours).max() <= 1


def test_channel_curves_compose_into_one_table() -> None:
    invert = ChannelCurves.from_fn(lambda x: 1.0 - x)
    colour_map = compose([invert, invert])
    assert len(colour_map.stages) == 1
    colours = all_colours_sample()
    assert np.array_equal(colour_map(colours), colours)


def test_lut3d_export_layout_is_red_major() -> None:
    table = get_operator("grayscale").colour_map(1.0).lut3d(5)
    assert table.shape == (5, 5, 5, 3)
    assert np.allclose(table[4, 0, 0], 0.299, atol=0.01)  # pure red -> its luma
    assert np.allclose(table[0, 0, 4], 0.114, atol=0.01)  # pure blue
