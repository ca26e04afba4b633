"""split measures and encodes a source's clips on threads while the next source decodes: the outcomes
must be those of splitting each source alone, and one bad source must not take the others with it."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

import insvie.stages.split as split_module
from insvie.backends.analysis.working import opencv_threads
from insvie.engine import Outcome, StageContext, Task
from insvie.stages.split import Split, SplitConfig

SMALL = {"clip_frames": 9, "max_side": 128, "clips_per_shot": 2, "min_width": 64, "min_height": 64}


def _sources(shared_media: Path, tmp_path: Path) -> list[Task]:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    names = ["horse_gallop.mp4", "cat_grass.mp4", broken, "car_dirt_road.mp4"]
    paths = [name if isinstance(name, Path) else shared_media / name for name in names]
    return [Task(f"video-{i}", "video", None, str(path), {}) for i, path in enumerate(paths)]


def _split(config: SplitConfig, root: Path, batches: list[list[Task]]) -> dict[str, Outcome]:
    (root / "tmp").mkdir(parents=True)
    stage = Split(config)
    stage.setup(StageContext(root, root / "tmp"))
    return {outcome.item_id: outcome for batch in batches for outcome in stage.process(batch)}


def _comparable(outcome: Outcome) -> tuple:
    children = [(c.id, c.meta, None if c.media is None else c.media.read_bytes()) for c in outcome.children]
    return outcome.status, outcome.output, children


@pytest.mark.parametrize("store_clips", ["eager", "lazy"])
def test_a_batch_on_threads_splits_as_each_source_alone(tmp_path: Path, shared_media: Path, store_clips: str):
    tasks = _sources(shared_media, tmp_path)
    threaded = SplitConfig(**SMALL, store_clips=store_clips, threads=2)
    together = _split(threaded, tmp_path / "together", [tasks])
    alone = _split(threaded.model_copy(update={"threads": 1}), tmp_path / "alone", [[t] for t in tasks])
    assert set(together) == {task.item_id for task in tasks}
    for item_id, outcome in together.items():
        assert _comparable(outcome) == _comparable(alone[item_id]), item_id
    broken = together["video-2"]
    assert broken.status == "rejected" and "not a recognisable video" in broken.output["error"]
    done = [o for o in together.values() if o.status == "done"]
    assert len(done) == 3 and all(len(o.children) == 2 for o in done)
    assert all((child.media is not None) == (store_clips == "eager") for o in done for child in o.children)


def test_a_clip_that_fails_on_its_thread_fails_its_source_only(
    tmp_path: Path, shared_media: Path, monkeypatch: pytest.MonkeyPatch
):
    measure, calls, lock = split_module._measure, [], threading.Lock()

    def first_measure_fails(frames: list[np.ndarray]):
        with lock:
            calls.append(len(frames))
            first = len(calls) == 1
        if first:  # the clip threads take jobs in order: this is the first source's first clip
            raise RuntimeError("measuring went wrong")
        return measure(frames)

    monkeypatch.setattr(split_module, "_measure", first_measure_fails)
    tasks = [t for t in _sources(shared_media, tmp_path) if "broken" not in (t.source or "")]
    outcomes = _split(SplitConfig(**SMALL), tmp_path / "ds", [tasks])
    failed = outcomes[tasks[0].item_id]
    assert failed.status == "failed" and "RuntimeError: measuring went wrong" in (failed.error or "")
    assert [outcomes[t.item_id].status for t in tasks[1:]] == ["done", "done"]


def test_threads_and_batch_size_are_operational_and_declared():
    base = Split(SplitConfig())
    other = Split(SplitConfig(threads=3, batch_size=7))
    assert other.fingerprint() == base.fingerprint()  # where and how fast, never what
    assert (other.batch_size, other.resources().cpus) == (7, 3)
    assert (base.batch_size, base.resources().cpus) == (4, 2)


def test_opencv_threads_are_restored_after_the_block():
    before = cv2.getNumThreads()
    with pytest.raises(ValueError), opencv_threads(1):
        assert cv2.getNumThreads() == 1
        raise ValueError("the block fails")
    assert cv2.getNumThreads() == before


def test_a_long_source_is_decoded_once_more_for_all_its_clips(
    tmp_path: Path, shared_media: Path, monkeypatch: pytest.MonkeyPatch
):
    """Past ``_KEEP_FRAMES`` split keeps only thumbnails, then decodes the source one more time, from
    its first clip to the end of its last (not once per clip, each time from the start): the clips
    are those of a source held in memory."""
    tasks = [Task("video-0", "video", None, str(shared_media / "horse_gallop.mp4"), {})]
    held = _split(SplitConfig(**{**SMALL, "clips_per_shot": 3}), tmp_path / "held", [tasks])
    decodes = []
    decode = split_module.iter_rgb_yuv420p

    def counted(*args, **kwargs):
        decodes.append(kwargs)
        return decode(*args, **kwargs)

    monkeypatch.setattr(split_module, "_KEEP_FRAMES", 10)
    monkeypatch.setattr(split_module, "iter_rgb_yuv420p", counted)
    streamed = _split(SplitConfig(**{**SMALL, "clips_per_shot": 3}), tmp_path / "streamed", [tasks])
    assert _comparable(streamed["video-0"]) == _comparable(held["video-0"])
    assert len(streamed["video-0"].children) == 3
    starts = sorted(child.meta["start_frame"] for child in streamed["video-0"].children)
    assert [(d["start"], d["end"]) for d in decodes] == [(starts[0], starts[-1] + 9)]
