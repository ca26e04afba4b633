"""Writing a SynthEdit dataset: source/, edited/, mask/ videos and records.jsonl in one folder.

Resumable: each finished sample is journalled (records.partial.jsonl, appended after its three videos
are written), so a rerun skips samples whose videos exist and whose journalled record matches the
request, and rewrites records.jsonl atomically at the end, in id order.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from insvie.errors import ConfigError, InsvieError
from insvie.media import probe, write_video
from insvie.synth.sample import GENERATOR, MIN_SIDE, choose_broken, generate_sample, sample_seed

RECORDS = "records.jsonl"
JOURNAL = "records.partial.jsonl"
FOLDERS = ("source", "edited", "mask")


def sample_id(index: int) -> str:
    return f"synth-{index:05d}"


def _read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    """Records by id; a torn last line (a crash mid-append) is ignored."""
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            found[record["id"]] = record
    return found


def _videos_fit(out: Path, paths: Iterable[str], height: int, width: int, num_frames: int) -> bool:
    for path in paths:
        try:
            info = probe(out / path)
        except InsvieError:
            return False
        if (info.height, info.width, info.num_frames) != (height, width, num_frames):
            return False
    return True


def _matches(record: dict[str, Any] | None, expected: dict[str, Any]) -> bool:
    if record is None:
        return False
    for key, value in expected.items():
        if key == "fps":
            if not isinstance(record.get("fps"), (int, float)) or not math.isclose(record["fps"], value):
                return False
        elif record.get(key) != value:
            return False
    return True


def _validate(
    n: int, seed: int, size: tuple[int, int], num_frames: int, fps: float, fraction: float, lossless: bool
):
    if n < 0:
        raise ConfigError(f"n must be non-negative, got {n}")
    if seed < 0:
        raise ConfigError(f"seed must be non-negative, got {seed}")
    height, width = size
    if min(height, width) < MIN_SIDE:
        raise ConfigError(f"size must be at least {MIN_SIDE}x{MIN_SIDE}, got {height}x{width}")
    if not lossless and (height % 2 or width % 2):
        raise ConfigError(
            f"size {height}x{width}: lossy H.264 (yuv420p) needs even sides; use an even size or lossless"
        )
    if num_frames < 1:
        raise ConfigError(f"num_frames must be at least 1, got {num_frames}")
    if not fps > 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"broken_fraction must be within [0, 1], got {fraction}")


def write_synth_dataset(
    out_dir: str | Path,
    n: int,
    seed: int,
    *,
    size: tuple[int, int] = (240, 360),
    num_frames: int = 17,
    fps: float = 8,
    broken_fraction: float = 0.0,
    lossless: bool = False,
    on_sample: Callable[[dict[str, Any]], object] | None = None,
) -> list[dict[str, Any]]:
    """Write ``n`` samples into ``out_dir`` and return their records in id order.

    Sample ``i`` uses :func:`sample_seed` (seed, i), so it is the same whatever ``n``; whether it is
    broken, and how, follows from that seed and ``broken_fraction``. Masks are always lossless; source
    and edited videos are lossless H.264 RGB when ``lossless``, else yuv420p at crf 18.
    ``on_sample(record)`` is called once per sample, skipped ones included (for progress).
    """
    height, width = int(size[0]), int(size[1])
    _validate(n, seed, (height, width), num_frames, fps, broken_fraction, lossless)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    journal_path = out / JOURNAL
    known = _read_jsonl(out / RECORDS)
    known.update(_read_jsonl(journal_path))

    records: list[dict[str, Any]] = []
    with journal_path.open("a", encoding="utf-8") as journal:
        for index in range(n):
            ident = sample_id(index)
            seed_i = sample_seed(seed, index)
            broken = choose_broken(seed_i, broken_fraction)
            paths = {folder: f"{folder}/{ident}.mp4" for folder in FOLDERS}
            expected = {
                "id": ident,
                "seed": seed_i,
                "generator": GENERATOR,
                "broken": broken,
                "size": [height, width],
                "num_frames": int(num_frames),
                "fps": float(fps),
                "lossless": bool(lossless),
                **paths,
            }
            present = all((out / path).is_file() for path in paths.values())
            record = known.get(ident)
            if not (present and _matches(record, expected)):
                sample = generate_sample(seed_i, size=(height, width), num_frames=num_frames, broken=broken)
                # Videos without any record (a crash between the mask and the journal line) are kept if
                # they have the requested shape; videos whose record says otherwise are stale.
                keep = (
                    present and record is None and _videos_fit(out, paths.values(), height, width, num_frames)
                )
                record = {"id": ident, "index": index, **sample.record, **expected}
                if not keep:
                    write_video(out / paths["source"], sample.source, fps, lossless=lossless)
                    write_video(out / paths["edited"], sample.edited, fps, lossless=lossless)
                    grey = np.where(sample.mask, np.uint8(255), np.uint8(0))
                    write_video(out / paths["mask"], grey, fps, lossless=True)
                journal.write(json.dumps(record) + "\n")
                journal.flush()
            records.append(record)
            if on_sample is not None:
                on_sample(record)

    tmp = out / f".{RECORDS}.{os.getpid()}.tmp"
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out / RECORDS)
    finally:
        tmp.unlink(missing_ok=True)
    journal_path.unlink(missing_ok=True)
    return records
