"""The dataset as the app shows it: triplets with their lineage's stage scores, candidates and reviews.

A triplet's scores come from every step that touched it or its ancestors (the edit request, the
clip, the source video): the refilter's metrics, the judge's and the edit sweep's, the clip's
quality. Each stage result's numbers are flattened to dotted names (``refilter.metrics.flicker_ratio``)
so that any of them can be sorted on without the app knowing each stage's output format, and the
kept candidate's numbers are added as ``<stage>.chosen.<name>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insvie.errors import StoreError
from insvie.store import Dataset, Funnel, Result, Review

ALL = "all"
STATUS_FILTERS = ("all", "accepted", "rejected", "unreviewed", "reviewed")


@dataclass(frozen=True)
class TripletRow:
    """One line of the browser's table."""

    id: str
    category: str
    instruction: str
    status: str  # "kept", "rejected: <reason>", "failed" or "pending", at the dataset's final step
    review: Review | None
    scores: dict[str, float]

    @property
    def accepted(self) -> bool:
        """Kept by the final step and not rejected by a person: what `insvie export` writes."""
        return self.status == "kept" and (self.review is None or self.review.verdict != "reject")


@dataclass(frozen=True)
class Candidate:
    """One edited first frame of a sweep, with what every selecting step said about it."""

    index: int
    media: str | None
    fields: dict[str, Any]
    chosen_by: tuple[str, ...]


@dataclass(frozen=True)
class StageView:
    """One stage result along a triplet's lineage, for the detail table."""

    stage: str
    kind: str
    status: str
    reason: str | None
    scores: dict[str, float]


@dataclass(frozen=True)
class TripletDetail:
    row: TripletRow
    source_media: str
    edited_media: str
    meta: dict[str, Any]
    stages: list[StageView]
    candidates: list[Candidate] = field(default_factory=list)


# Numbers in stage outputs that name or reproduce something rather than measure it.
_NOT_SCORES = frozenset({"seed", "chosen", "candidate", "settings", "num_frames", "clip_index", "edit_index"})


def flatten_scores(value: Any, prefix: str) -> dict[str, float]:
    """Every measured number in a stage output under its dotted path.

    Lists (candidates, judgements) are left out: they have their own table. Seeds, indices and
    editor settings are left out too, so the sort menu offers only what a person would rank by.
    """
    if isinstance(value, bool) or prefix.rsplit(".", 1)[-1] in _NOT_SCORES:
        return {}
    if isinstance(value, int | float):
        return {prefix: float(value)}
    if isinstance(value, Mapping):
        scores: dict[str, float] = {}
        for key, sub in value.items():
            scores.update(flatten_scores(sub, f"{prefix}.{key}"))
        return scores
    return {}


def _per_candidate(output: Mapping[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The lists in a stage output that hold one dict per candidate (edit sweeps, prefilter, judge)."""
    for key, value in output.items():
        if isinstance(value, list) and value and all(isinstance(entry, dict) for entry in value):
            yield key, value


def _candidate_index(position: int, entry: Mapping[str, Any]) -> int:
    index = entry.get("candidate", position)
    return index if isinstance(index, int) else position


def _chosen_scores(stage: str, output: Any) -> dict[str, float]:
    if not isinstance(output, Mapping) or not isinstance(output.get("chosen"), int):
        return {}
    scores: dict[str, float] = {}
    for _key, entries in _per_candidate(output):
        for position, entry in enumerate(entries):
            if _candidate_index(position, entry) == output["chosen"]:
                for key, value in entry.items():
                    scores.update(flatten_scores(value, f"{stage}.chosen.{key}"))
    return scores


def result_scores(result: Result) -> dict[str, float]:
    return {**flatten_scores(result.output, result.stage), **_chosen_scores(result.stage, result.output)}


def candidates(results: Iterable[Result]) -> list[Candidate]:
    """The sweep's candidates (an output's ``candidates`` list), merged with each step's view of them."""
    results = [r for r in results if isinstance(r.output, Mapping)]
    sweep = next((r for r in results if isinstance(r.output.get("candidates"), list)), None)
    if sweep is None:
        return []
    merged: dict[int, dict[str, Any]] = {}
    media: dict[int, str | None] = {}
    for position, entry in enumerate(sweep.output["candidates"]):
        index = _candidate_index(position, entry)
        media[index] = sweep.output.get(entry.get("file", ""))
        merged[index] = {k: v for k, v in entry.items() if k not in ("file", "candidate")}
    chosen: dict[int, list[str]] = {index: [] for index in merged}
    for result in results:
        for key, entries in _per_candidate(result.output):
            if result is sweep and key == "candidates":
                continue
            for entry in entries:
                index = entry.get("candidate")  # lists of other things (a video judge's frames) lack it
                if index in merged:
                    merged[index].update(
                        {f"{result.stage}.{k}": v for k, v in entry.items() if k != "candidate"}
                    )
        if result.output.get("chosen") in chosen:
            chosen[result.output["chosen"]].append(result.stage)
    return [Candidate(i, media[i], merged[i], tuple(chosen[i])) for i in sorted(merged)]


def _status(result: Result | None) -> str:
    if result is None:
        return "pending"
    if result.status == "done":
        return "kept"
    if result.status == "rejected":
        return f"rejected: {result.reason}"
    return "failed"


class Catalog:
    """A read of one dataset: its triplets, each with the latest result of every stage along its lineage.

    Built from two queries (items, latest results) and held in memory: enough for the datasets a
    person browses and reviews; a million-triplet set is better queried through the Parquet export.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.root = dataset.root
        build_file = dataset.root / "build.json"
        self.build: dict[str, Any] = json.loads(build_file.read_text()) if build_file.is_file() else {}
        self.final_step: str = self.build.get("final_step", "refilter")
        self.items = {item.id: item for item in dataset.iter_items()}
        self.results: dict[str, list[Result]] = {}
        for result in dataset.latest_results():
            self.results.setdefault(result.item_id, []).append(result)
        self.reviews = dataset.reviews()
        self.funnels = self._funnels(dataset)
        self.rows = [
            self._row(item_id) for item_id in sorted(self.items) if self.items[item_id].kind == "triplet"
        ]

    @classmethod
    def open(cls, root: str | Path, *, within: Path | None = None) -> Catalog:
        """Read the dataset at ``root``; raises StoreError when it is not an insvie dataset or lies
        outside ``within`` (the app's datasets root: the folder box is typed by a visitor)."""
        root = Path(root).expanduser()
        if within is not None and not root.resolve().is_relative_to(within.resolve()):
            raise StoreError(
                f"{root}: only datasets under {within} can be opened here (insvie app --datasets-root)"
            )
        if not (root / "insvie.db").is_file():
            raise StoreError(
                f"{root}: not an insvie dataset (no insvie.db); give a folder made by `insvie build`"
            )
        with Dataset.open(root, create=False) as dataset:
            return cls(dataset)

    def _funnels(self, dataset: Dataset) -> list[Funnel]:
        steps = self.build.get("steps", [])
        return [dataset.funnel(step["name"], step["config_hash"]) for step in steps]

    def lineage(self, item_id: str) -> list[str]:
        """The item and its ancestors, nearest first."""
        chain: list[str] = []
        current: str | None = item_id
        while current is not None and current in self.items and current not in chain:
            chain.append(current)
            current = self.items[current].parent
        return chain

    def _lineage_results(self, item_id: str) -> list[Result]:
        return [result for ancestor in self.lineage(item_id) for result in self.results.get(ancestor, [])]

    def _row(self, item_id: str) -> TripletRow:
        item = self.items[item_id]
        final = next((r for r in self.results.get(item_id, []) if r.stage == self.final_step), None)
        scores: dict[str, float] = {}
        for result in self._lineage_results(item_id):
            scores.update(result_scores(result))
        return TripletRow(
            item_id,
            str(item.meta.get("category", "unknown")),
            str(item.meta.get("instruction", "")),
            _status(final),
            self.reviews.get(item_id),
            scores,
        )

    @property
    def categories(self) -> list[str]:
        return sorted({row.category for row in self.rows})

    @property
    def score_names(self) -> list[str]:
        return sorted({name for row in self.rows for name in row.scores})

    def select(
        self,
        *,
        category: str = ALL,
        status: str = ALL,
        sort_by: str | None = None,
        descending: bool = True,
    ) -> list[TripletRow]:
        """Rows of ``category`` matching ``status`` (see STATUS_FILTERS), sorted by the score ``sort_by``.

        Rows without that score go last whatever the direction, so sorting never hides them.
        """
        if status not in STATUS_FILTERS:
            raise ValueError(f"status filter {status!r} is not one of {STATUS_FILTERS}")
        rows = [row for row in self.rows if category == ALL or row.category == category]
        if status == "accepted":
            rows = [row for row in rows if row.accepted]
        elif status == "rejected":
            rows = [row for row in rows if not row.accepted]
        elif status == "unreviewed":
            rows = [row for row in rows if row.review is None]
        elif status == "reviewed":
            rows = [row for row in rows if row.review is not None]
        if sort_by:
            present = [row for row in rows if sort_by in row.scores]
            absent = [row for row in rows if sort_by not in row.scores]
            present.sort(key=lambda row: row.scores[sort_by], reverse=descending)
            rows = present + absent
        return rows

    def detail(self, item_id: str) -> TripletDetail:
        """Everything the detail view shows of one triplet; raises StoreError for an unknown id."""
        item = self.items.get(item_id)
        if item is None or item.kind != "triplet":
            raise StoreError(f"no triplet {item_id!r} in {self.root}")
        source, edited = item.meta.get("source_media"), item.media
        if not source or not edited:
            raise StoreError(f"triplet {item_id!r} lacks its source or edited video")
        stages = []
        for ancestor in self.lineage(item_id):
            for result in self.results.get(ancestor, []):
                scores = result_scores(result)
                stages.append(
                    StageView(result.stage, self.items[ancestor].kind, result.status, result.reason, scores)
                )
        row = next(row for row in self.rows if row.id == item_id)
        return TripletDetail(
            row, source, edited, item.meta, stages, candidates(self._lineage_results(item_id))
        )
