"""The HTML report's sections: overview, per-metric and per-category tables, histograms, frame grids.

Built from the run's rows and its summary (:func:`insvie.eval.summary.summarize`) with the pieces of
:mod:`insvie.eval.html`. Frame grids decode a few thumbnails per shown sample with
:mod:`insvie.media`; a video that cannot be read shows why in its grid instead of stopping the report.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from insvie.errors import InsvieError
from insvie.eval.html import Cell, Grid, esc, grid, histogram, number, page, section, table
from insvie.eval.sample import SampleScores
from insvie.eval.summary import finite, metric_of
from insvie.media import iter_frames

GRID_SAMPLES = 3  # best and worst shown
GRID_FRAMES = 4  # frames per video in a grid
GRID_SIDE = 160  # longer side of a grid frame, pixels
_STATS = ("mean", "median", "std", "min", "max")


def _jpeg_frames(path: str, count: int) -> list[str]:
    """``count`` frames spread over the video at ``path``, small, as base64 JPEG.

    Streamed at thumbnail size, so a long or large video costs little memory.
    """
    frames = list(iter_frames(path, max_size=GRID_SIDE))
    picks = [round(value) for value in np.linspace(0, len(frames) - 1, count)]
    encoded = []
    for index in picks:
        buffer = io.BytesIO()
        Image.fromarray(frames[index]).save(buffer, format="JPEG", quality=85)
        encoded.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return encoded


def _grid_item(row: SampleScores, key: str) -> Grid:
    """The sample's frames; a video that cannot be read shows its reason instead of stopping the report."""
    videos: dict[str, list[str]] = {"source": [], "edited": []}
    problems = []
    for role, path in (("source", row.source), ("edited", row.edited)):
        if path is None:
            problems.append(f"no {role} video")
            continue
        try:
            videos[role] = _jpeg_frames(path, GRID_FRAMES)
        except (InsvieError, OSError) as exc:
            problems.append(f"{role} frames unavailable: {exc}")
    return Grid(
        row.sample_id,
        row.instruction,
        key,
        float(row.scores[key]),
        videos["source"],
        videos["edited"],
        "; ".join(problems) or None,
    )


def ranked(rows: Sequence[SampleScores], key: str, *, higher_is_better: bool) -> list[SampleScores]:
    """Rows with a finite ``key``, best first (ties keep sample order)."""
    scored = [row for row in rows if key in row.scores and math.isfinite(row.scores[key])]
    return sorted(scored, key=lambda row: -row.scores[key] if higher_is_better else row.scores[key])


def _stats_cells(figures: dict[str, Any], failed: int, declined: int) -> list[Cell]:
    covered = str(figures["n"])
    if figures["nonfinite"]:
        covered += f" (+{figures['nonfinite']} non-finite)"
    return [
        *(Cell(number(figures[stat]), stat) for stat in _STATS),
        Cell(covered, "n"),
        Cell(str(declined), "declined"),
        Cell(str(failed), "failed"),
    ]


def _metric_tables(summary: dict[str, Any]) -> str:
    parts = []
    names = sorted(
        set(summary["errors"]) | set(summary["declined"]) | {metric_of(key) for key in summary["scores"]}
    )
    for name in names:
        keys = [key for key in summary["scores"] if metric_of(key) == name]
        errors, declined = summary["errors"].get(name, 0), summary["declined"].get(name, 0)
        rows = [(key, [Cell(key), *_stats_cells(summary["scores"][key], errors, declined)]) for key in keys]
        if not keys:
            empty = {"n": 0, "nonfinite": 0, **dict.fromkeys(_STATS)}
            rows = [(name, [Cell(f"{name} (no scores)"), *_stats_cells(empty, errors, declined)])]
        headers = ["score", *_STATS, "n", "not applicable", "failed"]
        meta = "".join(
            f'<p class="meta">{esc(", ".join(f"{k}: {v}" for k, v in record.items()))}</p>'
            for record in summary["meta"].get(name, [])
        )
        parts.append(f"<h3>{esc(name)}</h3>{meta}" + table("stats", headers, rows, metric=name))
    return "\n".join(parts)


def _category_tables(summary: dict[str, Any]) -> str:
    parts = []
    categories = summary["categories"]
    for name in sorted({metric_of(key) for key in summary["scores"]}):
        keys = [key for key in summary["scores"] if metric_of(key) == name]
        rows = []
        for category, figures in categories.items():
            cells = [Cell(category), Cell(str(figures["samples"]), "samples")]
            for key in keys:
                found = figures["scores"].get(key)
                text = "–" if found is None else f"{number(found['mean'])} (n={found['n']})"
                cells.append(Cell(text, key))
            rows.append((category, cells))
        parts.append(
            f"<h3>{esc(name)}</h3>" + table("categories", ["category", "samples", *keys], rows, metric=name)
        )
    return "\n".join(parts)


def _grids(rows: Sequence[SampleScores], key: str, *, higher_is_better: bool) -> tuple[str, str]:
    order = ranked(rows, key, higher_is_better=higher_is_better)
    best = order[:GRID_SAMPLES]
    worst = [row for row in reversed(order) if all(row is not shown for shown in best)][:GRID_SAMPLES]
    return (
        "\n".join(grid(_grid_item(row, key)) for row in best) or "<p>no scored samples</p>",
        "\n".join(grid(_grid_item(row, key)) for row in worst) or "<p>no further samples</p>",
    )


def render_html(
    rows: Sequence[SampleScores],
    summary: dict[str, Any],
    *,
    title: str,
    primary: str | None,
    higher_is_better: bool,
) -> str:
    overview = table(
        "overview",
        ["", "value"],
        [
            ("samples", [Cell("samples"), Cell(str(summary["samples"]), "samples")]),
            (
                "errors",
                [
                    Cell("samples with errors"),
                    Cell(str(summary["samples_with_errors"]), "samples_with_errors"),
                ],
            ),
            ("primary", [Cell("primary score"), Cell(primary or "–", "primary")]),
        ],
    )
    sections = [
        section("overview", "Overview", overview),
        section("metrics", "Metrics", _metric_tables(summary) or "<p>no scores</p>"),
        section("categories", "By category", _category_tables(summary) or "<p>no scores</p>"),
        section(
            "histograms",
            "Score distributions",
            '<div class="hists">'
            + "".join(histogram(key, finite(rows, key)) for key in summary["scores"])
            + "</div>",
        ),
    ]
    if primary is not None:
        best, worst = _grids(rows, primary, higher_is_better=higher_is_better)
        sections.append(section("best", f"Best samples by {primary}", best))
        sections.append(section("worst", f"Worst samples by {primary}", worst))
    failures = [
        (row.sample_id, [Cell(row.sample_id), Cell(name), Cell(reason)])
        for row in rows
        for name, reason in sorted(row.errors.items())
    ]
    sections.append(
        section(
            "errors",
            "Errors",
            table("errors", ["sample", "metric", "reason"], failures) if failures else "<p>none</p>",
        )
    )
    return page(title, sections)
