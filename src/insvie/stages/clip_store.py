"""clip_store: the clips that survived the filters are encoded into the dataset, once each.

Split records clips as spans of their source, so clips the gates or dedup drop never cost an encode.
Everything that decides a clip's pixels (span, fps, size, encoder settings) is in its item, under
split's config hash, so this step has no settings of its own and its file is a pure function of the
item: x264 without mbtree encodes byte-identically, and the content address is the same whichever
executor, batch or resume made it. Clips of one source in a batch share one decode.

The price is that decode: a source with kept clips is decoded a second time here, from its start
up to the last kept span, so storing lazily saves work only when enough clips are dropped (on the
49-frame examples, about half on a loaded machine; fewer where decoding is cheap next to encoding).
Decoding from the keyframe before each span instead would remove most of that price.

Split's decisions (spans, signals) and the clips' bytes are what they were when split encoded clips
itself, so its config hash stayed: a dataset split that way resumes without redoing anything, and
its clips, which have a file already, are passed on as they are.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from insvie.engine import Outcome, Stage, StageContext, Task
from insvie.engine.ingest import fingerprint
from insvie.media import iter_frames, write_video


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
        groups: dict[tuple[str, float, int], list[Task]] = defaultdict(list)
        for task in (task for task in batch if task.media is None):
            meta = task.meta
            groups[(meta["source_file"], float(meta["fps"]), int(meta["max_side"]))].append(task)
        for (source, fps, max_side), tasks in groups.items():
            outcomes.extend(self._store(Path(source), fps, max_side, tasks))
        return outcomes

    def _store(self, source: Path, fps: float, max_side: int, tasks: list[Task]) -> list[Outcome]:
        """Decode ``source`` once, from the first span of ``tasks`` to the last, encoding each clip as
        soon as its span is complete (only clips in progress are held in memory)."""
        if not source.is_file() or fingerprint(source) != tasks[0].meta["source_fingerprint"]:
            # Not a verdict on the clip: the source may come back, so the item fails and is retried.
            error = f"source {source} is missing or changed since split measured it"
            return [Outcome.failed(task.item_id, error) for task in tasks]
        by_id = {task.item_id: task for task in tasks}
        spans = {task.item_id: _span(task) for task in tasks}
        frames: dict[str, list[np.ndarray]] = {task.item_id: [] for task in tasks}
        first = min(start for start, _ in spans.values())
        last = max(end for _, end in spans.values())
        outcomes = []
        for index, frame in enumerate(
            iter_frames(source, start=first, end=last, fps=fps, max_size=max_side), first
        ):
            for item_id, (start, end) in spans.items():
                if start <= index < end:
                    frames[item_id].append(frame)
                    if index == end - 1:
                        outcomes.append(self._encode(by_id[item_id], frames.pop(item_id), fps))
        outcomes += [
            Outcome.failed(
                item_id, f"source gave {len(got)} of {spans[item_id][1] - spans[item_id][0]} frames"
            )
            for item_id, got in frames.items()
        ]
        return outcomes

    def _encode(self, task: Task, clip: list[np.ndarray], fps: float) -> Outcome:
        file = self.ctx.new_file(".mp4")
        encode = task.meta["encode"]
        write_video(file, clip, fps, crf=int(encode["crf"]), preset=str(encode["preset"]))
        return Outcome.done(task.item_id, files={"clip": file})
