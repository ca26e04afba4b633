"""Propagators by name, behind one call signature, so a pipeline stage can pick one from config.

All take the source video and the chosen edited first frame; ``framewise`` also needs the
procedural edit that made it (operator, strength, seed) and refuses to run without one, since it
re-applies the edit rather than carrying the frame. ``svd`` and ``wan`` regenerate the video with an
image-to-video model (:mod:`.i2v`) and need ``config=I2VSettings(model=...)``; torch and diffusers
are imported only when one of them runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from insvie.backends.propagation.flow_warp import FlowWarpConfig, propagate_flow_warp
from insvie.backends.propagation.framewise import propagate_framewise


@dataclass(frozen=True, eq=False)
class Propagation:
    """An edited video (T, H, W, 3) uint8 and per-frame diagnostics (plain dicts, maybe empty)."""

    video: np.ndarray
    diagnostics: list[dict[str, Any]] = field(default_factory=list)


Propagator = Callable[..., Propagation]


def _flow_warp(
    source: np.ndarray, edited_first: np.ndarray, *, config: FlowWarpConfig | None = None, **_: Any
) -> Propagation:
    result = propagate_flow_warp(source, edited_first, config)
    return Propagation(result.video, result.diagnostics_dicts())


def _framewise(
    source: np.ndarray,
    edited_first: np.ndarray,
    *,
    operator: str | None = None,
    strength: float | None = None,
    seed: int = 0,
    **_: Any,
) -> Propagation:
    if operator is None or strength is None:
        raise ValueError("framewise propagation needs the procedural operator and strength of the edit")
    video = propagate_framewise(source, operator, strength, seed)
    return Propagation(video, [{"index": i} for i in range(len(video))])


def _image_to_video(backend: str) -> Propagator:
    def propagate(
        source: np.ndarray, edited_first: np.ndarray, *, config: Any = None, **_: Any
    ) -> Propagation:
        from insvie.backends.propagation.i2v import I2VPropagator, I2VSettings, load_model

        if not isinstance(config, I2VSettings):
            raise ValueError(f"{backend} propagation needs config=I2VSettings(model=...), got {config!r}")
        video, diagnostics = I2VPropagator(load_model(backend, config), config)(source, edited_first)
        return Propagation(video, diagnostics)

    return propagate


@dataclass(frozen=True)
class _Entry:
    run: Propagator
    image_to_video: bool = False


_PROPAGATORS: dict[str, _Entry] = {
    "flow_warp": _Entry(_flow_warp),
    "framewise": _Entry(_framewise),
    "svd": _Entry(_image_to_video("svd"), image_to_video=True),
    "wan": _Entry(_image_to_video("wan"), image_to_video=True),
}


def list_propagators() -> list[str]:
    return sorted(_PROPAGATORS)


def _entry(name: str) -> _Entry:
    key = name.replace("-", "_")
    if key not in _PROPAGATORS:
        raise ValueError(f"unknown propagator {name!r}; known: {', '.join(list_propagators())}")
    return _PROPAGATORS[key]


def get_propagator(name: str) -> Propagator:
    """``propagator(source, edited_first, *, operator=None, strength=None, seed=0, config=None)``;
    ``flow-warp`` and ``flow_warp`` name the same one."""
    return _entry(name).run


def is_image_to_video(name: str) -> bool:
    """Whether ``name`` regenerates the video with an image-to-video model (``I2VSettings``, a GPU actor)."""
    return _entry(name).image_to_video


def summarize(name: str, diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    """What a propagation's per-frame diagnostics come to, as recorded with its result: the share of
    flow-warped pixels that fell back to the colour map and the re-anchored frames (``flow_warp``), or
    each window's drift (image-to-video); nothing for ``framewise``."""
    if is_image_to_video(name):
        from insvie.backends.propagation.i2v import window_drift

        return {
            "window_drift": {
                "colour": window_drift(diagnostics, "colour_drift"),
                "structure": window_drift(diagnostics, "structure_drift"),
            }
        }
    if name.replace("-", "_") == "flow_warp":
        return {
            "mean_fallback": round(float(np.mean([d["fallback"] for d in diagnostics])), 6),
            "reanchored": [d["index"] for d in diagnostics if d["reanchored"]],
        }
    return {}
