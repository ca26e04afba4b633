"""Backends by name, and one loaded pipeline per process: a worker propagating many clips loads once.

:func:`load_propagator` keeps one propagator per (backend, settings) too, so what it learns of the
device (``max_batch: auto``'s windows per loop) outlives a batch.

This is the registry: it imports the models, and they import nothing of it (how a pipeline is loaded
and put on its device is :class:`~.pipeline_model.PipelineModel`'s). Neither model imports diffusers
until it loads, so naming them here costs nothing.
"""

from __future__ import annotations

import functools
from typing import Any

from insvie.backends.propagation.i2v.pipeline_model import PipelineModel
from insvie.backends.propagation.i2v.propagator import I2VPropagator
from insvie.backends.propagation.i2v.settings import I2VSettings
from insvie.backends.propagation.i2v.svd import SvdModel
from insvie.backends.propagation.i2v.wan import WanModel

I2V_MODELS: dict[str, type[PipelineModel]] = {"svd": SvdModel, "wan": WanModel}

_LOADED: dict[tuple, Any] = {}


def _backend_class(backend: str) -> type[PipelineModel]:
    try:
        return I2V_MODELS[backend]
    except KeyError:
        raise ValueError(
            f"unknown image-to-video backend {backend!r}; known: {', '.join(I2V_MODELS)}"
        ) from None


def load_model(backend: str, settings: I2VSettings) -> PipelineModel:
    """The backend's model object over a pipeline loaded once per (weights, dtype, device, offload)."""
    cls = _backend_class(backend)
    if not settings.model:
        raise ValueError(f"the {backend} model needs settings.model (a hub id or a local folder)")
    key = (backend, settings.model, settings.revision, settings.dtype, settings.device, settings.cpu_offload)
    if key not in _LOADED:
        _LOADED[key] = cls.load_pipe(settings)
    return cls(_LOADED[key], settings)


@functools.cache
def load_propagator(backend: str, settings: I2VSettings) -> I2VPropagator:
    """The process's propagator of ``backend`` under ``settings`` (unseeded: seeds are per clip, given
    to :meth:`~I2VPropagator.propagate_batch` and :meth:`~I2VPropagator.animate_batch`)."""
    if settings.seed:
        raise ValueError("load_propagator takes unseeded settings: each clip brings its own seed")
    return I2VPropagator(load_model(backend, settings), settings)
