"""Three-branch guidance: the combination, the schedules, and the pipeline's single batched forward."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from insvie.editor.guidance import combine_guidance, guidance_scales, scheduled_scale

TRAILING_50 = [1000 - 20 * k - 1 for k in range(50)]  # CogVideoX's 50 trailing timesteps: 999 .. 19


def test_combine_guidance_formula_and_special_cases() -> None:
    rng = np.random.default_rng(0)
    uu, cu, cc = rng.normal(size=(3, 4, 5))
    got = combine_guidance(uu, cu, cc, 7.5, 1.2)
    np.testing.assert_allclose(got, uu + 1.2 * (cu - uu) + 7.5 * (cc - cu))
    np.testing.assert_allclose(combine_guidance(uu, cu, cc, 1.0, 1.0), cc)  # no guidance
    np.testing.assert_allclose(combine_guidance(uu, cu, cc, 3.0, 3.0), uu + 3.0 * (cc - uu))  # plain CFG
    # Weights sum to one: a shared offset passes through (so v, eps and x0 predictions combine alike).
    np.testing.assert_allclose(combine_guidance(uu + 2, cu + 2, cc + 2, 7.5, 1.2), got + 2)


def test_constant_schedule_is_the_given_scale() -> None:
    assert guidance_scales(7.5, 1.2, "constant", TRAILING_50) == [(7.5, 1.2)] * 50


def test_cosine_schedule_reproduces_the_original_timestep_formula() -> None:
    scales = guidance_scales(7.5, 1.2, "cosine", TRAILING_50)
    for (text, video), t in zip(scales, TRAILING_50, strict=True):
        base = (50 - t) / 50
        assert text == pytest.approx(1 + 7.5 * (1 - math.cos(math.pi * base**5)) / 2)
        assert video == pytest.approx(1 + 1.2 * (1 - math.cos(math.pi * base**5)) / 2)
    texts = [text for text, _ in scales]
    # The documented behaviour with the DDPM timestep: aliased values in [1, 1 + s], mean ~4.52.
    assert all(1.0 <= s <= 8.5 for s in texts)
    assert np.mean(texts) == pytest.approx(4.519, abs=1e-3)
    assert np.mean([v for _, v in scales]) == pytest.approx(1.563, abs=1e-3)
    assert texts[-3:] == pytest.approx([1.0, 1.0, 1.15], abs=0.01)
    assert not all(a <= b for a, b in itertools.pairwise(texts))  # not a ramp


def test_cosine_step_schedule_ramps_from_one_to_one_plus_s() -> None:
    texts = [text for text, _ in guidance_scales(7.5, 1.2, "cosine_step", TRAILING_50)]
    assert texts[0] == 1.0
    assert all(a <= b for a, b in itertools.pairwise(texts))
    assert texts[-1] == pytest.approx(8.33, abs=0.01)


def test_unknown_schedule() -> None:
    with pytest.raises(ValueError, match="unknown guidance schedule"):
        scheduled_scale(7.5, "linear", timestep=999, step_index=0, num_steps=50)  # type: ignore[arg-type]


# -- the pipeline's batched forward against three separate ones ------------------------------------

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pipe():
    from insvie.tiny import build_tiny_editor

    return build_tiny_editor(rotary=True)


def _inputs(pipe, batch: int = 2):
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(batch, 3, 16, 4, 6, generator=g)
    source = torch.randn(batch, 3, 16, 4, 6, generator=g)
    prompt, negative = pipe.encode_prompt(["add snow", "make it red"][:batch], negative_prompt="blurry")
    rotary = pipe._rotary_embeddings(32, 48, 3, torch.device("cpu"))
    return latents, source, prompt, negative, rotary


def test_batched_prediction_equals_three_sequential_branches(pipe) -> None:
    latents, source, prompt, negative, rotary = _inputs(pipe)
    t = torch.tensor(979)

    def branch(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return pipe.transformer(
            torch.cat([latents, video], dim=2), text, t.expand(2), image_rotary_emb=rotary, return_dict=False
        )[0]

    with torch.no_grad():
        uu = branch(torch.zeros_like(source), negative)
        cu = branch(source, negative)
        cc = branch(source, prompt)
        got = pipe.guided_prediction(latents, source, prompt, negative, t, 7.5, 1.2, image_rotary_emb=rotary)
    assert not torch.allclose(uu, cu) and not torch.allclose(cu, cc)  # every branch matters
    torch.testing.assert_close(got, combine_guidance(uu, cu, cc, 7.5, 1.2), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        single = pipe.guided_prediction(
            latents, source, prompt, negative, t, 1.0, 1.0, image_rotary_emb=rotary, guided=False
        )
    torch.testing.assert_close(single, cc, rtol=1e-5, atol=1e-5)


def test_each_step_runs_one_forward_of_three_times_the_batch(pipe, monkeypatch) -> None:
    batches: list[tuple[int, int]] = []
    forward = pipe.transformer.forward

    def spy(hidden_states, encoder_hidden_states, *args, **kwargs):
        batches.append((hidden_states.shape[0], encoder_hidden_states.shape[0]))
        return forward(hidden_states, encoder_hidden_states, *args, **kwargs)

    monkeypatch.setattr(pipe.transformer, "forward", spy)
    video = np.zeros((9, 32, 48, 3), np.uint8)
    pipe(
        video,
        ["a", "b"],
        num_inference_steps=3,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    )
    assert batches == [(6, 6)] * 3
    batches.clear()
    pipe(
        video,
        "a",
        num_inference_steps=2,
        guidance_scale=1.0,
        video_guidance_scale=1.0,
        guidance_schedule="constant",
        output_type="latent",
    )
    assert batches == [(1, 1)] * 2  # both scales 1: the guided prediction is the video+text branch


def test_one_pipeline_step_matches_a_direct_computation(pipe) -> None:
    """A whole one-step run: noise -> guided prediction -> scheduler step, computed by hand."""
    latents, source, prompt, negative, rotary = _inputs(pipe, batch=1)
    got = pipe(
        source_latents=source,
        prompt_embeds=prompt,
        negative_prompt_embeds=negative,
        latents=latents,
        num_inference_steps=1,
        guidance_schedule="cosine",
        output_type="latent",
        generator=torch.Generator().manual_seed(3),
    ).frames
    pipe.scheduler.set_timesteps(1)
    t = pipe.scheduler.timesteps[0]
    s_text, s_video = guidance_scales(7.5, 1.2, "cosine", [int(t)])[0]
    with torch.no_grad():
        outs = [
            pipe.transformer(torch.cat([latents, v], 2), e, t.expand(1), image_rotary_emb=rotary).sample
            for v, e in ((torch.zeros_like(source), negative), (source, negative), (source, prompt))
        ]
    noise_pred = combine_guidance(*outs, s_text, s_video)
    expected, x0 = pipe.scheduler.step(
        noise_pred, t, latents, generator=torch.Generator().manual_seed(3), return_dict=False
    )
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(expected, x0)  # one step: the last step returns the x0 prediction
