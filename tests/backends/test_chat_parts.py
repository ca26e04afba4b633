"""Message parts: images inlined as data URLs, upright and shrunk, from arrays or files."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from insvie.backends.chat import image_part, text_part


def _decode(part: dict) -> tuple[str, np.ndarray]:
    header, payload = part["image_url"]["url"].split(",", 1)
    return header, np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))


def test_text_part():
    assert text_part("hello") == {"type": "text", "text": "hello"}


def test_png_is_lossless_and_small_images_are_not_enlarged():
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    part = image_part(image)
    assert part["type"] == "image_url" and set(part["image_url"]) == {"url"}
    header, decoded = _decode(part)
    assert header == "data:image/png;base64"
    np.testing.assert_array_equal(decoded, image)


def test_jpeg_with_detail():
    image = np.full((1000, 500, 3), 128, np.uint8)
    part = image_part(image, format="jpeg", max_side=300, detail="low")
    header, decoded = _decode(part)
    assert header == "data:image/jpeg;base64" and decoded.shape == (300, 150, 3)
    assert part["image_url"]["detail"] == "low"
    assert abs(int(decoded.mean()) - 128) <= 2


def test_from_a_file_honours_exif_orientation(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: viewers rotate 90 degrees clockwise
    path = tmp_path / "sideways.jpg"
    image.save(path, exif=exif, quality=95)
    _, decoded = _decode(image_part(path, max_side=None))
    assert decoded.shape == (40, 20, 3)
    # Turned a quarter clockwise, the white left half is now on top.
    assert decoded[:18].mean() > 240 and decoded[22:].mean() < 15


@pytest.mark.parametrize(
    ("image", "options"),
    [
        (np.zeros((8, 8), np.uint8), {}),
        (np.zeros((8, 8, 4), np.uint8), {}),
        (np.zeros((8, 8, 3), np.float32), {}),
        (np.zeros((8, 8, 3), np.uint8), {"format": "gif"}),
    ],
)
def test_bad_input_refused(image, options):
    with pytest.raises(ValueError):
        image_part(image, **options)
