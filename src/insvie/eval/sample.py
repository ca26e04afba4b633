"""What every part of evaluation passes around: a benchmark sample in, a row of scores out.

Readers (``insvie.eval.bench``) turn benchmark manifests into :class:`EvalSample`; metrics and judge
protocols turn a sample plus its decoded frames into named scores; the runner collects those into
:class:`SampleScores`; reports (``insvie.eval.report``) read only :class:`SampleScores`. Keeping the
two records this small is what lets a metric, a reader or a report be added without touching the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class EvalSample:
    """One benchmark item. Paths are absolute (readers resolve them against the benchmark folder).

    ``edited`` is the editor's output once predicted (from ``--predictions DIR`` or a model run);
    ``mask`` is a video or image, non-zero where the edit is allowed to change pixels;
    ``ground_truth`` is the correct edited video where known (SynthEdit).
    """

    sample_id: str
    source: Path
    instruction: str
    edited: Path | None = None
    target_caption: str | None = None
    source_caption: str | None = None
    category: str | None = None
    mask: Path | None = None
    ground_truth: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleFrames:
    """Decoded frames of one sample, uint8 (T, H, W, 3); edited, mask and ground truth resized to the source.

    ``mask`` is bool (T, H, W) when the sample has one. Decoding once here means ten metrics on one
    sample read its videos once.
    """

    source: np.ndarray
    edited: np.ndarray
    mask: np.ndarray | None = None
    ground_truth: np.ndarray | None = None
    seams: tuple[int, ...] = ()


class Metric(Protocol):
    """A per-sample score. ``name`` prefixes its keys in reports; ``meta`` (model id, revision,
    judge model and version) is recorded beside every score it produces."""

    name: str

    def score(self, sample: EvalSample, frames: SampleFrames) -> dict[str, float]: ...

    def meta(self) -> dict[str, str]: ...


@dataclass
class SampleScores:
    """One output row: the sample's identity, every score by key (``metric.key``) and where they came from.

    A metric with nothing to measure on the sample (no mask, no ground truth, no caption) records its
    reason in ``declined``; one that failed (a judge's endpoint down, a reply out of range, a corrupt
    video for the whole sample under ``"sample"``) records it in ``errors``. Reports count the two apart:
    a decline is expected, a failure is something to fix and is retried on a rerun.
    """

    sample_id: str
    instruction: str
    category: str | None
    source: str
    edited: str | None
    scores: dict[str, float] = field(default_factory=dict)
    meta: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    declined: dict[str, str] = field(default_factory=dict)
