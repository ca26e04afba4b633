"""Guidance settings, sweeps, seeds, working sizes, revisions and the registry: no model weights needed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from insvie.backends.hub import resolve_revision
from insvie.backends.image_edit import (
    GuidanceSetting,
    candidate_records,
    candidate_seeds,
    default_sweep,
    list_image_editors,
    make_image_editor,
    sweep_grid,
    sweep_list,
)
from insvie.backends.image_edit.loading import check_image, to_uint8, working_size
from insvie.errors import ConfigError

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_default_sweep_is_insvie_six_over_three_to_eight() -> None:
    sweep = default_sweep()
    assert [s.text_guidance for s in sweep] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert {s.image_guidance for s in sweep} == {1.5}
    assert default_sweep(1, steps=4) == [GuidanceSetting(8.0, 1.5, 4)]
    assert [s.text_guidance for s in default_sweep(3, low=2, high=4, image_guidance=None)] == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError):
        default_sweep(0)


def test_grid_and_list_sweeps() -> None:
    grid = sweep_grid([3, 5], [1.0, 2.0], steps=10)
    assert [(s.text_guidance, s.image_guidance) for s in grid] == [(3, 1), (3, 2), (5, 1), (5, 2)]
    assert all(s.steps == 10 for s in grid)
    assert sweep_list([(4, None), 6]) == [GuidanceSetting(4.0, None), GuidanceSetting(6.0, 1.5)]
    with pytest.raises(ValueError):
        sweep_list([])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text_guidance": -1},
        {"text_guidance": float("nan")},
        {"text_guidance": "7"},
        {"text_guidance": 7, "image_guidance": -0.5},
        {"text_guidance": 7, "steps": 0},
        {"text_guidance": 7, "steps": 2.5},
    ],
)
def test_guidance_setting_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        GuidanceSetting(**kwargs)


def test_setting_is_frozen_hashable_and_serialisable() -> None:
    setting = GuidanceSetting(7, 1.5, 20)
    assert setting == GuidanceSetting(7.0, 1.5, 20) and len({setting, GuidanceSetting(7.0, 1.5, 20)}) == 1
    assert setting.as_dict() == {"text_guidance": 7.0, "image_guidance": 1.5, "steps": 20}
    with pytest.raises(AttributeError):
        setting.steps = 3  # type: ignore[misc]


def test_candidate_seeds_depend_only_on_repeats() -> None:
    a, b = GuidanceSetting(3), GuidanceSetting(8)
    assert candidate_seeds([a, b, a, a, b], 100) == [100, 100, 101, 102, 101]
    # A candidate's seed does not depend on the other settings or their order.
    assert candidate_seeds([b, a], 7) == [7, 7]


def test_working_size_rounds_to_the_grid_and_keeps_aspect() -> None:
    assert working_size(64, 96, 8) == (64, 96)
    assert working_size(60, 90, 16) == (64, 96)
    assert working_size(60, 90, 8) == (64, 88)
    assert working_size(480, 720, 16, 1024 * 1024) == (832, 1248)
    assert working_size(5, 3, 16) == (16, 16)
    with pytest.raises(ValueError):
        working_size(0, 10, 8)


def test_check_image_and_uint8_conversion() -> None:
    image = np.zeros((4, 5, 3), np.uint8)
    assert check_image(image) is not None
    for bad in (np.zeros((4, 5), np.uint8), np.zeros((4, 5, 4), np.uint8), np.zeros((4, 5, 3), np.float32)):
        with pytest.raises(ValueError):
            check_image(bad)
    assert to_uint8(np.array([-0.2, 0.0, 0.5, 1.0, 1.3])).tolist() == [0, 0, 128, 255, 255]


def test_revision_of_local_folders_and_hub_ids(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "model_index.json").write_text("{}")
    assert resolve_revision(str(plain), None) is None
    pinned = tmp_path / "pinned"
    pinned.mkdir()
    (pinned / "model_index.json").write_text(json.dumps({"_commit_hash": SHA}))
    assert resolve_revision(str(pinned), None) == SHA
    snapshot = tmp_path / "models--org--name" / "snapshots" / SHA
    snapshot.mkdir(parents=True)
    assert resolve_revision(str(snapshot), None) == SHA
    # A hub id the cache does not hold: the requested revision, as given (None when none was asked).
    assert resolve_revision("insvie-test/not-cached", None) is None
    assert resolve_revision("insvie-test/not-cached", "v1.0") == "v1.0"
    assert resolve_revision("insvie-test/not-cached", SHA) == SHA


def test_registry_names_and_errors(tmp_path: Path) -> None:
    assert list_image_editors() == ["flux_kontext", "instruct_pix2pix", "qwen_image_edit"]
    with pytest.raises(ConfigError, match="instruct_pix2pix"):
        make_image_editor("dall-e", model="x")
    with pytest.raises(ConfigError, match="dtype"):
        make_image_editor("instruct_pix2pix", model=str(tmp_path), dtype="float8")
    with pytest.raises(ConfigError, match="resolution"):
        make_image_editor("flux_kontext", model=str(tmp_path), resolution=4)
    with pytest.raises(ConfigError, match="guidance"):
        make_image_editor("instruct_pix2pix", model=str(tmp_path), guidance=3)  # no such option
    with pytest.raises(ConfigError, match="max_batch"):
        make_image_editor("qwen_image_edit", model=str(tmp_path), max_batch=0)


def test_construction_is_cheap_and_records_choices(tmp_path: Path) -> None:
    editor = make_image_editor("flux_kontext", model=str(tmp_path), device="cpu")
    info = editor.describe()
    assert info["loaded"] is False and info["scheduler"] is None
    assert info["model"] == str(tmp_path.resolve()) and info["revision"] is None
    assert (info["device"], info["dtype"]) == ("cpu", "float32")
    assert info["options"]["resolution"] == 1024
    records = candidate_records(editor, [GuidanceSetting(3, 1.5, 4), GuidanceSetting(3, 2.0, 4)], seed=9)
    # Kontext has no image guidance: both settings are the same candidate, so the second gets new noise.
    assert records == [
        {"text_guidance": 3.0, "image_guidance": None, "steps": 4, "seed": 9},
        {"text_guidance": 3.0, "image_guidance": None, "steps": 4, "seed": 10},
    ]


def test_loading_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    editor = make_image_editor("instruct_pix2pix", model=str(tmp_path / "nowhere"), device="cpu")
    with pytest.raises(ConfigError, match="cannot load"):
        editor.load()
