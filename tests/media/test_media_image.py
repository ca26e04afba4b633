"""Still images in the awkward modes cameras and editors produce, read as upright 8-bit RGB."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from insvie.errors import ImageError, MediaError, MediaTooLargeError, TruncatedMediaError
from insvie.media import read_image


def test_real_photo(shared_media: Path):
    image = read_image(shared_media / "camping.png")
    assert image.shape == (480, 720, 3) and image.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path: Path):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # white band on the stored left edge
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "phone.jpg")
    assert upright.shape == (40, 20, 3)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the band is now on top


def test_cmyk_jpeg(tmp_path: Path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    pixel = read_image(tmp_path / "print.jpg")[8, 8].astype(int)
    assert np.abs(pixel - (255, 0, 0)).max() <= 6


def test_palette_transparency_shows_the_background(tmp_path: Path):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 4, 8))
    image.save(tmp_path / "icon.png", transparency=0)
    rgb = read_image(tmp_path / "icon.png", background=(0, 0, 255))
    assert tuple(rgb[0, 0]) == (0, 255, 0)  # opaque green index
    assert tuple(rgb[0, 7]) == (0, 0, 255)  # transparent red index -> background


def test_alpha_is_composited_on_the_background(tmp_path: Path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :2, 3] = 255
    rgba[:, 2:, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "sticker.png")
    rgb = read_image(tmp_path / "sticker.png")
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert np.abs(rgb[0, 3].astype(int) - (255, 127, 127)).max() <= 1
    assert tuple(read_image(tmp_path / "sticker.png", background=(0, 0, 0))[0, 3]) == (128, 0, 0)


def test_sixteen_bit_grey_png_is_scaled_not_clipped(tmp_path: Path):
    grey = np.array([[0, 257, 32768, 65535]], np.uint16)
    Image.fromarray(grey).save(tmp_path / "depth.png")
    rgb = read_image(tmp_path / "depth.png")
    assert rgb.shape == (1, 4, 3)
    assert rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_sixteen_bit_big_endian_tiff(tmp_path: Path):
    grey = np.array([[0, 32768, 65535]], np.uint16)
    Image.frombytes("I;16B", (3, 1), grey.astype(">u2").tobytes()).save(tmp_path / "scan.tif")
    assert read_image(tmp_path / "scan.tif")[0, :, 0].tolist() == [0, 128, 255]


def test_sixteen_bit_rgb_png(tmp_path: Path):
    rgb16 = np.zeros((2, 2, 3), np.uint16)
    rgb16[...] = (65535, 32768, 2570)
    cv2.imwrite(str(tmp_path / "hdr.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    assert np.abs(read_image(tmp_path / "hdr.png")[0, 0].astype(int) - (255, 128, 10)).max() <= 1


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG claiming a huge size in a few dozen bytes: the shape of a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path):
    bomb = _png_header_only(tmp_path / "bomb.png", 10_000, 10_000)  # over Pillow's warning threshold
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not escape
        with pytest.raises(MediaTooLargeError, match=r"bomb\.png.*10000x10000"):
            read_image(bomb)
        with pytest.raises(MediaTooLargeError, match="limit of 100 pixels"):
            read_image(_png_header_only(tmp_path / "small.png", 20, 20), max_pixels=100)


def test_pillow_hard_limit_becomes_our_error(tmp_path: Path):
    bomb = _png_header_only(tmp_path / "huge.png", 20_000, 10_000)  # over twice Pillow's threshold
    with pytest.raises(MediaTooLargeError, match=r"huge\.png"):
        read_image(bomb, max_pixels=None)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's global was left alone


def test_bad_images(tmp_path: Path, shared_media: Path):
    with pytest.raises(MediaError, match=r"missing\.png: no such file") as missing:
        read_image(tmp_path / "missing.png")
    assert type(missing.value) is MediaError

    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png"):
        read_image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match=r"horse_gallop\.mp4"):
        read_image(shared_media / "horse_gallop.mp4")

    data = (shared_media / "camping.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedMediaError, match=r"cut\.png"):
        read_image(tmp_path / "cut.png")
