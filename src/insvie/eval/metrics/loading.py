"""Loading the transformers models behind the learned metrics (DINOv2, PickScore) the same way.

A model is a hub id (read from the local cache when ``HF_HUB_OFFLINE`` is set) or a folder written by
``save_pretrained``, resolved by :mod:`insvie.backends.hub` as every backend's is; a failure to load is
a ``ConfigError`` naming the model ("<metric> model <name>: ..."). The commit the weights came from is
recorded with every score.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from insvie.backends import hub
from insvie.errors import ConfigError

MODELS_EXTRA = "models"  # the pyproject extra that brings torch and transformers


def model_source(model: str | Path, what: str) -> str:
    """``model`` as ``from_pretrained`` takes it (see :func:`insvie.backends.hub.model_source`)."""
    return hub.model_source(model, f"{what} model")


def load_part(what: str, model: str, loader: Callable[..., Any], source: str, **options: Any) -> Any:
    """``loader(source, **options)``, with any failure to find or read it named as the model's."""
    return hub.load_pretrained(f"{what} model", model, loader, source, **options)


def import_torch(what: str) -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the {what} metric needs: pip install 'insvie[{MODELS_EXTRA}]'") from exc
    return torch


def commit_of(model: Any, requested: str | None) -> str:
    """The weights' commit (transformers records it for hub downloads), else the asked-for revision."""
    return str(hub.weights_commit(model, requested) or "unknown")
