"""Export destinations: ``--dest`` is a folder, one manifest location, clear errors, swapped-in exports.

The dataset is made by hand with real files in a real dataset folder (exports copy media, they never
decode it), and every export runs through the real ``insvie export`` command: in a subprocess where the
test is about what a user sees (a written export, a one-line error with its exit code and no traceback,
another live process's temporaries), otherwise in this process (``invoke_cli``: the same command from
argv on, with an escaping exception shown as its traceback in ``stderr``, as a process would print it).
"""

from __future__ import annotations

import filecmp
import importlib
import os
import subprocess
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from insvie_cli import invoke_cli
from insvie_cli import run_cli_inheriting as run_cli

import insvie.store.fsio as fsio
from insvie.errors import StoreError
from insvie.store import Dataset, config_hash, export_insvie_csv, export_parquet

# the package re-exports a function under the module's name, so fetch the module itself
export_parquet_module = importlib.import_module("insvie.store.export_parquet")
HASH = config_hash({"v": 1})
EXPORT_FORMATS = ("parquet", "webdataset", "insvie-csv")


def add_triplet(ds: Dataset, n: int, *, kept: bool = True) -> None:
    """One triplet with its own source and edited files, kept (or rejected) by the final step."""
    source = ds.put_bytes(f"source video {n}".encode() * (n + 1), ".mp4")
    edited = ds.put_bytes(f"edited video {n}".encode() * (n + 2), ".mp4")
    ds.add_item(f"v{n}", "video", source=f"/videos/clip{n}.mp4", media=source)
    ds.add_item(
        f"t{n}",
        "triplet",
        media=edited,
        parent=f"v{n}",
        meta={
            "source_media": source,
            "instruction": f"make it snow {n}",
            "source_name": f"clip{n}",
            "clip_index": 0,
            "edit_index": n,
            "variant": 0,
        },
    )
    if kept:
        ds.record_result("refilter", f"t{n}", HASH, "done")
    else:
        ds.record_result("refilter", f"t{n}", HASH, "rejected", reason="flicker")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A dataset with three kept triplets and failures in two steps (one retried), as a build leaves it."""
    root = tmp_path / "ds"
    with Dataset.open(root) as ds:
        for n in range(3):
            add_triplet(ds, n)
        ds.add_item("v9", "video", source="/videos/broken.mp4")
        ds.add_item("v8", "video", source="/videos/slow.mp4")
        ds.record_result("split", "v9", HASH, "failed", error="ValueError: no frames (at split.py:10)")
        ds.record_result("split", "v9", HASH, "failed", error="ValueError: no frames (at split.py:10)")
        ds.record_result("split", "v8", HASH, "failed", error="TimeoutError: decode took 600 s")
        ds.record_result("split", "v0", HASH, "failed", error="OSError: disk full")
        ds.record_result("split", "v0", config_hash({"v": 2}), "done")  # retried later and kept
        ds.record_result(
            "judge", "t2", HASH, "failed", error="judge: ValueError: no score in the reply\n  raw: {}"
        )
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path to bytes), hidden ones included.

    The database is left out: SQLite may rewrite its own files on any open, which is not the export's doing.
    """
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith("insvie.db")
    }


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -- one rule, one manifest location ---------------------------------------------------------------


def test_parquet_dest_is_a_folder_holding_the_manifest_and_the_failures(out: Path, tmp_path: Path) -> None:
    dest = tmp_path / "manifests"
    result = run_cli("export", str(out), "-f", "parquet", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert dest.is_dir()
    assert sorted(p.name for p in dest.iterdir()) == ["failures.parquet", "manifest.parquet"]
    ids = pq.read_table(dest / "manifest.parquet").column("id").to_pylist()
    assert {"t0", "t1", "t2"} <= set(ids)


def test_parquet_into_an_existing_folder_writes_inside_it_and_keeps_its_other_files(
    out: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "shared"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    result = invoke_cli("export", str(out), "-f", "parquet", "--dest", str(dest))
    assert result.returncode == 0, result.stderr  # was IsADirectoryError with a traceback
    assert sorted(p.name for p in dest.iterdir()) == ["failures.parquet", "manifest.parquet", "notes.txt"]
    assert (dest / "notes.txt").read_text() == "mine"


def test_default_parquet_export_writes_the_one_manifest_build_writes(out: Path) -> None:
    result = invoke_cli("export", str(out))
    assert result.returncode == 0, result.stderr
    exports = out / "exports"
    assert (exports / "manifest.parquet").is_file() and (exports / "failures.parquet").is_file()
    assert not (exports / "parquet").exists()
    assert sorted(p.name for p in exports.rglob("manifest*.parquet")) == ["manifest.parquet"]


def test_default_parquet_export_removes_the_manifest_older_versions_wrote_beside_it(out: Path) -> None:
    legacy = out / "exports" / "parquet"
    legacy.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["t0"]}), legacy / "manifest.parquet")  # as 0.x wrote it
    result = invoke_cli("export", str(out), "-f", "parquet")
    assert result.returncode == 0, result.stderr
    assert not legacy.exists()
    assert sorted(p.name for p in (out / "exports").rglob("manifest*.parquet")) == ["manifest.parquet"]


def test_default_triplet_exports_go_to_a_folder_per_format(out: Path) -> None:
    assert invoke_cli("export", str(out), "-f", "webdataset").returncode == 0
    assert invoke_cli("export", str(out), "-f", "insvie-csv").returncode == 0
    assert sorted(p.name for p in (out / "exports" / "webdataset").iterdir()) == ["shard-000000.tar"]
    assert sorted(p.name for p in (out / "exports" / "insvie-csv").iterdir()) == [
        "edited",
        "metadata.csv",
        "source",
    ]


# -- bad destinations: one line naming the path and the reason, exit code 2 -------------------------


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_existing_file_as_destination_is_a_one_line_error(fmt: str, out: Path, tmp_path: Path) -> None:
    dest = tmp_path / "taken.bin"
    dest.write_bytes(b"keep me")
    result = run_cli("export", str(out), "-f", fmt, "--dest", str(dest))
    assert_one_line_error(result, str(dest), "is a file")
    assert dest.read_bytes() == b"keep me"


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_a_destination_that_cannot_be_created_is_a_one_line_error(
    fmt: str, out: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    dest = blocker / "export"
    result = invoke_cli("export", str(out), "-f", fmt, "--dest", str(dest))
    assert_one_line_error(result, str(dest), "cannot create")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("inside", ["media", "tmp"])
def test_a_destination_inside_the_datasets_own_folders_is_refused(fmt: str, inside: str, out: Path) -> None:
    before = snapshot(out / "media")
    dest = out / inside / "export"
    result = invoke_cli("export", str(out), "-f", fmt, "--dest", str(dest))
    assert_one_line_error(result, str(dest), f"inside the dataset's {inside}/")
    assert not dest.exists()
    assert snapshot(out / "media") == before


@pytest.mark.parametrize("fmt", ["webdataset", "insvie-csv"])
@pytest.mark.parametrize("which", ["dataset", "exports", "foreign"])
def test_a_folder_export_never_replaces_a_folder_that_is_not_an_export_of_its_format(
    fmt: str, which: str, out: Path, tmp_path: Path
) -> None:
    assert invoke_cli("export", str(out), "-f", "parquet").returncode == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    dest = {"dataset": out, "exports": out / "exports", "foreign": foreign}[which]
    before = snapshot(dest)
    result = invoke_cli("export", str(out), "-f", fmt, "--dest", str(dest))
    assert_one_line_error(result, str(dest))
    assert snapshot(dest) == before


def test_a_parquet_folder_whose_manifest_name_is_a_folder_is_a_one_line_error(
    out: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "odd"
    (dest / "manifest.parquet").mkdir(parents=True)
    result = invoke_cli("export", str(out), "-f", "parquet", "--dest", str(dest))
    assert_one_line_error(result, str(dest / "manifest.parquet"), "not a file")


def test_the_library_refuses_a_parquet_file_name_as_destination(out: Path, tmp_path: Path) -> None:
    """Callers of the old file-destination API get told, instead of a folder named like a file."""
    with Dataset.open(out, create=False) as ds, pytest.raises(StoreError, match="folder"):
        export_parquet(ds, tmp_path / "m.parquet")
    assert not (tmp_path / "m.parquet").exists()


# -- re-exports equal fresh exports ---------------------------------------------------------------


def _reject_and_reexport(out: Path, fmt: str, dest: Path, fresh: Path) -> None:
    assert invoke_cli("export", str(out), "-f", fmt, "--dest", str(dest)).returncode == 0
    with Dataset.open(out, create=False) as ds:
        ds.set_review("t1", "reject", reason="instruction ignored")
    again = invoke_cli("export", str(out), "-f", fmt, "--dest", str(dest))
    assert again.returncode == 0, again.stderr
    assert invoke_cli("export", str(out), "-f", fmt, "--dest", str(fresh)).returncode == 0


def test_insvie_csv_reexport_after_a_review_rejection_leaves_no_file_of_the_rejected_triplet(
    out: Path, tmp_path: Path
) -> None:
    dest, fresh = tmp_path / "csv", tmp_path / "fresh"
    _reject_and_reexport(out, "insvie-csv", dest, fresh)
    names = {p.name for p in dest.rglob("*.mp4")}
    assert names == {"clip0_0_0_0.mp4", "clip2_0_2_0.mp4"}  # t1 is clip1_0_1_0
    assert snapshot(dest) == snapshot(fresh)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_webdataset_reexport_after_a_review_rejection_equals_a_fresh_export(
    out: Path, tmp_path: Path
) -> None:
    dest, fresh = tmp_path / "wds", tmp_path / "fresh"
    _reject_and_reexport(out, "webdataset", dest, fresh)
    assert sorted(snapshot(dest)) == sorted(snapshot(fresh)) == ["shard-000000.tar"]
    assert filecmp.cmp(dest / "shard-000000.tar", fresh / "shard-000000.tar", shallow=False)


# -- a crash mid-export leaves the previous export as it was ----------------------------------------


def test_a_crash_mid_export_leaves_the_previous_export_intact(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "csv"
    with Dataset.open(out, create=False) as ds:
        ds.record_result("refilter", "t2", config_hash({"v": 2}), "rejected", reason="flicker")
        export_insvie_csv(ds, dest)
        before = snapshot(dest)
        ds.record_result("refilter", "t2", config_hash({"v": 3}), "done")  # t2 is back in
        t2_edited = ds.resolve(ds.get_item("t2").media)
        real_copy = fsio.shutil.copyfile

        def copy_then_crash(src: Path, dst: Path) -> None:
            if Path(src) == t2_edited:  # the last file of the new export
                raise OSError(28, "No space left on device")
            real_copy(src, dst)

        def no_links(src: Path, dst: Path) -> None:  # as across filesystems: every file is copied
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(fsio.os, "link", no_links)
        monkeypatch.setattr(fsio.shutil, "copyfile", copy_then_crash)
        with pytest.raises((OSError, StoreError)):
            export_insvie_csv(ds, dest)
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_the_leftovers_of_a_killed_export_are_swept_by_the_next(out: Path, tmp_path: Path) -> None:
    dead = tmp_path / ".csv.tmp-99999999-0123456789abcdef"
    (dead / "source").mkdir(parents=True)
    (dead / "source" / "half.mp4").write_bytes(b"half")
    assert invoke_cli("export", str(out), "-f", "insvie-csv", "--dest", str(tmp_path / "csv")).returncode == 0
    assert not dead.exists()


# -- failures beside the manifest ------------------------------------------------------------------


def test_failures_table_groups_by_reason_in_duckdb(out: Path, tmp_path: Path) -> None:
    dest = tmp_path / "m"
    assert invoke_cli("export", str(out), "--dest", str(dest)).returncode == 0
    path = dest / "failures.parquet"
    rows = duckdb.sql(
        f"SELECT stage, item_id, kind, error_type, attempts FROM read_parquet('{path}') "
        "ORDER BY stage, item_id"
    ).fetchall()
    # v0's split failure was superseded by a later success, so it is not a current failure
    assert rows == [
        ("judge", "t2", "triplet", "ValueError", 1),
        ("split", "v8", "video", "TimeoutError", 1),
        ("split", "v9", "video", "ValueError", 2),
    ]
    groups = duckdb.sql(
        f"SELECT error_type, count(*) AS n, list(item_id ORDER BY item_id)[:3] AS examples "
        f"FROM read_parquet('{path}') GROUP BY error_type ORDER BY n DESC, error_type"
    ).fetchall()
    assert groups == [("ValueError", 2, ["t2", "v9"]), ("TimeoutError", 1, ["v8"])]
    errors = {
        row[0]: row[1:] for row in duckdb.sql(f"SELECT item_id, error_line, error FROM '{path}'").fetchall()
    }
    assert errors["v8"] == ("TimeoutError: decode took 600 s", "TimeoutError: decode took 600 s")
    assert errors["t2"][0] == "judge: ValueError: no score in the reply"


def test_a_dataset_without_failures_still_gets_an_empty_typed_failures_table(tmp_path: Path) -> None:
    with Dataset.open(tmp_path / "ds") as ds:
        add_triplet(ds, 0)
        manifest = export_parquet(ds)
    table = pq.read_table(manifest.parent / "failures.parquet")
    assert table.num_rows == 0
    assert table.column_names[:4] == ["stage", "item_id", "kind", "error_type"]


def test_without_an_atomic_exchange_the_two_rename_swap_gives_the_same_export(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Systems or filesystems without renameat2(RENAME_EXCHANGE) take the fallback; it must agree."""
    monkeypatch.setattr(fsio, "exchange_paths", lambda first, second: False)
    dest, fresh = tmp_path / "csv", tmp_path / "fresh"
    with Dataset.open(out, create=False) as ds:
        export_insvie_csv(ds, dest)
        ds.set_review("t0", "reject")
        export_insvie_csv(ds, dest)
        export_insvie_csv(ds, fresh)
    assert snapshot(dest) == snapshot(fresh)
    assert "source/clip0_0_0_0.mp4" not in snapshot(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv", "ds", "fresh"]


def test_a_media_file_gone_missing_is_a_one_line_error_and_the_previous_export_stays(
    out: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "csv"
    assert invoke_cli("export", str(out), "-f", "insvie-csv", "--dest", str(dest)).returncode == 0
    before = snapshot(dest)
    with Dataset.open(out, create=False) as ds:
        missing = ds.resolve(ds.get_item("t2").media)
    missing.unlink()
    result = invoke_cli("export", str(out), "-f", "insvie-csv", "--dest", str(dest))
    assert_one_line_error(result, str(missing), "cannot write the export")
    assert snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv", "ds"]


def test_a_failed_parquet_export_leaves_the_previous_manifest_and_failures(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "m"
    with Dataset.open(out, create=False) as ds:
        export_parquet(ds, dest)
        before = snapshot(dest)
        ds.add_item("v7", "video", source="/videos/new.mp4")
        real_write = export_parquet_module.write_parquet
        calls: list[object] = []

        def write_then_fail(where: Path, schema: object, batches: object) -> None:
            calls.append(where)
            if len(calls) == 2:
                raise OSError(28, "No space left on device", str(where))
            real_write(where, schema, batches)

        monkeypatch.setattr(export_parquet_module, "write_parquet", write_then_fail)
        with pytest.raises(StoreError, match="No space left"):
            export_parquet(ds, dest)
    assert snapshot(dest) == before  # neither file replaced, no temporary left


def test_a_killed_parquet_exports_temporaries_are_swept_and_others_files_kept(
    out: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "m"
    dest.mkdir()
    dead = dest / ".manifest.parquet.tmp-99999999-0123456789abcdef"
    dead.write_bytes(b"half a manifest")
    alive = dest / f".manifest.parquet.tmp-{os.getpid()}-0123456789abcdef"
    alive.write_bytes(b"still being written")
    (dest / ".notes").write_text("mine")
    assert run_cli("export", str(out), "--dest", str(dest)).returncode == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [alive.name, ".notes", "failures.parquet", "manifest.parquet"]
    )


def test_a_legacy_parquet_folder_holding_other_files_is_left_alone(out: Path) -> None:
    legacy = out / "exports" / "parquet"
    legacy.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["t0"]}), legacy / "manifest.parquet")
    (legacy / "analysis.ipynb").write_text("{}")
    assert invoke_cli("export", str(out)).returncode == 0
    assert sorted(p.name for p in legacy.iterdir()) == ["analysis.ipynb", "manifest.parquet"]


def test_failures_of_one_kind_go_beside_that_kinds_manifest(out: Path, tmp_path: Path) -> None:
    with Dataset.open(out, create=False) as ds:
        manifest = export_parquet(ds, tmp_path / "m", kind="video")
    failures = pq.read_table(manifest.with_name("failures-video.parquet")).to_pylist()
    assert [(row["stage"], row["item_id"]) for row in failures] == [("split", "v8"), ("split", "v9")]
