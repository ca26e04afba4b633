"""Each diffusers editor loads a tiny random checkpoint folder, as it would real weights, and edits with it.

The tiny pipelines (``insvie.tiny``) are built once per session; every check runs the real diffusers
pipeline code: preprocessing, guidance, schedulers, VAE decode, our resizing, batching and seeding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from insvie.backends.image_edit import (
    GuidanceSetting,
    ImageEditor,
    candidate_records,
    default_sweep,
    make_image_editor,
)
from insvie.tiny import build_tiny_image_editors

BACKENDS = ("instruct_pix2pix", "flux_kontext", "qwen_image_edit")
STEPS = 2
INSTRUCTION = "make it snowy"


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_tiny_image_editors(tmp_path_factory.mktemp("tiny-editors"))


@pytest.fixture(scope="module")
def editors(tiny_folders: dict[str, Path]) -> dict[str, ImageEditor]:
    """One loaded editor per backend, working at the input's size (the tiny models are not 1 MP models)."""
    loaded = {}
    for name in BACKENDS:
        editor = make_image_editor(name, model=str(tiny_folders[name]), device="cpu", resolution="input")
        editor.load()
        loaded[name] = editor
    return loaded


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth gradient with a square, so the edit has structure to keep or change."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    image[height // 4 : height // 2, width // 4 : width // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
    return image


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs(a.astype(np.int16) - b).max() > 0)


@pytest.mark.parametrize("name", BACKENDS)
def test_candidates_are_input_sized_reproducible_and_follow_the_setting(
    editors: dict[str, ImageEditor], name: str
) -> None:
    editor = editors[name]
    image = _image(64, 96)
    low, high = default_sweep(2, steps=STEPS)
    first = editor.edit(image, INSTRUCTION, [low, high], seed=3)
    assert len(first) == 2
    assert all(c.shape == (64, 96, 3) and c.dtype == np.uint8 for c in first)
    assert _differ(first[0], first[1]), "text guidance 3 and 8 gave the same image"
    # Same seed, same setting: the same pixels, whether or not the other setting ran beside it (up to
    # one grey level: the sweep runs both settings in one batch, and CPU kernels round by batch size).
    again = editor.edit(image, INSTRUCTION, [high], seed=3)
    assert np.abs(again[0].astype(np.int16) - first[1]).max() <= 1


@pytest.mark.parametrize("name", BACKENDS)
def test_odd_sizes_come_back_at_the_input_size(editors: dict[str, ImageEditor], name: str) -> None:
    out = editors[name].edit(_image(60, 90, 1), INSTRUCTION, [GuidanceSetting(5.0, 1.5, STEPS)], seed=0)
    assert [c.shape for c in out] == [(60, 90, 3)]


@pytest.mark.parametrize("name", BACKENDS)
def test_repeated_settings_batch_with_their_own_seeds(editors: dict[str, ImageEditor], name: str) -> None:
    editor = editors[name]
    image = _image(64, 96, 2)
    setting = GuidanceSetting(6.0, 1.5, STEPS)
    batched = editor.edit(image, INSTRUCTION, [setting, setting], seed=11)  # one call, two generators
    assert _differ(batched[0], batched[1]), "a repeated setting must draw new noise"
    alone = editor.edit(image, INSTRUCTION, [setting], seed=12)  # the second candidate's seed, unbatched
    assert np.abs(alone[0].astype(np.int16) - batched[1]).max() <= 1  # batched kernels may round apart
    records = candidate_records(editor, [setting, setting], seed=11)
    assert [r["seed"] for r in records] == [11, 12]


def test_instruct_pix2pix_image_guidance_matters(editors: dict[str, ImageEditor]) -> None:
    editor = editors["instruct_pix2pix"]
    image = _image(64, 96)
    weak, strong = editor.edit(
        image, INSTRUCTION, [GuidanceSetting(7.0, 1.0, STEPS), GuidanceSetting(7.0, 2.5, STEPS)], seed=0
    )
    assert _differ(weak, strong)
    assert editor.effective(GuidanceSetting(7.0, None, STEPS)).image_guidance == 1.5


@pytest.mark.parametrize("name", BACKENDS)
def test_describe_records_the_model_and_the_options(
    tiny_folders: dict[str, Path], editors: dict[str, ImageEditor], name: str
) -> None:
    assert isinstance(editors[name], ImageEditor)
    info = editors[name].describe()
    assert info["backend"] == name and info["loaded"] is True
    assert info["model"] == str(tiny_folders[name].resolve())
    assert info["revision"] is None  # a plain local folder has no commit
    assert (info["dtype"], info["device"]) == ("float32", "cpu")
    assert info["scheduler"] in {"EulerAncestralDiscreteScheduler", "FlowMatchEulerDiscreteScheduler"}
    assert info["options"] == {
        "cpu_offload": False,
        "attention_slicing": False,
        "vae_tiling": False,
        "resolution": "input",
        "max_batch": None,
    }
    image_argument = "image_guidance_scale" if name == "instruct_pix2pix" else None
    assert info["guidance_arguments"]["image"] == image_argument
    records = candidate_records(editors[name], default_sweep(2, steps=STEPS), seed=5)
    assert [r["seed"] for r in records] == [5, 5]
    assert {r["image_guidance"] for r in records} == ({1.5} if image_argument else {None})


@pytest.mark.parametrize("name", BACKENDS)
def test_memory_options_are_accepted_on_cpu(tiny_folders: dict[str, Path], name: str) -> None:
    editor = make_image_editor(
        name,
        model=str(tiny_folders[name]),
        device="cpu",
        cpu_offload=True,
        attention_slicing=True,
        vae_tiling=True,
        resolution=64,
        max_batch=1,
    )
    editor.load()
    info = editor.describe()
    assert (
        info["options"]["cpu_offload"]
        and info["options"]["attention_slicing"]
        and info["options"]["vae_tiling"]
    )
    assert any("cpu_offload" in note for note in info["notes"])  # a no-op on the CPU, said so
    if name == "instruct_pix2pix":  # the UNet has sliceable attention; the others note that they do not
        assert not any("attention_slicing" in note for note in info["notes"])
    else:
        assert any("attention_slicing" in note for note in info["notes"])
    setting = GuidanceSetting(4.0, 1.5, STEPS)
    out = editor.edit(_image(48, 80), INSTRUCTION, [setting, setting], seed=0)  # max_batch=1: two calls
    assert [c.shape for c in out] == [(48, 80, 3)] * 2


def test_edit_rejects_bad_requests(editors: dict[str, ImageEditor]) -> None:
    editor = editors["instruct_pix2pix"]
    setting = [GuidanceSetting(5.0)]
    with pytest.raises(ValueError, match="uint8"):
        editor.edit(np.zeros((8, 8, 3), np.float32), INSTRUCTION, setting, seed=0)
    with pytest.raises(ValueError, match="instruction"):
        editor.edit(_image(8, 8), "  ", setting, seed=0)
    with pytest.raises(ValueError, match="settings"):
        editor.edit(_image(8, 8), INSTRUCTION, [], seed=0)
    with pytest.raises(ValueError, match="seed"):
        editor.edit(_image(8, 8), INSTRUCTION, setting, seed=-1)


def test_non_finite_output_is_an_error_not_a_black_image(editors: dict[str, ImageEditor]) -> None:
    # Qwen-Image's scheduler (shift_terminal) cannot run a single step: the pipeline returns NaN.
    with pytest.raises(RuntimeError, match="NaN"):
        editors["qwen_image_edit"].edit(_image(32, 32), INSTRUCTION, [GuidanceSetting(4.0, None, 1)], seed=0)
