"""Writing SynthEdit datasets: files, exact masks, records, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from insvie.errors import ConfigError
from insvie.media import read_frames
from insvie.synth import generate_sample, write_synth_dataset

SIZE = (48, 64)
FRAMES = 5
KEYS = {
    "id", "index", "seed", "instruction", "category", "source_caption", "target_caption", "edit", "broken",
    "broken_params", "source", "edited", "mask", "size", "num_frames", "fps", "lossless",
}  # fmt: skip


def _write(out: Path, n: int = 3, **kwargs):
    options = {"size": SIZE, "num_frames": FRAMES, "fps": 8, "broken_fraction": 0.5, **kwargs}
    return write_synth_dataset(out, n, 7, **options)


def _mtimes(out: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in sorted(out.rglob("*.mp4"))}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return out, _write(out, broken_fraction=0.7)


def test_writes_three_videos_and_records(written):
    out, records = written
    assert [r["id"] for r in records] == ["synth-00000", "synth-00001", "synth-00002"]
    lines = (out / "records.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert len(list(out.rglob("*.mp4"))) == 9
    assert not (out / "records.partial.jsonl").exists()
    assert any(r["broken"] for r in records)
    for record in records:
        assert set(record) >= KEYS
        assert (record["broken"] is None) == (record["broken_params"] is None)
        for folder in ("source", "edited", "mask"):
            assert record[folder] == f"{folder}/{record['id']}.mp4"
            frames = read_frames(out / record[folder])
            assert frames.shape == (FRAMES, *SIZE, 3)


def test_videos_match_the_in_memory_sample(written):
    out, records = written
    for record in records:
        sample = generate_sample(record["seed"], size=SIZE, num_frames=FRAMES, broken=record["broken"])
        assert sample.record["instruction"] == record["instruction"]
        mask = read_frames(out / record["mask"])
        assert np.array_equal(mask, np.repeat(sample.mask[..., None], 3, axis=-1).astype(np.uint8) * 255)
        source = read_frames(out / record["source"]).astype(int)
        assert np.abs(source - sample.source).mean() < 10  # lossy, but the same video
        edited = read_frames(out / record["edited"]).astype(int)
        assert np.abs(edited - sample.edited).mean() < 10


def test_lossless_round_trips_exactly(tmp_path):
    records = _write(tmp_path, n=1, lossless=True, size=(33, 47))
    sample = generate_sample(
        records[0]["seed"], size=(33, 47), num_frames=FRAMES, broken=records[0]["broken"]
    )
    assert np.array_equal(read_frames(tmp_path / records[0]["source"]), sample.source)
    assert np.array_equal(read_frames(tmp_path / records[0]["edited"]), sample.edited)


def test_sample_i_does_not_depend_on_n(tmp_path):
    small = _write(tmp_path / "a", n=3, lossless=True)
    large = _write(tmp_path / "b", n=5, lossless=True)
    assert small == large[:3]
    for record in small:
        for folder in ("source", "edited", "mask"):
            assert np.array_equal(
                read_frames(tmp_path / "a" / record[folder]), read_frames(tmp_path / "b" / record[folder])
            )


def test_resume_rewrites_nothing_and_reports_every_sample(tmp_path):
    first = _write(tmp_path)
    before = _mtimes(tmp_path)
    seen = []
    again = _write(tmp_path, on_sample=lambda record: seen.append((record["index"], record["id"])))
    assert again == first
    assert _mtimes(tmp_path) == before
    assert seen == [(i, f"synth-{i:05d}") for i in range(3)]
    # Without records.jsonl the videos are still recognised (by their shape) and kept.
    (tmp_path / "records.jsonl").unlink()
    assert _write(tmp_path) == first
    assert _mtimes(tmp_path) == before


def test_interrupted_run_continues_where_it_stopped(tmp_path):
    def stop_after_first(record):
        if record["index"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _write(tmp_path, n=4, on_sample=stop_after_first)
    assert not (tmp_path / "records.jsonl").exists()
    done = _mtimes(tmp_path)
    assert len(done) == 6
    records = _write(tmp_path, n=4)
    assert len(records) == 4 and len(_mtimes(tmp_path)) == 12
    assert {path: _mtimes(tmp_path)[path] for path in done} == done


def test_changed_request_rewrites_stale_videos(tmp_path):
    _write(tmp_path, n=1)
    records = _write(tmp_path, n=1, size=(32, 48))
    assert records[0]["size"] == [32, 48]
    assert read_frames(tmp_path / records[0]["source"]).shape == (FRAMES, 32, 48, 3)


def test_bad_requests_fail_before_writing(tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(ConfigError, match="even"):
        write_synth_dataset(out, 1, 0, size=(47, 64))
    with pytest.raises(ConfigError, match="seed"):
        write_synth_dataset(out, 1, -3)
    with pytest.raises(ConfigError, match="broken_fraction"):
        write_synth_dataset(out, 1, 0, broken_fraction=1.5)
    with pytest.raises(ConfigError, match="fps"):
        write_synth_dataset(out, 1, 0, fps=0)
    assert not out.exists()
