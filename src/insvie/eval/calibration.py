"""The refilter's calibration on SynthEdit's labelled broken edits: recall, false rejections, precision.

For each seed the clean SynthEdit sample and the same scene and edit broken in each of the
``BROKEN_KINDS`` are rendered, round-tripped through H.264 (as real builds store clips), and measured
once with the refilter's metrics. Every check of ``RefilterConfig`` is then read against them: the
share of each kind it rejects (recall on broken kinds, false rejections on clean edits) and its
precision at the run's clean:broken ratio. :func:`suggest` searches limits jointly when the defaults
miss the targets. ``benchmarks/calibration.py`` prints the full study; ``insvie eval --calibration``
writes the table.

The metrics and checks are the build's own (:mod:`insvie.backends.analysis.refilter`, which the
refilter step only adapts): the values measured here are rounded as the build stores them, and every
rejection is :func:`refilter_failures`' verdict, so the table describes what the build decides. The
limits are any object with ``RefilterConfig``'s attributes (the step's config).
"""

from __future__ import annotations

import itertools
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from insvie.backends.analysis.refilter import CHECKS, RefilterLimits, breaks, is_exempt, refilter_failures
from insvie.synth import BROKEN_KINDS, GLOBAL_CATEGORIES

CLEAN = "clean"
# wrong_attribute is left out: no check here reads what the instruction asked for (a judge's work).
TARGET_KINDS = ("motion_mismatch", "drift", "first_frames_only", "flicker", "blur", "blocking")
TARGET_RECALL = 0.9
TARGET_FALSE_REJECTION = 0.10


def stage_category(synth_category: str) -> str:
    """The build category a SynthEdit edit stands for: global looks are colour grades."""
    return "colour_grade" if synth_category in GLOBAL_CATEGORIES else synth_category


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; OpenCV's own threads would only contend


def measure(job: tuple[int, str | None, tuple[int, int], int, int, float, str]) -> dict[str, Any]:
    """Render one sample, round-trip both videos through H.264 and return its refilter metrics."""
    from insvie.backends.analysis.refilter import refilter_metrics
    from insvie.media import read_frames, write_video
    from insvie.synth import generate_sample

    seed, kind, size, frames, crf, fps, tmp = job
    sample = generate_sample(seed, size=size, num_frames=frames, broken=kind)
    stem = Path(tmp) / f"{seed}-{kind or CLEAN}"
    videos = []
    for name, video in (("source", sample.source), ("edited", sample.edited)):
        path = write_video(f"{stem}-{name}.mp4", video, fps, crf=crf)
        videos.append(read_frames(path))
        path.unlink()
    source, edited = videos
    metrics = refilter_metrics(source, edited)
    return {
        "seed": seed,
        "kind": kind or CLEAN,
        "category": sample.record["category"],
        "local": bool(sample.record["local"]),
        "changed_fraction": float(sample.record["changed_fraction"]),
        "metrics": metrics,
    }


def collect(
    seeds: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = (240, 360),
    frames: int = 17,
    crf: int = 18,
    fps: float = 8.0,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Measure ``seeds`` samples of every kind (clean and each broken kind); ``workers`` processes."""
    from insvie.synth import sample_seed

    seed_list = [sample_seed(seed, i) for i in range(seeds)]
    kinds: list[str | None] = [None, *BROKEN_KINDS]
    with tempfile.TemporaryDirectory(prefix="insvie-calibration-") as tmp:
        jobs = [(s, k, size, frames, crf, fps, tmp) for k in kinds for s in seed_list]
        if workers <= 1:
            _init_worker()
            return [measure(job) for job in jobs]
        with ProcessPoolExecutor(workers, get_context("spawn"), initializer=_init_worker) as pool:
            return list(pool.map(measure, jobs, chunksize=2))


def check_table(config: RefilterLimits) -> list[tuple[str, str, str, float | None]]:
    """(metric, side, reason, limit) of every refilter check under ``config``."""
    return [(key, side, reason, getattr(config, field)) for key, field, side, reason in CHECKS]


def rejections(samples: list[dict[str, Any]], config: RefilterLimits) -> tuple[np.ndarray, list[str]]:
    """(samples x checks) bool: which checks the build's ``refilter_failures`` reports for each sample,
    and the check names."""
    reasons = [check.reason for check in CHECKS]
    table = np.zeros((len(samples), len(reasons)), dtype=bool)
    for row, sample in enumerate(samples):
        failed = refilter_failures(sample["metrics"], config, stage_category(sample["category"]))
        table[row] = [reason in failed for reason in reasons]
    return table, reasons


def rate(mask: np.ndarray, rows: np.ndarray) -> float:
    return float(mask[rows].mean()) if rows.any() else float("nan")


def _json_rate(value: float) -> float | None:
    return None if np.isnan(value) else value


def calibration_table(samples: list[dict[str, Any]], config: RefilterLimits) -> dict[str, Any]:
    """Per check (and for the refilter as a whole): its limit, the share of each sample kind it rejects
    and its precision; with the sample counts and whether the targets are met. JSON-ready (no NaN)."""
    table, _ = rejections(samples, config)
    kinds = np.array([s["kind"] for s in samples])
    broken = kinds != CLEAN
    columns = [CLEAN, *BROKEN_KINDS]
    checks = []
    rows = [
        (reason, limit, side, table[:, i]) for i, (_, side, reason, limit) in enumerate(check_table(config))
    ]
    rows.append(("refilter", None, None, table.any(axis=1)))
    for name, limit, side, mask in rows:
        checks.append(
            {
                "check": name,
                "side": side,
                "limit": limit,
                "rejected": {c: _json_rate(rate(mask, kinds == c)) for c in columns},
                "precision": float(mask[broken].sum() / mask.sum()) if mask.any() else None,
            }
        )
    met, rates = target_status(table, kinds)
    return {
        "samples": {c: int((kinds == c).sum()) for c in columns},
        "checks": checks,
        "targets": {
            "recall": TARGET_RECALL,
            "false_rejection": TARGET_FALSE_REJECTION,
            "kinds": list(TARGET_KINDS),
        },
        "targets_met": met,
        "rates": {k: _json_rate(v) for k, v in rates.items()},
    }


def cut(values: np.ndarray, clean: np.ndarray, side: str, k: int) -> float | None:
    """The tightest limit letting the ``k`` most extreme clean values fail, halfway to the next sample.

    Halfway between that clean value and the nearest value of any sample beyond it, so no sample sits
    on the limit (between samples the limit changes nothing on this data); None if nothing lies beyond.
    """
    order = np.sort(clean)[::-1] if side == "max" else np.sort(clean)
    edge = order[min(k, len(order) - 1)]
    beyond = values[values > edge] if side == "max" else values[values < edge]
    if len(beyond) == 0:
        return None
    nearest = beyond.min() if side == "max" else beyond.max()
    return float(f"{(edge + nearest) / 2:.3g}")


def allowed_false(clean_count: int) -> int:
    return int(np.floor(TARGET_FALSE_REJECTION * clean_count + 1e-9))


def candidates(values: np.ndarray, clean: np.ndarray, side: str, default: float | None) -> list[float | None]:
    """Limits worth trying for one check: off, the default, and cuts letting 0..10% of clean edits fail."""
    found: list[float | None] = [None, default]
    for k in range(min(allowed_false(len(clean)), len(clean) - 1) + 1):
        limit = cut(values, clean, side, k)
        if limit is not None:
            found.append(limit)
    return list(dict.fromkeys(found))


def suggest(
    samples: list[dict[str, Any]], config: RefilterLimits
) -> tuple[dict[str, float | None], dict[str, float]] | None:
    """The limits (over every check) that meet the targets best on this run's samples, and their rates.

    Preference: all targets met, then the highest smallest recall over the target kinds, then fewest
    limits changed (a limit moved only to catch other kinds would be fitted to noise), then the highest
    mean recall over every broken kind, then fewest clean false rejections. Only combinations
    rejecting <= 10% of clean edits are considered. Exemptions and the comparison are the build's
    (``is_exempt``, ``breaks``), only the limits are swept.
    """
    kinds = np.array([s["kind"] for s in samples])
    clean = kinds == CLEAN
    options: list[list[tuple[float | None, np.ndarray]]] = []
    for check in CHECKS:
        key, field, side, _ = check
        values = np.array([s["metrics"][key] for s in samples])
        exempt = np.array([is_exempt(check, config, stage_category(s["category"])) for s in samples])
        default = getattr(config, field)
        per_check = []
        for limit in candidates(values[~exempt], values[clean & ~exempt], side, default):
            fails = np.zeros(len(samples), dtype=bool) if limit is None else breaks(values, limit, side)
            per_check.append((limit, fails & ~exempt))
        options.append(per_check)
    broken_kinds = [k for k in BROKEN_KINDS if (kinds == k).any()]
    defaults = [getattr(config, field) for _, field, *_ in CHECKS]
    best_key, best = None, None
    for combo in itertools.product(*options):
        rejected = np.logical_or.reduce([fails for _, fails in combo])
        false_rate = float(rejected[clean].mean())
        if false_rate > TARGET_FALSE_REJECTION + 1e-9:
            continue
        recall = {k: float(rejected[kinds == k].mean()) for k in broken_kinds}
        target_min = min(recall.get(k, 1.0) for k in TARGET_KINDS)
        changed = sum(limit != d for (limit, _), d in zip(combo, defaults, strict=True))
        key = (target_min >= TARGET_RECALL, target_min, -changed, np.mean(list(recall.values())), -false_rate)
        if best_key is None or key > best_key:
            best_key = key
            best = (
                {field: limit for (_, field, *_), (limit, _) in zip(CHECKS, combo, strict=True)},
                {**recall, CLEAN: false_rate},
            )
    return best


def target_status(table: np.ndarray, kinds: np.ndarray) -> tuple[bool, dict[str, float]]:
    rejected = table.any(axis=1)
    rates = {k: rate(rejected, kinds == k) for k in (*TARGET_KINDS, CLEAN)}
    met = all(rates[k] >= TARGET_RECALL for k in TARGET_KINDS) and rates[CLEAN] <= TARGET_FALSE_REJECTION
    return met, rates
