"""Reading still images as upright 8-bit RGB, whatever Pillow mode they arrive in.

Camera JPEGs are stored sideways with an EXIF orientation tag; PNGs may be palette-based with a
transparent index, carry an alpha channel, or hold 16-bit samples that a plain ``convert("RGB")``
clips to white. Each is brought to HxWx3 uint8 the way a viewer would show it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from insvie.errors import ImageError, MediaError, MediaTooLargeError, TruncatedMediaError

# Pillow's own default bomb threshold, so insvie refuses what Pillow would warn about.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Size is checked against max_pixels by the caller; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaTooLargeError(path, f"image exceeds Pillow's decompression-bomb limit ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(path, "not a recognisable image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(path, f"cannot open: {exc}") from exc


def _sixteen_bit_to_rgb(image: Image.Image) -> np.ndarray:
    """Scale 0..65535 to 0..255 with rounding (mode "I" is how Pillow may hold 16-bit greys)."""
    values = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
    grey = ((values * 255 + 32767) // 65535).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    if image.mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_rgb(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        base = Image.new("RGBA", image.size, (*background, 255))
        return np.asarray(Image.alpha_composite(base, image.convert("RGBA")).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def read_image(
    path: str | Path,
    *,
    background: tuple[int, int, int] = (255, 255, 255),
    max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
) -> np.ndarray:
    """The image at ``path`` as upright HxWx3 uint8 RGB, transparency composited onto ``background``.

    The pixel count is checked from the header before any pixel is decoded, so an image over
    ``max_pixels`` costs nothing to refuse. Pillow's own hard bomb limit (twice its warning
    threshold) still applies above that.
    """
    path = Path(path)
    if len(background) != 3 or not all(0 <= value <= 255 for value in background):
        raise ValueError(f"background must be three values in 0..255, got {background}")
    if not path.is_file():
        raise MediaError(path, "is a directory, not an image file" if path.is_dir() else "no such file")
    with _open(path) as image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise MediaTooLargeError(path, f"{width}x{height} image exceeds the limit of {max_pixels} pixels")
        try:
            return _to_rgb(ImageOps.exif_transpose(image), tuple(background))
        except OSError as exc:
            if "truncated" in str(exc):
                raise TruncatedMediaError(path, f"image data is cut short ({exc})") from exc
            raise ImageError(path, f"cannot decode: {exc}") from exc
        except (SyntaxError, ValueError) as exc:
            raise ImageError(path, f"cannot decode: {exc}") from exc
