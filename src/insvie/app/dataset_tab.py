"""The dataset tab: open a built dataset, browse and rank its triplets, and review them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from insvie.app.catalog import ALL, STATUS_FILTERS, Catalog, TripletDetail, TripletRow
from insvie.app.charts import funnel_html
from insvie.app.media import MediaGuard
from insvie.app.review import save_review
from insvie.errors import InsvieError
from insvie.store import Dataset

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


def dataset_tab(blocks: gr.Blocks, guard: MediaGuard, dataset: Path | None, root: Path) -> None:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; ``dataset`` opens on page load.

    Only folders under ``root`` can be opened: the folder box is typed by a visitor, and without a
    root anyone reaching the app could read (and review) any dataset on the machine."""
    catalog_state = gr.State(None)
    ids_state = gr.State([])
    with gr.Row():
        folder = gr.Textbox(
            value=str(dataset) if dataset else "",
            label="dataset folder (made by `insvie build`)",
            scale=4,
            elem_id="ds-folder",
        )
        open_button = gr.Button("Open", scale=1, elem_id="ds-open")
    summary_md = gr.Markdown(elem_id="ds-summary")
    with gr.Accordion("acceptance funnel", open=True):
        funnel = gr.HTML(elem_id="ds-funnel")
    with gr.Row():
        category = gr.Dropdown([ALL], value=ALL, label="category", elem_id="ds-category")
        status = gr.Dropdown(list(STATUS_FILTERS), value=ALL, label="show", elem_id="ds-status")
        sort_by = gr.Dropdown([], label="sort by score", allow_custom_value=True, elem_id="ds-sort")
        descending = gr.Checkbox(value=True, label="highest first")
    rows = gr.Dataframe(
        interactive=False,
        max_height=320,
        wrap=True,
        column_widths=["32%", "11%", "24%", "15%", "7%", "11%"],
        elem_id="ds-table",
    )
    with gr.Row():
        triplet = gr.Dropdown([], label="triplet", scale=4, elem_id="ds-triplet")
        previous = gr.Button("◀ previous", scale=1, elem_id="ds-prev")
        following = gr.Button("next ▶", scale=1, elem_id="ds-next")
    about = gr.Markdown(elem_id="ds-about")
    with gr.Row():
        source_video = gr.Video(label="source", interactive=False, elem_id="ds-source")
        edited_video = gr.Video(label="edited", interactive=False, elem_id="ds-edited")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            gr.Markdown(
                "**review**: `insvie export` leaves out what you reject (accepting does not bring back "
                "a triplet the filters rejected)"
            )
            verdict = gr.Radio(["accept", "reject"], label="verdict", elem_id="ds-verdict")
            reason = gr.Textbox(label="reason (optional)", elem_id="ds-reason")
            reviewer = gr.Textbox(label="reviewer (optional)", elem_id="ds-reviewer")
            save = gr.Button("Save review", variant="primary", elem_id="ds-save")
            saved = gr.Markdown(elem_id="ds-saved")
        with gr.Column(scale=5):
            candidates_gallery = gr.Gallery(
                label="first-frame candidates", columns=6, height=200, elem_id="ds-candidates"
            )
            candidates = gr.Dataframe(interactive=False, label="candidates", elem_id="ds-candidate-table")
    stages = gr.Dataframe(
        interactive=False,
        wrap=True,
        column_widths=["12%", "8%", "16%", "64%"],
        label="every stage along the lineage",
        elem_id="ds-stages",
    )

    def open_folder(path: str) -> tuple[Any, ...]:
        if not path.strip():
            raise gr.Error("give the folder of a dataset made by `insvie build`")
        try:
            catalog = Catalog.open(path.strip(), within=root)
        except InsvieError as exc:
            raise gr.Error(str(exc)) from exc
        names = catalog.score_names
        default = DEFAULT_SORT if DEFAULT_SORT in names else None
        return (
            catalog,
            summary(catalog),
            funnel_html(catalog.funnels),
            gr.update(choices=[ALL, *catalog.categories], value=ALL),
            gr.update(choices=names, value=default),
        )

    def refresh(
        catalog: Catalog | None, cat: str, shown: str, key: str | None, desc: bool, current: str | None
    ) -> tuple[Any, ...]:
        if catalog is None:
            return pd.DataFrame(columns=TABLE_COLUMNS), [], gr.update(choices=[], value=None)
        selected = catalog.select(
            category=cat or ALL, status=shown or ALL, sort_by=key or None, descending=desc
        )
        shown, label = first_rows(selected)
        ids = [row.id for row in shown]
        keep = current if current in ids else (ids[0] if ids else None)
        return (
            gr.update(value=table(shown, key or None), label=label),
            ids,
            gr.update(choices=ids, value=keep),
        )

    def show(catalog: Catalog | None, item_id: str | None) -> tuple[Any, ...]:
        if catalog is None or not item_id:
            return None, None, "", None, [], None, None, ""
        try:
            detail = catalog.detail(item_id)
            with Dataset.open(catalog.root, create=False) as ds:
                source = str(guard.stage(ds, detail.source_media))
                edited = str(guard.stage(ds, detail.edited_media))
                gallery = [
                    (str(guard.stage(ds, c.media)), f"#{c.index} {', '.join(c.chosen_by) or 'rejected'}")
                    for c in detail.candidates
                    if c.media
                ]
        except InsvieError as exc:
            raise gr.Error(str(exc)) from exc
        review = detail.row.review
        return (
            source,
            edited,
            describe(detail),
            stage_table(detail),
            gallery,
            candidate_table(detail),
            review.verdict if review else None,
            (review.reason or "") if review else "",
        )

    def step(ids: list[str], current: str | None, delta: int) -> Any:
        if not ids:
            return gr.update()
        index = ids.index(current) if current in ids else -delta
        return gr.update(value=ids[(index + delta) % len(ids)])

    def pick(ids: list[str], event: gr.SelectData) -> Any:
        row = event.index[0] if isinstance(event.index, list | tuple) else event.index
        return gr.update(value=ids[row]) if isinstance(row, int) and 0 <= row < len(ids) else gr.update()

    def store_review(
        catalog: Catalog | None, item_id: str | None, choice: str | None, why: str, who: str
    ) -> tuple[Any, ...]:
        if catalog is None or not item_id:
            raise gr.Error("open a dataset and pick a triplet first")
        if choice not in ("accept", "reject"):
            raise gr.Error("choose accept or reject")
        try:
            review = save_review(catalog.root, item_id, choice, reason=why, reviewer=who)
            fresh = Catalog.open(catalog.root)
        except InsvieError as exc:
            raise gr.Error(str(exc)) from exc
        note = f"saved: **{review.verdict}**" + (f" ({review.reason})" if review.reason else "")
        return fresh, note + f" for `{item_id}`", summary(fresh)

    filters = [catalog_state, category, status, sort_by, descending, triplet]
    listing = [rows, ids_state, triplet]
    detail_outputs = [
        source_video,
        edited_video,
        about,
        stages,
        candidates_gallery,
        candidates,
        verdict,
        reason,
    ]

    opening = [catalog_state, summary_md, funnel, category, sort_by]
    for trigger in (open_button.click, folder.submit, *((blocks.load,) if dataset else ())):
        trigger(open_folder, inputs=folder, outputs=opening).then(refresh, inputs=filters, outputs=listing)
    for control in (category, status, sort_by, descending):
        control.input(refresh, inputs=filters, outputs=listing)
    triplet.change(show, inputs=[catalog_state, triplet], outputs=detail_outputs)
    rows.select(pick, inputs=ids_state, outputs=triplet)
    previous.click(lambda ids, current: step(ids, current, -1), inputs=[ids_state, triplet], outputs=triplet)
    following.click(lambda ids, current: step(ids, current, 1), inputs=[ids_state, triplet], outputs=triplet)
    save.click(
        store_review,
        inputs=[catalog_state, triplet, verdict, reason, reviewer],
        outputs=[catalog_state, saved, summary_md],
    ).then(refresh, inputs=filters, outputs=listing).then(
        show, inputs=[catalog_state, triplet], outputs=detail_outputs
    )
