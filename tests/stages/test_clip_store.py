"""Lazy clips: split records spans, and only the clips the filters keep are ever encoded."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from insvie.engine import LocalExecutor, Runner, StageContext, Step, Task, ingest
from insvie.media import read_frames, write_video
from insvie.stages.clip_store import ClipStore
from insvie.stages.dedup import ClipDedup, DedupConfig
from insvie.stages.filter import ClipFilter
from insvie.stages.split import Split, SplitConfig
from insvie.store import Dataset

SPLIT = SplitConfig(clip_frames=9, max_side=128, clips_per_shot=2, min_width=64, min_height=64)


def _curate(root: Path, sources: list[Path]) -> tuple[Dataset, dict[str, str]]:
    """Split, gate, a dedup that keeps only the first clip of all, then clip_store; stored file by clip."""
    ds = Dataset.open(root)
    ingest(ds, sources)
    runner = Runner(ds, LocalExecutor())
    store = ClipStore()
    runner.run(
        [
            Step(Split(SPLIT)),
            Step(ClipFilter(), after="split"),
            Step(ClipDedup(DedupConfig(max_bits=64)), after="clip_filter"),
            Step(store, after="clip_dedup"),
        ]
    )
    digest = runner.hash_of(Step(store))
    return ds, {r.item_id: r.output["clip"] for r in ds.results("clip_store", digest, status="done")}


def test_only_kept_clips_get_a_file_and_it_is_the_span_encoded(tmp_path: Path, shared_media: Path):
    source = tmp_path / "horse.mp4"
    shutil.copy(shared_media / "horse_gallop.mp4", source)
    ds, stored = _curate(tmp_path / "ds", [source])
    with ds:
        clips = sorted(ds.iter_items("clip"), key=lambda item: item.id)
        assert len(clips) == 2 and all(clip.media is None for clip in clips)
        assert list(stored) == [clips[0].id]  # the second was a "duplicate": never encoded
        files = [p for p in ds.resolve("media").rglob("*") if p.is_file()]
        assert files == [ds.resolve(stored[clips[0].id])]
        assert ds.verify(rehash=True) == []
        meta = clips[0].meta
        start = meta["start_frame"]
        frames = read_frames(source, start=start, end=start + 9, fps=SPLIT.fps, max_size=SPLIT.max_side)
        expected = write_video(
            tmp_path / "expected.mp4", frames, SPLIT.fps, crf=SPLIT.crf, preset=SPLIT.preset
        )
        assert ds.resolve(stored[clips[0].id]).read_bytes() == expected.read_bytes()


def test_clip_files_are_byte_identical_across_runs(tmp_path: Path, shared_media: Path):
    sources = [shared_media / "horse_gallop.mp4"]
    first, stored_first = _curate(tmp_path / "a", sources)
    second, stored_second = _curate(tmp_path / "b", sources)
    with first, second:
        assert stored_first == stored_second  # same ids, same content addresses
        for relpath in stored_first.values():
            digest = hashlib.sha256(first.resolve(relpath).read_bytes()).hexdigest()
            assert digest == hashlib.sha256(second.resolve(relpath).read_bytes()).hexdigest()


def test_a_missing_source_fails_the_clip_for_a_retry(tmp_path: Path, shared_media: Path):
    source = tmp_path / "horse.mp4"
    shutil.copy(shared_media / "horse_gallop.mp4", source)
    (tmp_path / "tmp").mkdir()
    split = Split(SPLIT)
    ctx = StageContext(tmp_path, tmp_path / "tmp")
    split.setup(ctx)
    (made,) = split.process([Task("video-1", "video", None, str(source), {})])
    child = made.children[0]
    store = ClipStore()
    store.setup(ctx)
    source.unlink()
    (outcome,) = store.process([Task(child.id, "clip", None, None, child.meta)])
    assert outcome.status == "failed" and "missing or changed" in (outcome.error or "")


def test_a_clip_that_has_a_file_is_passed_on(tmp_path: Path):
    (tmp_path / "tmp").mkdir()
    clip = tmp_path / "media" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"stored by an earlier split")
    store = ClipStore()
    store.setup(StageContext(tmp_path, tmp_path / "tmp"))
    (outcome,) = store.process([Task("c", "clip", clip, None, {})])
    assert outcome.status == "done" and outcome.output == {"clip": "media/clip.mp4"} and not outcome.files
