"""Windows chained on the last edited frame, their drift measure, and the image branch with motion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from insvie.backends.propagation.i2v.windows import (
    colour_drift,
    colour_shift,
    edge_correlation,
    plan_windows,
    structure_drift,
)


@pytest.mark.parametrize(
    ("count", "size", "windows"),
    [
        (5, 3, [(0, 3), (2, 5)]),
        (25, 25, [(0, 25)]),
        (26, 25, [(0, 25), (24, 26)]),
        (49, 25, [(0, 25), (24, 49)]),
        (1, 3, [(0, 1)]),
    ],
)
def test_windows_share_one_frame(count: int, size: int, windows: list[tuple[int, int]]) -> None:
    assert plan_windows(count, size) == windows


def test_a_window_needs_two_frames() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        plan_windows(5, 1)


def test_colour_drift_measures_a_cast_creeping_in() -> None:
    rng = np.random.default_rng(0)
    source = (rng.random((24, 32, 3)) * 200).astype(np.uint8)
    edited = cv2.add(source, np.full_like(source, 30))  # the edit: brighter
    reference = colour_shift(source, edited)
    assert colour_drift(reference, source, edited) == pytest.approx(0.0)
    drifted = cv2.add(edited, np.full_like(source, (20, 0, 0)))  # a red cast on top of the edit
    assert colour_drift(reference, source, drifted) > 5.0
    assert colour_drift(reference, source, source) > 10.0  # the edit faded away


def test_structure_drift_measures_the_layout_coming_loose() -> None:
    rng = np.random.default_rng(1)
    source = cv2.resize(
        (rng.random((8, 8, 3)) * 255).astype(np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC
    )
    graded = cv2.add(source, np.full_like(source, 25))  # a colour edit keeps the layout
    aligned = edge_correlation(source, graded)
    assert aligned > 0.9
    assert structure_drift(aligned, source, graded) == 0.0
    assert structure_drift(aligned, source, np.ascontiguousarray(graded[::-1])) > 0.5  # upside down


torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from insvie.backends.propagation.i2v import I2VPropagator, I2VSettings, load_model, window_drift  # noqa: E402
from insvie.backends.propagation.i2v.animate import animate_pair  # noqa: E402
from insvie.tiny import build_tiny_svd, panning_texture  # noqa: E402

tiny_models = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def propagator(tmp_path_factory: pytest.TempPathFactory) -> I2VPropagator:
    folder = build_tiny_svd(tmp_path_factory.mktemp("svd") / "svd")
    settings = I2VSettings(model=str(folder), num_frames=3, height=32, width=32, steps=2)
    return I2VPropagator(load_model("svd", settings), settings)


@tiny_models
def test_each_window_starts_on_the_previous_windows_last_edited_frame(propagator: I2VPropagator) -> None:
    source = panning_texture(5)
    edited = cv2.GaussianBlur(source[0], (5, 5), 0)
    video, diagnostics = propagator(source, edited)
    first = propagator.regenerate(source[0:3], edited).frames
    second = propagator.regenerate(source[2:5], first[-1]).frames
    np.testing.assert_array_equal(video, np.concatenate([first, second[1:]]))
    drift = window_drift(diagnostics)
    assert len(drift) == 2 and drift[0] == diagnostics[2]["colour_drift"]


@tiny_models
def test_an_image_pair_becomes_a_video_pair_with_motion(propagator: I2VPropagator, tmp_path: Path) -> None:
    source = panning_texture(1, 32)[0]
    edited = cv2.GaussianBlur(source, (5, 5), 0)
    source_video, edited_video, diagnostics = animate_pair(propagator, source, edited, 5)
    assert source_video.shape == edited_video.shape == (5, 32, 32, 3)
    assert len(diagnostics) == 5
    assert np.abs(np.diff(source_video.astype(np.int16), axis=0)).mean() > 0  # the frames differ: motion
    again = propagator.animate(source, 5)
    np.testing.assert_array_equal(again, source_video)  # seeded
    with pytest.raises(ValueError, match="shape"):
        animate_pair(propagator, source, edited[:16], 5)


@tiny_models
def test_animate_stage_with_i2v_motion(propagator: I2VPropagator, tmp_path: Path) -> None:
    from PIL import Image

    from insvie.engine import StageContext, Task
    from insvie.media import read_frames
    from insvie.stages.animate import Animate
    from insvie.stages.config import parse_config

    source = panning_texture(1, 32)[0]
    Image.fromarray(source).save(tmp_path / "a.png")
    Image.fromarray(np.ascontiguousarray(source[:, ::-1])).save(tmp_path / "b.png")
    i2v = {"model": propagator.settings.model, "num_frames": 3, "height": 32, "width": 32, "steps": 2}
    config = parse_config(
        {"animate": {"num_frames": 5, "static_fraction": 0.0, "motion": "i2v", "i2v": i2v, "crf": 0}}
    )
    stage = Animate(config.animate)
    assert stage.resources().actor
    (tmp_path / "tmp").mkdir()
    stage.setup(StageContext(tmp_path, tmp_path / "tmp"))
    task = Task(
        "p1",
        "pair",
        None,
        None,
        {"source_image": str(tmp_path / "a.png"), "edited_image": str(tmp_path / "b.png")},
    )
    outcome = stage.process([task])[0]
    assert outcome.status == "done"
    child = outcome.children[0]
    assert (
        child.meta["camera"] == {"path": "i2v:svd"} and len(child.meta["propagation_drift"]["structure"]) == 2
    )
    assert read_frames(child.media).shape == read_frames(child.files["source_media"]).shape == (5, 32, 32, 3)
    with pytest.raises(Exception, match=r"i2v\.model"):
        parse_config({"animate": {"motion": "i2v"}})
