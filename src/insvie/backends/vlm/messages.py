"""OpenAI-style chat messages turned into the conversation format of transformers' chat templates.

The stages build one kind of message for every backend: ``{"role", "content"}`` where content is a
string or a list of ``{"type": "text"}`` and ``{"type": "image_url"}`` parts, images inlined as
base64 data URLs. A local model gets the same pixels as a PIL image; URLs that would need fetching
are refused, since this backend runs offline.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from insvie.backends.chat import ChatError

_ROLES = {"system", "user", "assistant"}


def decode_data_url(url: str) -> Image.Image:
    """The RGB image in a ``data:image/...;base64,`` URL."""
    if not url.startswith("data:"):
        shown = url if len(url) <= 60 else url[:60] + "..."
        raise ChatError("bad_request", f"a local VLM takes images as data URLs, not {shown!r}")
    header, _, payload = url.partition(",")
    if not header.endswith(";base64") or not header[5:].startswith("image/"):
        raise ChatError("bad_request", f"image data URL must be data:image/...;base64, got {header[:40]!r}")
    try:
        raw = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            return image.convert("RGB")
    except (binascii.Error, ValueError) as exc:
        raise ChatError("bad_request", f"image data URL is not valid base64: {exc}") from None
    except (OSError, Image.DecompressionBombError) as exc:
        raise ChatError("bad_request", f"image data URL holds no readable image: {exc}") from None


def as_pil(image: Image.Image | np.ndarray | str | Path) -> Image.Image:
    """An RGB PIL image from a PIL image, an (H, W, 3) uint8 array or an image file."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, (str, Path)):
        from insvie.media import read_image

        image = read_image(image)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got shape {array.shape} dtype {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))


def to_conversation(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The messages as transformers chat-template input, and how many images they carry.

    Every content becomes a list of ``{"type": "text", "text"}`` and ``{"type": "image", "image": PIL}``
    parts, the form multimodal processors expect.
    """
    conversation: list[dict[str, Any]] = []
    images = 0
    for number, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise ChatError(
                "bad_request", f"message {number}: role must be one of {sorted(_ROLES)}, got {role!r}"
            )
        content = message.get("content")
        parts: list[dict[str, Any]] = []
        if isinstance(content, str):
            parts.append({"type": "text", "text": content})
        elif isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                elif kind == "image_url":
                    image_url = part.get("image_url")
                    url = image_url.get("url") if isinstance(image_url, dict) else image_url
                    if not isinstance(url, str):
                        raise ChatError("bad_request", f"message {number}: image_url part without a url")
                    parts.append({"type": "image", "image": decode_data_url(url)})
                    images += 1
                else:
                    raise ChatError("bad_request", f"message {number}: unsupported content part {kind!r}")
        else:
            raise ChatError("bad_request", f"message {number}: content must be a string or a list of parts")
        conversation.append({"role": role, "content": parts})
    if not conversation:
        raise ChatError("bad_request", "no messages")
    return conversation, images


def flatten_text(conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text-only conversation with string contents, for language models' plain chat templates."""
    return [
        {"role": m["role"], "content": "\n".join(p["text"] for p in m["content"] if p["type"] == "text")}
        for m in conversation
    ]


def append_text(conversation: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """A copy of ``conversation`` with ``text`` added to the last user turn (or as a new user turn)."""
    out = [{"role": m["role"], "content": list(m["content"])} for m in conversation]
    for message in reversed(out):
        if message["role"] == "user":
            message["content"].append({"type": "text", "text": text})
            return out
    out.append({"role": "user", "content": [{"type": "text", "text": text}]})
    return out
