"""Scoring a benchmark: each sample's videos decoded once, every metric run, one JSON line per sample.

``OUT/scores.jsonl`` is appended (and flushed to disk) as each sample finishes, so a ``kill -9`` loses at
most the sample in flight and a rerun skips what is there. A rerun with more metrics scores only the
missing ones of each sample; a sample that could not be evaluated at all (missing or corrupt video, no
prediction) and a metric that failed (a judge's endpoint timing out) are retried, since the cause may
have been fixed or passed; a metric that declined a sample (no mask: ``SampleScores.declined``) is not.
A metric whose settings changed since (another model, revision or prompt version: its ``meta()``
differs from what the row recorded) is scored again, so a reused report folder never mixes two models
under one name. The last line of a sample wins.

A sample that cannot be evaluated gets a row with its reason under ``errors["sample"]``; a metric that
fails on one sample gets its reason under its own name; the run goes on. Configuration errors (a
model that does not load) stop the run at once, since every sample would fail the same way.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from insvie.errors import ConfigError, InsvieError
from insvie.eval.frames import DecodeOptions, decode_sample
from insvie.eval.metrics.base import MetricUnavailable
from insvie.eval.predictions import Predictions
from insvie.eval.sample import EvalSample, Metric, SampleFrames, SampleScores

SCORES_FILE = "scores.jsonl"
SAMPLE_ERROR = "sample"  # the errors key of a sample that could not be evaluated at all
FAILED = "failed: "  # how a metric's unexpected failure starts; unlike a declined sample, it is retried
# meta keys that describe what answered rather than what was asked (a judge's served model version):
# they may legitimately differ between rows of one run, so they never make a row stale
_VOLATILE_META = frozenset({"served_by"})


def read_scores(path: Path) -> dict[str, SampleScores]:
    """The last row of every sample in a scores file; a torn last line (a crash mid-write) is ignored."""
    rows: dict[str, SampleScores] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = SampleScores(**json.loads(line))
        except (ValueError, TypeError):
            continue
        rows[row.sample_id] = row
    return rows


def _ends_with_newline(path: Path) -> bool:
    """Whether the file is empty or its last line is whole."""
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _covered(row: SampleScores, name: str) -> bool:
    """Whether the row has ``name``'s scores or its reason for declining (a failure is tried again)."""
    if name in row.errors:
        return False
    return name in row.declined or any(key.startswith(f"{name}.") for key in row.scores)


def _settings(metrics: Sequence[Metric]) -> dict[str, dict[str, str]]:
    """Each metric's settings as its ``meta()`` states them before scoring, volatile keys left out."""
    return {
        metric.name: {
            key: str(value)
            for key, value in metric.meta().items()
            if key not in _VOLATILE_META and str(value)
        }
        for metric in metrics
    }


def _drop_stale(row: SampleScores, settings: dict[str, dict[str, str]]) -> None:
    """Forget the scores of every metric whose recorded settings differ from the current ones."""
    for name, current in settings.items():
        recorded = row.meta.get(name)
        if recorded is None or all(recorded.get(key, value) == value for key, value in current.items()):
            continue
        row.scores = {key: value for key, value in row.scores.items() if not key.startswith(f"{name}.")}
        row.meta.pop(name, None)
        row.errors.pop(name, None)
        row.declined.pop(name, None)


def _check_names(metrics: Sequence[Metric]) -> None:
    names = [metric.name for metric in metrics]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates or SAMPLE_ERROR in names:
        raise ConfigError(f"metric names must be unique and not {SAMPLE_ERROR!r}: {names}")


def _run_metric(metric: Metric, sample: EvalSample, frames: SampleFrames, row: SampleScores) -> None:
    try:
        values = metric.score(sample, frames)
        meta = metric.meta()
    except (ConfigError, KeyboardInterrupt):
        raise
    except MetricUnavailable as exc:
        row.errors.pop(metric.name, None)
        row.declined[metric.name] = str(exc)
        return
    except Exception as exc:  # one sample's failure must not end a long run; the reason is kept
        row.errors[metric.name] = f"{FAILED}{type(exc).__name__}: {exc}"
        return
    bad = [key for key, value in values.items() if not math.isfinite(float(value))]
    if bad or not values:
        problem = f"non-finite score(s) {bad}" if bad else "no scores returned"
        row.errors[metric.name] = FAILED + problem
        return
    row.errors.pop(metric.name, None)
    row.declined.pop(metric.name, None)
    row.scores.update({f"{metric.name}.{key}": float(value) for key, value in values.items()})
    row.meta[metric.name] = {key: str(value) for key, value in meta.items()}


def score_sample(
    sample: EvalSample,
    metrics: Sequence[Metric],
    predictions: Predictions,
    decode: DecodeOptions,
    previous: SampleScores | None = None,
    settings: dict[str, dict[str, str]] | None = None,
) -> SampleScores:
    """One sample's row: ``previous``'s scores kept (unless ``settings`` changed since), the metrics it
    lacks run on freshly decoded frames."""
    if previous is not None and SAMPLE_ERROR not in previous.errors:
        row = copy.deepcopy(previous)
        if settings:
            _drop_stale(row, settings)
    else:
        row = SampleScores(sample.sample_id, sample.instruction, sample.category, str(sample.source), None)
    todo = [metric for metric in metrics if not _covered(row, metric.name)]
    if not todo:
        return row
    try:
        prediction = predictions.get(sample)
        row.edited = str(prediction.path)
        seams = prediction.seams or tuple(int(s) for s in sample.extra.get("seams", ()))
        frames = decode_sample(
            sample.source,
            prediction.path,
            decode,
            mask=sample.mask,
            ground_truth=sample.ground_truth,
            seams=seams,
        )
    except ConfigError:
        raise
    except (InsvieError, ValueError, OSError) as exc:
        row.scores, row.meta, row.declined = {}, {}, {}
        row.errors = {SAMPLE_ERROR: f"sample {sample.sample_id}: {exc}"}
        return row
    for metric in todo:
        _run_metric(metric, sample, frames, row)
    return row


def evaluate(
    samples: Sequence[EvalSample],
    metrics: Sequence[Metric],
    out_dir: Path,
    predictions: Predictions,
    *,
    decode: DecodeOptions | None = None,
    console: Console | None = None,
) -> list[SampleScores]:
    """Score every sample into ``out_dir/scores.jsonl`` (resuming it) and return the rows in sample order."""
    _check_names(metrics)
    decode = decode or DecodeOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SCORES_FILE
    done = read_scores(path)
    settings = _settings(metrics) if done else {}
    rows: list[SampleScores] = []
    columns = (
        TextColumn("eval {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        path.open("a", encoding="utf-8") as handle,
        Progress(*columns, console=console, disable=console is None) as progress,
    ):
        if not _ends_with_newline(path):
            handle.write("\n")  # end a line torn by a crash, so the next row starts clean
        task = progress.add_task("", total=len(samples))
        for sample in samples:
            progress.update(task, description=sample.sample_id)
            previous = done.get(sample.sample_id)
            row = score_sample(sample, metrics, predictions, decode, previous, settings)
            if previous is None or asdict(row) != asdict(previous):
                handle.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            rows.append(row)
            progress.advance(task)
    return rows
