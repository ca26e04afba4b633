"""``insvie probe`` on a mix of good and unusable paths, as a user runs it: a real subprocess, real files.

Its help promises that a file which cannot be read is reported with the reason while the others are
still probed, and the exit code says whether any failed. These tests hold it to that for the paths
that used to break it: a symlink loop (reported as "no such file") and a path the operating system
refuses outright (a name too long, which ended the run with a traceback at that file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from insvie_cli import run_cli_inheriting as run_cli


@pytest.fixture
def paths(tmp_path: Path, shared_media: Path) -> dict[str, Path]:
    """A good clip, a symlink pointing at itself, a two-link cycle, a name too long, and a text file."""
    (tmp_path / "self.mp4").symlink_to("self.mp4")
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    notes = tmp_path / "notes.mp4"
    notes.write_text("this is not a video\n")
    return {
        "loop": tmp_path / "self.mp4",
        "cycle": tmp_path / "a.mp4",
        "long": tmp_path / ("x" * 300 + ".mp4"),  # over NAME_MAX (255): stat fails with ENAMETOOLONG
        "good": shared_media / "horse_gallop.mp4",
        "notes": notes,
    }


def test_json_reports_every_failure_and_probes_the_rest(paths: dict[str, Path]):
    order = ["loop", "long", "good", "cycle", "notes"]
    result = run_cli("probe", "--json", *(str(paths[name]) for name in order))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(paths[name]) for name in order]
    by_name = dict(zip(order, rows, strict=True))
    assert by_name["loop"]["reason"] == "symlink loop"
    assert by_name["cycle"]["reason"] == "symlink loop"
    assert "name too long" in by_name["long"]["reason"].lower()
    assert "not a recognisable video container" in by_name["notes"]["reason"]
    for name in ("loop", "cycle", "long", "notes"):
        assert by_name[name]["error"] and "codec" not in by_name[name]
    assert (by_name["good"]["width"], by_name["good"]["num_frames"]) == (720, 49)


def test_table_reports_every_failure_and_probes_the_rest(paths: dict[str, Path]):
    order = ["long", "loop", "good", "notes"]
    result = run_cli("probe", *(str(paths[name]) for name in order))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error ")]
    assert len(errors) == 3, result.stderr
    assert "self.mp4: symlink loop" in result.stderr
    assert "no such file" not in result.stderr
    assert "horse_gallop.mp4" in result.stdout and "720x480" in result.stdout


def test_only_failures_still_exit_non_zero(paths: dict[str, Path]):
    result = run_cli("probe", "--json", str(paths["cycle"]), str(paths["long"]))
    assert result.returncode == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(paths["cycle"]), str(paths["long"])]
    assert all(row["reason"] for row in rows)
