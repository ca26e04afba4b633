"""The procedural editor's request helpers: sweeps, sampling, instruction matching."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.backends.procedural import (
    edit_candidates,
    get_operator,
    list_operators,
    match_instruction,
    sample_request,
    strength_sweep,
)


def test_every_phrasing_maps_back_to_its_operator() -> None:
    for name in list_operators():
        for phrase in get_operator(name).instructions:
            assert match_instruction(phrase) == name, phrase
    assert match_instruction("Add a dragon in the sky") is None


def test_strength_sweep_and_candidates() -> None:
    assert strength_sweep(4, 0.4, 1.0) == (0.4, 0.6, 0.8, 1.0)
    assert strength_sweep(1) == (1.0,)
    with pytest.raises(ValueError):
        strength_sweep(0)
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    candidates = edit_candidates(image, "warm", strength_sweep(3))
    changes = [np.abs(c.astype(int) - image).mean() for c in candidates]
    assert changes == sorted(changes) and len(set(changes)) == 3


def test_sample_request_is_seeded_and_filterable() -> None:
    first = sample_request(np.random.default_rng(5))
    assert first == sample_request(np.random.default_rng(5))
    assert first.instruction in get_operator(first.operator).instructions
    for seed in range(20):
        request = sample_request(np.random.default_rng(seed), categories=["season"], pointwise_only=True)
        op = get_operator(request.operator)
        assert op.category == "season" and op.pointwise
