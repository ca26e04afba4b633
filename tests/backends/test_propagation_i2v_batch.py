"""Several clips in shared denoising loops (tiny random SVD and Wan, CPU): each clip's result is the one it
makes alone, windows are stacked only with windows of their shape, ``max_batch`` caps a loop, and the
propagate and animate steps batch their items with a bad item failing alone.

Tolerances, measured on these tiny models (float32, CPU, one thread): batched kernels round differently
from one-window ones, nothing else differs. One window batched or alone: relative latent error ~3e-5
(SVD's inversion climbs to sigma ~700), at most one grey level; the tests allow 1e-4 and one level. A
later window is conditioned on the previous window's last frame in uint8, where that level can flip, and
the random models amplify it: whole clips differ by at most 2 levels (mean ~0.03) and 0.016 Lab levels of
drift; the tests allow 3 levels, a mean of 0.1 and 0.05 of drift. Animating then propagating through
the animated video amplifies a one-level difference of the source video up to ~14 levels of the edited
one (mean ~0.7), so the edited video is compared with the propagation through the batched source.
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
from insvie.backends.propagation.i2v.animate import animate_pairs  # noqa: E402
from insvie.tiny import build_tiny_svd, build_tiny_wan_i2v, panning_texture  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def svd(tmp_path_factory: pytest.TempPathFactory) -> I2VPropagator:
    folder = build_tiny_svd(tmp_path_factory.mktemp("svd") / "svd")
    settings = I2VSettings(model=str(folder), num_frames=3, height=32, width=32, steps=2, device="cpu")
    return I2VPropagator(load_model("svd", settings), settings)


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> I2VPropagator:
    folder = build_tiny_wan_i2v(tmp_path_factory.mktemp("wan") / "wan")
    settings = I2VSettings(
        model=str(folder), num_frames=5, height=32, width=32, steps=2, prompt="a texture", device="cpu"
    )
    return I2VPropagator(load_model("wan", settings), settings)


def _clip(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A panning clip, its first frame blurred and brightened as the edit, and the clip's seed."""
    source = panning_texture(count, size, seed=seed)
    edited = np.clip(cv2.GaussianBlur(source[0], (5, 5), 0).astype(np.int16) + 30, 0, 255).astype(np.uint8)
    return source, edited, 1000 + seed


def _spy(propagator: I2VPropagator, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Record the window lengths of every loop the propagator runs."""
    loops: list[list[int]] = []
    original = propagator.regenerate_batch

    def regenerate_batch(windows):
        loops.append([len(w.frames) for w in windows])
        return original(windows)

    monkeypatch.setattr(propagator, "regenerate_batch", regenerate_batch)
    return loops


def _assert_alone_equals_batched(backend: str, propagator: I2VPropagator, clips: list, batched: list) -> None:
    for (source, edited, seed), (video, diagnostics) in zip(clips, batched, strict=True):
        alone = get_propagator(backend)(source, edited, config=propagator.settings.seeded(seed))
        assert video.shape == source.shape
        difference = np.abs(video.astype(np.int16) - alone.video)
        assert difference.max() <= 3 and difference.mean() < 0.1
        assert [(d["index"], d["window"], d["anchor"]) for d in diagnostics] == [
            (d["index"], d["window"], d["anchor"]) for d in alone.diagnostics
        ]
        for key in ("colour_drift", "structure_drift"):
            np.testing.assert_allclose(
                [d[key] for d in diagnostics], [d[key] for d in alone.diagnostics], atol=0.05
            )


def test_svd_clips_of_mixed_sizes_batched_equal_each_alone(
    svd: I2VPropagator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # windows of 3: 5 frames -> (0-3, 2-5); 4 frames at 40 px -> (0-3, 2-4); 3 frames -> (0-3)
    clips = [_clip(5, 32, 0), _clip(4, 40, 1), _clip(3, 32, 2)]
    loops = _spy(svd, monkeypatch)
    batched = svd.propagate_batch(clips)
    monkeypatch.undo()
    assert loops == [[3, 3, 3], [3], [2]]  # the first windows together; then 3 and 2 frames apart
    _assert_alone_equals_batched("svd", svd, clips, batched)


def test_windows_of_one_loop_equal_each_alone(svd: I2VPropagator) -> None:
    from insvie.backends.propagation.i2v.clips import Window

    windows = [Window(s[:3], e, seed) for s, e, seed in (_clip(3, 32, 0), _clip(3, 32, 1))]
    together = svd.regenerate_batch(windows)
    for window, result in zip(windows, together, strict=True):
        alone = svd.regenerate_batch([window])[0]
        relative = float((result.latents - alone.latents).norm() / alone.latents.norm())
        assert relative < 1e-4 and np.abs(result.frames.astype(np.int16) - alone.frames).max() <= 1
    with pytest.raises(ValueError, match="share"):
        svd.regenerate_batch([windows[0], Window(windows[1].frames[:2], windows[1].first, 0)])


def test_max_batch_caps_a_loop(svd: I2VPropagator, monkeypatch: pytest.MonkeyPatch) -> None:
    capped = svd.with_settings(max_batch=2)
    loops = _spy(capped, monkeypatch)
    capped.propagate_batch([_clip(3, 32, seed) for seed in range(3)])
    assert loops == [[3, 3], [3]]


def test_wan_windows_padded_to_the_same_frames_share_a_loop(
    wan: I2VPropagator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # windows of 5: 7 frames -> (0-5, 4-7: 3 frames); 5 -> (0-5); 6 -> (0-5, 4-6: 2 frames); 3 and 2 pad to 5
    clips = [_clip(7, 32, 0), _clip(5, 32, 1), _clip(6, 32, 2)]
    loops = _spy(wan, monkeypatch)
    batched = wan.propagate_batch(clips)
    monkeypatch.undo()
    assert loops == [[5, 5, 5], [3, 2]]
    _assert_alone_equals_batched("wan", wan, clips, batched)


def test_animated_pairs_batched_equal_each_alone(svd: I2VPropagator) -> None:
    pairs = []
    for size, seed in ((32, 0), (48, 1)):
        source, edited, clip_seed = _clip(1, size, seed)
        pairs.append((source[0], edited, clip_seed))
    batched = animate_pairs(svd, pairs, 5)
    for (source, edited, seed), (video, made, diagnostics) in zip(pairs, batched, strict=True):
        seeded = svd.settings.seeded(seed)
        alone = I2VPropagator(svd.model, seeded)
        assert video.shape == made.shape == (5, *source.shape)
        assert np.abs(video.astype(np.int16) - alone.animate(source, 5)).max() <= 1
        carried, carried_diagnostics = alone(video, edited)
        assert np.abs(made.astype(np.int16) - carried).max() <= 3
        assert len(diagnostics) == len(carried_diagnostics) == 5


# -- the steps ----------------------------------------------------------------------------------------


def _edit_task(tmp_path: Path, name: str, clip: tuple[np.ndarray, np.ndarray, int]):
    from PIL import Image

    from insvie.engine import Task
    from insvie.media import write_video

    source, edited, _ = clip
    write_video(tmp_path / f"{name}.mp4", source, 8.0, crf=0)
    Image.fromarray(edited).save(tmp_path / f"{name}.png")
    return Task(
        name,
        "edit",
        None,
        None,
        {"instruction": "blur"},
        parent_media=tmp_path / f"{name}.mp4",
        parent_meta={"fps": 8.0},
        inputs={"edit": {"edited_frame": f"{name}.png"}},
    )


def test_the_propagate_step_batches_its_items_and_a_bad_one_fails_alone(
    svd: I2VPropagator, tmp_path: Path
) -> None:
    from insvie.engine import StageContext
    from insvie.stages.config import parse_config
    from insvie.stages.propagate import Propagate

    tasks = [_edit_task(tmp_path, f"e{i}", _clip(5, 32, i)) for i in range(3)]
    (tmp_path / "e1.png").unlink()  # its edited frame is gone
    i2v = {
        "model": svd.settings.model,
        "num_frames": 3,
        "height": 32,
        "width": 32,
        "steps": 2,
        "device": "cpu",
    }
    stage = Propagate(parse_config({"propagate": {"backend": "svd", "i2v": i2v}}).propagate)
    assert stage.batch_size == 4
    (tmp_path / "tmp").mkdir()
    stage.setup(StageContext(tmp_path, tmp_path / "tmp"))
    together = stage.process(tasks)
    assert [o.status for o in together] == ["done", "failed", "done"]
    assert "No such file" in together[1].error or "e1.png" in together[1].error
    for task, outcome in zip(tasks[::2], together[::2], strict=True):
        alone = stage.process([task])[0]
        for key in ("colour", "structure"):
            np.testing.assert_allclose(
                outcome.output["window_drift"][key], alone.output["window_drift"][key], atol=0.05
            )


def test_the_animate_step_batches_its_pairs_and_an_unreadable_one_is_refused_alone(
    svd: I2VPropagator, tmp_path: Path
) -> None:
    from PIL import Image

    from insvie.engine import StageContext, Task
    from insvie.stages.animate import Animate
    from insvie.stages.config import parse_config

    tasks = []
    for i in range(3):
        source, edited, _ = _clip(1, 32, i)
        Image.fromarray(source[0]).save(tmp_path / f"s{i}.png")
        Image.fromarray(edited).save(tmp_path / f"e{i}.png")
        meta = {"source_image": str(tmp_path / f"s{i}.png"), "edited_image": str(tmp_path / f"e{i}.png")}
        tasks.append(Task(f"p{i}", "pair", None, None, meta))
    (tmp_path / "s1.png").write_bytes(b"not an image")
    i2v = {
        "model": svd.settings.model,
        "num_frames": 3,
        "height": 32,
        "width": 32,
        "steps": 2,
        "batch_size": 3,
    }
    config = parse_config({"animate": {"num_frames": 5, "static_fraction": 0.0, "motion": "i2v", "i2v": i2v}})
    stage = Animate(config.animate)
    assert stage.batch_size == 3
    (tmp_path / "tmp").mkdir()
    stage.setup(StageContext(tmp_path, tmp_path / "tmp"))
    together = stage.process(tasks)
    assert [o.status for o in together] == ["done", "rejected", "done"]
    for outcome in together[::2]:
        child = outcome.children[0]
        assert (
            child.meta["camera"] == {"path": "i2v:svd"}
            and len(child.meta["propagation_drift"]["colour"]) == 2
        )


def test_batching_is_operational_it_keeps_the_config_hash() -> None:
    from insvie.stages.animate import Animate, AnimateConfig
    from insvie.stages.propagate import Propagate, PropagateConfig

    svd = PropagateConfig(backend="svd", i2v={"model": "m"})
    other = PropagateConfig(backend="svd", i2v={"model": "m", "batch_size": 1, "max_batch": 2})
    assert Propagate(svd).fingerprint() == Propagate(other).fingerprint()
    assert (Propagate(svd).batch_size, Propagate(other).batch_size) == (4, 1)
    assert Propagate(PropagateConfig(i2v={"batch_size": 9})).batch_size == 1  # flow_warp: item by item
    moving = AnimateConfig(motion="i2v", i2v={"model": "m"})
    bigger = AnimateConfig(motion="i2v", i2v={"model": "m", "batch_size": 8, "max_batch": None})
    assert Animate(moving).fingerprint() == Animate(bigger).fingerprint()
    assert (Animate(moving).batch_size, Animate(bigger).batch_size, Animate(AnimateConfig()).batch_size) == (
        4,
        8,
        1,
    )
    with pytest.raises(ValueError, match="max_batch"):
        I2VSettings(max_batch=0)
