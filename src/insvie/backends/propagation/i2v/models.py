"""Backends by name, and one loaded pipeline per process: a worker propagating many clips loads once."""

from __future__ import annotations

from typing import Any

from insvie.backends.propagation.i2v.settings import I2VSettings

_LOADED: dict[tuple, Any] = {}


def place_pipeline(pipe: Any, device: str, cpu_offload: bool) -> Any:
    """Quiet ``pipe`` and put it on ``device``, or offload it there (CUDA only: on the CPU the weights
    already live in CPU memory, so offloading would only add hooks)."""
    pipe.set_progress_bar_config(disable=True)
    if cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe


def _backend_class(backend: str) -> Any:
    if backend == "svd":
        from insvie.backends.propagation.i2v.svd import SvdModel

        return SvdModel
    if backend == "wan":
        from insvie.backends.propagation.i2v.wan import WanModel

        return WanModel
    raise ValueError(f"unknown image-to-video backend {backend!r}; known: svd, wan")


def load_model(backend: str, settings: I2VSettings) -> Any:
    """The backend's model object over a pipeline loaded once per (weights, dtype, device, offload)."""
    cls = _backend_class(backend)
    key = (backend, settings.model, settings.revision, settings.dtype, settings.device, settings.cpu_offload)
    if key not in _LOADED:
        _LOADED[key] = cls.load_pipe(settings)
    return cls(_LOADED[key], settings)
