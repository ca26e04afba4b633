"""The dataset tab: open a built dataset, browse and rank its triplets, and review them.

Laid out as three panels (opening a folder, the filtered listing, the chosen triplet with its review),
then wired to the handlers below; what the panels show comes from :mod:`insvie.app.dataset_view`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from insvie.app.catalog import ALL, STATUS_FILTERS, Catalog
from insvie.app.charts import funnel_html
from insvie.app.dataset_view import (
    DEFAULT_SORT,
    TABLE_COLUMNS,
    candidate_table,
    describe,
    first_rows,
    stage_table,
    summary,
    table,
)
from insvie.app.media import MediaGuard
from insvie.app.review import save_review
from insvie.errors import InsvieError
from insvie.store import Dataset

# -- layout ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenPanel:
    """The folder box and what opening it shows: the dataset's summary and acceptance funnel."""

    folder: gr.Textbox
    open_button: gr.Button
    summary: gr.Markdown
    funnel: gr.HTML


@dataclass(frozen=True)
class _ListPanel:
    """The filters, the table of matching triplets, and the menu that picks one of them."""

    category: gr.Dropdown
    status: gr.Dropdown
    sort_by: gr.Dropdown
    descending: gr.Checkbox
    rows: gr.Dataframe
    triplet: gr.Dropdown
    previous: gr.Button
    following: gr.Button


@dataclass(frozen=True)
class _DetailPanel:
    """The picked triplet: its videos, candidates and lineage, and the review form."""

    about: gr.Markdown
    source_video: gr.Video
    edited_video: gr.Video
    verdict: gr.Radio
    reason: gr.Textbox
    reviewer: gr.Textbox
    save: gr.Button
    saved: gr.Markdown
    gallery: gr.Gallery
    candidates: gr.Dataframe
    stages: gr.Dataframe

    def outputs(self) -> list[Any]:
        """What :meth:`_Handlers.show` fills, in its order."""
        return [
            self.source_video,
            self.edited_video,
            self.about,
            self.stages,
            self.gallery,
            self.candidates,
            self.verdict,
            self.reason,
        ]


def _open_panel(dataset: Path | None) -> _OpenPanel:
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
    return _OpenPanel(folder, open_button, summary_md, funnel)


def _list_panel() -> _ListPanel:
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
    return _ListPanel(category, status, sort_by, descending, rows, triplet, previous, following)


def _detail_panel() -> _DetailPanel:
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
            gallery = gr.Gallery(
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
    return _DetailPanel(
        about, source_video, edited_video, verdict, reason, reviewer, save, saved, gallery, candidates, stages
    )


# -- handlers -------------------------------------------------------------------------------------
# A handler's name is its Gradio API name, so the handlers keep their names (no leading underscore).


@dataclass(frozen=True)
class _Handlers:
    """The two handlers that need the app's context: ``root`` bounds which folders open, ``guard``
    stages the media a visitor may see (methods rather than ``functools.partial``, which has no name)."""

    guard: MediaGuard
    root: Path

    def open_folder(self, path: str) -> tuple[Any, ...]:
        if not path.strip():
            raise gr.Error("give the folder of a dataset made by `insvie build`")
        try:
            catalog = Catalog.open(path.strip(), within=self.root)
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

    def show(self, catalog: Catalog | None, item_id: str | None) -> tuple[Any, ...]:
        if catalog is None or not item_id:
            return None, None, "", None, [], None, None, ""
        guard = self.guard
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


def refresh(
    catalog: Catalog | None, cat: str, shown: str, key: str | None, desc: bool, current: str | None
) -> tuple[Any, ...]:
    """The table, the listed ids and the triplet menu for the filters; the picked triplet stays if listed."""
    if catalog is None:
        return pd.DataFrame(columns=TABLE_COLUMNS), [], gr.update(choices=[], value=None)
    selected = catalog.select(category=cat or ALL, status=shown or ALL, sort_by=key or None, descending=desc)
    shown, label = first_rows(selected)
    ids = [row.id for row in shown]
    keep = current if current in ids else (ids[0] if ids else None)
    return (
        gr.update(value=table(shown, key or None), label=label),
        ids,
        gr.update(choices=ids, value=keep),
    )


def step(ids: list[str], current: str | None, delta: int) -> Any:
    """The triplet ``delta`` places from the current one, wrapping around the listing."""
    if not ids:
        return gr.update()
    index = ids.index(current) if current in ids else -delta
    return gr.update(value=ids[(index + delta) % len(ids)])


def pick(ids: list[str], event: gr.SelectData) -> Any:
    """The triplet of the table row clicked."""
    row = event.index[0] if isinstance(event.index, list | tuple) else event.index
    return gr.update(value=ids[row]) if isinstance(row, int) and 0 <= row < len(ids) else gr.update()


def store_review(
    catalog: Catalog | None, item_id: str | None, choice: str | None, why: str, who: str
) -> tuple[Any, ...]:
    """Save the verdict, then reopen the catalogue so the listing and summary count it."""
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


# -- the tab --------------------------------------------------------------------------------------


def dataset_tab(blocks: gr.Blocks, guard: MediaGuard, dataset: Path | None, root: Path) -> None:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events; ``dataset`` opens on page load.

    Only folders under ``root`` can be opened: the folder box is typed by a visitor, and without a
    root anyone reaching the app could read (and review) any dataset on the machine."""
    catalog = gr.State(None)
    ids = gr.State([])
    opener = _open_panel(dataset)
    listing = _list_panel()
    detail = _detail_panel()
    _wire(blocks, _Handlers(guard, root), catalog, ids, opener, listing, detail, load=dataset is not None)


def _wire(
    blocks: gr.Blocks,
    handlers: _Handlers,
    catalog: gr.State,
    ids: gr.State,
    opener: _OpenPanel,
    listing: _ListPanel,
    detail: _DetailPanel,
    *,
    load: bool,
) -> None:
    """Opening fills the filters and relists; a filter relists; the menu shows; saving relists and shows.
    With ``load`` the folder opens when the page loads."""
    filters = [
        catalog,
        listing.category,
        listing.status,
        listing.sort_by,
        listing.descending,
        listing.triplet,
    ]
    listed = [listing.rows, ids, listing.triplet]
    shown = detail.outputs()
    opening = [catalog, opener.summary, opener.funnel, listing.category, listing.sort_by]
    for trigger in (opener.open_button.click, opener.folder.submit, *((blocks.load,) if load else ())):
        trigger(handlers.open_folder, inputs=opener.folder, outputs=opening).then(
            refresh, inputs=filters, outputs=listed
        )
    for control in (listing.category, listing.status, listing.sort_by, listing.descending):
        control.input(refresh, inputs=filters, outputs=listed)
    listing.triplet.change(handlers.show, inputs=[catalog, listing.triplet], outputs=shown)
    listing.rows.select(pick, inputs=ids, outputs=listing.triplet)
    nav = [ids, listing.triplet]
    listing.previous.click(lambda ids, current: step(ids, current, -1), inputs=nav, outputs=listing.triplet)
    listing.following.click(lambda ids, current: step(ids, current, 1), inputs=nav, outputs=listing.triplet)
    detail.save.click(
        store_review,
        inputs=[catalog, listing.triplet, detail.verdict, detail.reason, detail.reviewer],
        outputs=[catalog, detail.saved, opener.summary],
    ).then(refresh, inputs=filters, outputs=listed).then(
        handlers.show, inputs=[catalog, listing.triplet], outputs=shown
    )
