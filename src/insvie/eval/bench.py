"""Benchmarks in, :class:`EvalSample` out: the generic manifest, detection of known layouts, and writing one.

A benchmark is a folder plus a manifest. The generic manifest is a CSV or JSONL with the columns
``id, video, instruction, target_caption, source_caption, category, mask, ground_truth, edited``
(only ``video`` and ``instruction`` required; ``id`` defaults to the video's file stem; other
columns are kept in ``extra``). Paths are relative to the benchmark folder and may not leave it.
Layouts published by others (InsViE, EditVerseBench, OpenVE-Bench) and SynthEdit folders are read
by :mod:`insvie.eval.bench_formats`; ``kind="auto"`` recognises each by its manifest.

    read_benchmark(path, *, kind="auto") -> list[EvalSample]
    write_benchmark(samples, path) -> Path               # generic manifest, paths relative to its folder
    synthedit_benchmark(folder, *, include_broken=False, as_predictions=False) -> list[EvalSample]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from insvie.eval.bench_formats import (
    csv_rows,
    jsonl_rows,
    read_editverse,
    read_insvie,
    read_openve,
    read_synthedit,
)
from insvie.eval.bench_rows import BenchmarkError, Row, benchmark_root, check_unique
from insvie.eval.sample import EvalSample
from insvie.store.fsio import write_atomically

KINDS = ("auto", "generic", "insvie", "editverse", "openve", "synthedit")
COLUMNS = (
    "id",
    "video",
    "instruction",
    "target_caption",
    "source_caption",
    "category",
    "mask",
    "ground_truth",
    "edited",
)
_PATH_COLUMNS = {"video": "source", "mask": "mask", "ground_truth": "ground_truth", "edited": "edited"}
_TEXT_COLUMNS = ("target_caption", "source_caption", "category")
# Manifest names looked for in a benchmark folder, in order, with the layout each one means.
_FOLDER_MANIFESTS = (
    ("records.jsonl", "synthedit"),
    ("test.json", "editverse"),
    ("benchmark_videos.csv", "openve"),
    ("benchmark.jsonl", "generic"),
    ("benchmark.csv", "generic"),
    ("metadata.csv", None),  # InsViE's video,instruct or a generic manifest: decided by its header
)


def synthedit_benchmark(
    folder: str | Path, *, include_broken: bool = False, as_predictions: bool = False
) -> list[EvalSample]:
    """A folder written by ``insvie synth`` as a ground-truth benchmark (see :func:`read_synthedit`)."""
    root, _ = benchmark_root(Path(folder))
    return read_synthedit(root, include_broken=include_broken, as_predictions=as_predictions)


def _csv_header(file: Path) -> list[str]:
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchmarkError(file, f"cannot read as CSV: {exc}") from None


def _kind_of_file(file: Path) -> str:
    """The layout a manifest file is in, from its name and (for CSV) its header."""
    if file.name == "records.jsonl":
        return "synthedit"
    suffix = file.suffix.lower()
    if suffix == ".json":
        return "editverse"
    if suffix == ".jsonl":
        return "generic"
    if suffix == ".csv":
        header = set(_csv_header(file))
        if {"edited_type", "prompt", "original_video"} <= header:
            return "openve"
        if {"video", "instruct"} <= header and "instruction" not in header:
            return "insvie"
        return "generic"
    raise BenchmarkError(file, "unknown manifest type; expected .csv, .jsonl or EditVerseBench's .json")


def _find_manifest(root: Path, kind: str) -> Path:
    """The manifest in a benchmark folder: the first known name present that suits ``kind``."""
    for name, means in _FOLDER_MANIFESTS:
        candidate = root / name
        if candidate.is_file() and (kind == "auto" or means in (kind, None)):
            return candidate
    names = ", ".join(name for name, means in _FOLDER_MANIFESTS if kind == "auto" or means in (kind, None))
    raise BenchmarkError(root, f"no benchmark manifest found (looked for {names})")


def _sample_id(row: Row, source_value: str) -> str:
    value = row.fields.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return row.text("id") or Path(source_value).stem


def _generic_sample(row: Row) -> EvalSample:
    source_value = row.required_text("video")
    return EvalSample(
        sample_id=_sample_id(row, source_value),
        source=row.file("video"),
        instruction=row.required_text("instruction"),
        edited=row.optional_file("edited"),
        target_caption=row.text("target_caption"),
        source_caption=row.text("source_caption"),
        category=row.text("category"),
        mask=row.optional_file("mask"),
        ground_truth=row.optional_file("ground_truth"),
        extra={key: value for key, value in row.fields.items() if key not in COLUMNS and value != ""},
    )


def read_generic(file: Path, root: Path) -> list[EvalSample]:
    """The generic CSV or JSONL manifest."""
    if file.suffix.lower() == ".jsonl":
        rows = jsonl_rows(file, root)
    else:
        rows = csv_rows(file, root, ("video", "instruction"))
    samples = [_generic_sample(row) for row in rows]
    check_unique([(sample.sample_id, row) for sample, row in zip(samples, rows, strict=True)])
    return samples


_READERS: dict[str, Callable[[Path, Path], list[EvalSample]]] = {
    "generic": read_generic,
    "insvie": read_insvie,
    "editverse": read_editverse,
    "openve": read_openve,
}


def read_benchmark(path: Path, *, kind: str = "auto") -> list[EvalSample]:
    """Every sample of the benchmark at ``path`` (a folder holding a manifest, or the manifest file).

    ``kind`` is one of :data:`KINDS`; ``auto`` recognises the layout. Raises :class:`BenchmarkError`
    naming the file, the line (or entry) and the reason for the first bad row; a benchmark with no
    samples is an error too, since evaluating nothing is never what was meant.
    """
    if kind not in KINDS:
        raise BenchmarkError(path, f"unknown benchmark kind {kind!r}; choose from {', '.join(KINDS)}")
    root, file = benchmark_root(Path(path))
    if kind == "synthedit" or (file is None and kind == "auto" and (root / "records.jsonl").is_file()):
        samples = read_synthedit(root)
    else:
        file = file if file is not None else _find_manifest(root, kind)
        layout = _kind_of_file(file) if kind == "auto" else kind
        samples = read_synthedit(root) if layout == "synthedit" else _READERS[layout](file, root)
    if not samples:
        raise BenchmarkError(file or root, "the benchmark has no samples")
    return samples


def _relative(path: Path | None, root: Path, sample_id: str) -> str | None:
    """``path`` relative to ``root`` in manifest form; a path outside ``root`` cannot be written."""
    if path is None:
        return None
    relative = Path(os.path.relpath(Path(path).resolve(), root))
    if relative.parts[:1] == ("..",) or relative.is_absolute():
        raise BenchmarkError(root, f"sample {sample_id!r}: {path} lies outside the benchmark folder")
    return relative.as_posix()


def _record(sample: EvalSample, root: Path) -> dict[str, Any]:
    record: dict[str, Any] = {"id": sample.sample_id, "instruction": sample.instruction}
    for column, field in _PATH_COLUMNS.items():
        record[column] = _relative(getattr(sample, field), root, sample.sample_id)
    for column in _TEXT_COLUMNS:
        record[column] = getattr(sample, column)
    clashes = sorted(set(sample.extra) & set(COLUMNS))
    if clashes:
        raise BenchmarkError(
            root, f"sample {sample.sample_id!r}: extra keys {clashes} clash with manifest columns"
        )
    return {**record, **sample.extra}


def write_benchmark(samples: Sequence[EvalSample], path: str | Path) -> Path:
    """Write ``samples`` as a generic manifest (``.jsonl`` or ``.csv``) that :func:`read_benchmark` reads.

    Paths are written relative to the manifest's folder, so the folder can be moved; every file must
    lie inside it. JSONL keeps ``extra`` values as JSON; CSV writes non-text extras as JSON text. The file
    is written atomically. (A CSV cannot tell an empty extra from a missing one: both read back absent.)
    """
    path = Path(path)
    root = path.parent.resolve()
    records = [_record(sample, root) for sample in samples]
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise BenchmarkError(path, "a generic manifest is .jsonl or .csv")

    def write_jsonl(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in records:
                kept = {k: v for k, v in record.items() if not (k in COLUMNS and v is None)}
                handle.write(json.dumps(kept, ensure_ascii=False))
                handle.write("\n")

    def write_csv(tmp: Path) -> None:
        extras = sorted({key for record in records for key in record} - set(COLUMNS))
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*COLUMNS, *extras])
            writer.writeheader()
            for record in records:
                writer.writerow(
                    {
                        key: "" if value is None else value if isinstance(value, str) else json.dumps(value)
                        for key, value in record.items()
                    }
                )

    root.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, write_jsonl if suffix == ".jsonl" else write_csv)
