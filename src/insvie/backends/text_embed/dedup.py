"""Greedy, order-preserving collapse of near-duplicate texts by embedding similarity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from insvie.errors import ConfigError

_CHUNK = 256  # rows compared at once; bounds memory at _CHUNK x kept floats
_TOLERANCE = 1e-6  # float32 dot products of identical unit vectors land a hair under 1.0


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class CollapseResult:
    """Which texts survive.

    ``keep``: indices of the texts kept, in input order (the first of each group of near-duplicates).
    ``duplicate_of``: for each dropped index, the kept index it is most similar to.
    ``similarity``: for every index after the first, its highest cosine similarity to a text kept
    before it (for a dropped index, the similarity to ``duplicate_of``).
    """

    keep: list[int] = field(default_factory=list)
    duplicate_of: dict[int, int] = field(default_factory=dict)
    similarity: dict[int, float] = field(default_factory=dict)


def collapse_near_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = 0.9,
    embedder: Embedder,
    embeddings: np.ndarray | None = None,
) -> CollapseResult:
    """Walk ``texts`` in order; a text whose cosine similarity to an already kept text reaches
    ``threshold`` is a duplicate of the most similar one, otherwise it is kept.

    The result depends only on the texts, their order and the model, never on batching. Pass
    ``embeddings`` (unit rows, as ``embedder.embed`` returns) to reuse vectors computed before.
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"near-duplicate threshold is a cosine similarity in (0, 1], got {threshold}")
    vectors = embedder.embed(texts) if embeddings is None else np.asarray(embeddings, np.float32)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"{vectors.shape[0]} embeddings for {len(texts)} texts")
    result = CollapseResult()
    cutoff = threshold - _TOLERANCE
    for start in range(0, len(texts), _CHUNK):
        rows = vectors[start : start + _CHUNK]
        before = list(result.keep)  # kept before this chunk: one matrix product for the whole chunk
        to_before = rows @ vectors[before].T if before else np.zeros((len(rows), 0), np.float32)
        within = rows @ rows.T
        kept_here: list[int] = []  # offsets in this chunk
        for offset in range(len(rows)):
            index = start + offset
            best, best_sim = -1, -np.inf
            if before:
                j = int(np.argmax(to_before[offset]))
                best, best_sim = before[j], float(to_before[offset, j])
            if kept_here:
                sims = within[offset, kept_here]
                j = int(np.argmax(sims))
                if float(sims[j]) > best_sim:
                    best, best_sim = start + kept_here[j], float(sims[j])
            if best >= 0:
                result.similarity[index] = min(best_sim, 1.0)
            if best >= 0 and best_sim >= cutoff:
                result.duplicate_of[index] = best
            else:
                result.keep.append(index)
                kept_here.append(offset)
    return result
