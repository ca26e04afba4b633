"""Perceptual hashes: stable under re-encoding and resizing, far apart for different pictures."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_analysis_scenes import jpeg, pan, texture, tint

from insvie.backends.analysis.phash import (
    NEAR_DUPLICATE_BITS,
    Duplicate,
    clip_distance,
    clip_hash,
    duplicate_groups,
    earlier_duplicates,
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


def test_earlier_duplicates_match_the_first_kept_clip_not_the_nearest() -> None:
    a = 0x0F0F_0F0F_0F0F_0F0F
    near = a ^ 0b1111  # 4 bits from a
    nearer = near ^ 0b1  # 3 bits from a, 1 from near
    far = ~a & ((1 << 64) - 1)
    # 1 matches 0; 2 is 1 bit from the rejected 1 but compared with kept clips only, so it matches 0 too;
    # 3 is kept (far from everything); 4 is nearest to nothing kept at 0 bits but 0 comes first
    hashes = [(a,), (near,), (nearer,), (far,), (a,)]
    assert earlier_duplicates(hashes, max_bits=4) == [
        None,
        Duplicate(0, 4),
        Duplicate(0, 3),
        None,
        Duplicate(0, 0),
    ]
    assert earlier_duplicates(hashes, max_bits=3) == [None, None, Duplicate(0, 3), None, Duplicate(0, 0)]
    assert duplicate_groups(hashes, max_bits=4) == [[0, 1, 2, 4], [3]]
    # two kept clips within reach: the first kept wins over the nearer later one (5 bits against 2)
    assert earlier_duplicates([(0,), (0b111_1111,), (0b1_1111,)], max_bits=6) == [None, None, Duplicate(0, 5)]


def test_earlier_duplicates_are_not_transitive_and_skip_other_lengths() -> None:
    a = 0
    b = (1 << 8) - 1  # 8 bits from a
    c = (1 << 16) - 1  # 8 bits from b, 16 from a
    assert earlier_duplicates([(a,), (b,), (c,)], max_bits=8) == [None, Duplicate(0, 8), None]
    assert duplicate_groups([(a,), (b,), (c,)], max_bits=8) == [[0, 1], [2]]  # c joins no chain through b
    assert earlier_duplicates([(a, a), (a,), (a, a, a), (a,)]) == [None, None, None, Duplicate(1, 0)]


def test_already_kept_clips_are_not_judged_again() -> None:
    a = 0x0123_4567_89AB_CDEF
    hashes = [(a,), (a ^ 1,), (a ^ 3,)]
    assert earlier_duplicates(hashes, already_kept=2) == [None, None, Duplicate(0, 2)]
    assert earlier_duplicates(hashes, already_kept=3) == [None, None, None]
    with pytest.raises(ValueError, match="non-empty"):
        earlier_duplicates([(), ()])


def test_earlier_duplicates_follow_the_one_at_a_time_walk() -> None:
    rng = np.random.default_rng(3)
    centres = [[int(c) for c in rng.integers(0, 1 << 63, 3, dtype=np.int64)] for _ in range(40)]
    centres.append([(1 << 64) - 1] * 3)  # the top bit set: hashes are unsigned
    hashes = []
    for i in rng.integers(0, len(centres), 600):
        flips = [
            sum(1 << int(b) for b in rng.choice(64, int(rng.integers(0, 9)), replace=False)) for _ in "xyz"
        ]
        hashes.append(tuple(h ^ f for h, f in zip(centres[int(i)], flips, strict=True)))
    expected: list[Duplicate | None] = []
    kept: list[int] = []
    for i, h in enumerate(hashes):
        match = next((Duplicate(k, d) for k in kept if (d := clip_distance(hashes[k], h)) <= 10), None)
        if match is None:
            kept.append(i)
        expected.append(match)
    assert earlier_duplicates(hashes) == expected
    assert 41 < len(kept) < 400  # copies both kept (far apart) and dropped
