"""The Parquet manifest reads back the same through pyarrow and DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from insvie.store import Dataset, config_hash, export_parquet


@pytest.fixture
def ds(tmp_path: Path):
    with Dataset.open(tmp_path / "ds") as dataset:
        source = dataset.put_bytes(b"source video", ".mp4")
        dataset.add_item("src", "source", source="/videos/horse.mp4", media=source, meta={"fps": 8})
        metas = [
            {"instruction": "make it snow", "score": 0.9, "frames": 49, "ok": True, "tags": ["snow"]},
            {"instruction": "turn the horse white", "score": 1, "frames": 33, "ok": False, "mixed": 1},
            {"instruction": "add fog", "frames": 17, "mixed": "one", "nested": {"a": 1}},
        ]
        for n, meta in enumerate(metas):
            dataset.add_item(f"t{n}", "triplet", parent="src", meta=meta)
        old, new = config_hash({"v": 1}), config_hash({"v": 2})
        dataset.record_result("judge", "t0", old, "rejected", reason="old-threshold")
        dataset.record_result("judge", "t0", new, "done", output={"score": 0.9})
        dataset.record_result("judge", "t1", new, "rejected", reason="low-score")
        dataset.record_result("judge", "t2", new, "failed", error="decoder error")
        dataset.record_result("curate", "src", old, "done")
        dataset.set_review("t1", "reject", reason="instruction ignored")
        yield dataset


def test_manifest_round_trips_through_pyarrow(ds: Dataset) -> None:
    path = export_parquet(ds)
    assert path == ds.root / "exports" / "manifest.parquet"
    # the failures table beside it, and no temporary left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["failures.parquet", "manifest.parquet"]
    rows = {row["id"]: row for row in pq.read_table(path).to_pylist()}
    assert sorted(rows) == ["src", "t0", "t1", "t2"]
    t0, t1, t2, src = rows["t0"], rows["t1"], rows["t2"], rows["src"]
    assert (src["kind"], src["source"], src["parent"]) == ("source", "/videos/horse.mp4", None)
    assert ds.resolve(src["media"]).read_bytes() == b"source video"
    assert json.loads(t0["meta"]) == ds.get_item("t0").meta
    assert (t0["meta_instruction"], t0["meta_score"], t0["meta_frames"], t0["meta_ok"]) == (
        "make it snow",
        0.9,
        49,
        True,
    )
    assert t1["meta_score"] == 1.0 and t2["meta_score"] is None
    schema = pq.read_schema(path)
    assert str(schema.field("meta_frames").type) == "int64"
    assert str(schema.field("meta_score").type) == "double"
    # lists, mixed types and nested values stay only in the JSON column
    assert not {"meta_tags", "meta_mixed", "meta_nested"} & set(schema.names)
    assert (t0["status_judge"], t0["reason_judge"]) == ("done", None)  # the latest config's result
    assert (t1["status_judge"], t1["reason_judge"]) == ("rejected", "low-score")
    assert t2["status_judge"] == "failed"
    assert (src["status_curate"], src["status_judge"], t0["status_curate"]) == ("done", None, None)
    assert (t1["review"], t1["review_reason"], t0["review"]) == ("reject", "instruction ignored", None)


def test_manifest_is_queryable_with_duckdb(ds: Dataset, tmp_path: Path) -> None:
    path = export_parquet(ds, tmp_path / "out", kind="triplet")
    assert path == tmp_path / "out" / "manifest-triplet.parquet"
    rows = duckdb.sql(
        f"SELECT id, meta_instruction, status_judge, review, json_extract(meta, '$.frames')::INT AS frames "
        f"FROM read_parquet('{path}') ORDER BY id"
    ).fetchall()
    assert rows == [
        ("t0", "make it snow", "done", None, 49),
        ("t1", "turn the horse white", "rejected", "reject", 33),
        ("t2", "add fog", "failed", None, 17),
    ]
    kept = duckdb.sql(
        f"SELECT id FROM read_parquet('{path}') "
        "WHERE status_judge = 'done' AND review IS DISTINCT FROM 'reject'"
    ).fetchall()
    assert kept == [("t0",)]


def test_empty_dataset_exports_an_empty_manifest(tmp_path: Path) -> None:
    with Dataset.open(tmp_path / "empty") as ds:
        path = export_parquet(ds, kind="clip")
    assert path.name == "manifest-clip.parquet"
    assert pq.read_table(path.with_name("failures-clip.parquet")).num_rows == 0
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.column_names[:3] == ["id", "kind", "source"]
