"""Whether the edit made on the first frame is still there at the end of the edited video.

Propagating an edited first frame through a video (image-to-video regeneration, flow warping) often
lets the edit fade back towards the source as time goes on. The edit signal of a frame is the edited
frame minus the source frame in CIELAB at low resolution; its *strength* is the mean colour difference
(Delta E 1976) per pixel, and its *colour signature* the change it makes to the frame's soft Lab
histogram (mass moved from the source's colours to the edit's). Both are position-free, so they hold
when the edited object or the camera moves, and they serve global edits (a grade moves every pixel's
colour) and local ones (an object's colours move) alike.

``persistence = clip(tail_strength / head_strength, 0, 1) * agreement`` where ``agreement`` is the
cosine similarity of the head's and the tail's colour signatures, trusted in proportion to how much
the edit changes colour at all (an edit that keeps the palette, e.g. a texture change, is judged by
strength alone). 1.0 means the same edit at full strength throughout, ~0 an edit that vanished or
turned into a different one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from insvie.backends.analysis.working import check_same_shape, evenly_spaced, shrink

DEFAULT_MAX_SIDE = 64
DEFAULT_SPAN = 0.1
# Histogram bins over L in [0, 100] and a, b in [-80, 80] (colours beyond are clamped to the edge bins).
_BINS = (5, 9, 9)
_LOW = np.array([0.0, -80.0, -80.0], dtype=np.float32)
_HIGH = np.array([100.0, 80.0, 80.0], dtype=np.float32)
# L1 size of a colour-signature change (out of 2) at which agreement is trusted half-way.
_SIGNATURE_HALF_TRUST = 0.05
# Head edits weaker than this mean Delta E are no edit at all: persistence is undefined, reported as 1.
MIN_EDIT_STRENGTH = 1.0


def to_lab(frame: np.ndarray, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """uint8 RGB frame shrunk to ``max_side`` as float32 CIELAB (L 0-100, a and b about -128-127)."""
    small = shrink(frame, max_side).astype(np.float32) / 255.0
    return cv2.cvtColor(small, cv2.COLOR_RGB2Lab)


def soft_histogram(lab: np.ndarray) -> np.ndarray:
    """Trilinear-binned Lab histogram of a frame, as fractions summing to 1 (flattened)."""
    bins = np.array(_BINS, dtype=np.float32)
    pos = (lab.reshape(-1, 3) - _LOW) / (_HIGH - _LOW) * (bins - 1)
    pos = np.clip(pos, 0, bins - 1 - 1e-4)
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    hist = np.zeros(int(np.prod(_BINS)), dtype=np.float64)
    for corner in range(8):
        offset = np.array([(corner >> axis) & 1 for axis in range(3)])
        weight = np.prod(np.where(offset == 1, frac, 1.0 - frac), axis=1)
        index = np.ravel_multi_index((base + offset).T, _BINS)
        hist += np.bincount(index, weights=weight, minlength=hist.size)
    return hist / max(hist.sum(), 1e-12)


@dataclass(frozen=True)
class EditPersistence:
    """Edit strength (mean Delta E) at the head and tail of the clip and how alike the two edits are."""

    persistence: float
    head_strength: float
    tail_strength: float
    strength_ratio: float
    agreement: float
    signature_change: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _edit_signal(
    source: np.ndarray, edited: np.ndarray, indices: list[int], max_side: int | None
) -> tuple[float, np.ndarray]:
    """Mean Delta E and mean histogram change over the given frames."""
    strengths, signatures = [], []
    for i in indices:
        lab_s, lab_e = to_lab(source[i], max_side), to_lab(edited[i], max_side)
        diff = lab_e - lab_s
        strengths.append(float(np.sqrt(np.einsum("...c,...c->...", diff, diff)).mean()))
        signatures.append(soft_histogram(lab_e) - soft_histogram(lab_s))
    return float(np.mean(strengths)), np.mean(signatures, axis=0)


def edit_persistence(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    span: float = DEFAULT_SPAN,
    samples: int = 3,
    max_side: int | None = DEFAULT_MAX_SIDE,
) -> EditPersistence:
    """How much of the first frames' edit survives in the last frames (see the module docstring).

    ``span`` is the fraction of the clip read at each end (at least one frame), ``samples`` the most
    frames read within each span, ``max_side`` the working size (small on purpose: it tolerates
    the few-pixel misalignment regeneration introduces).
    """
    check_same_shape(source, edited)
    if not 0.0 < span <= 0.5:
        raise ValueError(f"span must be in (0, 0.5], got {span}")
    count = len(source)
    width = max(1, round(span * count))
    head = evenly_spaced(width, samples)
    tail = [count - width + i for i in head]
    head_strength, head_sig = _edit_signal(source, edited, head, max_side)
    tail_strength, tail_sig = _edit_signal(source, edited, tail, max_side)
    if head_strength < MIN_EDIT_STRENGTH:
        return EditPersistence(1.0, head_strength, tail_strength, 1.0, 1.0, 0.0)
    ratio = tail_strength / head_strength
    change = float(np.abs(head_sig).sum())
    norms = float(np.linalg.norm(head_sig) * np.linalg.norm(tail_sig))
    cosine = float(head_sig @ tail_sig / norms) if norms > 0 else 0.0
    trust = change / (change + _SIGNATURE_HALF_TRUST)
    agreement = trust * cosine + (1.0 - trust)
    persistence = float(np.clip(ratio, 0.0, 1.0) * max(agreement, 0.0))
    return EditPersistence(persistence, head_strength, tail_strength, ratio, agreement, change)
