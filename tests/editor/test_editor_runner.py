"""The one editor runner the CLI, the app, eval and training validation call: loading rules, the model's
recipe as defaults, frame sampling, long videos, and the source latent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from insvie.editor.runner import EditedVideo, EditorRunner, EditSettings, LoadOptions, stored_dtype  # noqa: E402
from insvie.errors import ConfigError, InsvieError  # noqa: E402
from insvie.media import probe, write_video  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = EditSettings(steps=2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from insvie.tiny import build_tiny_editor_pipeline

    return build_tiny_editor_pipeline(tmp_path_factory.mktemp("runner") / "editor")


@pytest.fixture(scope="module")
def runner(folder: Path) -> EditorRunner:
    return EditorRunner(folder)


def _clip(path: Path, frames: int, fps: float) -> Path:
    t = np.arange(frames).reshape(frames, 1, 1)
    y, x = np.mgrid[0:32, 0:48]
    video = np.stack([(x * 5 + t * 9) % 256, (y * 7 + 0 * t) % 256, (x + y + t * 3) % 256], axis=-1)
    return write_video(path, video.astype(np.uint8), fps)


def test_defaults_come_from_the_folders_recipe_and_say_so(runner: EditorRunner, folder: Path) -> None:
    recipe = str(folder / "guider" / "guider_config.json")
    lines = runner.describe(EditSettings(steps=3))
    assert lines[:4] == [
        "steps 3 (given)",
        f"text guidance 7.5 ({recipe})",
        f"video guidance 1.2 ({recipe})",
        f"schedule cosine ({recipe})",
    ]
    assert lines[4] == "sampler InsViEDPMScheduler; weights float32"  # dtype auto on the CPU


def test_a_folder_recipe_is_used_and_a_folder_without_one_samples_the_papers(
    folder: Path, tmp_path: Path
) -> None:
    custom = tmp_path / "custom"
    shutil.copytree(folder, custom)
    config = json.loads((custom / "guider" / "guider_config.json").read_text())
    config.update(guidance_scale=5.0, guidance_schedule="constant", num_inference_steps=2)
    (custom / "guider" / "guider_config.json").write_text(json.dumps(config))
    result = EditorRunner(custom).edit(np.zeros((9, 32, 48, 3), np.uint8), "x")
    assert result.sampling == {
        "num_inference_steps": 2,
        "guidance_scale": 5.0,
        "video_guidance_scale": 1.2,
        "guidance_schedule": "constant",
    }
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    shutil.rmtree(bare / "guider")
    assert EditorRunner(bare).describe()[0] == "steps 50 (the paper's recipe (built in))"


def test_an_older_folders_scheduler_is_kept_or_replaced_by_the_official_one(
    folder: Path, tmp_path: Path
) -> None:
    from diffusers import CogVideoXDDIMScheduler

    from insvie.editor.scheduler import InsViEDPMScheduler
    from insvie.editor.transformer import COGVIDEOX_SCHEDULER_CONFIG

    old = tmp_path / "old"
    shutil.copytree(folder, old)
    shutil.rmtree(old / "scheduler")
    CogVideoXDDIMScheduler(**COGVIDEOX_SCHEDULER_CONFIG).save_pretrained(old / "scheduler")
    index = json.loads((old / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "CogVideoXDDIMScheduler"]
    (old / "model_index.json").write_text(json.dumps(index))
    saved = EditorRunner(old)
    assert "not the official sampler; --sampler official uses it" in saved.describe()[4]
    assert isinstance(saved.pipe.scheduler, CogVideoXDDIMScheduler)
    official = EditorRunner(old, LoadOptions(sampler="official"))
    assert isinstance(official.pipe.scheduler, InsViEDPMScheduler)
    assert official.pipe.scheduler.config.snr_shift_scale == 3.0
    assert official.edit(np.zeros((9, 32, 48, 3), np.uint8), "x", FAST).frames.shape == (9, 32, 48, 3)


def test_the_videos_own_frames_and_rate_by_default_or_resampled(runner: EditorRunner, tmp_path: Path) -> None:
    clip = _clip(tmp_path / "clip.mp4", 9, 12.0)
    native = runner.edit(clip, "add snow", FAST)
    assert native.frames.shape == (9, 32, 48, 3) and native.fps == 12.0
    resampled = runner.edit(clip, "add snow", EditSettings(steps=2, fps=6.0))
    assert resampled.fps == 6.0 and len(resampled.frames) == 5 - 4  # 5 frames at 6 fps: 2 latent frames
    assert any("an even count" in note and "--frames 1" in note for note in resampled.notes)


def test_an_even_latent_count_is_decoded_as_the_official_code_does(runner: EditorRunner) -> None:
    result = runner.edit(np.zeros((7, 32, 48, 3), np.uint8), "x", FAST)  # 5 frames = 2 latent frames
    assert len(result.frames) == 1
    assert any("5 frames are 2 latent frames, an even count" in note for note in result.notes)


def test_a_long_video_is_edited_in_windows_or_cut(runner: EditorRunner, tmp_path: Path) -> None:
    clip = _clip(tmp_path / "long.mp4", 20, 8.0)
    steps: list[tuple[int, int]] = []
    whole = runner.edit(clip, "add snow", FAST, on_step=lambda done, total: steps.append((done, total)))
    assert whole.frames.shape == (20, 32, 48, 3) and whole.seams
    assert any("edited in 3 overlapping windows" in note for note in whole.notes)
    assert steps[-1] == (6, 6) and len(steps) == 6  # 2 steps in each of 3 windows
    first = runner.edit(clip, "add snow", EditSettings(steps=2, long_video="first"))
    assert first.frames.shape == (9, 32, 48, 3) and not first.seams
    assert "edited the first 9 of 20 frames (4k+1, at most the model's 9)" in first.notes
    some = runner.edit(clip, "add snow", EditSettings(steps=2, frames=12))
    assert len(some.frames) == 9


def test_same_seed_same_edit_and_the_source_latent_is_a_seeded_sample(runner: EditorRunner) -> None:
    video = np.random.default_rng(0).integers(0, 255, (9, 32, 48, 3), dtype=np.uint8)
    a = runner.edit(video, "x", FAST).frames
    np.testing.assert_array_equal(runner.edit(video, "x", FAST).frames, a)
    assert not np.array_equal(runner.edit(video, "x", EditSettings(steps=2, seed=1)).frames, a)
    pipe = runner.pipe
    frames = video[None]
    one = pipe.encode_video(frames, generator=torch.Generator().manual_seed(0))
    same = pipe.encode_video(frames, generator=torch.Generator().manual_seed(0))
    other = pipe.encode_video(frames, generator=torch.Generator().manual_seed(1))
    mean = pipe.encode_video(frames, source_latent="mode")
    torch.testing.assert_close(one, same, rtol=0, atol=0)
    assert not torch.allclose(one, other) and not torch.allclose(one, mean)
    torch.testing.assert_close(mean, pipe.encode_video(frames, source_latent="mode"), rtol=0, atol=0)
    assert not np.array_equal(runner.edit(video, "x", EditSettings(steps=2, source_latent="mode")).frames, a)


def test_the_whole_clip_is_encoded_in_one_pass(runner: EditorRunner) -> None:
    """diffusers batches 8 frames per encoder pass (GroupNorm statistics per batch); the official code
    encodes the clip at once, and so does the pipeline unless told otherwise."""
    from insvie.editor.vae_codec import encode_source

    pipe = runner.pipe
    video = np.random.default_rng(1).integers(0, 255, (1, 17, 32, 48, 3), dtype=np.uint8)
    passes: list[int] = []
    forward = pipe.vae.encoder.forward

    def spy(x, *args, **kwargs):
        passes.append(x.shape[2])
        return forward(x, *args, **kwargs)

    pipe.vae.encoder.forward = spy
    try:
        whole = encode_source(pipe.vae, video, device=torch.device("cpu"), source_latent="mode")
        assert passes == [17]
        passes.clear()
        batched = encode_source(
            pipe.vae, video, device=torch.device("cpu"), source_latent="mode", batched=True
        )
        assert passes == [9, 8]
    finally:
        del pipe.vae.encoder.forward
    assert whole.shape == batched.shape == (1, 5, 16, 4, 6)
    assert not torch.allclose(whole, batched)  # GroupNorm saw different frames
    assert pipe.vae.num_sample_frames_batch_size == 8  # restored


def test_loading_rules_and_clear_errors(folder: Path, tmp_path: Path) -> None:
    assert stored_dtype(folder) == "f32"
    with pytest.raises(InsvieError, match=r"cannot load the editor .*insvie tiny-models"):
        _ = EditorRunner(tmp_path / "nowhere").pipe
    with pytest.raises(ConfigError, match="no GPU here"):
        _ = EditorRunner(folder, LoadOptions(device="cpu", offload=True)).pipe
    with pytest.raises(ConfigError, match="editor dtype"):
        EditorRunner(folder, LoadOptions(dtype="int8"))
    in_memory = EditorRunner.from_pipeline(EditorRunner(folder).pipe)
    assert isinstance(in_memory.edit(np.zeros((9, 32, 48, 3), np.uint8), "x", FAST), EditedVideo)
    for settings, message in (
        (EditSettings(steps=0), "steps must be"),
        (EditSettings(text_guidance=-1), "must not be negative"),
        (EditSettings(schedule="linear"), "schedule 'linear'"),  # type: ignore[arg-type]
        (EditSettings(source_latent="median"), "source latent"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match=message):
            in_memory.edit(np.zeros((9, 32, 48, 3), np.uint8), "x", settings)
    with pytest.raises(ConfigError, match="write an instruction"):
        in_memory.edit(np.zeros((9, 32, 48, 3), np.uint8), " ", FAST)


def test_written_rate_is_the_sources(runner: EditorRunner, tmp_path: Path) -> None:
    from insvie.editor.output import write_edit_video

    result = runner.edit(_clip(tmp_path / "c.mp4", 9, 15.0), "x", FAST)
    info = probe(write_edit_video(result.frames, tmp_path / "out.mp4", fps=result.fps))
    assert info.fps == pytest.approx(15.0) and info.num_frames == 9
