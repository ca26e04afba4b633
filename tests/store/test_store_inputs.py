"""Inputs that gave nothing: skips are kept by path with the latest reason, and forgotten in bulk."""

from __future__ import annotations

from pathlib import Path

from insvie.store import Dataset


def _skipped(ds: Dataset) -> dict[str, str]:
    return {p.path: p.reason for p in ds.input_problems() if p.step == "ingest"}


def test_the_latest_skip_reason_wins(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        ds.record_skipped_input("/in/a.mp4", "cannot read")
        ds.record_skipped_input("/in/a.mp4", "symlink loop")
        assert _skipped(ds) == {"/in/a.mp4": "symlink loop"}


def test_skips_are_forgotten_in_one_statement_for_any_number_of_paths(tmp_path: Path) -> None:
    paths = ["/in/a.mp4", "/in/b.mp4", "/in/c d.mp4", "/in/ü.mp4", "list.jsonl:3"]
    with Dataset.open(tmp_path) as ds:
        for path in paths:
            ds.record_skipped_input(path, "cannot read")
        ds.clear_skipped_inputs([])
        assert set(_skipped(ds)) == set(paths)
        ds.clear_skipped_inputs(iter(["/in/b.mp4", "/in/ü.mp4", "/in/never-skipped.mp4", "list.jsonl:3"]))
        assert set(_skipped(ds)) == {"/in/a.mp4", "/in/c d.mp4"}
        ds.clear_skipped_inputs(["/in/c d.mp4"])
        assert set(_skipped(ds)) == {"/in/a.mp4"}
