"""Whether the edit made on the first frame is still there at the end of the edited video.

Propagating an edited first frame through a video (image-to-video regeneration, flow warping) often
lets the edit fade back towards the source as time goes on. The edit signal of a frame is the edited
frame minus the source frame in CIELAB at low resolution. Two position-free summaries of it are
compared between the first frames (head) and the last frames (tail), so the check holds when the
camera or the edited object moves:

- *strength*: the mean over all pixels of each pixel's colour difference (Delta E 1976) beyond a
  per-pixel noise level that codec round trips alone reach; the tail's over the head's says how much
  of the edit is left. Thresholding per pixel (rather than the mean) keeps small local edits (an
  object recoloured over 1% of the frame) measurable above the codec noise spread over the rest;
- *colour mapping*: for each coarse bin of source colour, the mean Lab change the edit applies to
  pixels of that colour (the edit seen as a colour look-up table). A grade maps every colour the same
  way in every frame whatever the content; a local edit maps its object's colours. The weighted cosine
  of head and tail mappings over the colours both contain is the *agreement*; it is trusted in
  proportion to how coherent the head's mapping is (the share of the head edit's energy, summed
  squared change, that the per-colour means explain), so an edit that is not a colour change (a
  texture, a new shape covering part of a background colour) is judged by strength alone. An added
  object moving across a gradient changes different source colours at the head and at the tail; its
  mapping explains ~f/b of its energy (f the share of pixels it covers, b the share of its bins).

How much is left (``strength_ratio``) blends two readings by coherence: the size of the tail's colour
mapping over the head's (over the colours both contain) where the edit is a colour change, the
strength ratio where it is not. A mapping's size is a change *per pixel of a colour*, so it does not
shrink when a recoloured object is partly occluded or leaves the frame by the end (the strength
ratio read such clean SynthEdit recolours as 0.38-0.55: faded), while a grade fading to a third
shrinks it to a third.

``persistence = clip(strength_ratio, 0, 1) * max(agreement, 0)`` (``strength_ratio`` being the
intensity ratio): 1.0 means the same edit at full
strength throughout, ~0 an edit that vanished or turned into a different one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from insvie.backends.analysis.working import check_same_shape, evenly_spaced, shrink

DEFAULT_MAX_SIDE = 64
DEFAULT_SPAN = 0.1
# Per-pixel Delta E a plain H.264 round trip can leave at 64 px (its mean is 0.5-1.3 on the sample
# clips, with a tail to ~5 in textured areas); only the excess over it counts as edit.
NOISE_FLOOR = 5.0
# Head edits weaker than this are no edit at all (persistence reported as 1): about 0.1% of the
# pixels changed by 50 Delta E beyond the noise.
MIN_EDIT_STRENGTH = 0.05
# Source-colour bins over L in [0, 100] and a, b in [-50, 50] (colours beyond go to the edge bins).
_BINS = (4, 5, 5)
_LOW = np.array([0.0, -50.0, -50.0], dtype=np.float32)
_HIGH = np.array([100.0, 50.0, 50.0], dtype=np.float32)
_MIN_BIN_SHARE = 0.002  # a colour must cover this share of both spans to be compared


def to_lab(frame: np.ndarray, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """uint8 RGB frame shrunk to ``max_side`` as float32 CIELAB (L 0-100, a and b about -128-127)."""
    small = shrink(frame, max_side).astype(np.float32) / 255.0
    return cv2.cvtColor(small, cv2.COLOR_RGB2Lab)


def colour_bins(lab: np.ndarray) -> np.ndarray:
    """Flat bin index of every pixel's Lab colour on the coarse :data:`_BINS` grid."""
    bins = np.array(_BINS)
    pos = ((lab.reshape(-1, 3) - _LOW) / (_HIGH - _LOW) * bins).astype(np.int64)
    np.clip(pos, 0, bins - 1, out=pos)
    return np.ravel_multi_index(pos.T, _BINS)


@dataclass
class _Span:
    """Accumulated edit signal of some frames: Delta E total and per-source-colour sums of change."""

    strength_sum: float = 0.0
    energy: float = 0.0
    pixels: int = 0
    counts: np.ndarray | None = None
    change: np.ndarray | None = None

    def add(self, lab_source: np.ndarray, lab_edited: np.ndarray, noise_floor: float) -> None:
        diff = (lab_edited - lab_source).reshape(-1, 3)
        delta_e = np.sqrt(np.einsum("pc,pc->p", diff, diff))
        self.strength_sum += float(np.maximum(delta_e - noise_floor, 0.0).sum())
        self.energy += float(np.einsum("p,p->", delta_e, delta_e))
        self.pixels += len(diff)
        index = colour_bins(lab_source)
        size = int(np.prod(_BINS))
        counts = np.bincount(index, minlength=size).astype(np.float64)
        change = np.stack([np.bincount(index, weights=diff[:, c], minlength=size) for c in range(3)], axis=1)
        self.counts = counts if self.counts is None else self.counts + counts
        self.change = change if self.change is None else self.change + change

    @property
    def strength(self) -> float:
        return self.strength_sum / max(self.pixels, 1)

    def mapping(self) -> tuple[np.ndarray, np.ndarray]:
        """(share of pixels per source colour, mean Lab change per source colour)."""
        assert self.counts is not None and self.change is not None
        share = self.counts / max(self.counts.sum(), 1.0)
        mean = self.change / np.maximum(self.counts, 1.0)[:, None]
        return share, mean


@dataclass(frozen=True)
class EditPersistence:
    """Edit strength (mean Delta E above the floor) at head and tail, how much of the edit is left
    (``strength_ratio``, see the module docstring), and how alike the two edits are.

    ``coherence`` (0-1) is how much of the head edit a colour mapping explains; ``agreement`` is the
    mapping cosine blended towards 1 as coherence falls.
    """

    persistence: float
    head_strength: float
    tail_strength: float
    strength_ratio: float
    agreement: float
    coherence: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _span_signal(
    source: np.ndarray, edited: np.ndarray, indices: list[int], max_side: int | None, noise_floor: float
) -> _Span:
    span = _Span()
    for i in indices:
        span.add(to_lab(source[i], max_side), to_lab(edited[i], max_side), noise_floor)
    return span


def _agreement(head: _Span, tail: _Span) -> tuple[float, float, float]:
    """(agreement, coherence, tail over head mapping size) of the head's and tail's colour mappings."""
    head_share, head_map = head.mapping()
    tail_share, tail_map = tail.mapping()
    weight = np.minimum(head_share, tail_share)
    weight[(head_share < _MIN_BIN_SHARE) | (tail_share < _MIN_BIN_SHARE)] = 0.0
    assert head.counts is not None
    explained = float((head.counts * np.einsum("bc,bc->b", head_map, head_map)).sum())
    coherence = min(1.0, explained / max(head.energy, 1e-6))
    dot = float((weight * np.einsum("bc,bc->b", head_map, tail_map)).sum())
    head_size = float(np.sqrt((weight * np.einsum("bc,bc->b", head_map, head_map)).sum()))
    tail_size = float(np.sqrt((weight * np.einsum("bc,bc->b", tail_map, tail_map)).sum()))
    cosine = dot / (head_size * tail_size) if head_size * tail_size > 0 else 0.0
    size_ratio = tail_size / head_size if head_size > 0 else 0.0
    return coherence * cosine + (1.0 - coherence), coherence, size_ratio


def edit_persistence(
    source: np.ndarray,
    edited: np.ndarray,
    *,
    span: float = DEFAULT_SPAN,
    samples: int = 3,
    max_side: int | None = DEFAULT_MAX_SIDE,
    noise_floor: float = NOISE_FLOOR,
) -> EditPersistence:
    """How much of the first frames' edit survives in the last frames (see the module docstring).

    ``span`` is the fraction of the clip read at each end (at least one frame), ``samples`` the most
    frames read within each span, ``max_side`` the working size (small on purpose: it tolerates the
    few-pixel misalignment regeneration introduces), ``noise_floor`` the per-pixel Delta E counted as
    no edit (raise it for regenerated videos that differ from the source everywhere).
    """
    check_same_shape(source, edited)
    if not 0.0 < span <= 0.5:
        raise ValueError(f"span must be in (0, 0.5], got {span}")
    count = len(source)
    width = max(1, round(span * count))
    head_idx = evenly_spaced(width, samples)
    tail_idx = [count - width + i for i in head_idx]
    head = _span_signal(source, edited, head_idx, max_side, noise_floor)
    tail = _span_signal(source, edited, tail_idx, max_side, noise_floor)
    head_strength, tail_strength = head.strength, tail.strength
    if head_strength < MIN_EDIT_STRENGTH:
        return EditPersistence(1.0, head_strength, tail_strength, 1.0, 1.0, 0.0)
    agreement, coherence, size_ratio = _agreement(head, tail)
    ratio = coherence * size_ratio + (1.0 - coherence) * tail_strength / head_strength
    persistence = float(np.clip(ratio, 0.0, 1.0) * max(agreement, 0.0))
    return EditPersistence(persistence, head_strength, tail_strength, ratio, agreement, coherence)
