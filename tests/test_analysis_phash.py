"""Perceptual hashes: stable under re-encoding and resizing, far apart for different pictures."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_analysis_scenes import jpeg, pan, texture, tint

from insvie.backends.analysis.phash import (
    NEAR_DUPLICATE_BITS,
    clip_distance,
    clip_hash,
    duplicate_groups,
    from_signed,
    hamming,
    near_duplicate,
    pairwise_distances,
    phash,
    to_signed,
)

FRAME = texture(240, 360, seed=5)
OTHERS = [texture(240, 360, seed=s) for s in range(10, 16)]


def test_hash_is_a_64_bit_int_and_deterministic() -> None:
    h = phash(FRAME)
    assert isinstance(h, int)
    assert 0 <= h < 1 << 64
    assert phash(FRAME.copy()) == h
    json.dumps(h)


def test_resized_and_reencoded_copies_hash_alike() -> None:
    h = phash(FRAME)
    assert hamming(h, phash(cv2.resize(FRAME, (180, 120), interpolation=cv2.INTER_AREA))) <= 2
    assert hamming(h, phash(cv2.resize(FRAME, (720, 480), interpolation=cv2.INTER_CUBIC))) <= 2
    assert hamming(h, phash(jpeg(FRAME, 30))) <= 4
    assert hamming(h, phash(tint(FRAME, (8, 8, 8)))) <= 4


def test_different_pictures_hash_far_apart() -> None:
    distances = [hamming(phash(FRAME), phash(other)) for other in OTHERS]
    assert min(distances) > 2 * NEAR_DUPLICATE_BITS
    assert 24 < np.mean(distances) < 40  # about half of 64 bits


def test_hamming_counts_bits() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0b1011, 0b0001) == 2
    assert hamming((1 << 64) - 1, 0) == 64


def test_clip_hash_matches_a_reencoded_clip_but_not_another_clip() -> None:
    clip = pan([(i * 3, 0) for i in range(9)], size=(120, 180), seed=1)
    copy = np.stack([jpeg(f, 40) for f in clip])
    other = pan([(i * 3, 0) for i in range(9)], size=(120, 180), seed=2)
    a, b, c = clip_hash(clip), clip_hash(copy), clip_hash(other)
    assert len(a) == 3
    assert near_duplicate(a, b)
    assert not near_duplicate(a, c)
    assert clip_distance(a, c) > NEAR_DUPLICATE_BITS
    assert clip_hash(clip, positions=(0.0,)) == (phash(clip[0]),)
    with pytest.raises(ValueError, match="positions"):
        clip_hash(clip, positions=(1.5,))
    with pytest.raises(ValueError, match="equal length"):
        clip_distance(a, a[:2])


def test_signed_storage_round_trips() -> None:
    for h in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, phash(FRAME)):
        s = to_signed(h)
        assert -(1 << 63) <= s < 1 << 63
        assert from_signed(s) == h


def test_pairwise_distances_agree_with_hamming_and_groups_follow() -> None:
    hashes = [(phash(FRAME), phash(OTHERS[0])), (phash(OTHERS[1]), phash(OTHERS[2]))]
    hashes.append(tuple(phash(jpeg(f, 40)) for f in (FRAME, OTHERS[0])))  # a copy of clip 0
    table = pairwise_distances(np.array(hashes, dtype=np.uint64))
    for i in range(3):
        for j in range(3):
            assert table[i, j] == clip_distance(hashes[i], hashes[j])
    assert duplicate_groups(hashes) == [[0, 2], [1]]
    assert duplicate_groups([]) == []
    assert pairwise_distances(np.array([1, 2, 3], dtype=np.uint64))[0, 2] == 1
