"""The learned metrics (CLIP-T/F/directional, DINOv2, PickScore) on tiny random checkpoints, offline.

Each checkpoint is built from a tiny config and written with ``save_pretrained``, so the metrics load it
through the same ``from_pretrained`` path as the hub weights. Random weights make the scores noise; the
known answers are the ones that hold for any weights: still videos, identical pairs, and agreement with
``ClipScorer``'s own arithmetic.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from insvie.errors import ConfigError
from insvie.eval.metrics import MetricOptions, MetricUnavailable, build_metrics
from insvie.eval.sample import EvalSample, SampleFrames
from insvie.synth import generate_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SAMPLE = EvalSample(
    "s1",
    source=Path("s1.mp4"),
    instruction="make the sky red",
    source_caption="a dog under a blue sky",
    target_caption="a dog under a red sky",
)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from insvie.tiny import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "clip")


@pytest.fixture(scope="module")
def video() -> np.ndarray:
    return generate_sample(3, size=(48, 64), num_frames=9).source


def metric(name: str, **options: str):
    (built,) = build_metrics([name], MetricOptions(device="cpu", **options))
    return built


def test_clip_f_of_a_still_video_is_100_and_shuffling_lowers_it(tiny_clip: Path, video: np.ndarray) -> None:
    clip_f = metric("clip_f", clip_model=str(tiny_clip))
    still = np.repeat(video[:1], 5, axis=0)
    assert clip_f.score(SAMPLE, SampleFrames(still, still))["mean"] == pytest.approx(100.0)
    ordered = clip_f.score(SAMPLE, SampleFrames(video, video))["mean"]
    shuffled = video[[0, 8, 1, 7, 2, 6, 3, 5, 4]]
    assert clip_f.score(SAMPLE, SampleFrames(shuffled, shuffled))["mean"] < ordered
    assert clip_f.meta()["model"] == str(tiny_clip)


def test_clip_t_is_clip_scorers_text_image_cosine_x100(tiny_clip: Path, video: np.ndarray) -> None:
    from insvie.backends.clip import ClipScorer

    result = metric("clip_t", clip_model=str(tiny_clip)).score(SAMPLE, SampleFrames(video, video))
    direct = ClipScorer(tiny_clip, device="cpu").text_image_similarity([SAMPLE.target_caption], list(video))
    assert result["mean"] == pytest.approx(100 * float(direct.mean()), abs=1e-3)
    assert result["min"] == pytest.approx(100 * float(direct.min()), abs=1e-3)
    no_caption = EvalSample("s2", source=Path("s2.mp4"), instruction="x")
    with pytest.raises(MetricUnavailable, match="no target caption"):
        metric("clip_t", clip_model=str(tiny_clip)).score(no_caption, SampleFrames(video, video))


def test_clip_directional_is_zero_for_an_unchanged_video(tiny_clip: Path, video: np.ndarray) -> None:
    clip_dir = metric("clip_dir", clip_model=str(tiny_clip))
    assert clip_dir.score(SAMPLE, SampleFrames(video, video.copy()))["mean"] == 0.0
    inverted = 255 - video
    assert -1.0 <= clip_dir.score(SAMPLE, SampleFrames(video, inverted))["mean"] <= 1.0


def test_dino_consistency_of_a_still_video_is_100_and_shuffling_lowers_it(
    tiny_dino: Path, video: np.ndarray
) -> None:
    dino = metric("dino", dino_model=str(tiny_dino))
    still = np.repeat(video[:1], 4, axis=0)
    assert dino.score(SAMPLE, SampleFrames(still, still)) == pytest.approx(
        {"consecutive": 100.0, "to_first": 100.0}
    )
    ordered = dino.score(SAMPLE, SampleFrames(video, video))["consecutive"]
    shuffled = video[[0, 8, 1, 7, 2, 6, 3, 5, 4]]
    assert dino.score(SAMPLE, SampleFrames(shuffled, shuffled))["consecutive"] < ordered
    assert dino.meta() == {"model": str(tiny_dino), "revision": "unknown"}


def test_pickscore_is_the_logit_scale_times_the_clip_cosine(tiny_clip: Path, video: np.ndarray) -> None:
    frames = SampleFrames(video, video)
    pick = metric("pickscore", pickscore_model=str(tiny_clip), pickscore_processor=str(tiny_clip))
    clip_t = metric("clip_t", clip_model=str(tiny_clip)).score(SAMPLE, frames)["mean"]
    scale = math.exp(2.6592)  # CLIP's initial logit scale, log(1 / 0.07)
    assert pick.score(SAMPLE, frames)["mean"] == pytest.approx(scale * clip_t / 100, rel=1e-3)
    assert pick.meta()["processor"] == str(tiny_clip)


def test_a_missing_model_folder_is_named(tmp_path: Path, video: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="no-such-dino"):
        metric("dino", dino_model=str(tmp_path / "no-such-dino"))
    with pytest.raises(ConfigError, match="not-a-model"):
        metric("dino", dino_model="org/not-a-model").score(SAMPLE, SampleFrames(video, video))
