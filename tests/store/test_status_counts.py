"""``insvie status`` counted by SQL equals a count done the slow way, over every result in Python.

The slow way is what status did before it counted in SQLite: each step's results under its config, the
input problems as ``Dataset.input_problems`` lists them, and a walk over the triplets' latest results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from varied_dataset import FINAL, STEPS, build_varied

from insvie.errors import StoreError
from insvie.store import Dataset, FailureGroup, Funnel, config_hash
from insvie.store.records import error_line
from insvie.store.status_counts import status_counts


def slow_funnel(ds: Dataset, stage: str, digest: str) -> Funnel:
    results = ds.results(stage, digest)
    rejected: dict[str, int] = {}
    for result in results:
        if result.status == "rejected":
            rejected[result.reason] = rejected.get(result.reason, 0) + 1
    kept = sum(r.status == "done" for r in results)
    failed = sum(r.status == "failed" for r in results)
    return Funnel(stage, len(results), kept, dict(sorted(rejected.items())), failed)  # GROUP BY's order


def slow_failures(ds: Dataset, stage: str, digest: str) -> list[FailureGroup]:
    groups: dict[str, list[str]] = {}
    for result in ds.results(stage, digest, status="failed"):
        groups.setdefault(error_line(result.error) or "(no error text)", []).append(result.item_id)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [FailureGroup(error, len(ids), sorted(ids)[:3]) for error, ids in ordered]


def slow_categories(ds: Dataset, final_stage: str) -> dict[str, int]:
    kept = {r.item_id for r in ds.latest_results() if r.stage == final_stage and r.status == "done"}
    reviews = ds.reviews()
    categories: dict[str, int] = {}
    for item in sorted(ds.iter_items("triplet"), key=lambda item: item.id):
        review = reviews.get(item.id)
        if item.id in kept and (review is None or review.verdict != "reject"):
            category = str(item.meta.get("category", "unknown"))
            categories[category] = categories.get(category, 0) + 1
    return categories


@pytest.fixture
def varied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "ds"
    build_varied(root, monkeypatch)
    return root


def test_status_counts_equal_a_count_over_every_result(varied: Path) -> None:
    with Dataset.open(varied, create=False) as ds:
        counts = status_counts(ds, STEPS, FINAL)
        assert counts.funnels == [slow_funnel(ds, name, digest) for name, digest in STEPS]
        assert counts.failures == {name: slow_failures(ds, name, digest) for name, digest in STEPS}
        assert counts.problems == ds.input_problems()
        categories = slow_categories(ds, FINAL)
    assert counts.categories == categories
    assert list(counts.categories) == list(categories)  # the order of first appearance, as JSON shows it
    assert counts.triplets == sum(categories.values()) > 0
    # the dataset exercises what it claims to: ties, shared paths, merged categories, every outcome
    assert {"1", "None", "unknown"} <= set(categories)
    assert any(f.failed for f in counts.funnels) and any(f.rejected for f in counts.funnels)
    outcomes = {(p.step, p.status) for p in counts.problems}
    assert outcomes >= {("ingest", "skipped"), ("split", "failed"), ("split", "rejected")}
    paths = [(p.path, p.step) for p in counts.problems]
    assert len(paths) > len(set(paths))  # ties, ordered as inputs.problems orders them


def test_status_json_shows_the_slow_counts(varied: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "insvie", "status", str(varied), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    with Dataset.open(varied, create=False) as ds:
        categories = slow_categories(ds, FINAL)
        expected = {
            "steps": [
                {
                    **asdict(slow_funnel(ds, name, digest)),
                    "failures": [asdict(g) for g in slow_failures(ds, name, digest)],
                }
                for name, digest in STEPS
            ],
            "inputs": [asdict(problem) for problem in ds.input_problems()],
            "triplets": sum(categories.values()),
            "categories": categories,
        }
    assert result.stdout == json.dumps(expected, indent=2) + "\n"


def test_status_refuses_an_accepted_triplet_an_export_would_refuse(varied: Path) -> None:
    digest = config_hash({"v": 2})
    with Dataset.open(varied, create=False) as ds:
        media = ds.put_bytes(b"edited", ".mp4")
        ds.add_item("a-incomplete", "triplet", media=media, meta={"source_media": "x.mp4", "instruction": []})
        ds.add_item("b-odd", "triplet", media=media, meta={"source_media": 1, "instruction": {"k": 1}})
        ds.record_result(FINAL, "a-incomplete", digest, "rejected", reason="short")
        ds.record_result(FINAL, "b-odd", digest, "done")  # odd parts, but none missing
        before = status_counts(ds, STEPS, FINAL).triplets
        assert before == sum(slow_categories(ds, FINAL).values())
        ds.record_result(FINAL, "a-incomplete", digest, "done")
        with pytest.raises(StoreError, match="triplet 'a-incomplete' lacks its edited media"):
            status_counts(ds, STEPS, FINAL)
