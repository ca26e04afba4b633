"""The ``insvie`` command as a user runs it: a real subprocess of the installed entry point."""

from __future__ import annotations

import json
from pathlib import Path

from insvie_cli import run_cli_inheriting as run_cli

import insvie


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"insvie {insvie.__version__}"


def test_help_lists_verbs():
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in ("synth", "probe"):
        assert verb in result.stdout


def test_probe_json_on_real_clips(shared_media: Path):
    clips = sorted(shared_media.glob("*.mp4"))
    result = run_cli("probe", "--json", *map(str, clips))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == [str(clip) for clip in clips]
    for row in rows:
        assert (row["width"], row["height"], row["num_frames"]) == (720, 480, 49)
        assert row["codec"] == "h264" and row["has_audio"] is False


def test_probe_table_and_bad_file_goes_on(shared_media: Path, tmp_path: Path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    result = run_cli("probe", str(bad), str(shared_media / "horse_gallop.mp4"))
    assert result.returncode == 1
    assert "notes.mp4" in result.stderr
    assert "horse_gallop.mp4" in result.stdout and "720x480" in result.stdout
    assert "Traceback" not in result.stderr


def test_synth_writes_and_resumes(tmp_path: Path):
    out = tmp_path / "synth"
    args = ("synth", str(out), "--n", "3", "--seed", "7", "--size", "48x64", "--frames", "9")
    first = run_cli(*args, "--broken-fraction", "0.5")
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3
    videos = sorted(out.rglob("*.mp4"))
    assert len(videos) == 9
    mtimes = {video: video.stat().st_mtime_ns for video in videos}

    probed = run_cli("probe", "--json", *map(str, videos))
    assert probed.returncode == 0, probed.stderr
    for row in map(json.loads, probed.stdout.splitlines()):
        assert (row["width"], row["height"], row["num_frames"]) == (64, 48, 9)

    again = run_cli(*args, "--broken-fraction", "0.5")
    assert again.returncode == 0, again.stderr
    assert {video: video.stat().st_mtime_ns for video in out.rglob("*.mp4")} == mtimes


def test_synth_rejects_bad_size(tmp_path: Path):
    result = run_cli("synth", str(tmp_path / "x"), "--size", "big")
    assert result.returncode != 0
    assert "HEIGHTxWIDTH" in result.stderr
