"""What the dataset tab shows, as plain text and tables: the logic behind it, kept free of gradio.

The tab (:mod:`insvie.app.dataset_tab`) only lays these out and wires them to events, so what a
visitor reads can be tested as plain functions.
"""

from __future__ import annotations

import pandas as pd

from insvie.app.catalog import Catalog, TripletDetail, TripletRow

DEFAULT_SORT = "refilter.metrics.persistence"
TABLE_COLUMNS = ["triplet", "category", "instruction", "status", "review"]
MAX_ROWS = 500  # a browser table (and the triplet menu) stays responsive up to a few hundred rows


def first_rows(rows: list[TripletRow]) -> tuple[list[TripletRow], str]:
    """The rows the table shows, and its label saying how many matched."""
    label = "1 triplet matches" if len(rows) == 1 else f"{len(rows)} triplets match"
    if len(rows) > MAX_ROWS:
        label += f"; the first {MAX_ROWS} are listed (narrow the filter or sort to see others)"
    return rows[:MAX_ROWS], label


def table(rows: list[TripletRow], sort_by: str | None) -> pd.DataFrame:
    """The browser's table: one row per triplet, with the score it is sorted by as the last column."""
    records = [
        [row.id, row.category, row.instruction, row.status, row.review.verdict if row.review else ""]
        + ([row.scores.get(sort_by)] if sort_by else [])
        for row in rows
    ]
    return pd.DataFrame(records, columns=TABLE_COLUMNS + ([sort_by] if sort_by else []))


def stage_table(detail: TripletDetail) -> pd.DataFrame:
    records = [
        [
            view.stage,
            view.kind,
            view.status + (f": {view.reason}" if view.reason else ""),
            "; ".join(f"{name.split('.', 1)[1]} {value:.4g}" for name, value in sorted(view.scores.items())),
        ]
        for view in detail.stages
    ]
    return pd.DataFrame(records, columns=["stage", "item", "result", "scores"])


def candidate_table(detail: TripletDetail) -> pd.DataFrame:
    names = sorted({name for candidate in detail.candidates for name in candidate.fields})
    records = [
        [candidate.index, ", ".join(candidate.chosen_by) or "rejected"]
        + [candidate.fields.get(name) for name in names]
        for candidate in detail.candidates
    ]
    return pd.DataFrame(records, columns=["candidate", "chosen by", *names])


def describe(detail: TripletDetail) -> str:
    row = detail.row
    review = "not reviewed"
    if row.review is not None:
        review = f"**{row.review.verdict}**" + (f" ({row.review.reason})" if row.review.reason else "")
    return (
        f"**{row.instruction}**  \ncategory `{row.category}` · final step: {row.status} · review: {review}"
        f" · {'exported' if row.accepted else 'left out of exports'}  \n`{row.id}`"
    )


def summary(catalog: Catalog) -> str:
    accepted = sum(row.accepted for row in catalog.rows)
    reviewed = sum(row.review is not None for row in catalog.rows)
    return (
        f"`{catalog.root}`: {len(catalog.rows)} triplets, {accepted} exported, {reviewed} reviewed; "
        f"final step `{catalog.final_step}`"
    )
