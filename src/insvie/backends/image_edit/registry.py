"""Instruction image editors by name: the edit stage's config names one, this builds it.

Construction is cheap and checks the options (a bad dtype or device fails here, before any work);
weights are read by ``load()``. Backend modules import torch and diffusers only when loading.
"""

from __future__ import annotations

from typing import Any

from insvie.backends.image_edit.diffusers_base import DiffusersEditor
from insvie.backends.image_edit.flux_kontext import FluxKontextEditor
from insvie.backends.image_edit.instruct_pix2pix import InstructPix2PixEditor
from insvie.backends.image_edit.protocol import ImageEditor
from insvie.backends.image_edit.qwen_image_edit import QwenImageEditEditor
from insvie.errors import ConfigError

IMAGE_EDITORS: dict[str, type[DiffusersEditor]] = {
    cls.name: cls for cls in (InstructPix2PixEditor, FluxKontextEditor, QwenImageEditEditor)
}


def list_image_editors() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(IMAGE_EDITORS)


def make_image_editor(name: str, **kwargs: Any) -> ImageEditor:
    """The editor called ``name``, built with ``kwargs`` (``model`` first; see ``DiffusersEditor``)."""
    try:
        cls = IMAGE_EDITORS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"image editor {name!r}: must be one of {list_image_editors()}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a misspelt or missing option: name it as a config problem
        raise ConfigError(f"image editor {name!r}: {exc}") from exc
