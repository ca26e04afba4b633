"""``insvie eval dataset OUT --out R``: a built dataset's funnel and quality per category."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from insvie.cli.eval.option_groups import with_option_groups
from insvie.cli.eval.options import DecodeArgs, JudgeArgs, MetricModels, Out, Title, metric_names, score_run

if TYPE_CHECKING:
    from insvie.eval.frames import DecodeOptions
    from insvie.eval.sample import Metric, SampleScores


@with_option_groups
def dataset(
    dataset: Annotated[
        Path,
        typer.Argument(
            metavar="OUT", help="A dataset folder built by `insvie build OUT`.", show_default=False
        ),
    ],
    out: Out,
    metrics: Annotated[
        str | None, metric_names("Also score the accepted triplets with these (comma-separated).")
    ] = None,
    title: Title = None,
    *,
    models: MetricModels,
    judge: JudgeArgs,
    decode: DecodeArgs,
) -> None:
    """Score dataset OUT built by `insvie build`: the acceptance funnel, and each category's triplets kept
    and rejected by reason.

    The refilter's metrics are read from the build's database (stored at build time, not recomputed) and
    reported per category, as R/dataset.json plus the report over one row per judged triplet. With
    `--metrics` (or `--judge`), the accepted triplets are scored with those too.
    """

    def score(console: Console) -> list[SampleScores]:
        scoring = models.metrics(metrics) + judge.metrics(out)
        return _score_dataset(out, dataset, scoring, decode.options(), console)

    score_run(out, title or f"insvie dataset {dataset.name}", score)


def _score_dataset(
    out: Path, dataset: Path, metrics: list[Metric], decode: DecodeOptions, console: Console
) -> list[SampleScores]:
    """One row per judged triplet with its stored refilter scores; accepted ones also get ``metrics``."""
    from insvie.eval.dataset_report import dataset_samples, dataset_summary, read_build, triplet_rows
    from insvie.eval.predictions import ManifestPredictions
    from insvie.eval.runner import evaluate
    from insvie.store import Dataset

    with Dataset.open(dataset, create=False) as ds:
        build = read_build(ds)
        rows = triplet_rows(ds, build["final_step"])
        summary = dataset_summary(ds, build, rows)
        samples = dataset_samples(ds, build["final_step"]) if metrics else []
    if samples:
        scored = evaluate(samples, metrics, out, ManifestPredictions(), decode=decode, console=console)
        by_id = {row.sample_id: row for row in scored}
        for row in rows:
            extra = by_id.get(row.sample_id)
            if extra is not None:
                row.scores.update(extra.scores)
                row.meta.update(extra.meta)
                row.errors.update(extra.errors)
                row.declined.update(extra.declined)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    console.print(
        f"{summary['triplets']} triplets judged by {summary['final_step']}, {summary['accepted']} accepted; "
        + ", ".join(f"{name} {c['accepted']}/{c['triplets']}" for name, c in summary["categories"].items())
    )
    return rows
