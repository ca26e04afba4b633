"""``insvie build`` when things go wrong: a second writer, missing inputs, models and endpoints that are
not there, a step that fails every item, and inputs that give nothing. Each failure reaches the user,
named, before work starts where it can be known then."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply
from insvie_cli import run_cli

from insvie.store import Dataset

SMALL = {"split": {"clip_frames": 9, "max_side": 128, "clips_per_shot": 1}, "run": {"max_attempts": 1}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def media(tmp_path: Path, shared_media: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    shutil.copy(shared_media / "horse_gallop.mp4", folder)
    return folder


def _config(tmp_path: Path, **sections: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({**SMALL, **sections}))
    return path


def test_a_second_build_is_refused_at_once_naming_the_first(tmp_path: Path, media: Path) -> None:
    out = tmp_path / "ds"
    config = _config(tmp_path)
    assert run_cli("build", str(out), "-c", str(config), "-i", str(media)).returncode == 0
    with Dataset.open(out) as ds, ds.writing("insvie build (the first)"):
        started = time.monotonic()
        second = run_cli("build", str(out), "-c", str(config), "-i", str(media))
        assert second.returncode == 2
        assert f"another build is writing to this dataset (pid {os.getpid()} on " in second.stderr
        assert "'insvie build (the first)' since" in second.stderr and "Traceback" not in second.stderr
        assert time.monotonic() - started < 60  # refused, not queued behind the first
        # Reading goes on while the first one writes.
        assert run_cli("status", str(out), "--json").returncode == 0
    again = run_cli("build", str(out), "-c", str(config), "-i", str(media))  # the lock went with the holder
    assert again.returncode == 0, again.stderr


def test_a_missing_input_is_an_error_before_any_work(tmp_path: Path, media: Path) -> None:
    result = run_cli("build", str(tmp_path / "ds"), "-i", str(media), "-i", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert f"no such file or folder: --input {tmp_path / 'nowhere'}" in result.stderr
    assert not (tmp_path / "ds").exists()


def test_models_and_endpoints_that_are_not_there_stop_the_build_before_any_work(tmp_path: Path, media: Path):
    port = _closed_port()
    config = _config(
        tmp_path,
        edit={"backend": "instruct_pix2pix", "model": str(tmp_path / "no-such-model")},
        instruct={"source": "llm", "chat": {"model": "m", "base_url": f"http://127.0.0.1:{port}/v1"}},
        prefilter={"enabled": True, "model": "nobody/clip-that-is-not-cached"},
    )
    result = run_cli(
        "build",
        str(tmp_path / "ds"),
        "-c",
        str(config),
        "-i",
        str(media),
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode == 2, result.stderr
    text = " ".join(result.stderr.split())
    assert f"edit.model: no such folder: {tmp_path / 'no-such-model'}" in text
    assert f"instruct.chat.base_url: nothing answers at http://127.0.0.1:{port}/v1" in text
    assert (
        "prefilter.model: nobody/clip-that-is-not-cached is neither a local folder nor in the Hugging" in text
    )
    assert not (tmp_path / "ds").exists()  # nothing ran


def test_a_step_that_fails_every_item_is_loud(tmp_path: Path, shared_media: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("horse_gallop.mp4", "cat_grass.mp4"):
        shutil.copy(shared_media / name, media)

    def refuse(_request: dict) -> FakeReply:
        return FakeReply(status=401, error_message="Incorrect API key provided")

    with FakeOpenAIServer(refuse) as server:
        chat = {"model": "fake-gpt", "base_url": server.base_url, "max_retries": 0, "concurrency": 1}
        config = _config(tmp_path, instruct={"source": "llm", "per_item": 1, "chat": chat})
        result = run_cli("build", str(tmp_path / "ds"), "-c", str(config), "-i", str(media))
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "instruct failed" in line]
    assert len(lines) == 1 and "Incorrect API key provided" in lines[0]  # the first of its kind, once
    assert "failed for every item: instruct" in result.stderr

    table = run_cli("status", str(tmp_path / "ds"))
    assert "failures" in table.stdout and "Incorrect API key provided" in table.stdout
    report = json.loads(run_cli("status", str(tmp_path / "ds"), "--json").stdout)
    (instruct,) = [step for step in report["steps"] if step["stage"] == "instruct"]
    (group,) = instruct["failures"]
    assert group["count"] == instruct["failed"] == 2 and len(group["examples"]) == 2
    assert "Incorrect API key provided" in group["error"]


def test_inputs_that_give_nothing_are_recorded_and_named(tmp_path: Path, media: Path) -> None:
    (media / "garbage.mp4").write_bytes(os.urandom(4000))
    (media / "loop-a").symlink_to(media / "loop-b")
    (media / "loop-b").symlink_to(media / "loop-a")
    (media / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    result = run_cli("build", str(tmp_path / "ds"), "-c", str(_config(tmp_path)), "-i", str(media))
    assert result.returncode == 0, result.stderr
    assert f"skipped {media / 'loop-a'}: symlink loop" in result.stderr
    report = json.loads(run_cli("status", str(tmp_path / "ds"), "--json").stdout)
    found = {Path(problem["path"]).name: problem for problem in report["inputs"]}
    assert found["loop-a"]["reason"] == found["loop-b"]["reason"] == "symlink loop"
    assert found["loop-a"]["step"] == "ingest" and found["loop-a"]["status"] == "skipped"
    assert found["dangling.mp4"]["reason"].startswith("broken symlink")
    assert found["garbage.mp4"]["step"] == "split" and found["garbage.mp4"]["status"] == "rejected"
    assert "horse_gallop.mp4" not in found
    listing = run_cli("status", str(tmp_path / "ds"), "--rejected")
    assert listing.returncode == 0
    assert str(media / "garbage.mp4") in listing.stdout and "symlink loop" in listing.stdout
    # A file fixed and ingested later is no longer listed.
    (media / "loop-a").unlink()
    shutil.copy(media / "horse_gallop.mp4", media / "loop-a.mp4")
    run_cli("build", str(tmp_path / "ds"), "-c", str(_config(tmp_path)), "-i", str(media / "loop-a.mp4"))
    report = json.loads(run_cli("status", str(tmp_path / "ds"), "--json").stdout)
    assert "loop-a.mp4" not in {Path(problem["path"]).name for problem in report["inputs"]}
