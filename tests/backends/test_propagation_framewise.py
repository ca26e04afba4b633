"""framewise propagation and the propagator registry."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.backends.procedural import get_operator
from insvie.backends.propagation import get_propagator, list_propagators, propagate_framewise


def clip(frames: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (frames, 24, 32, 3), dtype=np.uint8)


def test_framewise_reapplies_the_operator_to_every_frame() -> None:
    video = clip()
    op = get_operator("teal_orange")
    out = propagate_framewise(video, "teal_orange", 0.7)
    assert out.shape == video.shape and out.dtype == np.uint8
    for frame, edited in zip(video, out, strict=True):
        assert np.array_equal(edited, op.apply(frame, 0.7))
    assert np.array_equal(propagate_framewise(video, op, 0.7), out), "an Operator works as well as a name"


def test_registry_gives_one_signature_for_every_propagator() -> None:
    assert list_propagators() == ["flow_warp", "framewise", "svd", "wan"]
    video = clip(4)
    first = get_operator("warm").apply(video[0], 0.6)
    by_name = get_propagator("framewise")(video, first, operator="warm", strength=0.6)
    assert np.array_equal(by_name.video, propagate_framewise(video, "warm", 0.6))
    flowed = get_propagator("flow-warp")(video, first)
    assert flowed.video.shape == video.shape and len(flowed.diagnostics) == 4
    assert np.array_equal(flowed.video[0], first)
    with pytest.raises(ValueError, match="operator"):
        get_propagator("framewise")(video, first)
    with pytest.raises(ValueError, match="known"):
        get_propagator("i2v")
