"""On-screen text coverage on a real frame, with and without burnt-in captions, and the clip gate using it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from insvie.media import read_frames, write_video

pytest.importorskip("rapidocr")


def _captioned(frames: np.ndarray) -> np.ndarray:
    out = frames.copy()
    for frame in out:
        cv2.rectangle(frame, (0, 330), (720, 470), (20, 20, 20), -1)
        cv2.putText(frame, "BREAKING NEWS", (30, 390), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (255, 255, 255), 6)
        cv2.putText(
            frame, "LIVE FROM THE ROAD 24/7", (30, 450), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 0), 4
        )
    return out


def test_text_coverage_grows_with_captions(shared_media: Path):
    from insvie.backends.text import TextCoverage

    frame = read_frames(shared_media / "horse_gallop.mp4", end=1)[0]
    coverage = TextCoverage()
    plain, captioned = coverage.ratio(frame), coverage.ratio(_captioned(frame[None])[0])
    assert plain < 0.02
    assert 0.08 < captioned < 0.5


def test_clip_gate_rejects_text_heavy_clips(tmp_path: Path, shared_media: Path):
    from insvie.engine import StageContext, Task
    from insvie.stages.filter import ClipFilter, ClipFilterConfig

    frames = read_frames(shared_media / "horse_gallop.mp4", end=9)
    write_video(tmp_path / "plain.mp4", frames, 8)
    write_video(tmp_path / "news.mp4", _captioned(frames), 8)
    gate = ClipFilter(ClipFilterConfig(max_text_ratio=0.05))
    gate.setup(StageContext(tmp_path, tmp_path))
    plain, news = gate.process(
        [Task(name, "clip", tmp_path / f"{name}.mp4", None, {}) for name in ("plain", "news")]
    )
    assert plain.status == "done" and plain.output["text_ratio"] < 0.05
    assert news.reason == "text" and news.output["text_ratio"] > 0.05
