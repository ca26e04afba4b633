"""Loading the transformers models behind the learned metrics (DINOv2, PickScore) the same way.

A model is a hub id (read from the local cache when ``HF_HUB_OFFLINE`` is set) or a folder written by
``save_pretrained``; a failure to load is a ``ConfigError`` naming the model, since a wrong name or
folder is the usual cause. The commit the weights came from is recorded with every score.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from insvie.errors import ConfigError

MODELS_EXTRA = "models"  # the pyproject extra that brings torch and transformers


def model_source(model: str | Path, what: str) -> str:
    """An existing folder as its path; a hub id as is; a path-looking name that does not exist refused."""
    text = str(model)
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists() or text.startswith(("/", "./", "../", "~")):
        raise ConfigError(f"{what} model {text}: no such model folder")
    return text


def load_part(what: str, model: str, loader: Callable[..., Any], source: str, **options: Any) -> Any:
    """``loader(source, **options)``, with any failure to find or read it named as the model's."""
    try:
        return loader(source, **options)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{what} model {model}: cannot load it: {exc}") from exc


def import_torch(what: str) -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the {what} metric needs: pip install 'insvie[{MODELS_EXTRA}]'") from exc
    return torch


def commit_of(model: Any, requested: str | None) -> str:
    """The weights' commit (transformers records it for hub downloads), else the asked-for revision."""
    commit = getattr(model.config, "_commit_hash", None)
    return str(commit or requested or "unknown")
