"""Guidance settings and sweeps: what one candidate of a first-frame edit is asked to be.

InsViE edits each first frame about six times with classifier-free guidance spread over [3, 8] and lets
a judge keep the best; a :class:`GuidanceSetting` is one of those six, and a sweep is the list of them.
Seeds are derived here, not in the backends, so that a candidate's noise depends only on the request's
seed and on how many identical settings came before it: never on batching or on the other settings.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_IMAGE_GUIDANCE = 1.5
DEFAULT_STEPS = 20
INSVIE_TEXT_GUIDANCE = (3.0, 8.0)


def _check_scale(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


@dataclass(frozen=True)
class GuidanceSetting:
    """One candidate's guidance: text strength, image strength (None where the model has none), steps.

    ``text_guidance`` is the backend's text guidance (``guidance_scale`` for InstructPix2Pix and FLUX.1
    Kontext, ``true_cfg_scale`` for Qwen-Image-Edit); ``image_guidance`` is InstructPix2Pix's
    ``image_guidance_scale``; backends without one record None (see ``ImageEditor.effective``).
    """

    text_guidance: float
    image_guidance: float | None = DEFAULT_IMAGE_GUIDANCE
    steps: int = DEFAULT_STEPS

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_guidance", _check_scale("text_guidance", self.text_guidance))
        if self.image_guidance is not None:
            object.__setattr__(self, "image_guidance", _check_scale("image_guidance", self.image_guidance))
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")

    def as_dict(self) -> dict[str, float | int | None]:
        """The setting as plain JSON-able values, for provenance records."""
        return {
            "text_guidance": self.text_guidance,
            "image_guidance": self.image_guidance,
            "steps": self.steps,
        }


def sweep_list(
    pairs: Iterable[tuple[float, float | None] | float], *, steps: int = DEFAULT_STEPS
) -> list[GuidanceSetting]:
    """Settings from an explicit list of ``(text, image)`` pairs (a bare number means image guidance 1.5)."""
    out = []
    for pair in pairs:
        text, image = (pair, DEFAULT_IMAGE_GUIDANCE) if isinstance(pair, int | float) else pair
        out.append(GuidanceSetting(text, image, steps))
    if not out:
        raise ValueError("a sweep needs at least one setting")
    return out


def sweep_grid(
    text_guidance: Sequence[float],
    image_guidance: Sequence[float | None] = (DEFAULT_IMAGE_GUIDANCE,),
    *,
    steps: int = DEFAULT_STEPS,
) -> list[GuidanceSetting]:
    """Every (text, image) combination, text-major: the grid form of a sweep."""
    return sweep_list(itertools.product(text_guidance, image_guidance), steps=steps)


def default_sweep(
    k: int = 6,
    *,
    low: float = INSVIE_TEXT_GUIDANCE[0],
    high: float = INSVIE_TEXT_GUIDANCE[1],
    image_guidance: float | None = DEFAULT_IMAGE_GUIDANCE,
    steps: int = DEFAULT_STEPS,
) -> list[GuidanceSetting]:
    """InsViE's sweep: ``k`` candidates with text guidance evenly over [low, high], image guidance fixed."""
    if k < 1 or not 0 <= low <= high:
        raise ValueError(f"need k >= 1 and 0 <= low <= high, got k={k}, low={low}, high={high}")
    texts = [high] if k == 1 else [round(float(v), 4) for v in np.linspace(low, high, k)]
    return sweep_list([(t, image_guidance) for t in texts], steps=steps)


def candidate_seeds(settings: Sequence[GuidanceSetting], seed: int) -> list[int]:
    """The noise seed of each candidate: ``seed`` plus the number of identical settings before it.

    Different settings share the seed, so a sweep compares guidance on the same noise; a repeated
    setting gets fresh noise (seed + 1, + 2, ...) and so yields a distinct sample. Backends draw each
    candidate's noise from its own generator seeded this way, which is what makes a candidate
    independent of how the candidates were batched.
    """
    seen: dict[GuidanceSetting, int] = {}
    seeds = []
    for setting in settings:
        repeat = seen.get(setting, 0)
        seen[setting] = repeat + 1
        seeds.append(seed + repeat)
    return seeds
