"""The converted editor against tensors computed by the official InsViE SAT code.

``tests/golden/official_sat/`` holds a tiny official checkpoint (merged and LoRA layouts) and what the
official code computed with it: the raw DiT output, the denoiser's x0, the guided x0, the guidance
scales of a 50-step run and a whole 4-step sampling run with its noise draws. How they were made is in
that folder's README.md. Here the checkpoints go through ``convert_sat_checkpoint`` and the result is
sampled with insvie's own classes and defaults, float32 on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
safetensors_torch = pytest.importorskip("safetensors.torch")

from insvie.editor.guidance import guidance_scales, scheduled_scale  # noqa: E402

GOLDEN = Path(__file__).parents[1] / "golden" / "official_sat"
TOLERANCE = 1e-4  # the bar for float32; the observed differences are ~1e-6
SHAPES = json.loads((GOLDEN / "golden.json").read_text())["shapes"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    return safetensors_torch.load_file(str(GOLDEN / "tensors.safetensors"))


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CogVideoX text-to-video folder whose transformer is shaped like the golden model (config.yaml in
    the golden folder). Its tokenizer, T5 and VAE are the tiny editor's: the tests feed text embeddings
    and latents directly, as the official reference does."""
    from diffusers import CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    from insvie.tiny import build_tiny_editor

    parts = build_tiny_editor()
    t2v = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=32,
        in_channels=16,
        out_channels=16,
        time_embed_dim=32,
        text_embed_dim=SHAPES["TEXT_DIM"],
        num_layers=2,
        sample_width=SHAPES["W"],
        sample_height=SHAPES["H"],
        sample_frames=(SHAPES["T"] - 1) * 4 + 1,
        max_text_seq_length=226,
    )
    folder = tmp_path_factory.mktemp("base") / "cogvideox"
    pipe = CogVideoXPipeline(parts.tokenizer, parts.text_encoder, parts.vae, t2v, CogVideoXDDIMScheduler())
    pipe.save_pretrained(folder)
    return folder


def _converted(layout: str, base_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    from insvie.editor.pipeline import InsViEEditPipeline
    from insvie.editor.sat import convert_sat_checkpoint

    out = convert_sat_checkpoint(
        GOLDEN / layout / "mp_rank_00_model_states.pt",
        base=base_folder,
        out=tmp_path_factory.mktemp(layout) / "editor",
    )
    pipe = InsViEEditPipeline.from_pretrained(out)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module", params=["merged", "lora"])
def pipe(request, base_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    return _converted(request.param, base_folder, tmp_path_factory)


def _close(got: torch.Tensor, want: torch.Tensor) -> float:
    diff = float((got.float() - want.float()).abs().max())
    assert diff <= TOLERANCE, f"max abs difference {diff:.3g} > {TOLERANCE}"
    return diff


def test_the_checkpoint_converts_in_its_own_dtype_with_the_official_recipe(pipe) -> None:
    from insvie.editor.scheduler import InsViEDPMScheduler

    assert pipe.transformer.dtype == torch.float32  # the golden checkpoint is float32
    assert isinstance(pipe.scheduler, InsViEDPMScheduler)
    assert pipe.guider.settings()["guidance_schedule"] == "cosine"


def test_converted_transformer_output(pipe, golden) -> None:
    x, source, text = golden["x_noisy"], golden["source_latent"], golden["text_context"]
    with torch.no_grad():
        for k, t in enumerate(golden["probe_timesteps"].tolist()):
            out = pipe.transformer(torch.cat([x, source], dim=2), text, torch.tensor([t]), return_dict=False)[
                0
            ]
            _close(out, golden["dit_forward_cond"][k])


def test_denoised_and_guided_x0(pipe, golden) -> None:
    x, source, text = golden["x_noisy"], golden["source_latent"], golden["text_context"]
    table = golden["alpha_cumprod_sqrt_table"]
    torch.testing.assert_close(pipe.scheduler.alphas_cumprod_sqrt, table, rtol=0, atol=0)
    with torch.no_grad():
        for k, t in enumerate(golden["probe_timesteps"].tolist()):
            alpha = table[t]
            v = pipe.transformer(torch.cat([x, source], 2), text, torch.tensor([t]), return_dict=False)[0]
            _close(pipe.scheduler.predict_x0(v, x, alpha), golden["denoiser_cond"][k])
            # The probe ran the official 4-step guider at timestep t: step_index = 4 - t.
            s_text = scheduled_scale(7.5, "cosine", timestep=t, step_index=0, num_steps=4)
            s_video = scheduled_scale(1.2, "cosine", timestep=t, step_index=0, num_steps=4)
            assert (s_text, s_video) == (
                float(golden["probe_scale_text"][k]),
                float(golden["probe_scale_video"][k]),
            )
            guided = pipe.guided_prediction(
                x, source, text, torch.zeros_like(text), torch.tensor(t), s_text, s_video
            )
            _close(pipe.scheduler.predict_x0(guided, x, alpha), golden["guided_denoised_probe"][k])


def test_guidance_scales_of_a_50_step_run_are_the_officials_exactly(golden) -> None:
    from insvie.editor.scheduler import InsViEDPMScheduler

    table = golden["guidance_table_default_50_steps"]
    scheduler = InsViEDPMScheduler()
    scheduler.set_timesteps(50)
    assert scheduler.timesteps.tolist() == [int(t) for t in table[:, 0]]
    scales = guidance_scales(7.5, 1.2, "cosine", scheduler.timesteps.tolist())
    assert scales == [(float(s), float(v)) for s, v in table[:, 1:]]


def test_sampler_schedule_subset_rescale_and_table_snapping(golden) -> None:
    from insvie.editor.scheduler import InsViEDPMScheduler

    scheduler = InsViEDPMScheduler()
    scheduler.set_timesteps(4)
    assert scheduler.timesteps.tolist() == golden["sample_trace_timestep"].tolist()
    alphas = scheduler.sampling_alphas
    torch.testing.assert_close(alphas[:-1], golden["sample_trace_alpha_cumprod_sqrt"], rtol=0, atol=0)
    torch.testing.assert_close(alphas[1:], golden["sample_trace_next_alpha_cumprod_sqrt"], rtol=0, atol=0)
    snapped = torch.stack([scheduler.denoiser_alpha(a) for a in alphas[:-1]])
    torch.testing.assert_close(snapped, golden["sample_trace_denoiser_alpha_cumprod_sqrt"], rtol=0, atol=0)
    # The subset rescale is not the table: a(749) is 0.1072 in the sampler, 0.1047 in the table.
    assert float(alphas[1]) == pytest.approx(0.107191, abs=1e-6)
    assert float(golden["alpha_cumprod_sqrt_table"][749]) == pytest.approx(0.104718, abs=1e-6)


def test_a_whole_four_step_run_reproduces_the_official_one(pipe, golden) -> None:
    """insvie's defaults (the converted folder's recipe) with 4 steps, the official initial noise and
    the official step noises (the draws it used: 0, 2 and 4 of its 5)."""
    used = json.loads((GOLDEN / "golden.json").read_text())["step_noise_used_index"]
    trace: list[torch.Tensor] = []

    def record(_pipe, _i, _t, tensors):
        trace.append(tensors["latents"].clone())
        return tensors

    final = pipe(
        source_latents=golden["source_latent"],
        prompt_embeds=golden["text_context"],
        latents=golden["sample_init_noise"],
        step_noises=[golden["sample_step_noises"][i] for i in used],
        num_inference_steps=4,
        output_type="latent",
        callback_on_step_end=record,
    ).frames
    assert final.dtype == torch.float32
    for step, latents in enumerate(trace):
        _close(latents, golden["sample_trace_x_out"][step])
    _close(final, golden["sample_final"])


def test_a_seeded_run_draws_its_noise_in_the_official_order(pipe, golden) -> None:
    """Initial noise first, then one draw at the first step and two (the first discarded) at each
    middle step: a generator gives exactly the run whose noises are taken from it in that order."""
    shape = golden["sample_init_noise"].shape
    stream = torch.Generator().manual_seed(7)
    init = torch.randn(shape, generator=stream)
    draws = [torch.randn(shape, generator=stream) for _ in range(5)]
    common = {
        "source_latents": golden["source_latent"],
        "prompt_embeds": golden["text_context"],
        "num_inference_steps": 4,
        "output_type": "latent",
    }
    injected = pipe(latents=init, step_noises=[draws[0], draws[2], draws[4]], **common).frames
    seeded = pipe(generator=torch.Generator().manual_seed(7), **common).frames
    torch.testing.assert_close(seeded, injected, rtol=0, atol=0)
    wrong_order = pipe(latents=init, step_noises=draws[:3], **common).frames
    assert not torch.allclose(wrong_order, injected)
