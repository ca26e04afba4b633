"""Numbers about numbers: per-score statistics, per-category breakdowns and error counts of a run.

Everything a report shows is computed here once, JSON-ready, so ``scores.json``, the HTML tables and
any later comparison read the same figures. A score that is not finite (PSNR of identical videos is
+inf; a metric may return NaN) is left out of the statistics and counted as ``nonfinite``, so one
such sample cannot turn a mean into inf or NaN, and the reader still sees that it happened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from insvie.eval.sample import SampleScores

NO_CATEGORY = "(none)"


def metric_of(key: str) -> str:
    """The metric a score key belongs to: keys are ``metric.score``."""
    return key.split(".", 1)[0]


def score_keys(rows: Sequence[SampleScores]) -> list[str]:
    """Every score key of the run, sorted (so columns and tables do not depend on sample order)."""
    return sorted({key for row in rows for key in row.scores})


def metric_names(rows: Sequence[SampleScores]) -> list[str]:
    """Every metric that scored, failed or declined a sample."""
    return sorted(
        {metric_of(key) for row in rows for key in row.scores}
        | {n for row in rows for n in row.errors}
        | {n for row in rows for n in row.declined}
    )


def finite(rows: Sequence[SampleScores], key: str) -> list[float]:
    return [float(row.scores[key]) for row in rows if key in row.scores and math.isfinite(row.scores[key])]


def stats(values: Sequence[float], *, nonfinite: int = 0) -> dict[str, Any]:
    """Mean, median, (population) std, min, max and count; None for all but the counts when empty."""
    if not values:
        return {
            "n": 0,
            "nonfinite": nonfinite,
            "mean": None,
            "median": None,
            "std": None,
            "min": None,
            "max": None,
        }
    array = np.asarray(values, dtype=np.float64)
    return {
        "n": int(array.size),
        "nonfinite": nonfinite,
        "mean": float(array.mean()),
        "median": float(np.median(array)),
        "std": float(array.std()),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def _nonfinite(rows: Sequence[SampleScores], key: str) -> int:
    return sum(1 for row in rows if key in row.scores and not math.isfinite(row.scores[key]))


def category_of(row: SampleScores) -> str:
    return row.category or NO_CATEGORY


def _distinct_meta(rows: Sequence[SampleScores]) -> dict[str, list[dict[str, str]]]:
    """Each metric's distinct provenance records (a judge served by two model versions shows both)."""
    found: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        for name, meta in row.meta.items():
            seen = found.setdefault(name, [])
            if meta not in seen:
                seen.append(meta)
    return found


def summarize(rows: Sequence[SampleScores]) -> dict[str, Any]:
    """The run's summary: counts, statistics per score key, error counts per metric, per-category figures."""
    keys = score_keys(rows)
    categories = sorted({category_of(row) for row in rows})
    by_category = {
        category: {
            "samples": sum(1 for row in rows if category_of(row) == category),
            "scores": {
                key: stats(finite(members, key), nonfinite=_nonfinite(members, key))
                for key in keys
                if any(key in row.scores for row in members)
            },
        }
        for category in categories
        for members in [[row for row in rows if category_of(row) == category]]
    }
    return {
        "samples": len(rows),
        "samples_with_errors": sum(1 for row in rows if row.errors),
        "scores": {key: stats(finite(rows, key), nonfinite=_nonfinite(rows, key)) for key in keys},
        "errors": {name: sum(1 for row in rows if name in row.errors) for name in metric_names(rows)},
        "declined": {name: sum(1 for row in rows if name in row.declined) for name in metric_names(rows)},
        "categories": by_category,
        "meta": _distinct_meta(rows),
    }
