"""Message content parts in the OpenAI chat format: text, and images inlined as data URLs.

Images travel inline (base64) rather than by URL so that local servers (vLLM, Ollama) and the test
server see exactly the pixels the pipeline holds, and the cache key covers them. Large frames are
shrunk first: VLMs tile images at a few hundred pixels anyway, and every pixel sent is billed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from insvie.media import read_image, resize

ImageFormat = Literal["png", "jpeg"]
_MIME = {"png": "image/png", "jpeg": "image/jpeg"}


def text_part(text: str) -> dict[str, Any]:
    """A text content part."""
    return {"type": "text", "text": text}


def _as_rgb(image: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_image(image)  # upright (EXIF), alpha flattened, 16-bit scaled, bomb-checked
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got shape {array.shape} dtype {array.dtype}")
    return array


def encode_image(image: np.ndarray, *, format: ImageFormat = "png") -> bytes:
    """PNG (lossless, for judging fine detail) or JPEG at quality 90 (smaller requests)."""
    if format not in _MIME:
        raise ValueError(f"format must be one of {sorted(_MIME)}, got {format!r}")
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": 90} if format == "jpeg" else {}
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format=format.upper(), **options)
    return buffer.getvalue()


def image_part(
    image: np.ndarray | str | Path,
    *,
    max_side: int | None = 768,
    format: ImageFormat = "png",
    detail: Literal["auto", "low", "high"] | None = None,
) -> dict[str, Any]:
    """An ``image_url`` content part holding the image as a base64 data URL.

    ``image`` is an (H, W, 3) uint8 array or a path to an image file; it is shrunk so its longer
    side is at most ``max_side`` (never enlarged; ``None`` sends it as is). ``detail`` is OpenAI's
    resolution hint, left out unless given since other servers may not know it.
    """
    rgb = _as_rgb(image)
    if max_side is not None:
        rgb = resize(rgb, max_side=max_side)
    payload = base64.b64encode(encode_image(rgb, format=format)).decode("ascii")
    image_url: dict[str, Any] = {"url": f"data:{_MIME[format]};base64,{payload}"}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}
