"""A writer killed with SIGKILL at random moments never leaves the dataset inconsistent."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from insvie.store import DB_NAME, Dataset

REPO_SRC = Path(__file__).resolve().parents[2] / "src"

# Writes media of a few MB in small chunks (so a kill often lands mid-file) and records items and
# results for them, in a loop, until killed.
WRITER = """
import os, random, sys
from insvie.store import Dataset

ds = Dataset.open(sys.argv[1])
lock = ds.writing("crash test writer")
lock.__enter__()  # held until the kill: the kernel must release it
rng = random.Random(os.getpid())
print("ready", flush=True)
n = 0
while True:
    with ds.write_media(".bin") as pending:
        with open(pending.path, "wb") as fh:
            for _ in range(rng.randint(16, 64)):
                fh.write(rng.randbytes(1 << 16))
    extra = ds.put_bytes(rng.randbytes(rng.randint(1, 3) << 20), ".dat")
    item = f"{os.getpid()}-{n}"
    with ds.transaction():
        ds.add_item(item, "clip", media=pending.relpath, meta={"n": n})
        ds.add_item(item + "-frame", "frame", media=extra, parent=item)
        ds.record_result("edit", item, "cfg", "done", output={"media": extra})
    n += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_leaves_no_partial_file_or_phantom_row(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_SRC), os.environ.get("PYTHONPATH", "")])}
    schedule = random.Random(20240611)
    leftovers_seen = 0
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(schedule.uniform(0.05, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()  # reaped, so its pid is dead and its temporaries are stale
        proc.stdout.close()
        leftovers_seen += len(list((root / "tmp").iterdir()))

    with Dataset.open(root, create=False) as ds, ds.writing("check"):  # each kill released the lock
        assert list((root / "tmp").iterdir()) == [], "stale temporaries survived the next writer's start"
        for path in (root / "media").rglob("*"):
            if path.is_file():
                assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem, f"partial file {path}"
        assert ds.verify(rehash=True) == []
        items = list(ds.iter_items())
        assert items, "the writer never committed anything; the kill schedule is too short"
        for item in items:
            assert ds.resolve(item.media).is_file()
        for result in ds.latest_results():
            assert ds.resolve(result.output["media"]).is_file()
        assert len(items) == 2 * len(ds.latest_results())  # batches commit whole or not at all

    conn = sqlite3.connect(root / DB_NAME)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    print(f"{len(items)} items committed; {leftovers_seen} temporaries left by kills and cleaned")
