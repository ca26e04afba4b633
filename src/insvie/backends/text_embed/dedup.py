"""Greedy, order-preserving grouping of near-duplicate texts by embedding similarity, with a cap per group.

This is the one paraphrase decision of the build: ``stages/instruction_dedup.py`` only hands it the
instructions in item-id order and records its answer, so a test of :func:`collapse_near_duplicates` is a
test of what the build decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from insvie.errors import ConfigError


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class CollapseResult:
    """Which texts survive, and the group of paraphrases each one belongs to.

    ``keep``: indices of the texts kept, in input order: each group's first text (its head) and the next
    ``max_repeats - 1`` texts that join it.
    ``duplicate_of``: for each dropped index, the head of the group it joined (the most similar head).
    ``similarity``: for every index with a head before it, its highest cosine similarity to such a head
    (for a text that joined a group, the similarity to that group's head).
    ``group_of``: for every index, the head of its group (a head's own index for a head).
    """

    keep: list[int] = field(default_factory=list)
    duplicate_of: dict[int, int] = field(default_factory=dict)
    similarity: dict[int, float] = field(default_factory=dict)
    group_of: list[int] = field(default_factory=list)


def collapse_near_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = 0.9,
    max_repeats: int = 1,
    embedder: Embedder,
    embeddings: np.ndarray | None = None,
) -> CollapseResult:
    """Walk ``texts`` in order; a text whose cosine similarity to an earlier group head reaches
    ``threshold`` joins the group of the most similar head (the earliest on a tie), otherwise it heads a
    new group. A group keeps its first ``max_repeats`` texts and drops the rest.

    Texts are compared with group heads only, so a chain of small rewordings cannot drift a group away
    from its first text. The similarity is compared in float32, as the embedder returns it, with no
    tolerance: that is what the build has always done, and its recorded decisions depend on it. The
    result depends only on the texts, their order and the model, never on batching. Pass ``embeddings``
    (unit rows, as ``embedder.embed`` returns) to reuse vectors computed before.
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"near-duplicate threshold is a cosine similarity in (0, 1], got {threshold}")
    if max_repeats < 1:
        raise ConfigError(f"max_repeats is the number of texts a group keeps, at least 1, got {max_repeats}")
    vectors = embedder.embed(texts) if embeddings is None else np.asarray(embeddings, np.float32)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"{vectors.shape[0]} embeddings for {len(texts)} texts")
    result = CollapseResult()
    heads: list[int] = []  # index of each group's first text
    members: list[int] = []  # texts kept in each group so far
    for index in range(len(texts)):
        group = None
        if heads:
            # one row product per text against the heads, as the stage always computed it: a different
            # product shape could move a float32 sum by an ulp and flip a decision at the threshold
            sims = vectors[heads] @ vectors[index]
            best = int(np.argmax(sims))
            result.similarity[index] = float(sims[best])
            if sims[best] >= threshold:  # the numpy scalar, not float(): NumPy 2 compares in float32
                group = best
        if group is None:
            heads.append(index)
            members.append(1)
            result.group_of.append(index)
            result.keep.append(index)
        else:
            result.group_of.append(heads[group])
            if members[group] < max_repeats:
                members[group] += 1
                result.keep.append(index)
            else:
                result.duplicate_of[index] = heads[group]
    return result
