"""The ``procedural`` editor as the pipeline sees it: requests, strength sweeps, candidates.

A diffusion editor makes K first-frame candidates by sweeping guidance; here the sweep is over
strength. :func:`match_instruction` maps free text (e.g. from an LLM instruction writer) back to an
operator, so the procedural editor can serve instructions it did not write itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from insvie.backends.procedural.operator import Category
from insvie.backends.procedural.registry import get_operator, list_operators


@dataclass(frozen=True)
class EditRequest:
    """What to do (operator), how to ask for it (instruction) and how to describe it (caption suffix)."""

    operator: str
    instruction: str
    caption: str


def sample_request(
    rng: np.random.Generator, *, categories: Sequence[Category] | None = None, pointwise_only: bool = False
) -> EditRequest:
    """A random operator and one of its phrasings."""
    names = [
        name
        for name in list_operators(pointwise=True if pointwise_only else None)
        if categories is None or get_operator(name).category in categories
    ]
    if not names:
        raise ValueError(f"no operator matches categories={categories} pointwise_only={pointwise_only}")
    op = get_operator(names[int(rng.integers(len(names)))])
    return EditRequest(op.name, op.instruction(rng), op.caption)


def strength_sweep(count: int, low: float = 0.4, high: float = 1.0) -> tuple[float, ...]:
    """``count`` evenly spaced strengths in [low, high]: the stand-in for a guidance sweep."""
    if count < 1 or not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"need count >= 1 and 0 <= low <= high <= 1, got {count}, {low}, {high}")
    if count == 1:
        return (high,)
    return tuple(round(float(v), 4) for v in np.linspace(low, high, count))


def edit_candidates(
    image: np.ndarray, operator: str, strengths: Sequence[float], seed: int = 0
) -> list[np.ndarray]:
    """One edited copy of ``image`` per strength."""
    op = get_operator(operator)
    return [op.apply(image, strength, seed) for strength in strengths]


# First match wins, so longer or more specific phrases come before the words they contain.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"pop[- ]?art|posteri[sz]", "posterize"),
    (r"golden[- ]hour|evening light", "golden_hour"),
    (r"teal|blockbuster|cinematic", "teal_orange"),
    (r"sepia", "sepia"),
    (r"black[- ]and[- ]white|gr[ae]yscale|monochrome|remove (all )?(the )?colou?r", "grayscale"),
    (r"vintage|retro|faded|old film|70s", "vintage_film"),
    (r"cartoon|comic|anime", "cartoon"),
    (r"pencil|sketch|drawing", "pencil_sketch"),
    (r"watercolou?r", "watercolour"),
    (r"oil", "oil_paint"),
    (r"winter|snow", "winter"),
    (r"autumn|\bfall\b|leaves", "autumn"),
    (r"summer|lush|sunny", "summer"),
    (r"sunset|dusk|sun is setting", "sunset"),
    (r"night|moonlit", "night"),
    (r"overcast|cloudy|grey day|gray day", "overcast"),
    (r"warm", "warm"),
    (r"\bcool|\bcold|blue tint", "cool"),
    (r"contrast|vivid|\bpop\b|saturat", "punchy"),
)


def match_instruction(instruction: str) -> str | None:
    """The operator an instruction asks for, by keyword; None when no operator fits."""
    text = instruction.lower()
    for pattern, name in _KEYWORDS:
        if re.search(pattern, text):
            return name
    return None
