"""The sweep sampler (one denoising loop over every candidate of a batch) against the per-call pipeline.

Every check runs the tiny random checkpoints of ``insvie.tiny`` through the real diffusers components.

Tolerance: one grey level per pixel, with almost every pixel equal. The sweep runs the same operations
as the pipeline on larger batches, and batched float32 kernels round a few ulps apart (measured: at most
~5e-6 of full scale after decoding); only a pixel that sits on a rounding boundary of the uint8
conversion can move, and then by one level. A wrong guidance formula, noise draw or timestep moves
whole images by many levels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from insvie.backends.image_edit import DiffusersEditor, GuidanceSetting, ImageEditRequest, make_image_editor
from insvie.errors import ConfigError
from insvie.tiny import build_tiny_image_editors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 2
# Qwen-Image-Edit conditions on the source at ~1 MP whatever the output size, so its tiny model is the
# slow one: its mixed-batch and two-item checks are in the slow set, a one-item equality check is not.
MIXED_BACKENDS = [
    "instruct_pix2pix",
    "flux_kontext",
    pytest.param("qwen_image_edit", marks=pytest.mark.slow),
]
BACKENDS = ("instruct_pix2pix", "flux_kontext", "qwen_image_edit")

Factory = Callable[..., DiffusersEditor]


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_tiny_image_editors(tmp_path_factory.mktemp("tiny-editors"))


@pytest.fixture(scope="module")
def editor(tiny_folders: dict[str, Path]) -> Factory:
    """A loaded editor per (backend, options), built once per module; working at the input's size."""
    cache: dict[tuple, DiffusersEditor] = {}

    def make(name: str, **options: object) -> DiffusersEditor:
        key = (name, *sorted(options.items()))
        if key not in cache:
            built = make_image_editor(
                name, model=str(tiny_folders[name]), device="cpu", resolution="input", **options
            )
            built.load()
            cache[key] = built
        return cache[key]

    return make


def _image(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth gradient with a coloured square, so the edit has structure to keep or change."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    image[height // 4 : height // 2, width // 4 : width // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
    return image


def _assert_close(actual: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> None:
    """Within one grey level, and equal almost everywhere (see the module docstring)."""
    assert [len(row) for row in actual] == [len(row) for row in expected]
    for row_a, row_e in zip(actual, expected, strict=True):
        for a, e in zip(row_a, row_e, strict=True):
            assert a.shape == e.shape and a.dtype == e.dtype == np.uint8
            difference = np.abs(a.astype(np.int16) - e)
            assert difference.max() <= 1
            assert (difference > 0).mean() < 0.005


def _requests() -> list[ImageEditRequest]:
    """Two items at one working size, with different instructions (prompt lengths) and seeds: the first
    with two guided settings in one loop, the second with guidance off (each backend's single branch)."""
    return [
        ImageEditRequest(
            _image(64, 96, 0),
            "make it snowy",
            [GuidanceSetting(6.0, 1.5, STEPS), GuidanceSetting(3.0, 2.0, STEPS)],
            3,
        ),
        ImageEditRequest(
            _image(64, 96, 1),
            "turn the square into a red circle at night",
            [GuidanceSetting(1.0, 1.0, STEPS)],
            9,
        ),
    ]


@pytest.mark.parametrize(
    ("name", "items"),
    [
        ("instruct_pix2pix", 2),
        ("flux_kontext", 2),
        ("qwen_image_edit", 1),
        pytest.param("qwen_image_edit", 2, marks=pytest.mark.slow),
    ],
)
def test_the_sweep_equals_the_per_call_pipeline(editor: Factory, name: str, items: int) -> None:
    requests = _requests()[:items]
    swept = editor(name).edit_batch(requests)
    _assert_close(swept, editor(name, sampler="pipeline").edit_batch(requests))
    strong, weak = swept[0]
    assert np.abs(strong.astype(np.int16) - weak).max() > 1, "two guidance settings gave one image"


@pytest.mark.parametrize("name", ["instruct_pix2pix", "flux_kontext"])
def test_one_candidate_is_bit_identical_to_the_pipeline_in_bfloat16(editor: Factory, name: str) -> None:
    """Alone, a candidate runs the pipeline's kernels on the pipeline's shapes, so nothing rounds apart:
    even in bfloat16 with scales bfloat16 cannot hold (4.4, 1.3), the guidance is applied as the pipeline
    applies it. (Qwen-Image-Edit stacks its two branches into one call where the pipeline makes two.)"""
    request = [ImageEditRequest(_image(64, 96, 0), "make it snowy", [GuidanceSetting(4.4, 1.3, STEPS)], 3)]
    swept = editor(name, dtype="bfloat16").edit_batch(request)
    np.testing.assert_array_equal(
        swept[0][0], editor(name, dtype="bfloat16", sampler="pipeline").edit_batch(request)[0][0]
    )


@pytest.mark.parametrize("name", MIXED_BACKENDS)
def test_a_candidate_is_the_same_alone_in_a_mixed_batch_and_in_chunks(editor: Factory, name: str) -> None:
    requests = [
        *_requests(),
        ImageEditRequest(
            _image(48, 80, 2), "add fog", [GuidanceSetting(5.0, 1.5, STEPS)] * 2, 4
        ),  # other size
        ImageEditRequest(
            _image(64, 96, 3), "make it snowy", [GuidanceSetting(4.0, 1.5, STEPS + 1)], 5
        ),  # steps
    ]
    batched = editor(name).edit_batch(requests)
    assert [[c.shape for c in row] for row in batched] == [
        [(64, 96, 3)] * 2,
        [(64, 96, 3)],
        [(48, 80, 3)] * 2,
        [(64, 96, 3)],
    ]
    alone = [editor(name).edit(*request[:3], seed=request.seed) for request in requests]
    _assert_close(batched, alone)
    repeated = batched[2]
    assert np.abs(repeated[0].astype(np.int16) - repeated[1]).max() > 1, "a repeat must draw new noise"
    # Chunks of two candidates split the first item's sweep across two loops and pair it with the second.
    _assert_close(editor(name, max_batch=2).edit_batch(requests), batched)


def test_a_plain_tuple_is_a_request_and_an_empty_batch_is_no_work(editor: Factory) -> None:
    ip2p = editor("instruct_pix2pix")
    request = _requests()[1]
    (from_tuple,), (from_request,) = ip2p.edit_batch([tuple(request)]), ip2p.edit_batch([request])
    np.testing.assert_array_equal(from_tuple[0], from_request[0])
    assert ip2p.edit_batch([]) == []


def test_a_bad_request_fails_the_batch_before_any_work(editor: Factory) -> None:
    good = _requests()[0]
    with pytest.raises(ValueError, match="seed"):
        editor("instruct_pix2pix").edit_batch(
            [good, ImageEditRequest(good.image, "add fog", good.settings, -1)]
        )


@pytest.mark.parametrize("name", BACKENDS)
def test_the_sampler_is_an_option_recorded_in_describe(tiny_folders: dict[str, Path], name: str) -> None:
    for sampler in ("sweep", "pipeline"):
        info = make_image_editor(name, model=str(tiny_folders[name]), sampler=sampler).describe()
        assert info["sampler"] == sampler
    assert make_image_editor(name, model=str(tiny_folders[name])).describe()["sampler"] == "sweep"
    with pytest.raises(ConfigError, match="sampler"):
        make_image_editor(name, model=str(tiny_folders[name]), sampler="loop")


def test_max_batch_auto_caps_loops_off_cuda_and_bad_values_are_refused(
    editor: Factory, tiny_folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from insvie.backends.image_edit import diffusers_base

    auto = editor("instruct_pix2pix", max_batch="auto")
    assert auto.loops._loop_size((64, 96)) == diffusers_base.AUTO_CANDIDATES
    assert not auto.loops._probes((64, 96))
    monkeypatch.setattr(auto.loops, "off_cuda", 2)  # three candidates: loops of 2 and 1
    requests = _requests()
    _assert_close(auto.edit_batch(requests), editor("instruct_pix2pix").edit_batch(requests))
    for bad in (0, "big", 1.5):
        with pytest.raises(ConfigError, match="max_batch"):
            make_image_editor("instruct_pix2pix", model=str(tiny_folders["instruct_pix2pix"]), max_batch=bad)
