"""The tiny checkpoint builders: real on-disk layout, small, seeded, loadable by the stock classes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from insvie.tiny import TINY_IMAGE_EDITORS

PIPELINES = {
    "instruct_pix2pix": "StableDiffusionInstructPix2PixPipeline",
    "flux_kontext": "FluxKontextPipeline",
    "qwen_image_edit": "QwenImageEditPipeline",
}
MAX_BYTES = 20 * 1024 * 1024


def _weights(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.safetensors"))}


@pytest.mark.parametrize("name", sorted(TINY_IMAGE_EDITORS))
def test_builder_writes_a_small_seeded_checkpoint_folder(tmp_path: Path, name: str) -> None:
    build = TINY_IMAGE_EDITORS[name]
    start = time.perf_counter()
    folder = build(tmp_path / "a", seed=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"{name} took {elapsed:.1f}s to build"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == PIPELINES[name]
    components = {k: v for k, v in index.items() if isinstance(v, list) and v[0] is not None}
    assert components
    for component, (library, _cls) in components.items():
        assert library in {"diffusers", "transformers"}, (component, library)  # stock classes only
        assert (folder / component).is_dir(), component
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"{name}: {size} bytes"
    weights = _weights(folder)
    assert weights, "no weights written"
    assert weights == _weights(build(tmp_path / "b", seed=0)), "same seed, different weights"
    assert weights != _weights(build(tmp_path / "c", seed=1))


@pytest.mark.parametrize("name", ["instruct_pix2pix", "flux_kontext"])
def test_stock_from_pretrained_loads_the_folder(tmp_path: Path, name: str) -> None:
    import diffusers

    folder = TINY_IMAGE_EDITORS[name](tmp_path / name)
    pipe = getattr(diffusers, PIPELINES[name]).from_pretrained(folder)
    assert type(pipe).__name__ == PIPELINES[name]
    assert pipe.tokenizer("a red car")["input_ids"]


def test_qwen_folder_has_the_real_processor_layout(tmp_path: Path) -> None:
    from insvie.backends.image_edit.qwen_processor import ImageOnlyQwen2VLProcessor

    folder = TINY_IMAGE_EDITORS["qwen_image_edit"](tmp_path / "qwen")
    index = json.loads((folder / "model_index.json").read_text())
    assert index["processor"] == ["transformers", "Qwen2VLProcessor"]
    processor_dir = folder / "processor"
    for required in ("preprocessor_config.json", "video_preprocessor_config.json", "tokenizer.json"):
        assert (processor_dir / required).is_file(), required
    processor = ImageOnlyQwen2VLProcessor.from_folder(processor_dir)
    ids = processor.tokenizer("<|vision_start|><|image_pad|><|vision_end|>hi")["input_ids"]
    assert processor.image_token_id in ids
