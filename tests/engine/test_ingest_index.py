"""Ingest's index of input files: a re-run takes unchanged files' fingerprints from the dataset instead
of reading the files, hashes anything changed, and reports exactly what hashing everything would."""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from insvie.store import DB_NAME, SCHEMA_VERSION, Dataset
from insvie.store.db import APPLICATION_ID, MIGRATIONS

ingest_module = importlib.import_module("insvie.engine.ingest")
ingest, fingerprint = ingest_module.ingest, ingest_module.fingerprint


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files ingest reads to fingerprint, in order (ingest's own ``fingerprint``, counted)."""
    calls: list[Path] = []

    def counting(path: Path) -> str:
        calls.append(Path(path))
        return fingerprint(path)

    monkeypatch.setattr(ingest_module, "fingerprint", counting)
    return calls


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test count as settled (as if the run began a minute after they were written);
    without it, files this fresh are hashed but not indexed."""
    monkeypatch.setattr(ingest_module, "_SETTLE_NS", -60 * 10**9)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.mp4").write_bytes(b"video a" * 100)
    (folder / "b.png").write_bytes(b"image b" * 100)
    (folder / "sub" / "c.jpg").write_bytes(b"image c" * 100)
    (folder / "sub" / "copy-of-a.mov").write_bytes(b"video a" * 100)  # same bytes: one item, known once
    (folder / "notes.txt").write_text("not media")
    (folder / "before.png").write_bytes(b"pair source")
    (folder / "after.png").write_bytes(b"pair edited")
    lines = [
        {"source": "before.png", "edited": "after.png", "instruction": "Invert"},
        {"source": "before.png", "edited": "missing.png", "instruction": "Nothing"},
    ]
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return folder


def _run(tmp_path: Path, inputs: Path) -> tuple[ingest_module.IngestReport, list[str]]:
    with Dataset.open(tmp_path / "ds") as ds:
        report = ingest(ds, [inputs], [inputs / "pairs.jsonl"])
        return report, [item.id for item in ds.iter_items()]


def test_an_unchanged_rerun_reads_no_file_and_reports_the_same_items(
    tmp_path: Path, inputs: Path, hashed: list[Path], settled: None
) -> None:
    first, ids = _run(tmp_path, inputs)
    assert first.added == {"video": 1, "image": 4, "pair": 1}
    assert first.known == 1  # copy-of-a.mov
    assert len(hashed) == 6  # every media file once; the pair's images were indexed as files just before
    assert f"video-{fingerprint(inputs / 'a.mp4')[:24]}" in ids

    hashed.clear()
    again, ids_again = _run(tmp_path, inputs)
    assert hashed == []
    assert again.added == {} and again.known == 7
    assert again.skipped == first.skipped and set(again.skipped) == {
        str(inputs / "notes.txt"),
        str(inputs / "pairs.jsonl"),
        f"{inputs / 'pairs.jsonl'}:2",
    }
    assert ids_again == ids


def test_a_touched_rewritten_or_replaced_file_is_hashed_again(
    tmp_path: Path, inputs: Path, hashed: list[Path], settled: None
) -> None:
    _, ids = _run(tmp_path, inputs)
    touched, rewritten, replaced = inputs / "b.png", inputs / "sub" / "c.jpg", inputs / "a.mp4"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    # Same size and the old mtime put back (as `cp -p` or `rsync -t` leave it): only ctime and inode tell.
    old = rewritten.stat()
    rewritten.write_bytes(b"IMAGE C" * 100)
    os.utime(rewritten, ns=(old.st_atime_ns, old.st_mtime_ns))
    old = replaced.stat()
    (inputs / "new.tmp").write_bytes(b"VIDEO A" * 100)
    os.utime(inputs / "new.tmp", ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(inputs / "new.tmp", replaced)

    hashed.clear()
    report, ids_after = _run(tmp_path, inputs)
    assert sorted(hashed) == sorted([touched, rewritten, replaced])
    assert report.added == {"image": 1, "video": 1} and report.known == 5
    assert ids_after == [
        *ids,
        f"video-{fingerprint(replaced)[:24]}",
        f"image-{fingerprint(rewritten)[:24]}",
    ]


def test_a_file_written_just_before_the_run_is_hashed_again_next_time(
    tmp_path: Path, inputs: Path, hashed: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rewrite within the timestamp tick of the hashing leaves size and timestamps as they were, so a
    # file this fresh is not trusted yet: here every file counts as fresh for an hour.
    monkeypatch.setattr(ingest_module, "_SETTLE_NS", 3600 * 10**9)
    _run(tmp_path, inputs)
    assert len(hashed) == 8  # the pair's images again, as they were not indexed as files either
    hashed.clear()
    report, _ = _run(tmp_path, inputs)
    assert len(hashed) == 8 and report.known == 7 and report.added == {}
    with Dataset.open(tmp_path / "ds") as ds:
        assert ds.indexed_inputs([str(inputs / "a.mp4")]) == {}


def test_a_version_three_dataset_is_migrated_and_indexed(
    tmp_path: Path, inputs: Path, hashed: list[Path], settled: None
) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    conn = sqlite3.connect(root / DB_NAME, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:3]:
        migration(conn)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 3")
    old_id = f"video-{fingerprint(inputs / 'a.mp4')[:24]}"
    conn.execute(
        "INSERT INTO items (id, kind, source, meta, created_at) VALUES (?, 'video', ?, ?, 0)",
        (old_id, str(inputs / "a.mp4"), json.dumps({"name": "a.mp4"})),
    )
    conn.execute("COMMIT")
    conn.close()

    report, ids = _run(tmp_path, inputs)
    assert ids[0] == old_id and report.known == 2  # the old item, and its copy
    assert report.added == {"image": 4, "pair": 1}
    hashed.clear()
    assert _run(tmp_path, inputs)[0].known == 7 and hashed == []
    conn = sqlite3.connect(root / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert conn.execute("SELECT count(*) FROM ingest_index").fetchone()[0] == 6
