"""split: a source video becomes clips of the target length and fps, cut inside shot boundaries.

Clips never straddle a cut (an edit carried across a cut is meaningless) and skip the frames just after
a cut (dissolves and flashes). A clip is recorded as a span of its source plus the signals the gates
decide on, measured here while its frames are in memory. Its file is encoded once, here or in
``clip_store``.

The encoder settings are here all the same, in the config hash and in each clip item, because they
decide the clips' pixels. Where the encode happens does not, so ``store_clips`` is operational: both
ways call ``write_clip`` on the same frames and store the same bytes. ``eager`` (the default) encodes
every clip here from the frames already decoded: since encodes became ultrafast from the decoded
planes, an encode costs about what decoding the clip's frames costs, while ``lazy`` (``clip_store``
encoding only kept clips) decodes each source a second time, up to its last kept span. On the examples
eager took ~25% less CPU than lazy. Lazy pays off only where the filters drop most clips of short
sources. Eager also stores the dropped clips' files and holds each in-memory source as yuv420p planes
beside its RGB frames (1.5x the memory).

A worker splits ``batch_size`` sources a batch, one after another: while one decodes, the clips of
the one before are measured (and, eager, encoded) on ``threads`` clip threads (x264 and OpenCV leave
the GIL). Decoding, measuring and encoding then keep two cores busy where one source at a time left
the second idle while its shots were found. Each source is opened once for its probe and its frames
(:func:`insvie.media.open_frames`). On the examples, curation with storage went from 0.33x of raw
decode to 0.41-0.46x (``benchmarks/curate.py --repeat 5``, 2 cores; 0.37x with ``batch_size: 1``).
Both settings are operational, and split declares ``threads`` CPUs.

A source longer than ``_KEEP_FRAMES`` output frames is not held in memory: the first pass keeps
thumbnails for the shots, and a second pass, from the first clip to the end of the last, hands every
clip its frames (:func:`insvie.media.spans.gather_spans`), with the same clips, signals and bytes as
decoding the source again for each clip from its start did. On a 73.5 s source (588 frames, 24
clips; ``benchmarks/split_long.py``) split now takes 3.5x the time of one decode, where the decodes
per clip alone took 14.4x (the whole step: 23.5 s before, 5.2-5.7 s now).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from insvie.backends.analysis.curation import ClipSignals, clip_signals
from insvie.backends.analysis.working import opencv_threads, shrink
from insvie.backends.shots import make_shot_detector
from insvie.engine import Child, Outcome, Resources, Stage, StageConfig, StageContext, Task
from insvie.engine.ingest import fingerprint
from insvie.engine.work import outcome_for_error
from insvie.media import iter_frames, iter_rgb_yuv420p, open_frames
from insvie.media.spans import gather_spans
from insvie.settings import OPERATIONAL
from insvie.stages.clip_store import write_clip

_KEEP_FRAMES = 400
# How clips were encoded before these settings existed: at these values they stay out of the config hash
# and out of clip items, so datasets made before keep both.
_FORMER: dict[str, Any] = {"encode_from": "rgb", "encode_threads": None}
_THUMB_SIDE = 128  # shot detectors look at small frames only


class SplitConfig(StageConfig):
    clip_frames: Annotated[int, Field(ge=1, description="Frames per clip; 4k+1 suits the editor.")] = 17
    fps: Annotated[float, Field(gt=0, description="Clips are resampled to this constant frame rate.")] = 8.0
    max_side: Annotated[int, Field(ge=16, description="Stored clips' longer side is at most this.")] = 720
    min_width: Annotated[int, Field(ge=1)] = 256
    min_height: Annotated[int, Field(ge=1)] = 256
    min_duration: Annotated[float, Field(ge=0, description="Seconds; shorter sources are rejected.")] = 1.0
    min_fps: Annotated[float, Field(ge=0)] = 5.0
    max_seconds: Annotated[float, Field(gt=0, description="Only the first this many seconds are used.")] = (
        120.0
    )
    clips_per_shot: Annotated[int, Field(ge=1)] = 2
    trim_frames: Annotated[int, Field(ge=0, description="Frames skipped after each cut.")] = 2
    shot_detector: Annotated[
        Literal["content", "transnetv2"],
        Field(description="content: HSV differences, no weights; transnetv2: learned (the 'shots' extra)."),
    ] = "content"
    shot_threshold: Annotated[
        float | None, Field(gt=0, description="Cut threshold (content: 27; transnetv2: probability 0.5).")
    ] = None
    crf: Annotated[int, Field(ge=0, le=51, description="H.264 quality of stored clips.")] = 19
    preset: Annotated[
        Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"],
        Field(description="x264 speed preset of stored clips (encoding is clip_store's main cost)."),
    ] = "ultrafast"
    encode_from: Annotated[
        Literal["yuv420p", "rgb"],
        Field(
            description="yuv420p: x264 gets the decoded planes as they are (no colour conversion, and "
            "~1 dB closer to the source at one crf); rgb: the RGB frames split measures."
        ),
    ] = "yuv420p"
    encode_threads: Annotated[
        int | None,
        Field(
            ge=1,
            description="x264 threads, fixed so that a clip's bytes are the same on every machine "
            "(null: by CPU count).",
        ),
    ] = 1
    store_clips: Annotated[
        Literal["eager", "lazy"],
        Field(
            description="eager: split encodes every clip while its frames are in memory; lazy: clip_store "
            "decodes the source again for the clips the filters keep (same bytes either way).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = "eager"
    threads: Annotated[
        int,
        Field(
            ge=1,
            description="Threads that measure (and, eager, encode) a source's clips while the next source "
            "decodes; split declares this many CPUs.",
            json_schema_extra=OPERATIONAL,
        ),
    ] = 2
    batch_size: Annotated[
        int,
        Field(
            ge=1,
            description="Sources a worker splits in one batch (the clip threads overlap sources only within "
            "a batch; a crash loses the batch in flight).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = 4

    def decision_dump(self) -> dict[str, Any]:
        """Without ``encode_from`` and ``encode_threads`` where they hold the way clips were encoded before
        they existed (``rgb``, null): a config naming those, ``preset: superfast`` and ``crf: 18`` keeps
        the config hash, hence the clip ids, of the datasets made then."""
        dump = super().decision_dump()
        return {key: value for key, value in dump.items() if key not in _FORMER or _FORMER[key] != value}

    def encoder(self) -> dict[str, Any]:
        """The encoder settings each clip item carries for ``clip_store`` (former ones left out, as above)."""
        settings = {"crf": self.crf, "preset": self.preset}
        if self.encode_from != _FORMER["encode_from"]:
            settings["from"] = self.encode_from
        if self.encode_threads != _FORMER["encode_threads"]:
            settings["threads"] = self.encode_threads
        return settings


def clip_starts(shot: tuple[int, int], length: int, per_shot: int, trim: int) -> list[int]:
    """Start frames of up to ``per_shot`` non-overlapping clips spread evenly through a shot."""
    start, end = shot[0] + (trim if shot[0] > 0 else 0), shot[1]
    room = end - start
    count = min(per_shot, room // length)
    if count <= 0:
        return []
    if count == 1:
        return [start + (room - length) // 2]
    gap = (room - count * length) // (count - 1)
    return [start + i * (length + gap) for i in range(count)]


class Split(Stage):
    name = "split"
    consumes = "video"
    makes = "clip"
    section = "split"
    config_class = SplitConfig
    config: SplitConfig

    def __init__(self, config: SplitConfig | None = None) -> None:
        super().__init__(config)
        self.batch_size = self.config.batch_size

    def resources(self) -> Resources:
        # The source being decoded and the clips of the one before: up to ~1.3 GB at 400 frames of 720p.
        return Resources(cpus=self.config.threads, memory_gb=2)

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx
        # Clip ids carry the config's short hash: other settings cut other spans, so other items.
        self.tag = self.fingerprint()[:8]
        self.detector = make_shot_detector(self.config.shot_detector, threshold=self.config.shot_threshold)

    def process(self, batch: list[Task]) -> list[Outcome]:
        """Sources one after another, each source's clips measured (and, eager, encoded) on the clip
        threads while the next source decodes. One source waits in the threads at most while another
        decodes, so memory holds the source being decoded and the clips of the one before."""
        outcomes: list[Outcome] = []
        waiting: deque[_CutSource] = deque()
        with opencv_threads(1), ThreadPoolExecutor(max_workers=self.config.threads) as clip_threads:
            for task in batch:
                if len(waiting) == 2:
                    outcomes.append(waiting.popleft().outcome())
                try:
                    waiting.append(self._cut(task, clip_threads))
                except Exception as exc:
                    outcomes.append(outcome_for_error(task, exc))
            outcomes.extend(source.outcome() for source in waiting)
        return outcomes

    @property
    def _pixels(self) -> Literal["rgb", "rgb+yuv420p"]:
        """What each frame is decoded to: RGB to measure, with the yuv420p planes x264 is given where
        split stores clips itself from the planes."""
        cfg = self.config
        return "rgb+yuv420p" if cfg.store_clips == "eager" and cfg.encode_from == "yuv420p" else "rgb"

    def _pairs(self, frames: Iterator[Any]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each frame as (RGB to measure, what x264 is given for it: the planes, or the RGB frame, unused
        where split does not store clips)."""
        return frames if self._pixels == "rgb+yuv420p" else ((rgb, rgb) for rgb in frames)

    def _decode(self, path: Path, start: int, end: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Frames ``[start, end)`` as :meth:`_pairs` gives them."""
        cfg = self.config
        window = {"start": start, "end": end, "fps": cfg.fps, "max_size": cfg.max_side}
        if self._pixels == "rgb+yuv420p":
            return iter_rgb_yuv420p(path, **window)
        return self._pairs(iter_frames(path, **window))

    def _span(self, start: int) -> dict[str, Any]:
        """What a clip item records of its span, and everything that decides its pixels."""
        cfg = self.config
        return {
            "start_frame": start,
            "num_frames": cfg.clip_frames,
            "fps": cfg.fps,
            "max_side": cfg.max_side,
            "encode": cfg.encoder(),
            "start_time": round(start / cfg.fps, 4),
            "end_time": round((start + cfg.clip_frames) / cfg.fps, 4),
        }

    def _cut(self, task: Task, clip_threads: ThreadPoolExecutor) -> _CutSource:
        """Decode ``task``'s source, find its shots and hand each clip's measuring (and encoding) to
        ``clip_threads``; what is left to collect, or the source's verdict where it has no clips."""
        cfg = self.config
        path = Path(task.source or "")
        window = {"end": int(cfg.max_seconds * cfg.fps), "fps": cfg.fps, "max_size": cfg.max_side}
        # One opening for the checks and the decode: probing apart cost a tenth of a 49-frame decode.
        with open_frames(path, self._pixels, **window) as (probed, decoded):
            info = probed.to_dict()
            checks = [
                ("too_small", info["width"] < cfg.min_width or info["height"] < cfg.min_height),
                ("too_short", (info["duration"] or 0.0) < cfg.min_duration),
                ("low_fps", (info["fps"] or 0.0) < cfg.min_fps),
            ]
            for reason, failed in checks:
                if failed:
                    return _CutSource(task, Outcome.rejected(task.item_id, reason, {"probe": info}))
            # Short sources are held in memory during the one decode. Of a long one only thumbnails are
            # kept, and a second pass gathers all its clips (module docstring).
            keep = (info["duration"] or 0.0) * cfg.fps <= _KEEP_FRAMES
            frames, thumbs = [], []
            for frame in self._pairs(decoded):
                thumbs.append(shrink(frame[0], _THUMB_SIDE))
                if keep:
                    frames.append(frame)
        shots = self.detector.shots(thumbs)
        source_fingerprint = fingerprint(path)
        shot_of = {
            start: shot_index
            for shot_index, shot in enumerate(shots)
            for start in clip_starts(shot, cfg.clip_frames, cfg.clips_per_shot, cfg.trim_frames)
        }
        spans = {start: (start, start + cfg.clip_frames) for start in shot_of}
        if keep:
            cut = ((key, frames[start:end]) for key, (start, end) in spans.items())
        else:  # one more pass, from the first clip to the end of the last, for all clips at once
            first = min(shot_of, default=0)
            last = max((end for _, end in spans.values()), default=0)
            cut = gather_spans(self._decode(path, first, last), spans, first)
        clips = []
        # Each encode is one call with its own fixed x264 threads, so its bytes do not depend on which
        # thread runs it or what runs beside it; the signals are pure functions of the frames.
        for start, clip in cut:
            media = None
            if cfg.store_clips == "eager":
                planes = [f[1] for f in clip]
                media = clip_threads.submit(
                    write_clip, self.ctx.new_file(".mp4"), planes, cfg.fps, cfg.encoder()
                )
            signals = clip_threads.submit(_measure, [f[0] for f in clip])
            meta = {
                "source_file": str(path),
                "source_fingerprint": source_fingerprint,
                "source_name": path.stem,
                "clip_index": len(clips),
                "shot": shot_of[start],
                **self._span(start),
            }
            clips.append(_CutClip(f"{task.item_id}.{self.tag}.{start:06d}", meta, signals, media))
        output = {
            "probe": info,
            "shot_detector": self.detector.name,
            "shots": [list(shot) for shot in shots],
            "clips": len(clips),
        }
        if not clips:
            return _CutSource(task, Outcome.rejected(task.item_id, "no_long_shot", output))
        return _CutSource(task, output, clips)


def _measure(frames: list[np.ndarray]) -> ClipSignals:
    return clip_signals(np.asarray(frames))


@dataclass(frozen=True)
class _CutClip:
    """A clip whose signals (and, eager, file) are being made on the clip threads."""

    id: str
    meta: dict[str, Any]
    signals: Future[ClipSignals]
    media: Future[Path] | None


@dataclass(frozen=True)
class _CutSource:
    """A source split into clips still being measured, or its verdict already (an ``Outcome``)."""

    task: Task
    output: dict[str, Any] | Outcome
    clips: list[_CutClip] = field(default_factory=list)

    def outcome(self) -> Outcome:
        """The source's outcome once its clips are measured (and stored); a clip whose measuring or
        encoding raised makes the whole source's outcome, as it would have without the threads."""
        if isinstance(self.output, Outcome):
            return self.output
        try:
            children = [
                Child(
                    clip.id,
                    "clip",
                    {**clip.meta, "signals": clip.signals.result()},
                    media=None if clip.media is None else clip.media.result(),
                )
                for clip in self.clips
            ]
        except Exception as exc:
            return outcome_for_error(self.task, exc)
        return Outcome.done(self.task.item_id, self.output, children=children)
