"""Streamed exports write what the one-shot exports wrote.

The Parquet files are compared with tables built the way the export built them before it streamed (every
item, latest result and review in Python lists), written with row groups and SQL pages far smaller than
the dataset so that every boundary is crossed. The folder exports link the dataset's files where they can
and copy them where they cannot, with the same result.
"""

from __future__ import annotations

import csv
import errno
import importlib
import json
import os
import re
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from varied_dataset import FINAL, TRIPLET_IDS, build_varied

import insvie.store.fsio as fsio
import insvie.store.pages as pages
import insvie.store.parquet_stream as parquet_stream
from insvie.errors import StoreError
from insvie.store import (
    Dataset,
    Triplet,
    accepted_triplets,
    export_insvie_csv,
    export_parquet,
    export_webdataset,
    manifest_table,
)
from insvie.store.failure_rows import error_type
from insvie.store.records import error_line

export_parquet_module = importlib.import_module("insvie.store.export_parquet")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def one_shot_manifest(ds: Dataset, kind: str | None) -> pa.Table:
    """The manifest as the export built it in memory before it streamed."""
    items = sorted(ds.iter_items(kind), key=lambda item: item.id)
    reviews = ds.reviews()
    latest: dict[str, dict[str, tuple[str, str | None]]] = {}
    for result in ds.latest_results(kind):
        latest.setdefault(result.stage, {})[result.item_id] = (result.status, result.reason)

    def strings(values: list[Any]) -> pa.Array:
        return pa.array(values, type=pa.string())

    def scalar_type(values: list[Any]) -> pa.DataType | None:
        present = [v for v in values if v is not None]
        if not present or (
            any(isinstance(v, bool) for v in present) and not all(isinstance(v, bool) for v in present)
        ):
            return None
        if all(isinstance(v, bool) for v in present):
            return pa.bool_()
        if all(isinstance(v, int) and -(2**63) <= v < 2**63 for v in present):
            return pa.int64()
        if all(isinstance(v, (int, float)) for v in present):
            return pa.float64()
        return pa.string() if all(isinstance(v, str) for v in present) else None

    columns: dict[str, pa.Array] = {
        "id": strings([item.id for item in items]),
        "kind": strings([item.kind for item in items]),
        "source": strings([item.source for item in items]),
        "media": strings([item.media for item in items]),
        "parent": strings([item.parent for item in items]),
        "created_at": pa.array(
            [datetime.fromtimestamp(item.created_at, timezone.utc) for item in items],
            type=pa.timestamp("us", tz="UTC"),
        ),
        "meta": strings([json.dumps(item.meta, sort_keys=True, ensure_ascii=False) for item in items]),
    }
    for key in sorted({key for item in items for key in item.meta if _IDENT.match(key)}):
        values = [item.meta.get(key) for item in items]
        if (arrow_type := scalar_type(values)) is not None:
            columns[f"meta_{key}"] = pa.array(values, type=arrow_type)
    review_of = [reviews.get(item.id) for item in items]
    columns["review"] = strings([r.verdict if r else None for r in review_of])
    columns["review_reason"] = strings([r.reason if r else None for r in review_of])
    for stage in sorted(latest):
        by_item = latest[stage]
        columns[f"status_{stage}"] = strings([by_item.get(item.id, (None, None))[0] for item in items])
        columns[f"reason_{stage}"] = strings([by_item.get(item.id, (None, None))[1] for item in items])
    return pa.table(columns)


def one_shot_failures(ds: Dataset, kind: str | None) -> pa.Table:
    failed = sorted(
        (r for r in ds.latest_results(kind) if r.status == "failed"), key=lambda r: (r.stage, r.item_id)
    )
    kinds = {r.item_id: ds.get_item(r.item_id).kind for r in failed}
    strings = pa.string()
    return pa.table(
        {
            "stage": pa.array([r.stage for r in failed], type=strings),
            "item_id": pa.array([r.item_id for r in failed], type=strings),
            "kind": pa.array([kinds[r.item_id] for r in failed], type=strings),
            "error_type": pa.array([error_type(r.error) for r in failed], type=strings),
            "error_line": pa.array([error_line(r.error) for r in failed], type=strings),
            "error": pa.array([r.error for r in failed], type=strings),
            "attempts": pa.array([r.attempts for r in failed], type=pa.int64()),
            "config_hash": pa.array([r.config_hash for r in failed], type=strings),
            "updated_at": pa.array(
                [datetime.fromtimestamp(r.updated_at, timezone.utc) for r in failed],
                type=pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def refuse_links(src: object, dst: object) -> None:
    """``os.link`` on a filesystem without hard links, or across filesystems."""
    raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))


def ds_triplets(ds: Dataset) -> list[Triplet]:
    return list(accepted_triplets(ds, final_stage=FINAL))


@pytest.fixture
def varied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ds"
    build_varied(root, monkeypatch)
    return root


@pytest.fixture
def tiny_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQL pages of 3 rows and row groups of 4: every page and row-group boundary is crossed."""
    monkeypatch.setattr(pages, "PAGE_ROWS", 3)
    monkeypatch.setattr(parquet_stream, "ROW_GROUP_ROWS", 4)


@pytest.mark.usefixtures("tiny_pages")
@pytest.mark.parametrize("kind", [None, "triplet", "video", "absent"])
def test_parquet_written_in_row_groups_equals_the_one_shot_tables(
    varied: Path, tmp_path: Path, kind: str | None
) -> None:
    with Dataset.open(varied, create=False) as ds:
        manifest = export_parquet(ds, tmp_path / "out", kind=kind)
        expected_manifest, expected_failures = one_shot_manifest(ds, kind), one_shot_failures(ds, kind)
        assert manifest_table(ds, kind=kind).equals(expected_manifest)
    failures = manifest.with_name(manifest.name.replace("manifest", "failures"))
    for path, expected in ((manifest, expected_manifest), (failures, expected_failures)):
        written = pq.read_table(path)
        assert written.schema.equals(expected.schema)
        assert written.equals(expected), path.name
        groups = pq.ParquetFile(path).metadata.num_row_groups
        assert groups == -(-expected.num_rows // 4)
    if kind is None:  # the dataset exercises what it claims to
        names = expected_manifest.column_names
        assert {"meta_flag", "meta_num", "meta_big"} <= set(names)
        assert not {"meta_mixed", "meta_category", "meta_n"} & set(names)  # mixed types stay in meta
        assert expected_failures.num_rows > 4


def test_a_failed_parquet_write_leaves_the_previous_manifest_and_failures(
    varied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "m"
    with Dataset.open(varied, create=False) as ds:
        export_parquet(ds, dest)
        before = {p.name: p.read_bytes() for p in dest.iterdir()}
        ds.add_item("video99", "video", source="/in/new.mp4")
        real_write = export_parquet_module.write_parquet
        calls: list[Path] = []

        def write_then_fail(path: Path, schema: pa.Schema, batches: Any) -> None:
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            real_write(path, schema, batches)

        monkeypatch.setattr(export_parquet_module, "write_parquet", write_then_fail)
        with pytest.raises(StoreError, match="No space left"):
            export_parquet(ds, dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before


def exported_csv(folder: Path) -> list[list[str]]:
    with open(folder / "metadata.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_insvie_csv_files_are_hard_links_to_the_datasets_media(varied: Path, tmp_path: Path) -> None:
    with Dataset.open(varied, create=False) as ds:
        csv_path = export_insvie_csv(ds, tmp_path / "csv", final_stage=FINAL)
        triplets = {t.item.meta["instruction"]: t for t in ds_triplets(ds)}
    rows = exported_csv(csv_path.parent)
    assert rows[0] == ["video", "instruct"] and len(rows) == len(triplets) + 1 > 1
    for name, instruction in rows[1:]:
        triplet = triplets[instruction]
        for sub, media in (("source", triplet.source), ("edited", triplet.edited)):
            assert os.path.samefile(csv_path.parent / sub / name, media)


def test_insvie_csv_copies_where_linking_fails(
    varied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Dataset.open(varied, create=False) as ds:
        linked = export_insvie_csv(ds, tmp_path / "linked", final_stage=FINAL).parent
        monkeypatch.setattr(fsio.os, "link", refuse_links)
        copied = export_insvie_csv(ds, tmp_path / "copied", final_stage=FINAL).parent
    files = sorted(p.relative_to(copied) for p in copied.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(linked) for p in linked.rglob("*") if p.is_file())
    for rel in files:
        assert (copied / rel).read_bytes() == (linked / rel).read_bytes()
        if rel.suffix == ".mp4":
            assert (copied / rel).stat().st_nlink == 1 and not os.path.samefile(copied / rel, linked / rel)


def test_a_crash_mid_copy_leaves_the_previous_export_intact(
    varied: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "csv"
    with Dataset.open(varied, create=False) as ds:
        export_insvie_csv(ds, dest, final_stage=FINAL)
        before = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
        last = ds_triplets(ds)[-1].edited
        monkeypatch.setattr(fsio.os, "link", refuse_links)
        real_copy = fsio.shutil.copyfile

        def copy_then_crash(src: Path, dst: Path) -> None:
            if Path(src) == last:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
            real_copy(src, dst)

        monkeypatch.setattr(fsio.shutil, "copyfile", copy_then_crash)
        with pytest.raises(StoreError, match="No space left"):
            export_insvie_csv(ds, dest, final_stage=FINAL)
    assert {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv", "ds"]


def test_insvie_csv_names_a_clashing_triplet_by_its_id(tmp_path: Path) -> None:
    with Dataset.open(tmp_path / "ds") as ds:
        for n, item_id in enumerate(["a/1", "b:2", "c 3"]):
            source, edited = ds.put_bytes(f"s{n}".encode(), ".mp4"), ds.put_bytes(f"e{n}".encode(), ".mp4")
            parts = {"source_name": "clip", "clip_index": 0, "edit_index": 0, "variant": 0}
            meta = {"source_media": source, "instruction": f"i{n}", **parts}
            ds.add_item(item_id, "triplet", media=edited, meta=meta)
            ds.record_result(FINAL, item_id, "h", "done")
        folder = export_insvie_csv(ds, tmp_path / "csv", final_stage=FINAL).parent
    assert exported_csv(folder)[1:] == [["clip_0_0_0.mp4", "i0"], ["b-2.mp4", "i1"], ["c-3.mp4", "i2"]]
    assert (folder / "edited" / "b-2.mp4").read_bytes() == b"e1"


def test_webdataset_shards_hold_the_accepted_triplets_in_id_order(varied: Path, tmp_path: Path) -> None:
    with Dataset.open(varied, create=False) as ds:
        shards = export_webdataset(ds, tmp_path / "wds", shard_size=2, final_stage=FINAL)
        ids = [t.item.id for t in ds_triplets(ds)]
    assert [p.name for p in shards] == [f"shard-{n:06d}.tar" for n in range(-(-len(ids) // 2))]
    members = []
    for shard in shards:
        with tarfile.open(shard) as tar:
            members += [name for name in tar.getnames() if name.endswith(".json")]
    assert members == [f"{re.sub(r'[^A-Za-z0-9_-]+', '_', i)}.json" for i in ids]
    assert set(ids) < set(TRIPLET_IDS) and len(ids) > 2
