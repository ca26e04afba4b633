"""Perceptual hashes of frames and clips, for finding near-duplicate sources during curation.

The frame hash is the classic 64-bit DCT pHash (Zauner 2010): luma shrunk to 32x32, 2-D DCT, the 8x8
lowest frequencies compared with their median (DC excluded from the median). Re-encoding, rescaling and
mild colour changes flip a handful of bits; different images differ in about half of the 64. A clip hash
is the tuple of frame hashes at fixed relative positions, so two clips match only if they match at the
start, middle and end (a shared opening shot alone does not make a duplicate).

Hashes are python ints (0 <= h < 2**64), which are JSON- and SQLite-friendly (store them as hex or as
signed 64-bit with :func:`to_signed`); :func:`pairwise_distances` takes them as numpy uint64 for bulk
comparison. :func:`earlier_duplicates` is the one near-duplicate decision the build's dedup steps make
(``stages/dedup.py`` only feeds it hashes in item-id order and records its answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from insvie.backends.analysis.working import check_video, shrink, to_gray

HASH_BITS = 64
DEFAULT_POSITIONS = (0.0, 0.5, 1.0)
NEAR_DUPLICATE_BITS = 10  # per-frame hamming distance at or below which frames count as the same picture

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def phash(frame: np.ndarray) -> int:
    """64-bit DCT perceptual hash of an RGB or luma frame, as a python int (first bit = lowest freq)."""
    gray = to_gray(shrink(frame, 128))  # cheap 2x halvings first; a direct 32x32 area resize is slow
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    median = np.median(low[1:])
    return int.from_bytes(np.packbits(low > median).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return bin(int(a) ^ int(b)).count("1")


def clip_hash(video: np.ndarray, positions: Sequence[float] = DEFAULT_POSITIONS) -> tuple[int, ...]:
    """Frame hashes at relative ``positions`` (0 = first frame, 1 = last) of a TxHxWx3 clip."""
    check_video(video)
    last = len(video) - 1
    for p in positions:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"positions are fractions of the clip in [0, 1], got {p}")
    return tuple(phash(video[round(p * last)]) for p in positions)


def clip_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Largest per-position hamming distance between two clip hashes of equal length."""
    if len(a) != len(b) or not a:
        raise ValueError(f"clip hashes must be non-empty and of equal length, got {len(a)} and {len(b)}")
    return max(hamming(x, y) for x, y in zip(a, b, strict=True))


def near_duplicate(a: Sequence[int], b: Sequence[int], *, max_bits: int = NEAR_DUPLICATE_BITS) -> bool:
    """True when every position of the two clip hashes is within ``max_bits`` bits."""
    return clip_distance(a, b) <= max_bits


def to_signed(h: int) -> int:
    """A 64-bit hash as the signed integer SQLite's INTEGER can store; :func:`from_signed` undoes it."""
    return h - (1 << 64) if h >= 1 << 63 else h


def from_signed(h: int) -> int:
    """Inverse of :func:`to_signed`."""
    return h + (1 << 64) if h < 0 else h


def _max_bits(xor: np.ndarray) -> np.ndarray:
    """Max-over-positions popcount of XORed uint64 codes (last axis = positions), as int32."""
    bits = _POPCOUNT8[xor.view(np.uint8)].reshape(*xor.shape, 8).sum(axis=-1, dtype=np.int32)
    return bits.max(axis=-1)


def pairwise_distances(hashes: np.ndarray) -> np.ndarray:
    """NxN max-over-positions hamming distances of N clip hashes given as an NxK uint64 array.

    Memory is N*N*K*8 bytes, fine to a few thousand clips; bigger sets want a bucketed index
    (e.g. by hash prefix) ahead of this.
    """
    codes = np.asarray(hashes, dtype=np.uint64)
    if codes.ndim == 1:
        codes = codes[:, None]
    return _max_bits(codes[:, None, :] ^ codes[None, :, :])


@dataclass(frozen=True)
class Duplicate:
    """A clip judged a repeat: ``of`` is the index of the kept clip it repeats, ``bits`` their
    :func:`clip_distance`."""

    of: int
    bits: int


class _KeptHashes:
    """The kept clip hashes of one length, in the order they were kept, as a growing uint64 array, so each
    new clip is compared with all of them in one numpy pass instead of a Python loop per pair."""

    def __init__(self, length: int) -> None:
        self.codes = np.empty((16, length), dtype=np.uint64)
        self.indices: list[int] = []

    def first_within(self, code: np.ndarray, max_bits: int) -> Duplicate | None:
        count = len(self.indices)
        if not count:
            return None
        if not code.size:
            raise ValueError("clip hashes must be non-empty and of equal length, got 0 and 0")
        bits = _max_bits(self.codes[:count] ^ code)
        hits = np.flatnonzero(bits <= max_bits)
        return Duplicate(self.indices[int(hits[0])], int(bits[hits[0]])) if hits.size else None

    def add(self, index: int, code: np.ndarray) -> None:
        count = len(self.indices)
        if count == len(self.codes):
            self.codes = np.concatenate([self.codes, np.empty_like(self.codes)])
        self.codes[count] = code
        self.indices.append(index)


def earlier_duplicates(
    hashes: Sequence[Sequence[int]], *, already_kept: int = 0, max_bits: int = NEAR_DUPLICATE_BITS
) -> list[Duplicate | None]:
    """Walk clip ``hashes`` in order and keep the first of each set of near-duplicates: the build's rule.

    Entry ``i`` is None when clip ``i`` is kept, else the *first* clip kept before it (in walk order, not
    the nearest) whose :func:`clip_distance` is at most ``max_bits``. Only kept clips are compared
    against, so a rejected copy never pulls further clips out, and clip hashes of different lengths
    never match. The first ``already_kept`` clips were kept by an earlier run and are not judged again
    (their entries are None): callers walk in a fixed order (the dedup stage: item id, kept items first)
    so that the decisions do not depend on how items were batched.
    """
    kept: dict[int, _KeptHashes] = {}  # by hash length; a clip can only match one of its own length
    result: list[Duplicate | None] = []
    for index, clip in enumerate(hashes):
        code = np.array(list(clip), dtype=np.uint64)
        if len(code) not in kept:
            kept[len(code)] = _KeptHashes(len(code))
        same_length = kept[len(code)]
        match = None if index < already_kept else same_length.first_within(code, max_bits)
        if match is None:
            same_length.add(index, code)
        result.append(match)
    return result


def duplicate_groups(
    hashes: Sequence[Sequence[int]], *, max_bits: int = NEAR_DUPLICATE_BITS
) -> list[list[int]]:
    """Indices of clips grouped as :func:`earlier_duplicates` decides: each kept clip with the clips
    rejected as its repeats, each group sorted (kept clip first), singletons kept.

    A view of the build's decision for reports; it is not transitive (a clip near a rejected copy but
    not near the kept one starts its own group), because the build compares with kept clips only.
    """
    groups: dict[int, list[int]] = {}
    for index, match in enumerate(earlier_duplicates(hashes, max_bits=max_bits)):
        groups.setdefault(index if match is None else match.of, []).append(index)
    return sorted(groups.values())
