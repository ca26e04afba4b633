"""The evaluation report: ``scores.json``, ``scores.csv`` and a self-contained ``report.html``.

Reads only :class:`SampleScores` rows, so any runner, metric or benchmark feeds it unchanged.

- ``scores.json``: the summary (see :func:`insvie.eval.summary.summarize`) and every row with its
  scores, provenance and errors. Strict JSON: a non-finite score is written as the string
  ``"inf"``, ``"-inf"`` or ``"nan"``.
- ``scores.csv``: one row per sample, one column per score key (empty where a metric did not score
  the sample), then the declines (metrics with nothing to measure) and the errors as JSON objects.
- ``report.html``: per-metric tables (mean, median, std, min, max, samples covered, samples failed),
  per-category breakdowns, score histograms, and frame grids of the best and worst samples by a
  primary score key.

    write_report(rows, out_dir, *, title, primary=None, higher_is_better=True) -> ReportPaths
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from insvie.errors import ConfigError
from insvie.eval.report_html import render_html
from insvie.eval.sample import SampleScores
from insvie.eval.summary import finite, score_keys, summarize
from insvie.store.fsio import write_atomically


@dataclass(frozen=True)
class ReportPaths:
    json: Path
    csv: Path
    html: Path


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _row_record(row: SampleScores) -> dict[str, Any]:
    record = asdict(row)
    record["scores"] = {key: _json_number(float(value)) for key, value in row.scores.items()}
    return record


def write_json(rows: Sequence[SampleScores], summary: dict[str, Any], path: Path, *, title: str) -> Path:
    document = {"title": title, "summary": summary, "samples": [_row_record(row) for row in rows]}
    text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False)
    return write_atomically(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_csv(rows: Sequence[SampleScores], path: Path) -> Path:
    keys = score_keys(rows)
    header = ["sample_id", "category", "instruction", "source", "edited", *keys, "declined", "errors"]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                values = [repr(float(row.scores[key])) if key in row.scores else "" for key in keys]
                errors, declined = (
                    json.dumps(found, ensure_ascii=False, sort_keys=True) if found else ""
                    for found in (row.errors, row.declined)
                )
                writer.writerow(
                    [
                        row.sample_id,
                        row.category or "",
                        row.instruction,
                        row.source,
                        row.edited or "",
                        *values,
                        declined,
                        errors,
                    ]
                )

    return write_atomically(path, write)


def default_primary(rows: Sequence[SampleScores]) -> str | None:
    """The score key covering the most samples (ties: the first by name)."""
    keys = score_keys(rows)
    return max(keys, key=lambda key: len(finite(rows, key))) if keys else None


def write_report(
    rows: Sequence[SampleScores],
    out_dir: Path,
    *,
    title: str,
    primary: str | None = None,
    higher_is_better: bool = True,
) -> ReportPaths:
    """Write ``scores.json``, ``scores.csv`` and ``report.html`` into ``out_dir`` and return their paths.

    ``primary`` names the score key that ranks samples for the best/worst grids (default: the key that
    covers the most samples); ``higher_is_better`` says which end is best.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    if primary is not None and primary not in summary["scores"]:
        raise ConfigError(
            f"primary score {primary!r} is not among the scores: {', '.join(summary['scores'])}"
        )
    primary = primary or default_primary(rows)
    text = render_html(rows, summary, title=title, primary=primary, higher_is_better=higher_is_better)
    return ReportPaths(
        json=write_json(rows, summary, out_dir / "scores.json", title=title),
        csv=write_csv(rows, out_dir / "scores.csv"),
        html=write_atomically(out_dir / "report.html", lambda tmp: tmp.write_text(text, encoding="utf-8")),
    )
