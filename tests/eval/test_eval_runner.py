"""The evaluation runner: decoding, per-sample errors, resuming after a crash, and editor predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from insvie.eval.bench import read_benchmark
from insvie.eval.frames import DecodeOptions, decode_sample
from insvie.eval.metrics import PSNR_CAP, build_metrics
from insvie.eval.predictions import (
    EditorPredictions,
    FolderPredictions,
    ManifestPredictions,
    PredictionMissing,
)
from insvie.eval.runner import SAMPLE_ERROR, SCORES_FILE, evaluate, read_scores
from insvie.media import read_frames, write_video
from insvie.synth import write_synth_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "synth"
    write_synth_dataset(folder, 4, 0, size=(32, 48), num_frames=9, lossless=True)
    return folder


@pytest.fixture
def predictions(synth: Path, tmp_path: Path) -> Path:
    """synth-00000: the exact edit; 00001: the source unchanged; 00002: missing; 00003: not a video."""
    folder = tmp_path / "pred"
    folder.mkdir()
    shutil.copy(synth / "edited" / "synth-00000.mp4", folder / "synth-00000.mp4")
    shutil.copy(synth / "source" / "synth-00001.mp4", folder / "synth-00001.mov")
    (folder / "synth-00003.mp4").write_bytes(b"not a video at all")
    return folder


def test_decode_resizes_and_cuts_to_the_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    source = write_video(tmp_path / "s.mp4", rng.integers(0, 255, (9, 32, 48, 3), dtype=np.uint8), 8)
    edited = write_video(tmp_path / "e.mp4", rng.integers(0, 255, (12, 64, 96, 3), dtype=np.uint8), 8)
    from PIL import Image

    mask = np.zeros((16, 24), np.uint8)
    mask[:8] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    frames = decode_sample(source, edited, DecodeOptions(max_frames=7), mask=tmp_path / "m.png", seams=(3, 8))
    assert frames.source.shape == frames.edited.shape == (7, 32, 48, 3)
    assert frames.mask.shape == (7, 32, 48) and frames.mask[:, :16].all() and not frames.mask[:, 16:].any()
    assert frames.seams == (3,)


def test_an_edit_of_another_aspect_is_compared_with_the_sources_centre_crop(tmp_path: Path) -> None:
    source = np.zeros((5, 32, 64, 3), np.uint8)
    source[:, :, 16:48] = 200  # the centre square is bright, the sides dark
    mask = np.zeros((5, 32, 64, 3), np.uint8)
    mask[:, :, :16] = 255  # only the left side may change
    paths = [write_video(tmp_path / f"{n}.mp4", v, 8, lossless=True) for n, v in (("s", source), ("m", mask))]
    edited = write_video(tmp_path / "e.mp4", np.full((5, 48, 48, 3), 200, np.uint8), 8, lossless=True)
    frames = decode_sample(paths[0], edited, DecodeOptions(), mask=paths[1])
    assert frames.source.shape == frames.edited.shape == (5, 32, 32, 3)
    assert (frames.source == 200).all() and not frames.mask.any()


class FlakyMetric:
    """Fails on its first call (a judge endpoint timing out), then scores."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, sample, frames) -> dict[str, float]:
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError("endpoint did not answer")
        return {"value": 1.0}

    def meta(self) -> dict[str, str]:
        return {}


def test_a_failed_metric_is_retried_but_a_declined_one_is_not(
    synth: Path, predictions: Path, tmp_path: Path
) -> None:
    samples, flaky = read_benchmark(synth)[:1], FlakyMetric()
    (first,) = evaluate(samples, [flaky, *build_metrics(["seam"])], tmp_path, FolderPredictions(predictions))
    assert first.errors == {"flaky": "failed: TimeoutError: endpoint did not answer"}
    assert list(first.declined) == ["seam"]
    (again,) = evaluate(samples, [flaky, *build_metrics(["seam"])], tmp_path, FolderPredictions(predictions))
    assert again.scores == {"flaky.value": 1.0} and not again.errors and flaky.calls == 2
    assert list(again.declined) == ["seam"]


def test_scores_each_sample_and_records_bad_ones_by_name(
    synth: Path, predictions: Path, tmp_path: Path
) -> None:
    samples = read_benchmark(synth)
    rows = evaluate(
        samples, build_metrics(["gt", "preserve", "motion"]), tmp_path / "r", FolderPredictions(predictions)
    )
    by_id = {row.sample_id: row for row in rows}
    exact, identity = by_id["synth-00000"], by_id["synth-00001"]
    assert exact.scores["gt.psnr"] == PSNR_CAP and exact.scores["gt.ssim"] == pytest.approx(1.0)
    assert identity.scores["gt.psnr"] < 40 and identity.edited.endswith("synth-00001.mov")
    assert identity.scores["preserve.psnr"] == PSNR_CAP or "preserve" in identity.declined
    assert "no prediction" in by_id["synth-00002"].errors[SAMPLE_ERROR]
    assert "synth-00002" in by_id["synth-00002"].errors[SAMPLE_ERROR]
    assert by_id["synth-00003"].errors[SAMPLE_ERROR].startswith("sample synth-00003: ")
    assert not by_id["synth-00003"].scores
    assert len((tmp_path / "r" / SCORES_FILE).read_text().splitlines()) == 4


def test_a_rerun_skips_finished_samples_and_adds_only_new_metrics(
    synth: Path, predictions: Path, tmp_path: Path
) -> None:
    samples, out = read_benchmark(synth), tmp_path / "r"
    first = evaluate(samples, build_metrics(["gt"]), out, FolderPredictions(predictions))
    lines = (out / SCORES_FILE).read_text()
    again = evaluate(samples, build_metrics(["gt"]), out, FolderPredictions(predictions))
    assert (out / SCORES_FILE).read_text() == lines  # nothing rescored, nothing appended
    assert [r.scores for r in again] == [r.scores for r in first]
    more = evaluate(samples, build_metrics(["gt", "warp"]), out, FolderPredictions(predictions))
    assert more[0].scores["gt.psnr"] == first[0].scores["gt.psnr"] and "warp.ratio" in more[0].scores
    assert len((out / SCORES_FILE).read_text().splitlines()) == 6  # the two good samples gained warp


class ModelMetric:
    """Scores with a named model, as a CLIP or judge metric does; records what served it."""

    name = "model"

    def __init__(self, model: str, served: str) -> None:
        self.model, self.served, self.calls = model, served, 0

    def score(self, sample, frames) -> dict[str, float]:
        self.calls += 1
        return {"value": float(len(self.model))}

    def meta(self) -> dict[str, str]:
        return {"model": self.model, "served_by": self.served}


def test_a_metric_whose_model_changed_is_scored_again(synth: Path, predictions: Path, tmp_path: Path) -> None:
    samples, folder = read_benchmark(synth)[:2], FolderPredictions(predictions)
    evaluate(samples, [ModelMetric("clip-b", "v1"), *build_metrics(["gt"])], tmp_path, folder)
    same = ModelMetric("clip-b", "v2")  # only the served version differs: nothing to redo
    evaluate(samples, [same, *build_metrics(["gt"])], tmp_path, folder)
    assert same.calls == 0
    other = ModelMetric("clip-large", "v1")
    rows = evaluate(samples, [other, *build_metrics(["gt"])], tmp_path, folder)
    assert other.calls == 2
    assert [r.scores["model.value"] for r in rows] == [10.0, 10.0]
    assert all(r.meta["model"]["model"] == "clip-large" and "gt.psnr" in r.scores for r in rows)


def test_predictions_in_a_folder_per_sample(synth: Path, tmp_path: Path) -> None:
    """EditVerseBench writes results/<id>/generate.mp4; a folder of two unnamed videos is ambiguous."""
    sample_a, sample_b = read_benchmark(synth)[:2]
    for sample, names in ((sample_a, ("generate.mp4", "source.mp4")), (sample_b, ("a.mp4", "b.mp4"))):
        (tmp_path / sample.sample_id).mkdir()
        for name in names:
            shutil.copy(sample.source, tmp_path / sample.sample_id / name)
    folder = FolderPredictions(tmp_path)
    assert folder.get(sample_a).path == tmp_path / sample_a.sample_id / "generate.mp4"
    with pytest.raises(PredictionMissing, match="holds 2 videos"):
        folder.get(sample_b)


def test_a_torn_last_line_loses_only_that_sample(synth: Path, predictions: Path, tmp_path: Path) -> None:
    samples, out = read_benchmark(synth)[:2], tmp_path / "r"
    evaluate(samples, build_metrics(["gt"]), out, FolderPredictions(predictions))
    text = (out / SCORES_FILE).read_text().splitlines()
    (out / SCORES_FILE).write_text(text[0] + "\n" + text[1][: len(text[1]) // 2])  # kill -9 mid-write
    assert list(read_scores(out / SCORES_FILE)) == ["synth-00000"]
    rows = evaluate(samples, build_metrics(["gt"]), out, FolderPredictions(predictions))
    assert [row.sample_id for row in rows] == ["synth-00000", "synth-00001"]
    assert set(read_scores(out / SCORES_FILE)) == {"synth-00000", "synth-00001"}


def test_a_sample_without_prediction_names_the_fix(synth: Path, tmp_path: Path) -> None:
    (row,) = evaluate(read_benchmark(synth)[:1], build_metrics(["gt"]), tmp_path, ManifestPredictions())
    assert "--predictions DIR or --model M" in row.errors[SAMPLE_ERROR]


def test_the_tiny_editor_predicts_and_long_videos_get_seams(tmp_path: Path) -> None:
    from insvie.tiny import build_tiny_editor_pipeline

    editor = build_tiny_editor_pipeline(tmp_path / "editor")
    bench = tmp_path / "synth"
    write_synth_dataset(bench, 2, 1, size=(32, 48), num_frames=13, lossless=True)
    samples = read_benchmark(bench)
    from insvie.editor.runner import EditSettings, LoadOptions

    settings = EditSettings(steps=2, height=32, width=48)
    load = LoadOptions(device="cpu")
    editor_predictions = EditorPredictions(str(editor), tmp_path / "out" / "predictions", settings, load)
    rows = evaluate(samples, build_metrics(["gt", "seam"]), tmp_path / "out", editor_predictions)
    for row in rows:
        assert Path(row.edited).is_file() and "gt.psnr" in row.scores
        assert row.scores["seam.count"] >= 1  # 13 frames in windows of the tiny model's 9
        seams = json.loads(Path(row.edited).with_suffix(".json").read_text())["seams"]
        assert len(read_frames(row.edited)) == 13 and seams
    # A rerun reuses the predictions without loading the editor.
    again = EditorPredictions(
        str(tmp_path / "no-editor-here"), tmp_path / "out" / "predictions", settings, load
    )
    assert [r.scores for r in evaluate(samples, build_metrics(["gt", "seam"]), tmp_path / "out", again)] == [
        r.scores for r in rows
    ]
