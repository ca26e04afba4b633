"""Clip files: split records spans and stores every clip (eager), or clip_store stores only the clips
the filters keep (lazy, as most tests here run); the same bytes either way, on every run."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from insvie.engine import LocalExecutor, Runner, StageContext, Step, Task, ingest
from insvie.media import iter_frames, iter_yuv420p, read_frames, write_video, write_yuv420p
from insvie.stages.clip_store import ClipStore, encoder_input, write_clip
from insvie.stages.dedup import ClipDedup, DedupConfig
from insvie.stages.filter import ClipFilter
from insvie.stages.split import Split, SplitConfig
from insvie.store import Dataset

SPLIT = SplitConfig(
    clip_frames=9, max_side=128, clips_per_shot=2, min_width=64, min_height=64, store_clips="lazy"
)


# How clips were stored before issue 19, and the config hash datasets made then carry.
FORMER = {"preset": "superfast", "crf": 18, "encode_from": "rgb", "encode_threads": None}
FORMER_DEFAULT_HASH = "f20230b1161aafb92a884ca82377e805233aaf19cd46000baf67c98217de3ea5"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _curate(root: Path, sources: list[Path], split: SplitConfig = SPLIT) -> tuple[Dataset, dict[str, str]]:
    """Split, gate, a dedup that keeps only the first clip of all, then clip_store; stored file by clip."""
    ds = Dataset.open(root)
    ingest(ds, sources)
    runner = Runner(ds, LocalExecutor())
    store = ClipStore()
    runner.run(
        [
            Step(Split(split)),
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
        planes = iter_yuv420p(source, start=start, end=start + 9, fps=SPLIT.fps, max_size=SPLIT.max_side)
        expected = write_yuv420p(
            tmp_path / "expected.mp4", planes, SPLIT.fps, crf=SPLIT.crf, preset=SPLIT.preset, threads=1
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


def test_clips_of_one_source_share_a_decode_and_a_span_past_its_end_fails(tmp_path: Path, shared_media: Path):
    (tmp_path / "tmp").mkdir()
    ctx = StageContext(tmp_path, tmp_path / "tmp")
    split = Split(SPLIT)
    split.setup(ctx)
    (made,) = split.process([Task("video-1", "video", None, str(shared_media / "horse_gallop.mp4"), {})])
    first, second = (child.meta for child in made.children)
    past_end = {**second, "start_frame": 45}  # 4 of its 9 frames exist (the source has 49)
    store = ClipStore()
    store.setup(ctx)
    tasks = [Task(i, "clip", None, None, meta) for i, meta in (("a", first), ("b", second), ("c", past_end))]
    outcomes = {outcome.item_id: outcome for outcome in store.process(tasks)}
    assert outcomes["a"].status == outcomes["b"].status == "done"
    assert outcomes["c"].status == "failed" and outcomes["c"].error == "source gave 4 of 9 frames"
    stored = read_frames(outcomes["b"].files["clip"])
    start = second["start_frame"]
    truth = read_frames(shared_media / "horse_gallop.mp4", start=start, end=start + 9, fps=8, max_size=128)
    assert psnr(stored[:, : truth.shape[1]], truth) > 35  # stored padded to an even height


def test_a_clip_that_has_a_file_is_passed_on(tmp_path: Path):
    (tmp_path / "tmp").mkdir()
    clip = tmp_path / "media" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"stored by an earlier split")
    store = ClipStore()
    store.setup(StageContext(tmp_path, tmp_path / "tmp"))
    (outcome,) = store.process([Task("c", "clip", clip, None, {})])
    assert outcome.status == "done" and outcome.output == {"clip": "media/clip.mp4"} and not outcome.files


def test_split_storing_eagerly_makes_the_same_files(tmp_path: Path, shared_media: Path):
    """Where the encode happens is operational: same config hash, same clip ids, same bytes."""
    sources = [shared_media / "horse_gallop.mp4"]
    eager_split = SPLIT.model_copy(update={"store_clips": "eager"})
    assert Split(eager_split).fingerprint() == Split(SPLIT).fingerprint()
    lazy, stored_lazy = _curate(tmp_path / "lazy", sources)
    eager, stored_eager = _curate(tmp_path / "eager", sources, eager_split)
    with lazy, eager:
        assert stored_eager == stored_lazy  # the same content addresses
        clips = list(eager.iter_items("clip"))
        assert len(clips) == 2 and all(clip.media is not None for clip in clips)  # the duplicate too


def test_former_settings_keep_the_former_hash_and_files(tmp_path: Path, shared_media: Path):
    """A config naming how clips were stored before issue 19 keeps its hash (no work redone) and its
    clips' bytes: RGB frames to x264 at its own thread count, as ``write_video`` encodes them."""
    assert Split(SplitConfig(**FORMER)).fingerprint() == FORMER_DEFAULT_HASH
    assert Split(SplitConfig()).fingerprint() != FORMER_DEFAULT_HASH
    source = tmp_path / "horse.mp4"
    shutil.copy(shared_media / "horse_gallop.mp4", source)
    former = SPLIT.model_copy(update=FORMER)
    ds, stored = _curate(tmp_path / "ds", [source], former)
    with ds:
        ((clip_id, relpath),) = stored.items()
        item = ds.get_item(clip_id)
        assert item is not None
        meta = item.meta
        assert meta["encode"] == {"crf": 18, "preset": "superfast"}  # as split recorded it before
        start = meta["start_frame"]
        frames = iter_frames(source, start=start, end=start + 9, fps=SPLIT.fps, max_size=SPLIT.max_side)
        expected = write_video(tmp_path / "expected.mp4", frames, SPLIT.fps, crf=18, preset="superfast")
        assert ds.resolve(relpath).read_bytes() == expected.read_bytes()


def test_default_settings_keep_the_former_quality(tmp_path: Path, shared_media: Path):
    """The default encode (ultrafast at crf 19 from the decoded planes) of a full-size sample clip is
    at least as close to its decoded source as the former one (superfast crf 18 through RGB)."""
    source = shared_media / "cat_grass.mp4"
    truth = read_frames(source, start=8, end=25, fps=8, max_size=720)
    scores = {}
    for name, split in {"now": SplitConfig(), "former": SplitConfig(**FORMER)}.items():
        encode = split.encoder()
        decode = iter_yuv420p if encoder_input(encode) == "yuv420p" else iter_frames
        frames = list(decode(source, start=8, end=25, fps=8, max_size=720))
        scores[name] = psnr(read_frames(write_clip(tmp_path / f"{name}.mp4", frames, 8, encode)), truth)
    assert scores["now"] > 39.0 and scores["now"] > scores["former"] - 0.3, scores
