"""Opening, schema versions, media, items, results and reviews, on real SQLite files."""

from __future__ import annotations

import datetime
import hashlib
import multiprocessing
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from insvie.errors import ConfigError, SchemaError, StoreError
from insvie.store import DB_NAME, SCHEMA_VERSION, Dataset, Funnel, config_hash
from insvie.store.db import APPLICATION_ID, MIGRATIONS


@pytest.fixture
def ds(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as dataset:
        yield dataset


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- opening ---------------------------------------------------------------------------------------


def test_open_creates_the_layout_in_wal_mode(tmp_path: Path) -> None:
    with Dataset.open(tmp_path / "new" / "ds") as ds:
        assert {p.name for p in ds.root.iterdir()} >= {DB_NAME, "media", "exports", "tmp"}
    conn = sqlite3.connect(tmp_path / "new" / "ds" / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_reopen_keeps_the_data(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        ds.add_item("a", "clip", meta={"fps": 8})
    with Dataset.open(tmp_path, create=False) as ds:
        assert ds.get_item("a").meta == {"fps": 8}


def test_missing_dataset_is_not_created_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not an insvie dataset"):
        Dataset.open(tmp_path / "nope", create=False)
    assert not (tmp_path / "nope").exists()
    with pytest.raises(StoreError, match=f"no {DB_NAME}"):
        Dataset.open(tmp_path, create=False)
    assert not (tmp_path / DB_NAME).exists()


def test_non_empty_folder_without_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").write_bytes(b"x")
    for create in (True, False):
        with pytest.raises(StoreError, match=str(tmp_path)):
            Dataset.open(tmp_path, create=create)
    assert not (tmp_path / DB_NAME).exists()


def test_a_file_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        Dataset.open(tmp_path / "f")


def test_garbage_database_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not an SQLite file\n" * 200)
    with pytest.raises(StoreError, match=DB_NAME) as err:
        Dataset.open(tmp_path)
    assert not isinstance(err.value, SchemaError)


def test_other_programs_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="some other program"):
        Dataset.open(tmp_path)


def test_version_one_database_is_migrated(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    conn.execute("BEGIN")
    MIGRATIONS[0](conn)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO items (id, kind, meta, created_at) VALUES ('old', 'clip', '{\"a\": 1}', 0)")
    conn.execute("COMMIT")
    conn.close()
    with Dataset.open(tmp_path, create=False) as ds:
        assert ds.get_item("old").meta == {"a": 1}
        ds.set_review("old", "accept")  # the table v2 added
        assert ds.get_review("old").verdict == "accept"
        ds.record_skipped_input("/in/bad.mp4", "cannot read")  # the table v3 added
        assert [p.path for p in ds.input_problems()] == ["/in/bad.mp4"]
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"items_kind", "items_kind_id"} <= indexes  # v5: a kind's items in id order too
    # v6: the tables lost their json_valid checks (edited in place), nothing else, and the file is sound
    tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE name IN ('items', 'results')"))
    assert "json_valid" not in tables["items"] + tables["results"]
    assert "CHECK (status IN ('done', 'rejected', 'failed'))" in tables["results"]
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_version_five_database_keeps_its_rows_and_takes_results_after_migrating(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:5]:
        migration(conn)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO items (id, kind, meta, created_at) VALUES ('old', 'clip', '{\"a\": 1}', 0)")
    conn.execute(
        "INSERT INTO results (stage, item_id, config_hash, status, output, attempts, updated_at) "
        "VALUES ('split', 'old', 'h', 'done', '{\"n\": 2}', 1, 0)"
    )
    conn.execute("COMMIT")
    conn.close()
    with Dataset.open(tmp_path, create=False) as ds:
        assert ds.get_item("old").meta == {"a": 1}
        assert [r.output for r in ds.results("split", "h")] == [{"n": 2}]
        ds.add_item("new", "clip", parent="old", meta={"b": [1.5e-07, 2**70]})
        ds.record_result("split", "new", "h", "done", output={"n": 3})
        assert ds.get_item("new").meta == {"b": [1.5e-07, 2**70]}
        with pytest.raises(StoreError, match="not storable as JSON"):  # what the checks were for
            ds.record_result("split", "new", "h", "done", output={"x": float("nan")})
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 6
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    Dataset.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match=rf"version {SCHEMA_VERSION + 5}.*version {SCHEMA_VERSION}"):
        Dataset.open(tmp_path)


def test_closed_dataset_refuses_use(tmp_path: Path) -> None:
    ds = Dataset.open(tmp_path)
    ds.close()
    with pytest.raises(StoreError, match="closed"):
        ds.get_item("a")


def test_the_writer_lock_clears_tmp_and_a_reader_removes_nothing(tmp_path: Path) -> None:
    """Temporaries are swept when a writer takes the lock (no other writer can be running then), not
    by guessing from pids: a zombie worker's pid looks alive, a worker on another host's looks dead."""
    Dataset.open(tmp_path).close()
    dead, alive = _dead_pid(), os.getpid()
    temporaries = [
        tmp_path / "tmp" / f"tmp-{dead}-0123456789abcdef.mp4",
        tmp_path / "tmp" / f".tmp-{dead}-0123456789abcdef.mp4.{dead}.partial.mp4",  # an encoder's own temp
        tmp_path / "tmp" / f"tmp-{alive}-0123456789abcdef.mp4",
    ]
    stale_export = tmp_path / "exports" / f".manifest.parquet.tmp-{dead}-0123456789abcdef"
    kept = [tmp_path / "tmp" / "notes.txt", tmp_path / "exports" / "manifest.parquet"]
    for path in [*temporaries, stale_export, *kept]:
        path.write_bytes(b"partial")
    with Dataset.open(tmp_path) as reader:  # a reader (status, export, the app) removes no temporary
        assert all(p.exists() for p in temporaries)
        with reader.writing("test"):
            assert [p for p in temporaries if p.exists()] == []
    assert not stale_export.exists()  # exports are not written under the lock: their dead writers' go
    assert all(p.exists() for p in kept)


def test_a_zombie_workers_temporaries_go_when_the_next_writer_starts(tmp_path: Path) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while time.time() < deadline and _state(zombie.pid) != "Z":  # exited, not reaped: a zombie
        time.sleep(0.05)
    try:
        assert _state(zombie.pid) == "Z"
        with Dataset.open(tmp_path) as ds:
            leftover = ds.temp_path(".mp4").with_name(f"tmp-{zombie.pid}-0123456789abcdef.mp4")
            leftover.write_bytes(b"half an encode")
            with ds.writing("test"):
                assert not leftover.exists()
    finally:
        zombie.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except OSError:
        return "?"


def test_one_writer_at_a_time_and_the_second_is_told_who(tmp_path: Path) -> None:
    from insvie.store.lock import DatasetBusy

    with Dataset.open(tmp_path) as first, first.writing("insvie build"), Dataset.open(tmp_path) as second:
        busy = pytest.raises(DatasetBusy, match=rf"pid {os.getpid()} on .*'insvie build' since")
        with busy, second.writing("insvie build"):
            pass
        assert second.funnel("split").total == 0  # reading goes on
    with Dataset.open(tmp_path) as again, again.writing("insvie build"):  # released on exit
        pass


def _add_child_item(ds: Dataset) -> None:
    ds.add_item("from-child", "clip")
    ds.close()


def test_forked_worker_opens_its_own_connection(ds: Dataset) -> None:
    ds.add_item("before", "clip")  # the parent's connection is open across the fork
    proc = multiprocessing.get_context("fork").Process(target=_add_child_item, args=(ds,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert ds.get_item("from-child") is not None
    ds.add_item("after", "clip")
    assert [item.id for item in ds.iter_items()] == ["before", "from-child", "after"]


def test_pickled_dataset_reopens_by_path(ds: Dataset) -> None:
    ds.add_item("a", "clip")
    with pickle.loads(pickle.dumps(ds)) as copy:
        assert copy.root == ds.root
        assert copy.get_item("a") is not None


# -- media -----------------------------------------------------------------------------------------


def test_put_file_is_content_addressed_and_deduplicated(ds: Dataset, tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    src = tmp_path / "clip.MP4"
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    rel = ds.put_file(src)
    assert rel == f"media/{digest[:2]}/{digest}.mp4"
    assert ds.resolve(rel).read_bytes() == data
    assert ds.put_bytes(data, "mp4") == rel
    assert ds.put_file(src, ext=".bin") == f"media/{digest[:2]}/{digest}.bin"
    assert len(list((ds.root / "media").rglob("*.*"))) == 2
    assert list((ds.root / "tmp").iterdir()) == []
    assert ds.verify(rehash=True) == []


def test_put_file_of_missing_source_names_it(ds: Dataset, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope\.mp4"):
        ds.put_file(tmp_path / "nope.mp4")
    assert list((ds.root / "tmp").iterdir()) == []


@pytest.mark.parametrize("ext", [".m p4", "../x", ".mp4/", ".a.b.c", ".x" * 20])
def test_unusable_extensions_are_refused(ds: Dataset, ext: str) -> None:
    with pytest.raises(StoreError, match="extension"):
        ds.put_bytes(b"x", ext)


def test_write_media_moves_the_encoders_file_into_place(ds: Dataset) -> None:
    with ds.write_media(".mp4") as pending:
        assert pending.path.parent == ds.root / "tmp"
        assert pending.path.suffix == ".mp4"
        pending.path.write_bytes(b"frames")
    digest = hashlib.sha256(b"frames").hexdigest()
    assert pending.relpath == f"media/{digest[:2]}/{digest}.mp4"
    assert not pending.path.exists()
    ds.add_item("clip", "clip", media=pending.relpath)


def test_failed_write_media_leaves_nothing(ds: Dataset) -> None:
    with pytest.raises(RuntimeError), ds.write_media(".mp4") as pending:
        pending.path.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert pending.relpath is None
    assert list((ds.root / "tmp").iterdir()) == []
    assert list((ds.root / "media").iterdir()) == []
    with pytest.raises(StoreError, match="left no file"), ds.write_media(".mp4"):
        pass


# -- items -----------------------------------------------------------------------------------------


def test_add_item_is_idempotent_and_refuses_conflicts(ds: Dataset) -> None:
    rel = ds.put_bytes(b"v", ".mp4")
    first = ds.add_item("src", "source", source="/videos/a.mp4", media=rel, meta={"b": [1, 2], "a": 1})
    again = ds.add_item("src", "source", source="/videos/a.mp4", media=rel, meta={"a": 1, "b": (1, 2)})
    assert again == first
    assert ds.get_item("src") == first
    with pytest.raises(StoreError, match=r"'src' already exists with a different kind, meta"):
        ds.add_item("src", "clip", source="/videos/a.mp4", media=rel, meta={"a": 2})


def test_add_item_checks_references(ds: Dataset) -> None:
    with pytest.raises(StoreError, match="parent 'nope'"):
        ds.add_item("c", "clip", parent="nope")
    with pytest.raises(StoreError, match=r"media 'media/aa/missing\.mp4' is not in the dataset"):
        ds.add_item("c", "clip", media="media/aa/missing.mp4")
    with pytest.raises(StoreError, match="item kind 'Clip!'"):
        ds.add_item("c", "Clip!")
    with pytest.raises(StoreError, match="not storable as JSON"):
        ds.add_item("c", "clip", meta={"score": float("nan")})
    assert ds.get_item("c") is None


@pytest.mark.parametrize(
    "bad", [float("nan"), [float("inf")], {"when": datetime.date(2026, 1, 1)}, {"x": object()}]
)
def test_what_json_refuses_is_refused_whichever_writer_would_take_it(ds: Dataset, bad: object) -> None:
    # orjson writes NaN as null and dates as strings; the store refuses them as json does
    with pytest.raises(StoreError, match="not storable as JSON"):
        ds.add_item("c", "clip", meta={"v": bad})


def test_stored_json_reads_back_equal_however_it_is_written(ds: Dataset) -> None:
    meta = {"tiny": 1e-05, "huge": 1.5e300, "big": 2**70, "none": None, "text": "é null", "t": (1, 2)}
    ds.add_item("c", "clip", meta=meta)
    assert ds.get_item("c").meta == {**meta, "t": [1, 2]}
    ds.add_item("d", "clip", meta={"scores": {3: 0.5}})  # keys as json writes them
    assert ds.get_item("d").meta == {"scores": {"3": 0.5}}


def test_an_item_stored_in_the_old_spelling_is_the_same_item(tmp_path: Path) -> None:
    with Dataset.open(tmp_path) as ds:
        ds.add_item("old", "clip", meta={"x": 1e-05})
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("""UPDATE items SET meta = '{"x":1e-05}' WHERE id = 'old'""")  # as json.dumps wrote it
    conn.commit()
    conn.close()
    with Dataset.open(tmp_path) as ds:
        assert ds.add_item("old", "clip", meta={"x": 1e-05}).meta == {"x": 1e-05}  # re-adding is a no-op
        with pytest.raises(StoreError, match="different meta"):
            ds.add_item("old", "clip", meta={"x": 2e-05})


def test_iter_items_pages_and_filters(ds: Dataset) -> None:
    with ds.transaction():
        ds.add_item("src", "source")
        for i in range(2500):
            ds.add_item(f"clip-{i:05d}", "clip", parent="src", meta={"i": i})
    clips = []
    for item in ds.iter_items("clip"):  # writing while iterating is allowed
        clips.append(item.id)
        if item.meta["i"] % 1000 == 0:
            ds.add_item(f"{item.id}-cand", "candidate", parent=item.id)
    assert clips == [f"clip-{i:05d}" for i in range(2500)]
    assert len(list(ds.iter_items())) == 2504
    assert [item.id for item in ds.iter_items("candidate")] == [f"clip-{i:05d}-cand" for i in (0, 1000, 2000)]


def test_transaction_rolls_back_the_whole_batch(ds: Dataset) -> None:
    with pytest.raises(StoreError), ds.transaction():
        ds.add_item("a", "clip")
        ds.add_item("b", "clip", parent="missing")
    assert ds.get_item("a") is None


# -- results ---------------------------------------------------------------------------------------


def test_config_hash_is_canonical() -> None:
    a = config_hash({"model": "x", "opts": {"steps": 30, "cfg": 7.5}, "seeds": [1, 2]})
    b = config_hash({"seeds": (1, 2), "opts": {"cfg": 7.5, "steps": 30}, "model": "x"})
    assert a == b and len(a) == 64
    assert config_hash({"model": "x", "opts": {"steps": 31, "cfg": 7.5}, "seeds": [1, 2]}) != a
    with pytest.raises(ConfigError, match="not plain JSON"):
        config_hash({"path": Path("/x")})
    with pytest.raises(ConfigError, match="mapping"):
        config_hash([1, 2])  # type: ignore[arg-type]


def test_configs_are_stored_by_hash(ds: Dataset) -> None:
    digest = ds.register_config({"b": 1, "a": [1, 2]})
    assert digest == config_hash({"a": [1, 2], "b": 1})
    assert ds.get_config(digest) == {"a": [1, 2], "b": 1}
    assert ds.get_config("0" * 64) is None


def test_record_and_read_results_counting_attempts(ds: Dataset) -> None:
    ds.add_item("a", "clip")
    cfg = config_hash({"k": 1})
    first = ds.record_result("judge", "a", cfg, "failed", error=ValueError("decoder crashed"))
    assert (first.status, first.error, first.attempts) == ("failed", "ValueError: decoder crashed", 1)
    assert ds.record_result("judge", "a", cfg, "failed", error="again", reason="timeout").attempts == 2
    done = ds.record_result("judge", "a", cfg, "done", output={"score": 0.9, "media": ["m/x"]})
    assert (done.status, done.error, done.reason, done.attempts) == ("done", None, None, 3)
    assert ds.get_result("judge", "a", cfg) == done
    assert ds.get_result("judge", "a", "other") is None
    assert ds.get_result("edit", "a", cfg) is None


def test_record_result_validates(ds: Dataset) -> None:
    ds.add_item("a", "clip")
    with pytest.raises(StoreError, match="rejection needs a reason"):
        ds.record_result("judge", "a", "h", "rejected")
    with pytest.raises(StoreError, match="failure needs an error"):
        ds.record_result("judge", "a", "h", "failed")
    with pytest.raises(StoreError, match="only a failed result carries an error"):
        ds.record_result("judge", "a", "h", "done", error="x")
    with pytest.raises(StoreError, match="status 'ok'"):
        ds.record_result("judge", "a", "h", "ok")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="item 'zzz': no such item"):
        ds.record_result("judge", "zzz", "h", "done")
    with pytest.raises(StoreError, match="stage 'Judge'"):
        ds.record_result("Judge", "a", "h", "done")


def test_pending_skips_finished_and_bounds_retries(ds: Dataset) -> None:
    ids = [f"i{n}" for n in range(6)]
    for item_id in ids:
        ds.add_item(item_id, "clip")
    cfg = config_hash({"v": 1})
    ds.record_result("curate", "i0", cfg, "done")
    ds.record_result("curate", "i1", cfg, "rejected", reason="too-short")
    ds.record_result("curate", "i2", cfg, "failed", error="e")
    for _ in range(3):
        ds.record_result("curate", "i3", cfg, "failed", error="e")
    assert ds.pending("curate", cfg, ids, max_attempts=3) == ["i2", "i4", "i5"]
    assert ds.pending("curate", cfg, ids, max_attempts=1) == ["i4", "i5"]
    assert ds.pending("curate", cfg, reversed(ids)) == ["i5", "i4", "i2"]
    assert ds.pending("curate", config_hash({"v": 2}), ids) == ids  # a new config redoes everything
    assert ds.pending("instruct", cfg, ids) == ids
    assert ds.pending("curate", cfg, []) == []


def test_funnel_counts_latest_outcomes(ds: Dataset) -> None:
    old, new = config_hash({"v": 1}), config_hash({"v": 2})
    for n in range(7):
        ds.add_item(f"i{n}", "clip")
    outcomes = [
        ("done", None),
        ("done", None),
        ("rejected", "too-short"),
        ("rejected", "too-short"),
        ("rejected", "static"),
        ("failed", None),
    ]
    for n, (status, reason) in enumerate(outcomes):
        ds.record_result("curate", f"i{n}", old, "rejected", reason="old-rule")
        error = "boom" if status == "failed" else None
        ds.record_result("curate", f"i{n}", new, status, reason=reason, error=error)
    expected = Funnel("curate", total=6, kept=2, rejected={"too-short": 2, "static": 1}, failed=1)
    assert ds.funnel("curate") == expected
    assert ds.funnel("curate", new) == expected
    assert ds.funnel("curate", old) == Funnel("curate", 6, 0, {"old-rule": 6}, 0)
    assert ds.funnel("edit") == Funnel("edit", 0, 0, {}, 0)


def test_reviews_replace_earlier_verdicts(ds: Dataset) -> None:
    ds.add_item("t", "triplet")
    ds.set_review("t", "accept", reviewer="ann")
    ds.set_review("t", "reject", reason="edit leaks into background", reviewer="bob")
    review = ds.get_review("t")
    assert (review.verdict, review.reason, review.reviewer) == ("reject", "edit leaks into background", "bob")
    assert ds.reviews() == {"t": review}
    with pytest.raises(StoreError, match="verdict 'maybe'"):
        ds.set_review("t", "maybe")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="'nope': no such item"):
        ds.set_review("nope", "accept")
