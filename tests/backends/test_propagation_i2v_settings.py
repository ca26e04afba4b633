"""Image-to-video settings, declared once in the backend and embedded by the build config's i2v sections."""

from __future__ import annotations

import pytest

from insvie.backends.propagation.i2v import I2VSettings, load_model
from insvie.backends.propagation.i2v.windows import drifted


def test_the_seed_is_drawn_per_item_not_configured() -> None:
    settings = I2VSettings(model="m")
    seeded = settings.seeded(5)
    assert settings.seed == 0 and seeded.seed == 5 and seeded == settings.seeded(5)
    changed = seeded.replaced(steps=3)
    assert changed.seed == 5 and changed.steps == 3 and seeded.steps == 25
    with pytest.raises(ValueError, match="seed"):
        I2VSettings(seed=1)
    with pytest.raises(ValueError, match="steps"):
        seeded.replaced(steps=0)


def test_the_steps_embed_the_backend_settings() -> None:
    from insvie.stages.animate import AnimateConfig
    from insvie.stages.propagate import I2VConfig, PropagateConfig

    backend = list(I2VSettings.model_fields)
    assert issubclass(I2VConfig, I2VSettings)
    assert list(I2VConfig.model_fields) == [
        *backend,
        "gpus",
        "batch_size",
        "max_drift",
        "max_structure_drift",
    ]
    config = PropagateConfig(backend="svd", i2v={"model": "m", "device": "cpu", "gpus": 1})
    decided = [f for f in backend if f not in ("device", "cpu_offload", "max_batch")]
    assert list(config.decision_dump()["i2v"]) == [*decided, "max_drift", "max_structure_drift"]
    with pytest.raises(ValueError, match="seed"):
        PropagateConfig(backend="svd", i2v={"model": "m", "seed": 1})
    with pytest.raises(ValueError, match="dtype"):
        AnimateConfig(i2v={"dtype": "float64"})


def test_a_model_is_needed_to_load() -> None:
    with pytest.raises(ValueError, match="model"):
        load_model("svd", I2VSettings())


def test_drift_beyond_either_limit() -> None:
    drift = {"colour": [1.0, 9.0], "structure": [0.0, 0.2]}
    assert not drifted(drift, colour=None, structure=None)
    assert drifted(drift, colour=8.0, structure=None) and not drifted(drift, colour=9.0, structure=0.2)
    assert drifted(drift, colour=None, structure=0.1)
