"""clip_store: the clips that survived the filters are encoded into the dataset, once each.

Split records clips as spans of their source, so clips the gates or dedup drop never cost an encode.
Everything that decides a clip's pixels (span, fps, size, encoder settings) is in its item, under
split's config hash, so this step has no settings of its own and its file is a pure function of the
item: x264 without mbtree at a fixed thread count encodes byte-identically, and the content address is
the same whichever executor, batch, resume or machine made it (and whether split stored it, see
``SplitConfig.store_clips``: :func:`write_clip` is the one encoding call). Clips of one source in a
batch share one decode.

The price is that decode: a source with kept clips is decoded a second time here, from its start up
to the last kept span. On the 49-frame examples it is about as costly as the encodes themselves now
that those are ultrafast from the decoded planes (no colour conversion either way), which is why split
can store clips itself instead. Decoding from the keyframe before each span would remove most of it
on long sources with short GOPs; the examples have one keyframe each, so it would not help there.

Clips split stored (an eager split, or one from before clips were lazy) have a file already and are
passed on as they are.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from insvie.engine import Outcome, Stage, StageContext, Task
from insvie.engine.ingest import fingerprint
from insvie.media import iter_frames, iter_yuv420p, write_video, write_yuv420p
from insvie.media.spans import gather_spans


def encoder_input(encode: dict[str, Any]) -> str:
    """What x264 is given under a clip's encoder settings: ``yuv420p`` planes or ``rgb`` frames (clips
    made before split's ``encode_from`` existed went through RGB)."""
    return str(encode.get("from", "rgb"))


def write_clip(file: Path, frames: list[np.ndarray], fps: float, encode: dict[str, Any]) -> Path:
    """A clip's file from its frames (as :func:`encoder_input` says) under the encoder settings split
    recorded in its item: the one encoding call, whichever step stores the clip, so the same bytes."""
    write = write_yuv420p if encoder_input(encode) == "yuv420p" else write_video
    threads = encode.get("threads")
    return write(
        file,
        frames,
        fps,
        crf=int(encode["crf"]),
        preset=str(encode["preset"]),
        threads=None if threads is None else int(threads),
    )


def _span(task: Task) -> tuple[int, int]:
    start = int(task.meta["start_frame"])
    return start, start + int(task.meta["num_frames"])


class ClipStore(Stage):
    name = "clip_store"
    consumes = "clip"
    after = ("clip_dedup",)
    # Clip ids run source by source, so a batch mostly holds all kept clips of a source: one decode
    # for all of them (each batch decodes its source from the start up to its last span).
    batch_size = 16

    def setup(self, ctx: StageContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Task]) -> list[Outcome]:
        outcomes = [
            Outcome.done(task.item_id, {"clip": self.ctx.relpath(task.media)})
            for task in batch
            if task.media is not None
        ]
        groups: dict[tuple[str, float, int, str], list[Task]] = defaultdict(list)
        for task in (task for task in batch if task.media is None):
            meta = task.meta
            key = (
                meta["source_file"],
                float(meta["fps"]),
                int(meta["max_side"]),
                encoder_input(meta["encode"]),
            )
            groups[key].append(task)
        for (source, fps, max_side, pixels), tasks in groups.items():
            outcomes.extend(self._store(Path(source), fps, max_side, pixels, tasks))
        return outcomes

    def _store(
        self, source: Path, fps: float, max_side: int, pixels: str, tasks: list[Task]
    ) -> list[Outcome]:
        """Decode ``source`` once, from the first span of ``tasks`` to the last, encoding each clip as
        soon as its span is complete (only clips in progress are held in memory)."""
        if not source.is_file() or fingerprint(source) != tasks[0].meta["source_fingerprint"]:
            # Not a verdict on the clip: the source may come back, so the item fails and is retried.
            error = f"source {source} is missing or changed since split measured it"
            return [Outcome.failed(task.item_id, error) for task in tasks]
        by_id = {task.item_id: task for task in tasks}
        spans = {task.item_id: _span(task) for task in tasks}
        first = min(start for start, _ in spans.values())
        last = max(end for _, end in spans.values())
        decode = iter_yuv420p if pixels == "yuv420p" else iter_frames
        frames = decode(source, start=first, end=last, fps=fps, max_size=max_side)
        outcomes = []
        for item_id, clip in gather_spans(frames, spans, first):
            start, end = spans[item_id]
            if len(clip) == end - start:
                outcomes.append(self._encode(by_id[item_id], clip, fps))
            else:
                outcomes.append(Outcome.failed(item_id, f"source gave {len(clip)} of {end - start} frames"))
        return outcomes

    def _encode(self, task: Task, clip: list[np.ndarray], fps: float) -> Outcome:
        file = write_clip(self.ctx.new_file(".mp4"), clip, fps, task.meta["encode"])
        return Outcome.done(task.item_id, files={"clip": file})
