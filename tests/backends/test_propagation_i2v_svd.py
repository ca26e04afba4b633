"""SVD propagation on a tiny random SVD (diffusers' real classes): shapes, parity with diffusers'
pipeline, inversion consistency, injection, options and the propagate stage.

Tolerances (measured on this tiny model, 4 frames 32x32, 4 steps; see docs/propagation.md):
- an unchanged first frame with full injection reproduces the source latents to a relative error of
  ~3e-6 (float32 round-off) and the decoded frames to <0.01 grey levels of the VAE round trip; the
  tests allow 1e-4 and 0.5 levels;
- under guidance (3.0), the error grows as injection is reduced: relative latent error ~0 / 6.0 / 7.3 at
  injection 1.0 / 0.5 / 0.0; without the inversion correction it is ~9 whatever the injection, since a
  random model's first-order inversion does not retrace itself;
- with a changed first frame (+60 grey levels), the departure from the source shrinks with injection:
  7.1 / 6.4 / 4.7 (decoder blocks) and 7.1 / 6.0 / 0.33 (all blocks) at 0.0 / 0.5 / 1.0.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from insvie.backends.propagation import get_propagator  # noqa: E402
from insvie.backends.propagation.i2v import I2VPropagator, I2VSettings, load_model  # noqa: E402
from insvie.backends.propagation.i2v.sampler import sample  # noqa: E402
from insvie.tiny import build_tiny_svd, panning_texture  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_svd(tmp_path_factory.mktemp("svd") / "svd")


@pytest.fixture(scope="module")
def propagator(tiny_svd: Path) -> I2VPropagator:
    settings = I2VSettings(model=str(tiny_svd), num_frames=4, height=32, width=32, steps=4)
    return I2VPropagator(load_model("svd", settings), settings)


def _errors(propagator: I2VPropagator, frames: np.ndarray, edited: np.ndarray) -> tuple[float, float]:
    """Relative latent error and mean grey-level error against the source's VAE round trip."""
    latents = propagator.model.encode_video(frames)
    result = propagator.regenerate(frames, edited)
    relative = float((result.latents - latents).norm() / latents.norm())
    pixels = float(np.abs(result.frames.astype(np.float64) - propagator.model.decode(latents)).mean())
    return relative, pixels


def test_plain_sampling_matches_the_diffusers_pipeline(propagator: I2VPropagator) -> None:
    from PIL import Image

    model = propagator.model
    image = panning_texture()[0]
    noise = torch.randn(1, 4, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    reference = model.pipe(
        Image.fromarray(image),
        height=32,
        width=32,
        num_frames=4,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(propagator.settings.seed),
        latents=noise.clone(),
        output_type="latent",
    ).frames
    ours = sample(
        model, noise * model.pipe.scheduler.init_noise_sigma, model.schedule(4), model.condition(image, 4)
    )
    assert torch.allclose(ours, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_an_unchanged_frame_with_full_injection_reproduces_the_source(
    propagator: I2VPropagator, guidance: float
) -> None:
    frames = panning_texture()
    full = propagator.with_settings(feature_injection=1.0, attention_injection=1.0, guidance=guidance)
    relative, pixels = _errors(full, frames, frames[0])
    assert relative < 1e-4
    assert pixels < 0.5


def test_error_grows_as_injection_is_reduced(propagator: I2VPropagator) -> None:
    frames = panning_texture()
    errors = [
        _errors(
            propagator.with_settings(feature_injection=f, attention_injection=f, guidance=3.0),
            frames,
            frames[0],
        )
        for f in (1.0, 0.5, 0.0)
    ]
    relative = [e[0] for e in errors]
    assert relative[0] < 1e-4 < relative[1] < relative[2]
    assert errors[0][1] < errors[1][1] < errors[2][1]


def test_without_correction_a_random_model_does_not_retrace_its_inversion(propagator: I2VPropagator) -> None:
    frames = panning_texture()
    naive = propagator.with_settings(
        feature_injection=1.0, attention_injection=1.0, inversion_correction=False
    )
    assert _errors(naive, frames, frames[0])[0] > 1.0
    corrected = propagator.with_settings(feature_injection=0.0, attention_injection=0.0, guidance=1.0)
    assert _errors(corrected, frames, frames[0])[0] < 1e-4  # unguided: exact without any injection


def test_injection_pulls_an_edited_regeneration_toward_the_source(propagator: I2VPropagator) -> None:
    """With a changed first frame, more injection keeps more of the source (guided, default settings)."""
    frames = panning_texture()
    edited = np.clip(frames[0].astype(np.int16) + 60, 0, 255).astype(np.uint8)
    errors = {
        (blocks, f): _errors(
            propagator.with_settings(feature_injection=f, attention_injection=f, inject_blocks=blocks),
            frames,
            edited,
        )[0]
        for blocks in ("up", "all")
        for f in (1.0, 0.5, 0.0)
    }
    for blocks in ("up", "all"):
        assert errors[blocks, 1.0] < errors[blocks, 0.5] < errors[blocks, 0.0]
    assert errors["all", 1.0] < errors["up", 1.0]  # every block locks harder than the decoder half


def test_registry_output_has_the_source_shape_and_per_frame_diagnostics(tiny_svd: Path) -> None:
    source = panning_texture(5, 36)[:, :, :30]  # off the model grid: resized to 32x32 and back
    edited = cv2.GaussianBlur(source[0], (5, 5), 0)
    settings = I2VSettings(model=str(tiny_svd), num_frames=3, height=32, width=32, steps=2)
    result = get_propagator("svd")(source, edited, config=settings)
    assert result.video.shape == source.shape and result.video.dtype == np.uint8
    assert [d["index"] for d in result.diagnostics] == list(range(5))
    assert [d["window"] for d in result.diagnostics] == [0, 0, 0, 1, 1]
    assert [d["anchor"] for d in result.diagnostics] == [True, False, True, False, False]
    assert all(d["colour_drift"] >= 0 and d["structure_drift"] >= 0 for d in result.diagnostics)
    with pytest.raises(ValueError, match="I2VSettings"):
        get_propagator("svd")(source, edited)


def test_memory_options(propagator: I2VPropagator) -> None:
    frames = panning_texture()
    whole = propagator.regenerate(frames, frames[0])
    chunked = propagator.with_settings(decode_chunk_size=1, cpu_offload=True).regenerate(frames, frames[0])
    assert chunked.frames.shape == whole.frames.shape
    # the encoder is per frame (chunks change round-off only); offload is a no-op on CPU
    assert float((chunked.latents - whole.latents).norm() / whole.latents.norm()) < 1e-4
    # the temporal decoder mixes the frames of a chunk: smaller chunks save memory and change the frames
    assert not np.array_equal(chunked.frames, whole.frames)


def test_bfloat16_weights_keep_a_float32_ode_state(tiny_svd: Path) -> None:
    settings = I2VSettings(model=str(tiny_svd), num_frames=4, height=32, width=32, steps=2, dtype="bfloat16")
    propagator = I2VPropagator(load_model("svd", settings), settings)
    assert propagator.model.dtype == torch.bfloat16
    result = propagator.regenerate(panning_texture(), panning_texture()[0])
    assert result.latents.dtype == torch.float32 and result.frames.shape == (4, 32, 32, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_frames": 1}, "num_frames"),
        ({"feature_injection": 1.5}, "feature_injection"),
        ({"dtype": "float64"}, "dtype"),
        ({"inject_blocks": "down"}, "inject_blocks"),
    ],
)
def test_bad_settings_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        I2VSettings(model="x", **change)


def test_propagate_stage_records_drift_and_rejects_beyond_the_limit(tiny_svd: Path, tmp_path: Path) -> None:
    from PIL import Image

    from insvie.engine import StageContext, Task
    from insvie.media import write_video
    from insvie.stages.config import parse_config
    from insvie.stages.propagate import Propagate

    clip = tmp_path / "clip.mp4"
    write_video(clip, panning_texture(5), 8.0, crf=0)
    Image.fromarray(np.ascontiguousarray(panning_texture(5)[0, :, ::-1])).save(tmp_path / "edit.png")
    task = Task(
        "e1",
        "edit",
        None,
        None,
        {"instruction": "mirror"},
        parent_media=clip,
        parent_meta={"fps": 8.0},
        inputs={"edit": {"edited_frame": "edit.png"}},
    )
    i2v = {"model": str(tiny_svd), "num_frames": 3, "height": 32, "width": 32, "steps": 2, "device": "cpu"}
    for max_drift, status in ((None, "done"), (1e-6, "rejected")):
        config = parse_config({"propagate": {"backend": "svd", "i2v": {**i2v, "max_drift": max_drift}}})
        stage = Propagate(config.propagate)
        stage.setup(StageContext(tmp_path, tmp_path / "tmp"))
        (tmp_path / "tmp").mkdir(exist_ok=True)
        outcome = stage.process([task])[0]
        assert outcome.status == status
        assert len(outcome.output["window_drift"]["colour"]) == 2 and "model_revision" in outcome.output
    with pytest.raises(Exception, match=r"i2v\.model"):
        parse_config({"propagate": {"backend": "svd"}})


def test_i2v_settings_stay_out_of_the_hash_of_other_backends() -> None:
    from insvie.stages.animate import Animate, AnimateConfig
    from insvie.stages.propagate import Propagate, PropagateConfig

    flow = Propagate(PropagateConfig()).fingerprint()
    assert Propagate(PropagateConfig(i2v={"steps": 3})).fingerprint() == flow
    assert "i2v" not in PropagateConfig().decision_dump()
    svd = PropagateConfig(backend="svd", i2v={"model": "m"})
    assert Propagate(svd).fingerprint() != Propagate(svd.model_copy(update={"crf": 20})).fingerprint()
    assert (
        Propagate(svd).fingerprint()
        != Propagate(PropagateConfig(backend="svd", i2v={"model": "m", "steps": 3})).fingerprint()
    )
    assert PropagateConfig(backend="svd", i2v={"model": "m", "cpu_offload": True}).decision_dump() == (
        svd.decision_dump()
    )  # operational
    assert not {"motion", "i2v", "i2v_backend"} & set(AnimateConfig().decision_dump())
    camera = Animate(AnimateConfig()).fingerprint()
    assert Animate(AnimateConfig(i2v={"steps": 3})).fingerprint() == camera


def test_drift_limits() -> None:
    from insvie.stages.propagate import I2VConfig

    drift = {"colour": [1.0, 9.0], "structure": [0.0, 0.2]}
    assert not I2VConfig().drifted(drift)
    assert I2VConfig(max_drift=8.0).drifted(drift) and not I2VConfig(max_drift=10.0).drifted(drift)
    assert I2VConfig(max_structure_drift=0.1).drifted(drift)
    assert not I2VConfig(max_structure_drift=0.3).drifted(drift)
