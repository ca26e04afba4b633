"""The propagation registry: what each backend takes of a caller's inputs, reads and records."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.backends.procedural import get_operator
from insvie.backends.propagation import (
    FlowWarpConfig,
    PropagationInputs,
    get_propagator,
    propagate_framewise,
    propagation_backend,
)
from insvie.backends.propagation.i2v import I2VSettings


def clip(frames: int = 4) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (frames, 24, 32, 3), dtype=np.uint8)


def test_each_backend_takes_its_part_of_the_inputs() -> None:
    video = clip()
    first = get_operator("warm").apply(video[0], 0.6)
    flow = FlowWarpConfig(reanchor_every=2)
    inputs = PropagationInputs(flow_warp=flow, operator="warm", strength=0.6, edit_seed=3, seed=9)
    framewise = propagation_backend("framewise")
    assert not framewise.reads_edited_frame and not framewise.image_to_video
    result = framewise.propagate(video, None, inputs)
    assert np.array_equal(result.video, propagate_framewise(video, "warm", 0.6, 3))
    assert framewise.summarize(result.diagnostics) == {}
    flow_warp = propagation_backend("flow-warp")
    assert flow_warp.reads_edited_frame and not flow_warp.image_to_video
    warped = flow_warp.propagate(video, first, inputs)
    assert np.array_equal(warped.video, get_propagator("flow_warp")(video, first, config=flow).video)
    assert set(flow_warp.summarize(warped.diagnostics)) == {"mean_fallback", "reanchored"}
    with pytest.raises(ValueError, match="operator"):
        framewise.propagate(video, None, PropagationInputs())


def test_image_to_video_backends_get_their_settings_seeded_for_the_item() -> None:
    svd = propagation_backend("svd")
    assert svd.image_to_video and svd.reads_edited_frame
    settings = I2VSettings(model="m")
    config = svd.options(PropagationInputs(i2v=settings, seed=7))["config"]
    assert config.seed == 7 and settings.seed == 0 and config.model == "m"
    diagnostics = [
        {"window": w, "colour_drift": c, "structure_drift": s}
        for w, c, s in ((0, 0.0, 0.0), (0, 1.5, 0.1), (1, 2.5, 0.2))
    ]
    assert svd.summarize(diagnostics) == {"window_drift": {"colour": [1.5, 2.5], "structure": [0.1, 0.2]}}
    with pytest.raises(ValueError, match="I2VSettings"):
        svd.propagate(clip(), clip()[0], PropagationInputs())
