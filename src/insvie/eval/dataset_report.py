"""Scoring a built dataset: the acceptance funnel, and the quality of its triplets per edit category.

A build already measured every triplet in its final filtering step (motion fidelity, flicker, edit
persistence, detail, blocking: ``insvie.stages.refilter``) and kept the numbers in the database, so
the report reads them rather than recomputing: one :class:`SampleScores` row per triplet with the
step's metrics under ``refilter.*`` and ``refilter.accepted`` (1 kept, 0 rejected), which the shared
summary turns into distributions per category. The accepted triplets can also be scored with any
metric of :mod:`insvie.eval.metrics` as a benchmark (:func:`dataset_samples`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from insvie.errors import InsvieError
from insvie.eval.sample import EvalSample, SampleScores
from insvie.eval.summary import summarize
from insvie.store import Dataset, accepted_triplets

BUILD_FILE = "build.json"


def read_build(ds: Dataset) -> dict[str, Any]:
    """The dataset's ``build.json``: the steps of the last finished build and their config hashes."""
    path = ds.root / BUILD_FILE
    if not path.is_file():
        raise InsvieError(f"{ds.root}: no build has finished here yet (no {BUILD_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InsvieError(f"{path}: not readable JSON ({exc})") from exc


def triplet_rows(ds: Dataset, final_step: str) -> list[SampleScores]:
    """One row per triplet the final step judged (its latest result), with the metrics it recorded."""
    results = {r.item_id: r for r in ds.latest_results("triplet") if r.stage == final_step}
    rows = []
    for item in sorted(ds.iter_items("triplet"), key=lambda item: item.id):
        result = results.get(item.id)
        if result is None:
            continue
        source = item.meta.get("source_media")
        row = SampleScores(
            sample_id=item.id,
            instruction=str(item.meta.get("instruction", "")),
            category=item.meta.get("category"),
            source=str(ds.resolve(source)) if source else "",
            edited=str(ds.resolve(item.media)) if item.media else None,
        )
        if result.status == "failed":
            row.errors[final_step] = result.error or "failed"
        else:
            metrics = (result.output or {}).get("metrics", {})
            row.scores = {f"{final_step}.{key}": float(value) for key, value in metrics.items()}
            row.scores[f"{final_step}.accepted"] = 1.0 if result.status == "done" else 0.0
            row.meta[final_step] = {"config_hash": result.config_hash}
            if result.reason:
                row.meta[final_step]["reason"] = result.reason
        rows.append(row)
    return rows


def dataset_samples(ds: Dataset, final_step: str) -> list[EvalSample]:
    """The exportable triplets as benchmark samples whose prediction is the triplet's edited video."""
    return [
        EvalSample(
            sample_id=t.item.id,
            source=t.source,
            instruction=t.instruction,
            edited=t.edited,
            category=t.item.meta.get("category"),
            source_caption=t.item.meta.get("source_caption"),
            target_caption=t.item.meta.get("target_caption"),
        )
        for t in accepted_triplets(ds, final_stage=final_step)
    ]


def dataset_summary(ds: Dataset, build: dict[str, Any], rows: list[SampleScores]) -> dict[str, Any]:
    """The funnel of every step, triplets kept and rejected by reason per category, and the quality
    distributions of ``rows`` (overall and per category)."""
    final_step = build["final_step"]
    funnel = [asdict(ds.funnel(step["name"], step["config_hash"])) for step in build["steps"]]
    accepted = {t.item.id for t in accepted_triplets(ds, final_stage=final_step)}
    categories: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = categories.setdefault(
            row.category or "(none)", {"triplets": 0, "accepted": 0, "rejected": {}}
        )
        entry["triplets"] += 1
        if row.sample_id in accepted:
            entry["accepted"] += 1
        else:
            reason = row.meta.get(final_step, {}).get("reason") or ("failed" if row.errors else "review")
            entry["rejected"][reason] = entry["rejected"].get(reason, 0) + 1
    return {
        "dataset": str(ds.root),
        "final_step": final_step,
        "funnel": funnel,
        "triplets": len(rows),
        "accepted": len(accepted),
        "categories": dict(sorted(categories.items())),
        "quality": summarize(rows),
    }
