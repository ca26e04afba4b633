"""``insvie build`` re-runs: one that changes nothing leaves the Parquet export as it is, one after any
change to what the export reads (an item, a result retried, a review) or without the files writes it again,
and ``insvie export`` always writes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from insvie_cli import run_cli

from insvie.store import Dataset

SMALL = {"split": {"clip_frames": 9, "max_side": 128, "clips_per_shot": 1}, "run": {"max_attempts": 1}}


@pytest.fixture
def build(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    """A tiny dataset built once (one input, rejected by split, so no step after it has work), and the
    command that builds it again."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "notes.mp4").write_text("not a video at all\n")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(SMALL))
    out = tmp_path / "ds"
    command = ("build", str(out), "-c", str(config), "-i", str(inputs))
    first = run_cli(*command)
    assert first.returncode == 0, first.stderr
    assert "export is current" not in first.stderr
    return out, command


def _written(out: Path) -> tuple[tuple[int, int], ...]:
    """Which manifest and failures files are in place: a rewrite replaces them (new inode, new mtime)."""
    files = (out / "exports" / "manifest.parquet", out / "exports" / "failures.parquet")
    return tuple((path.stat().st_ino, path.stat().st_mtime_ns) for path in files)


def _rebuild(command: tuple[str, ...]) -> str:
    result = run_cli(*command)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_a_rerun_that_changes_nothing_leaves_the_export_alone(build: tuple[Path, tuple[str, ...]]) -> None:
    out, command = build
    written = _written(out)
    assert "export is current" in _rebuild(command)
    assert _written(out) == written
    assert json.loads((out / "build.json").read_text())["export"]["items:video"] == 1  # the change counters

    assert run_cli("export", str(out)).returncode == 0  # asked for explicitly: always written
    assert _written(out) != written


def test_a_rerun_after_any_change_writes_the_export_again(
    build: tuple[Path, tuple[str, ...]], tmp_path: Path
) -> None:
    out, command = build
    with Dataset.open(out, create=False) as ds:
        split = next(r for r in ds.latest_results() if r.stage == "split")
        # The same outcome recorded again (a retry): the manifest would read the same, but it is a change.
        ds.record_result(
            split.stage,
            split.item_id,
            split.config_hash,
            split.status,
            reason=split.reason,
            output=split.output,
        )
    written = _written(out)
    assert "export is current" not in _rebuild(command)
    assert _written(out) != written

    with Dataset.open(out, create=False) as ds:
        ds.set_review(split.item_id, "reject", reason="not a video")
    written = _written(out)
    assert "export is current" not in _rebuild(command)
    assert _written(out) != written
    review = pq.read_table(out / "exports" / "manifest.parquet").column("review").to_pylist()
    assert review == ["reject"]

    (out / "exports" / "failures.parquet").unlink()
    assert "export is current" not in _rebuild(command)
    assert (out / "exports" / "failures.parquet").is_file()

    (tmp_path / "in" / "more.mp4").write_text("not a video either\n")
    written = _written(out)
    assert "export is current" not in _rebuild(command)
    assert _written(out) != written
    assert pq.read_table(out / "exports" / "manifest.parquet").num_rows == 2
    assert "export is current" in _rebuild(command)
