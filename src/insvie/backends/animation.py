"""Animators by name: how an (image, edited image) pair becomes a (video, edited video) pair.

``camera`` films both stills along one eased camera path (:mod:`insvie.backends.camera`), so the pair
differs only by the edit. ``i2v`` gives the pair real motion: an image-to-video model animates the
source image and the edited image is carried through that video
(:mod:`insvie.backends.propagation.i2v.animate`); torch and diffusers are imported only when it runs.
Either way the drawn camera path decides first whether the pair is held still: the static share stays
a still shot whichever animator moves the rest. ``run_batch`` takes many pairs: the image-to-video
animator animates and propagates the moving ones of a batch together, the model seeing many windows per
call (its settings' ``max_batch`` caps them).

Everything that differs between them lives in their :class:`Animator`, so a caller picks one from
config and never compares names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from insvie.backends.camera import animate_pair

if TYPE_CHECKING:
    from insvie.backends.propagation.i2v import I2VSettings


@dataclass(frozen=True)
class AnimationInputs:
    """What a caller knows of one pair's animation, whichever animator runs it; each takes its part.

    ``path`` is the camera path drawn for the pair (``random_path``'s keywords; ``static`` holds it
    still), ``num_frames`` the video's length; ``i2v_backend``, ``i2v`` and ``seed`` are the
    image-to-video model, its settings and the seed they run with for this pair.
    """

    path: dict[str, Any]
    num_frames: int
    i2v_backend: str = "svd"
    i2v: I2VSettings | None = None
    seed: int = 0


@dataclass(frozen=True, eq=False)
class AnimatedPair:
    """The source and edited videos (T, H, W, 3 uint8), how the camera moved, and what else the pair's
    triplet records (the image-to-video propagation's per-window drift)."""

    source: np.ndarray
    edited: np.ndarray
    camera: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


Pair = tuple[np.ndarray, np.ndarray, AnimationInputs]  # (source image, edited image, its inputs)


def _camera(source: np.ndarray, edited: np.ndarray, inputs: AnimationInputs) -> AnimatedPair:
    src, edt, params = animate_pair(
        source, edited, num_frames=inputs.num_frames, keep_in_view="changed", **inputs.path
    )
    return AnimatedPair(src, edt, params)


def _camera_batch(pairs: Sequence[Pair]) -> list[AnimatedPair]:
    return [_camera(*pair) for pair in pairs]


def _image_to_video_batch(pairs: Sequence[Pair]) -> list[AnimatedPair]:
    """Static pairs through the camera; the moving ones batched, those sharing a model, settings and
    length in one group (:func:`_animate_group`)."""
    results: dict[int, AnimatedPair] = {}
    groups: dict[tuple[str, I2VSettings, int], list[int]] = {}
    for index, (source, edited, inputs) in enumerate(pairs):
        if inputs.path["path"] == "static":
            results[index] = _camera(source, edited, inputs)
        elif inputs.i2v is None:
            raise ValueError("i2v animation needs image-to-video settings (I2VSettings(model=...))")
        else:
            groups.setdefault((inputs.i2v_backend, inputs.i2v, inputs.num_frames), []).append(index)
    for (backend, settings, num_frames), members in groups.items():
        made = _animate_group(backend, settings, num_frames, [pairs[i] for i in members])
        results.update(zip(members, made, strict=True))
    return [results[i] for i in range(len(pairs))]


def _animate_group(
    backend: str, settings: I2VSettings, num_frames: int, pairs: list[Pair]
) -> list[AnimatedPair]:
    """Moving pairs of one model, settings and length, their sources animated and their edits carried
    in shared loops, each with its own seed."""
    from insvie.backends.propagation import summarize
    from insvie.backends.propagation.i2v import load_propagator
    from insvie.backends.propagation.i2v.animate import animate_pairs

    made = animate_pairs(
        load_propagator(backend, settings),
        [(src, edt, inputs.seed) for src, edt, inputs in pairs],
        num_frames,
    )
    return [
        AnimatedPair(
            src,
            edt,
            {"path": f"i2v:{backend}"},
            {"propagation_drift": summarize(backend, diag)["window_drift"]},
        )
        for src, edt, diag in made
    ]


@dataclass(frozen=True)
class Animator:
    """One animator: ``run(source, edited, inputs)``, or ``run_batch`` over many ``(source, edited,
    inputs)`` (the image-to-video one batches its model's work); ``image_to_video`` marks the one that
    loads a model (``I2VSettings``, a GPU actor)."""

    run_batch: Callable[[Sequence[Pair]], list[AnimatedPair]]
    image_to_video: bool = False

    def run(self, source: np.ndarray, edited: np.ndarray, inputs: AnimationInputs) -> AnimatedPair:
        """One pair: a batch of one."""
        return self.run_batch([(source, edited, inputs)])[0]


_ANIMATORS: dict[str, Animator] = {
    "camera": Animator(_camera_batch),
    "i2v": Animator(_image_to_video_batch, image_to_video=True),
}


def list_animators() -> list[str]:
    return sorted(_ANIMATORS)


def get_animator(name: str) -> Animator:
    if name not in _ANIMATORS:
        raise ValueError(f"unknown animator {name!r}; known: {', '.join(list_animators())}")
    return _ANIMATORS[name]
