"""The tiny InsViE editor pipeline end to end: inputs, batching, seeding, save/load, LoRA, output."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from insvie.editor import InsViEEditPipeline, write_edit_video  # noqa: E402
from insvie.media import probe, read_frames, write_video  # noqa: E402
from insvie.tiny import build_tiny_editor, build_tiny_editor_pipeline  # noqa: E402

STEPS = 2


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _video(frames: int = 11, height: int = 40, width: int = 64, seed: int = 0) -> np.ndarray:
    """A moving gradient with a square: structured enough that resizing and encoding mean something."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        out[t, ..., 0] = (x * 4 + t * 8) % 256
        out[t, ..., 1] = (y * 6) % 256
        out[t, ..., 2] = rng.integers(0, 60)
        out[t, 10:20, 5 + 2 * t : 15 + 2 * t] = 255
    return out


def _seed(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def pipe() -> InsViEEditPipeline:
    return build_tiny_editor()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_editor_pipeline(tmp_path_factory.mktemp("editor") / "tiny")


def test_builder_writes_a_small_loadable_folder(tmp_path: Path) -> None:
    start = time.perf_counter()
    folder = build_tiny_editor_pipeline(tmp_path / "tiny")
    assert time.perf_counter() - start < 20
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "InsViEEditPipeline"
    assert index["transformer"] == ["diffusers", "CogVideoXTransformer3DModel"]
    assert index["scheduler"] == ["insvie.editor.scheduler", "InsViEDPMScheduler"]
    guider = json.loads((folder / "guider" / "guider_config.json").read_text())
    assert guider["guidance_schedule"] == "cosine" and guider["num_inference_steps"] == 50
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024
    config = json.loads((folder / "transformer" / "config.json").read_text())
    assert config["in_channels"] == 32 and config["out_channels"] == 16


def test_edits_an_array_of_any_size_and_length(pipe: InsViEEditPipeline) -> None:
    out = pipe(
        _video(frames=11, height=40, width=64), "make it snowy", num_inference_steps=STEPS, generator=_seed()
    )
    # Resized and centre-cropped to the model's 32x48, cut to the largest 4k+1 within 11 and the model's 9.
    assert out.frames.shape == (1, 9, 32, 48, 3) and out.frames.dtype == np.uint8
    # 5 frames = 2 latent frames, an even count: the official decode drops the last latent frame.
    fewer = pipe(_video(frames=11), "x", num_frames=5, height=64, width=64, num_inference_steps=STEPS)
    assert fewer.frames.shape == (1, 1, 64, 64, 3)
    single = pipe(_video(frames=3), "x", num_inference_steps=STEPS)
    assert single.frames.shape == (1, 1, 32, 48, 3)


def test_path_array_and_pil_inputs_give_the_same_edit(pipe: InsViEEditPipeline, tmp_path: Path) -> None:
    from PIL import Image

    frames = _video(frames=9, height=32, width=48)
    path = write_video(tmp_path / "in.mp4", frames, 8, lossless=True)
    kwargs = {"num_inference_steps": STEPS, "output_type": "latent"}
    from_path = pipe(path, "x", generator=_seed(), **kwargs).frames
    from_array = pipe(read_frames(path), "x", generator=_seed(), **kwargs).frames
    from_pil = pipe([Image.fromarray(f) for f in read_frames(path)], "x", generator=_seed(), **kwargs).frames
    torch.testing.assert_close(from_path, from_array, rtol=0, atol=0)
    torch.testing.assert_close(from_pil, from_array, rtol=0, atol=0)


def test_seeded_runs_repeat_and_seeds_differ(pipe: InsViEEditPipeline) -> None:
    video = _video()
    a = pipe(video, "x", num_inference_steps=STEPS, generator=_seed(1)).frames
    b = pipe(video, "x", num_inference_steps=STEPS, generator=_seed(1)).frames
    c = pipe(video, "x", num_inference_steps=STEPS, generator=_seed(2)).frames
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_source_video_conditions_the_edit(pipe: InsViEEditPipeline) -> None:
    kwargs = {"num_inference_steps": STEPS, "output_type": "latent"}
    a = pipe(_video(seed=0), "x", generator=_seed(), **kwargs).frames
    b = pipe(255 - _video(seed=0), "x", generator=_seed(), **kwargs).frames
    assert not torch.allclose(a, b)


def test_batched_prompts_and_videos_per_prompt_expand_the_source(pipe: InsViEEditPipeline) -> None:
    videos = [_video(seed=0), _video(seed=1)[:, ::-1]]
    seen: dict[str, torch.Tensor] = {}

    def grab(_pipe, _step, _t, tensors):
        seen.update(tensors)
        return {}

    out = pipe(
        videos,
        ["add snow", "make it red"],
        num_videos_per_prompt=2,
        num_inference_steps=STEPS,
        generator=_seed(),
        source_latent="mode",
        callback_on_step_end=grab,
        callback_on_step_end_tensor_inputs=["latents", "source_latents", "prompt_embeds"],
    )
    assert out.frames.shape == (4, 9, 32, 48, 3)
    from insvie.editor.inputs import prepare_videos

    encoded = pipe.encode_video(prepare_videos(videos, 9, 32, 48), source_latent="mode")
    source = seen["source_latents"]
    assert source.shape == (4, 3, 16, 4, 6)
    for row, video_index in enumerate([0, 0, 1, 1]):  # prompt-major, like the prompt embeddings
        torch.testing.assert_close(source[row], encoded[video_index])
    prompts = seen["prompt_embeds"]
    torch.testing.assert_close(prompts[0], prompts[1])
    assert not torch.allclose(prompts[1], prompts[2])
    assert not np.array_equal(out.frames[0], out.frames[1])  # each video per prompt has its own noise

    one_video = pipe(_video(), ["a", "b", "c"], num_inference_steps=STEPS, output_type="latent").frames
    assert one_video.shape == (3, 3, 16, 4, 6)
    one_prompt = pipe(
        videos, "a", num_videos_per_prompt=3, num_inference_steps=STEPS, output_type="latent"
    ).frames
    assert one_prompt.shape == (6, 3, 16, 4, 6)
    with pytest.raises(ValueError, match="3 prompts"):
        pipe(videos, ["a", "b", "c"], num_inference_steps=STEPS)


def test_save_and_load_round_trip_reproduces_the_edit(pipe: InsViEEditPipeline, saved: Path) -> None:
    loaded = InsViEEditPipeline.from_pretrained(saved)
    loaded.set_progress_bar_config(disable=True)
    fresh = build_tiny_editor()
    video = _video()
    a = loaded(video, "add snow", num_inference_steps=STEPS, generator=_seed(5)).frames
    b = fresh(video, "add snow", num_inference_steps=STEPS, generator=_seed(5)).frames
    np.testing.assert_array_equal(a, b)
    loaded.save_pretrained(saved.parent / "again")
    again = InsViEEditPipeline.from_pretrained(saved.parent / "again")
    again.set_progress_bar_config(disable=True)
    np.testing.assert_array_equal(
        again(video, "add snow", num_inference_steps=STEPS, generator=_seed(5)).frames, a
    )


def test_lora_loads_changes_the_edit_and_fuses(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    trained = build_tiny_editor()
    trained.transformer.add_adapter(
        LoraConfig(
            r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False
        )
    )
    InsViEEditPipeline.save_lora_weights(
        tmp_path / "lora", transformer_lora_layers=get_peft_model_state_dict(trained.transformer)
    )

    pipe = build_tiny_editor()
    video = _video()
    kwargs = {"num_inference_steps": STEPS, "output_type": "latent"}
    base = pipe(video, "x", generator=_seed(), **kwargs).frames
    pipe.load_lora_weights(tmp_path / "lora")
    with_lora = pipe(video, "x", generator=_seed(), **kwargs).frames
    assert (with_lora - base).abs().max() > 1e-2
    pipe.fuse_lora()
    fused = pipe(video, "x", generator=_seed(), **kwargs).frames
    torch.testing.assert_close(fused, with_lora, rtol=1e-4, atol=1e-4)
    pipe.unfuse_lora()
    pipe.unload_lora_weights()
    torch.testing.assert_close(
        pipe(video, "x", generator=_seed(), **kwargs).frames, base, rtol=1e-4, atol=1e-4
    )


def test_output_types_and_mp4(pipe: InsViEEditPipeline, tmp_path: Path) -> None:
    video = _video()
    as_np = pipe(video, "x", num_inference_steps=STEPS, generator=_seed()).frames
    as_pil = pipe(video, "x", num_inference_steps=STEPS, generator=_seed(), output_type="pil").frames
    assert len(as_pil) == 1 and len(as_pil[0]) == 9 and as_pil[0][0].size == (48, 32)
    np.testing.assert_array_equal(np.stack([np.asarray(f) for f in as_pil[0]]), as_np[0])
    (tup,) = pipe(video, "x", num_inference_steps=STEPS, return_dict=False)
    assert tup.shape == as_np.shape
    path = write_edit_video(as_np, tmp_path / "out.mp4")
    info = probe(path)
    assert (info.width, info.height) == (48, 32) and info.num_frames == 9
    write_edit_video(as_pil[0], tmp_path / "pil.mp4", lossless=True)
    np.testing.assert_array_equal(read_frames(tmp_path / "pil.mp4"), as_np[0])


def test_rotary_editor_and_memory_options() -> None:
    pipe = build_tiny_editor(rotary=True)
    out = pipe([_video(), _video(seed=3)], ["a", "b"], num_inference_steps=STEPS, guidance_schedule="cosine")
    assert out.frames.shape == (2, 9, 32, 48, 3)
    big = _video(frames=9, height=64, width=96)
    kwargs = {"height": 64, "width": 96, "num_inference_steps": STEPS}
    plain = pipe(big, "a", generator=_seed(), **kwargs).frames
    pipe.enable_vae_slicing()
    pipe.enable_vae_tiling(tile_sample_min_height=48, tile_sample_min_width=64)
    tiled = pipe(big, "a", generator=_seed(), **kwargs).frames
    assert tiled.shape == plain.shape == (1, 9, 64, 96, 3)
    pipe.disable_vae_tiling()
    pipe.disable_vae_slicing()
    np.testing.assert_array_equal(pipe(big, "a", generator=_seed(), **kwargs).frames, plain)
    assert pipe.model_cpu_offload_seq.split("->") == ["text_encoder", "transformer", "vae"]
    assert set(pipe.model_cpu_offload_seq.split("->")) <= set(pipe.components)


def test_from_t2v_builds_an_untrained_editor_from_a_text_to_video_folder(tmp_path: Path) -> None:
    from diffusers import CogVideoXDDIMScheduler, CogVideoXPipeline

    from insvie.editor.scheduler import InsViEDPMScheduler
    from insvie.editor.transformer import COGVIDEOX_SCHEDULER_CONFIG
    from insvie.tiny import build_tiny_t2v_transformer

    parts = build_tiny_editor()
    t2v = build_tiny_t2v_transformer(seed=4)
    CogVideoXPipeline(
        tokenizer=parts.tokenizer,
        text_encoder=parts.text_encoder,
        vae=parts.vae,
        transformer=t2v,
        scheduler=CogVideoXDDIMScheduler(**COGVIDEOX_SCHEDULER_CONFIG),
    ).save_pretrained(tmp_path / "t2v")
    pipe = InsViEEditPipeline.from_t2v(tmp_path / "t2v", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    assert isinstance(pipe.scheduler, InsViEDPMScheduler)  # the official sampler over the base's schedule
    assert pipe.scheduler.config.snr_shift_scale == 3.0 and pipe.scheduler.config.beta_end == 0.012
    assert pipe.guider.config.guidance_schedule == "cosine"
    assert pipe.transformer.config.in_channels == 32
    torch.testing.assert_close(pipe.transformer.patch_embed.proj.weight[:, :16], t2v.patch_embed.proj.weight)
    assert not pipe.transformer.patch_embed.proj.weight[:, 16:].any()
    assert pipe(_video(), "a", num_inference_steps=STEPS).frames.shape == (1, 9, 32, 48, 3)


def test_cogvideox_15_style_editor_pads_latent_frames_to_its_temporal_patch() -> None:
    from insvie.editor import editor_from_t2v
    from insvie.tiny import build_tiny_t2v_transformer

    parts = build_tiny_editor()
    transformer = editor_from_t2v(build_tiny_t2v_transformer(patch_size_t=2)).eval()
    pipe = InsViEEditPipeline(parts.tokenizer, parts.text_encoder, parts.vae, transformer, parts.scheduler)
    pipe.set_progress_bar_config(disable=True)
    # 9 frames = 3 latent frames, padded to 4 for the pairs the transformer patches, then cut back.
    latents = pipe(_video(), "a", num_inference_steps=STEPS, output_type="latent").frames
    assert latents.shape == (1, 3, 16, 4, 6)
    # 5 frames = 2 latent frames (even): sampled whole, decoded without the last one as officially.
    assert pipe(_video(), "a", num_frames=5, num_inference_steps=STEPS).frames.shape == (1, 1, 32, 48, 3)


def test_model_cpu_offload_hooks_keep_the_edit() -> None:
    pytest.importorskip("accelerate")
    pipe = build_tiny_editor()
    video = _video()
    before = pipe(video, "a", num_inference_steps=STEPS, generator=_seed()).frames
    pipe.enable_model_cpu_offload(device="cpu")  # the hook machinery; on a GPU the models take turns
    np.testing.assert_array_equal(
        pipe(video, "a", num_inference_steps=STEPS, generator=_seed()).frames, before
    )


def test_invalid_requests_fail_clearly(pipe: InsViEEditPipeline) -> None:
    video = _video(frames=11)
    with pytest.raises(ValueError, match="4k\\+1"):
        pipe(video, "x", num_frames=8)
    with pytest.raises(ValueError, match="only 11 frames"):
        pipe(video, "x", num_frames=13)
    with pytest.raises(ValueError, match="multiples of 16"):
        pipe(video, "x", height=40)
    with pytest.raises(ValueError, match="output_type"):
        pipe(video, "x", output_type="mp4")
    with pytest.raises(TypeError, match="a video is"):
        pipe(42, "x")
    with pytest.raises(ValueError, match="uint8"):
        pipe(video.astype(np.float32), "x")


def test_the_sampler_state_stays_float32_whatever_the_model_dtype() -> None:
    """The official sampler keeps x in float32 while the DiT runs in float16; latents are cast only as
    the transformer's input, never rounded to the model's dtype between steps."""
    pipe = build_tiny_editor().to(dtype=torch.bfloat16)
    seen: list[torch.dtype] = []

    def grab(_pipe, _step, _t, tensors):
        seen.append(tensors["latents"].dtype)
        return tensors

    out = pipe(_video(), "x", num_inference_steps=3, output_type="latent", callback_on_step_end=grab)
    assert seen == [torch.float32] * 3 and out.frames.dtype == torch.float32


def test_step_noises_are_checked(pipe: InsViEEditPipeline) -> None:
    noise = torch.zeros(1, 3, 16, 4, 6)
    with pytest.raises(ValueError, match="3 steps add 2 noises, got 3"):
        pipe(_video(), "x", num_inference_steps=3, step_noises=[noise] * 3)


def test_the_scheduler_saves_and_loads_like_any_diffusers_scheduler(tmp_path: Path) -> None:
    from insvie.editor.scheduler import InsViEDPMScheduler

    scheduler = InsViEDPMScheduler(snr_shift_scale=2.0)
    scheduler.save_pretrained(tmp_path / "scheduler")
    loaded = InsViEDPMScheduler.from_pretrained(tmp_path / "scheduler")
    assert loaded.config.snr_shift_scale == 2.0
    torch.testing.assert_close(loaded.alphas_cumprod_sqrt, scheduler.alphas_cumprod_sqrt, rtol=0, atol=0)
    loaded.set_timesteps(4)
    assert loaded.timesteps.tolist() == [999, 749, 499, 249] and len(loaded.sampling_alphas) == 5
    with pytest.raises(ValueError, match="v-prediction"):
        InsViEDPMScheduler(prediction_type="epsilon")
    with pytest.raises(ValueError, match="not in this schedule"):
        loaded.step(torch.zeros(1, 2), 500, torch.zeros(1, 2))
