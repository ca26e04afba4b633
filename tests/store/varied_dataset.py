"""A small dataset with a bit of everything that status and exports must count the same way at any size.

Inputs of every kind sharing source paths (and skipped paths among them), steps run under two configs,
retries, results recorded within the same clock tick (so the latest result is decided by rowid), multi-line
errors, reviews, triplet ids that sort differently by case and code point, and meta values of every JSON
type, including categories that differ as JSON but print alike.
"""

from __future__ import annotations

import json
import random
import types
from pathlib import Path

import pytest

import insvie.store.results as result_rows
from insvie.store import Dataset, config_hash

OLD, NEW = config_hash({"v": 1}), config_hash({"v": 2})
STEPS = [("split", NEW), ("ingest", NEW), ("judge", NEW), ("refilter", NEW)]
FINAL = "refilter"
CATEGORIES = ["night", "sepia", "1", 1, True, None, ["a"], {"k": 1}, "日本"]
TRIPLET_IDS = [
    "t-00",
    "T-01",
    "t-02",
    "t_03",
    "é-04",
    "z-05",
    "Z-06",
    "😀-07",
    "t-08",
    "t-09",
    "t-10",
    "t-11",
]
META_VALUES = [True, False, 0, 7, -(2**63), 2**63 - 1, 1.5, "text", ["l"], {"o": 1}, None]


def outcome(rng: random.Random, stage: str) -> dict:
    roll = rng.random()
    if roll < 0.5:
        return {"status": "done", "output": {"score": rng.random(), "stage": stage}}
    if roll < 0.75:
        return {"status": "rejected", "reason": rng.choice(["too-dark", "flicker", "short"])}
    error = rng.choice(
        ["ValueError: no frames\n  at split.py:10", "OSError: disk full", "  \n", "judge: boom"]
    )
    return {"status": "failed", "error": error}


def build_varied(root: Path, monkeypatch: pytest.MonkeyPatch, *, seed: int = 7) -> None:
    """Fill a new dataset at ``root`` and write its ``build.json``; every triplet has all its parts."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(result_rows, "time", types.SimpleNamespace(time=lambda: 1000.0 + next(ticks) // 3))
    rng = random.Random(seed)
    with Dataset.open(root) as ds:
        inputs = []
        for n in range(24):
            kind = ("video", "image", "pair")[n % 3]
            source = rng.choice([f"/in/file{n % 5}.mp4", "", None, "/in/skipped.mp4"])
            ds.add_item(f"{kind}{n:02d}", kind, source=source, meta={"n": n})
            inputs.append(f"{kind}{n:02d}")
        ds.add_item("clip00", "clip", parent="video00", meta={"n": "x"})
        for path, reason in [
            ("/in/skipped.mp4", "unreadable"),
            ("/in/bad line", "not json"),
            ("/in/a", "loop"),
        ]:
            ds.record_skipped_input(path, reason)
        for n, item_id in enumerate(TRIPLET_IDS):
            source = ds.put_bytes(f"source {n}".encode(), ".mp4")
            edited = ds.put_bytes(f"edited {n}".encode(), ".mp4")
            meta = {
                "source_media": source,
                "instruction": f"make it {n}",
                "source_name": f"clip{n % 4}",
                "clip_index": 0,
                "edit_index": n % 3,
                "variant": 0,
                "odd key": 1,
                "mixed": META_VALUES[n % len(META_VALUES)],
                "num": [1, 2.5, 3][n % 3],
                "flag": n % 2 == 0,
                "big": [-(2**63), 2**63 - 1][n % 2],
            }
            if n % 4:
                meta["category"] = CATEGORIES[n % len(CATEGORIES)]
            ds.add_item(item_id, "triplet", media=edited, parent=inputs[n], meta=meta)
        for stage, items in [("split", inputs), ("ingest", inputs[::4]), ("judge", TRIPLET_IDS)]:
            for item_id in items:
                for digest in (OLD, NEW) if rng.random() < 0.4 else (NEW,):
                    for _ in range(rng.choice([1, 1, 2])):
                        ds.record_result(stage, item_id, digest, **outcome(rng, stage))
        for n, item_id in enumerate(TRIPLET_IDS):
            if n == 6:  # kept under the old config, then rejected under the new one: not accepted
                ds.record_result(FINAL, item_id, OLD, "done")
            outcome_of_final = {
                8: {"status": "rejected", "reason": "flicker"},
                10: {"status": "rejected", "reason": "dark"},
            }
            ds.record_result(FINAL, item_id, NEW, **outcome_of_final.get(n, {"status": "done"}))
            if n == 10:  # kept by a run under the old config since: accepted
                ds.record_result(FINAL, item_id, OLD, "done")
            if n == 11:
                ds.record_result(FINAL, item_id, NEW, "failed", error="RuntimeError: judge down")
        ds.set_review(TRIPLET_IDS[9], "reject", reason="instruction ignored")
        ds.set_review(TRIPLET_IDS[1], "accept", reviewer="me")
    steps = [{"name": name, "config_hash": digest} for name, digest in STEPS]
    (root / "build.json").write_text(json.dumps({"steps": steps, "final_step": FINAL}))
