"""The edit step hands a whole batch of items to a model-backed editor at once (``edit_batch``): each
item's candidates are the ones it gets alone, an item whose frame cannot be read fails alone, and the
recorded seeds and guidance are the ones the editor applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")

from insvie.engine import StageContext, Task
from insvie.stages.edit import Edit, EditConfig, SweepPoint
from insvie.tiny import TINY_IMAGE_EDITORS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _task(name: str, image: Path) -> Task:
    return Task(
        name, "image_edit", None, None, {"instruction": f"make the {name} red", "source_file": str(image)}
    )


def _stage(folder: Path, root: Path, batch_size: int) -> Edit:
    config = EditConfig(
        backend="instruct_pix2pix",
        model=str(folder),
        device="cpu",
        steps=2,
        batch_size=batch_size,
        sweep=(
            SweepPoint(text_guidance=3.0, image_guidance=1.5),
            SweepPoint(text_guidance=7.5, image_guidance=1.5),
        ),
        min_change=0.0,
        min_structure=-1.0,
    )
    stage = Edit(config)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    stage.setup(StageContext(root, root / "tmp"))
    return stage


def _candidates(root: Path, outcome) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    files = outcome.files
    return [np.asarray(Image.open(files[f"candidate_{i}"])) for i in range(len(files))]


def test_a_batch_edits_every_item_as_alone_and_a_bad_item_fails_alone(tmp_path: Path) -> None:
    folder = TINY_IMAGE_EDITORS["instruct_pix2pix"](tmp_path / "ip2p", seed=0)
    rng = np.random.default_rng(0)
    images = {}
    for name in ("first", "third"):
        images[name] = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(images[name])
    tasks = [
        _task("first", images["first"]),
        _task("missing", tmp_path / "nope.png"),
        _task("third", images["third"]),
    ]
    batched = _stage(folder, tmp_path / "batched", batch_size=3)
    assert batched.batch_size == 3
    outcomes = batched.process(tasks)
    assert [o.item_id for o in outcomes] == ["first", "missing", "third"]
    assert (outcomes[1].status, outcomes[1].reason) == ("rejected", "media")  # bad input: not retried
    alone = _stage(folder, tmp_path / "alone", batch_size=1)
    for batched_outcome, task in zip([outcomes[0], outcomes[2]], [tasks[0], tasks[2]], strict=True):
        single = alone.process([task])[0]
        assert batched_outcome.output["candidates"] == single.output["candidates"]
        for a, b in zip(_candidates(tmp_path, batched_outcome), _candidates(tmp_path, single), strict=True):
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float rounding of batched kernels
    made = outcomes[0].output["candidates"]
    assert [(c["text_guidance"], c["image_guidance"], c["steps"]) for c in made] == [
        (3.0, 1.5, 2),
        (7.5, 1.5, 2),
    ]
    assert made[0]["seed"] == made[1]["seed"]  # distinct settings share the noise (candidate_seeds)
