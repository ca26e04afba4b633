"""split: a source video becomes clips of the target length and fps, cut inside shot boundaries.

Clips never straddle a cut (an edit carried across a cut is meaningless) and skip the frames just after
a cut (dissolves and flashes). A clip is recorded as a span of its source plus the signals the gates
decide on, measured here while its frames are in memory; encoding it was most of this step's time and
was wasted on every clip the gates drop, so ``clip_store`` encodes only the clips that survive them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from insvie.backends.analysis.curation import clip_signals
from insvie.backends.analysis.working import shrink
from insvie.backends.shots import make_shot_detector
from insvie.engine import Child, Outcome, Stage, StageConfig, StageContext, Task
from insvie.engine.ingest import fingerprint
from insvie.media import iter_frames, probe

_KEEP_FRAMES = 400
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
    crf: Annotated[int, Field(ge=0, le=51, description="H.264 quality of stored clips.")] = 18
    preset: Annotated[
        Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"],
        Field(description="x264 speed preset of stored clips (encoding is clip_store's main cost)."),
    ] = "superfast"


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

    def setup(self, ctx: StageContext) -> None:
        # Clip ids carry the config's short hash: other settings cut other spans, so other items.
        self.tag = self.fingerprint()[:8]
        self.detector = make_shot_detector(self.config.shot_detector, threshold=self.config.shot_threshold)

    def process(self, batch: list[Task]) -> list[Outcome]:
        return [self._split(task) for task in batch]

    def _split(self, task: Task) -> Outcome:
        cfg = self.config
        path = Path(task.source or "")
        info = probe(path).to_dict()
        checks = [
            ("too_small", info["width"] < cfg.min_width or info["height"] < cfg.min_height),
            ("too_short", (info["duration"] or 0.0) < cfg.min_duration),
            ("low_fps", (info["fps"] or 0.0) < cfg.min_fps),
        ]
        for reason, failed in checks:
            if failed:
                return Outcome.rejected(task.item_id, reason, {"probe": info})
        limit = int(cfg.max_seconds * cfg.fps)
        # Short sources are held in memory during the one decode; long ones are decoded again per clip
        # rather than holding minutes of frames.
        keep = (info["duration"] or 0.0) * cfg.fps <= _KEEP_FRAMES
        frames, thumbs = [], []
        for frame in iter_frames(path, end=limit, fps=cfg.fps, max_size=cfg.max_side):
            thumbs.append(shrink(frame, _THUMB_SIDE))
            if keep:
                frames.append(frame)
        shots = self.detector.shots(thumbs)
        source_fingerprint = fingerprint(path)
        children = []
        for shot_index, shot in enumerate(shots):
            for start in clip_starts(shot, cfg.clip_frames, cfg.clips_per_shot, cfg.trim_frames):
                end = start + cfg.clip_frames
                clip = (
                    frames[start:end]
                    if keep
                    else list(iter_frames(path, start=start, end=end, fps=cfg.fps, max_size=cfg.max_side))
                )
                meta = {
                    "source_file": str(path),
                    "source_fingerprint": source_fingerprint,
                    "source_name": path.stem,
                    "clip_index": len(children),
                    "shot": shot_index,
                    "start_frame": start,
                    "num_frames": cfg.clip_frames,
                    "fps": cfg.fps,
                    "max_side": cfg.max_side,
                    "encode": {"crf": cfg.crf, "preset": cfg.preset},
                    "start_time": round(start / cfg.fps, 4),
                    "end_time": round((start + cfg.clip_frames) / cfg.fps, 4),
                    "signals": clip_signals(np.asarray(clip)),
                }
                children.append(Child(f"{task.item_id}.{self.tag}.{start:06d}", "clip", meta))
        output = {
            "probe": info,
            "shot_detector": self.detector.name,
            "shots": [list(shot) for shot in shots],
            "clips": len(children),
        }
        if not children:
            return Outcome.rejected(task.item_id, "no_long_shot", output)
        return Outcome.done(task.item_id, output, children=children)
