"""The procedural editor's operators: contract, determinism, pointwise-ness, looks and speed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from insvie.backends.procedural import (
    CATEGORIES,
    PointwiseOperator,
    UnknownOperatorError,
    get_operator,
    list_operators,
    register,
)

REQUIRED = {
    "grayscale",
    "sepia",
    "warm",
    "cool",
    "teal_orange",
    "punchy",
    "vintage_film",
    "posterize",
    "cartoon",
    "pencil_sketch",
    "oil_paint",
    "watercolour",
    "winter",
    "autumn",
    "golden_hour",
    "sunset",
    "night",
    "overcast",
}


def photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A colourful image with smooth regions, edges and fine texture (what photos have)."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    for scale, weight in ((1.5, 0.3), (6.0, 0.6), (20.0, 1.0)):
        layer = cv2.GaussianBlur(rng.standard_normal((height, width, 3)).astype(np.float32), (0, 0), scale)
        acc += weight * layer / (layer.std() + 1e-6)
    acc = (acc - acc.mean()) / acc.std()
    img = np.clip(128 + 55 * acc, 0, 255).astype(np.uint8)
    cv2.rectangle(img, (10, 10), (50, 40), (230, 40, 40), -1)  # a hard-edged saturated patch
    return img


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return photo()


def test_registry_has_the_required_operators_with_valid_metadata() -> None:
    names = set(list_operators())
    assert names >= REQUIRED
    for name in names:
        op = get_operator(name)
        assert op.name == name
        assert op.category in CATEGORIES
        assert op.instructions and all(isinstance(p, str) and p for p in op.instructions)
        assert op.caption and op.target_caption("A dog on a beach.") == f"A dog on a beach, {op.caption}"
        assert isinstance(op.pointwise, bool)
    assert set(list_operators("season")) >= {"winter", "autumn"}
    assert set(list_operators(pointwise=False)) >= {"cartoon", "pencil_sketch", "oil_paint", "watercolour"}
    assert "sepia" in list_operators(pointwise=True)


def test_unknown_operator_names_the_known_ones() -> None:
    with pytest.raises(UnknownOperatorError, match="sepia"):
        get_operator("nope")
    with pytest.raises(ValueError):
        list_operators("weather")  # type: ignore[arg-type]


def test_register_refuses_to_shadow_silently() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(get_operator("sepia"))


@pytest.mark.parametrize("name", sorted(REQUIRED | {"summer"}))
def test_operator_contract(name: str, image: np.ndarray) -> None:
    op = get_operator(name)
    full = op.apply(image, 1.0, seed=3)
    assert full.shape == image.shape and full.dtype == np.uint8
    assert np.array_equal(full, op.apply(image, 1.0, seed=3)), "deterministic for a fixed seed"
    assert np.array_equal(op.apply(image, 0.0), image), "strength 0 is the identity"
    change_full = np.abs(full.astype(int) - image).mean()
    change_weak = np.abs(op.apply(image, 0.3, seed=3).astype(int) - image).mean()
    assert change_full > 3.0, f"{name} barely changes the image ({change_full:.2f})"
    assert change_weak < change_full, "a stronger edit moves further from the source"
    video = np.stack([image, image[::-1].copy()])
    assert np.array_equal(
        op.apply_video(video, 0.7, seed=3), np.stack([op.apply(f, 0.7, seed=3) for f in video])
    )


@pytest.mark.parametrize("name", list_operators(pointwise=True))
def test_pointwise_operators_are_per_pixel_colour_maps(name: str, image: np.ndarray) -> None:
    op = get_operator(name)
    assert isinstance(op, PointwiseOperator)
    rng = np.random.default_rng(1)
    flat = image.reshape(-1, 3)
    shuffled = flat[rng.permutation(len(flat))].reshape(image.shape)
    # Same colour in, same colour out, wherever the pixel is: shuffling commutes with the edit.
    edited = op.apply(image, 0.8).reshape(-1, 3)
    lookup = {tuple(c): tuple(e) for c, e in zip(flat, edited, strict=True)}
    for colour, out in zip(
        shuffled.reshape(-1, 3)[:2000], op.apply(shuffled, 0.8).reshape(-1, 3)[:2000], strict=True
    ):
        assert lookup[tuple(colour)] == tuple(out)
    assert np.array_equal(op.apply(image, 0.8, seed=0), op.apply(image, 0.8, seed=99)), "seed-free"


def test_seeded_filters_use_the_seed(image: np.ndarray) -> None:
    sketch = get_operator("pencil_sketch")
    assert not np.array_equal(sketch.apply(image, 1.0, seed=0), sketch.apply(image, 1.0, seed=1))


def test_bad_arguments_are_refused(image: np.ndarray) -> None:
    op = get_operator("sepia")
    with pytest.raises(ValueError, match="strength"):
        op.apply(image, 1.5)
    with pytest.raises(ValueError, match="uint8"):
        op.apply(image.astype(np.float32), 0.5)
    with pytest.raises(ValueError):
        get_operator("cartoon").apply(image[..., :2], 0.5)


def _mean(img: np.ndarray) -> np.ndarray:
    return img.reshape(-1, 3).astype(float).mean(axis=0)


def test_the_looks_do_what_they_say(image: np.ndarray) -> None:
    src = _mean(image)
    grey = get_operator("grayscale").apply(image, 1.0).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 and np.abs(grey[..., 1] - grey[..., 2]).max() <= 1
    sepia = _mean(get_operator("sepia").apply(image, 1.0))
    assert sepia[0] > sepia[1] > sepia[2]
    warm, cool = _mean(get_operator("warm").apply(image, 1.0)), _mean(get_operator("cool").apply(image, 1.0))
    assert warm[0] > src[0] and warm[2] < src[2] and cool[0] < src[0] and cool[2] > src[2]
    night = _mean(get_operator("night").apply(image, 1.0))
    assert night.mean() < 0.6 * src.mean() and night[2] > night[0]
    winter = get_operator("winter").apply(image, 1.0)
    assert _mean(winter).mean() > src.mean()
    assert (
        cv2.cvtColor(winter, cv2.COLOR_RGB2HSV)[..., 1].mean()
        < cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean()
    )
    leaves = np.full((8, 8, 3), (60, 150, 50), np.uint8)
    fall = get_operator("autumn").apply(leaves, 1.0)[0, 0].astype(int)
    assert fall[0] > fall[1] > fall[2], f"green foliage should turn orange, got {fall}"
    poster = get_operator("posterize").apply(image, 1.0)
    assert all(len(np.unique(poster[..., c])) <= 4 for c in range(3))
    sunset = get_operator("sunset").apply(np.full((64, 64, 3), 128, np.uint8), 1.0).astype(int)
    assert sunset[2, 32, 0] > sunset[60, 32, 0], "the sky (top) glows"
