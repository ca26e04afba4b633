"""Propagators by name, behind one call signature, so a pipeline stage can pick one from config.

All take the source video and the chosen edited first frame; ``framewise`` also needs the
procedural edit that made it (operator, strength, seed) and refuses to run without one, since it
re-applies the edit rather than carrying the frame (and so reads no edited frame). ``svd`` and ``wan``
regenerate the video with an image-to-video model (:mod:`.i2v`) and need ``config=I2VSettings(model=...)``;
torch and diffusers are imported only when one of them runs.

Everything that differs between them lives in their :class:`PropagationBackend`: which part of a
caller's :class:`PropagationInputs` each takes, whether it reads the edited frame, what its result
records, and whether it is an image-to-video model. A caller asks these and never compares names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from insvie.backends.propagation.flow_warp import FlowWarpConfig, propagate_flow_warp
from insvie.backends.propagation.framewise import propagate_framewise

if TYPE_CHECKING:
    from insvie.backends.propagation.i2v import I2VSettings


@dataclass(frozen=True, eq=False)
class Propagation:
    """An edited video (T, H, W, 3) uint8 and per-frame diagnostics (plain dicts, maybe empty)."""

    video: np.ndarray
    diagnostics: list[dict[str, Any]] = field(default_factory=list)


Propagator = Callable[..., Propagation]


@dataclass(frozen=True)
class PropagationInputs:
    """What a caller knows of one propagation, whichever backend runs it; each takes its part.

    ``operator``, ``strength`` and ``edit_seed`` are the procedural edit that made the edited frame
    (None for any other editor); ``flow_warp`` are the flow-warp knobs; ``i2v`` the image-to-video
    settings and ``seed`` the seed they run with for this item.
    """

    flow_warp: FlowWarpConfig = field(default_factory=FlowWarpConfig)
    i2v: I2VSettings | None = None
    seed: int = 0
    operator: str | None = None
    strength: float | None = None
    edit_seed: int = 0


def _flow_warp(
    source: np.ndarray, edited_first: np.ndarray, *, config: FlowWarpConfig | None = None, **_: Any
) -> Propagation:
    result = propagate_flow_warp(source, edited_first, config)
    return Propagation(result.video, result.diagnostics_dicts())


def _framewise(
    source: np.ndarray,
    edited_first: np.ndarray | None,
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


def _flow_warp_summary(diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    """The share of flow-warped pixels that fell back to the colour map, and the re-anchored frames."""
    return {
        "mean_fallback": round(float(np.mean([d["fallback"] for d in diagnostics])), 6),
        "reanchored": [d["index"] for d in diagnostics if d["reanchored"]],
    }


def _window_summary(diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    """Each window's colour and structure drift (what the next window inherits)."""
    from insvie.backends.propagation.i2v import window_drift

    return {
        "window_drift": {
            "colour": window_drift(diagnostics, "colour_drift"),
            "structure": window_drift(diagnostics, "structure_drift"),
        }
    }


def _no_summary(diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    return {}


def _flow_warp_options(inputs: PropagationInputs) -> dict[str, Any]:
    return {"config": inputs.flow_warp}


def _framewise_options(inputs: PropagationInputs) -> dict[str, Any]:
    return {"operator": inputs.operator, "strength": inputs.strength, "seed": inputs.edit_seed}


def _i2v_options(inputs: PropagationInputs) -> dict[str, Any]:
    return {"config": None if inputs.i2v is None else inputs.i2v.seeded(inputs.seed)}


@dataclass(frozen=True)
class PropagationBackend:
    """One propagator and what a caller needs to know of it.

    ``options`` picks its keywords out of a :class:`PropagationInputs`; ``summarize`` turns its
    per-frame diagnostics into what a result records; ``reads_edited_frame`` is False for a backend
    that re-makes the edit itself; ``image_to_video`` marks the models (:mod:`.i2v`: ``I2VSettings``,
    a GPU actor, drift).
    """

    run: Propagator
    options: Callable[[PropagationInputs], dict[str, Any]]
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]]
    reads_edited_frame: bool = True
    image_to_video: bool = False

    def propagate(
        self, source: np.ndarray, edited_first: np.ndarray | None, inputs: PropagationInputs
    ) -> Propagation:
        """Run with this backend's part of ``inputs``."""
        return self.run(source, edited_first, **self.options(inputs))


_PROPAGATORS: dict[str, PropagationBackend] = {
    "flow_warp": PropagationBackend(_flow_warp, _flow_warp_options, _flow_warp_summary),
    "framewise": PropagationBackend(_framewise, _framewise_options, _no_summary, reads_edited_frame=False),
    "svd": PropagationBackend(_image_to_video("svd"), _i2v_options, _window_summary, image_to_video=True),
    "wan": PropagationBackend(_image_to_video("wan"), _i2v_options, _window_summary, image_to_video=True),
}


def list_propagators() -> list[str]:
    return sorted(_PROPAGATORS)


def propagation_backend(name: str) -> PropagationBackend:
    """The backend called ``name``; ``flow-warp`` and ``flow_warp`` name the same one."""
    key = name.replace("-", "_")
    if key not in _PROPAGATORS:
        raise ValueError(f"unknown propagator {name!r}; known: {', '.join(list_propagators())}")
    return _PROPAGATORS[key]


def get_propagator(name: str) -> Propagator:
    """``propagator(source, edited_first, *, operator=None, strength=None, seed=0, config=None)``."""
    return propagation_backend(name).run


def is_image_to_video(name: str) -> bool:
    """Whether ``name`` regenerates the video with an image-to-video model (``I2VSettings``, a GPU actor)."""
    return propagation_backend(name).image_to_video


def summarize(name: str, diagnostics: list[dict[str, Any]]) -> dict[str, Any]:
    """What a propagation's per-frame diagnostics come to, as recorded with its result: the share of
    flow-warped pixels that fell back to the colour map and the re-anchored frames (``flow_warp``), or
    each window's drift (image-to-video); nothing for ``framewise``."""
    return propagation_backend(name).summarize(diagnostics)
