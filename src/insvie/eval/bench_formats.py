"""Readers for benchmark layouts published by others, and for the folders ``insvie synth`` writes.

Each reader maps one layout onto :class:`EvalSample` and nothing more; detection and the generic
manifest live in :mod:`insvie.eval.bench`. The layouts (learnt from their public descriptions):

- InsViE released layout (``insvie export --format insvie-csv`` writes it too): ``metadata.csv`` with
  columns ``video,instruct``, the same file name under ``source/`` and ``edited/``. The edited video,
  when present, is the item under evaluation (scoring a dataset's own edits).
- EditVerseBench: ``test.json``, an object of entries keyed by id, each with ``<text>`` (the
  instruction, naming media by tags such as ``<video1>``), ``<video1>`` (the source video's path),
  ``type`` (the category), ``source_prompt`` and ``target_prompt``; other tags (``<image1>``,
  ``<video2>``) name extra conditions, kept in ``extra["conditions"]``.
- OpenVE-Bench: ``benchmark_videos.csv`` with ``edited_type`` (the category), ``prompt`` (the
  instruction) and ``original_video`` (the source, often written as ``OpenVE-Bench/videos/NAME.mp4``
  relative to the folder above the benchmark).
- SynthEdit (``insvie synth``): ``records.jsonl`` plus ``source/``, ``edited/``, ``mask/`` videos.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from insvie.eval.bench_rows import BenchmarkError, Row, check_unique
from insvie.eval.sample import EvalSample

_TAG = re.compile(r"<(video|image)(\d+)>")
_OPENVE_PREFIX = "OpenVE-Bench/"
# Small, useful SynthEdit fields; the scene descriptions stay in records.jsonl.
_SYNTH_EXTRA = ("broken", "broken_params", "local", "changed_fraction", "seed", "generator", "edit")


def csv_rows(file: Path, root: Path, required: tuple[str, ...]) -> list[Row]:
    """The rows of a CSV (blank lines skipped), after checking the header names every ``required`` column."""
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise BenchmarkError(
                    file, f"header lacks column(s) {missing}; it has {header}", where="line 1"
                )
            rows = []
            for record in reader:
                if None in record:
                    raise BenchmarkError(
                        file, "more values than header columns", where=f"line {reader.line_num}"
                    )
                if all(not (value or "").strip() for value in record.values()):
                    continue
                rows.append(Row(dict(record), root, file, f"line {reader.line_num}"))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchmarkError(file, f"cannot read as CSV: {exc}") from None


def jsonl_rows(file: Path, root: Path) -> list[Row]:
    """The JSON objects of a JSONL file, one per non-blank line."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkError(file, f"cannot read: {exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BenchmarkError(file, f"not valid JSON ({exc})", where=f"line {number}") from None
        if not isinstance(record, dict):
            raise BenchmarkError(
                file, f"expected a JSON object, got {type(record).__name__}", where=f"line {number}"
            )
        rows.append(Row(record, root, file, f"line {number}"))
    return rows


def _extra(row: Row, known: tuple[str, ...]) -> dict[str, Any]:
    """Columns the layout does not map, kept for reports and filters (blank CSV cells dropped)."""
    return {
        key: value
        for key, value in row.fields.items()
        if key not in known and not (isinstance(value, str) and not value.strip())
    }


def read_insvie(file: Path, root: Path) -> list[EvalSample]:
    """The released InsViE layout: ``video,instruct`` rows naming files in ``source/`` (and ``edited/``)."""
    has_source_folder = (root / "source").is_dir()
    samples, ids = [], []
    for row in csv_rows(file, root, ("video", "instruct")):
        name = row.required_text("video")
        if not Path(name).suffix:
            name = f"{name}.mp4"
        source = row.file("video", f"source/{name}" if has_source_folder else name)
        edited_rel = f"edited/{name}"
        edited = row.file("video", edited_rel) if (root / edited_rel).is_file() else None
        sample_id = Path(name).stem
        samples.append(
            EvalSample(
                sample_id=sample_id,
                source=source,
                instruction=row.required_text("instruct"),
                edited=edited,
                extra=_extra(row, ("video", "instruct")),
            )
        )
        ids.append((sample_id, row))
    check_unique(ids)
    return samples


def _editverse_instruction(text: str) -> str:
    """``<video1> Add a crown ...`` reads as ``Add a crown ...``; a tag mid-sentence as "the video"."""
    cleaned = re.sub(r"^\s*<video1>\s*", "", text)
    cleaned = cleaned.replace("<video1>", "the video")
    return re.sub(r"\s+", " ", cleaned).strip()


def read_editverse(file: Path, root: Path) -> list[EvalSample]:
    """EditVerseBench's ``test.json``: entries keyed by id, media named by ``<videoN>``/``<imageN>`` tags."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchmarkError(file, f"cannot read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BenchmarkError(file, f"expected an object of entries keyed by id, got {type(data).__name__}")
    samples, ids = [], []
    for key, entry in data.items():
        where = f"entry {key!r}"
        if not isinstance(entry, dict):
            raise BenchmarkError(file, f"expected an object, got {type(entry).__name__}", where=where)
        row = Row(entry, root, file, where)
        text = row.required_text("<text>")
        source = row.file("<video1>")
        conditions = {
            f"<{kind}{index}>": str(row.file(f"<{kind}{index}>"))
            for kind, index in sorted(set(_TAG.findall(text)))
            if (kind, index) != ("video", "1")
        }
        extra = _extra(row, ("<text>", "<video1>", "type", "source_prompt", "target_prompt", *conditions))
        extra["raw_instruction"] = text
        if conditions:
            extra["conditions"] = conditions
        samples.append(
            EvalSample(
                sample_id=str(key),
                source=source,
                instruction=_editverse_instruction(text),
                target_caption=row.text("target_prompt"),
                source_caption=row.text("source_prompt"),
                category=row.text("type"),
                extra=extra,
            )
        )
        ids.append((str(key), row))
    check_unique(ids)
    return samples


def read_openve(file: Path, root: Path) -> list[EvalSample]:
    """OpenVE-Bench's ``benchmark_videos.csv``: ``edited_type``, ``prompt``, ``original_video``."""
    samples, ids = [], []
    for row in csv_rows(file, root, ("edited_type", "prompt", "original_video")):
        original = row.required_text("original_video")
        # Written relative to the folder above the benchmark; inside it the prefix is not part of the path.
        if original.startswith(_OPENVE_PREFIX) and not (root / original).is_file():
            original = original[len(_OPENVE_PREFIX) :]
        source = row.file("original_video", original)
        sample_id = Path(original).stem
        samples.append(
            EvalSample(
                sample_id=sample_id,
                source=source,
                instruction=row.required_text("prompt"),
                category=row.required_text("edited_type"),
                extra=_extra(row, ("edited_type", "prompt", "original_video")),
            )
        )
        ids.append((sample_id, row))
    check_unique(ids)
    return samples


def read_synthedit(
    folder: Path, *, include_broken: bool = False, as_predictions: bool = False
) -> list[EvalSample]:
    """A SynthEdit folder as a ground-truth benchmark.

    A clean sample's edited video is the exact correct edit, so it becomes ``ground_truth`` and the mask
    says which pixels the instruction may change. A labelled broken sample (``--broken-fraction``) holds a
    deliberately wrong edit and no correct one; it is left out unless ``include_broken``, and then has no
    ground truth. ``as_predictions`` puts the folder's own edited video in ``edited``, so the SynthEdit
    edits themselves are scored (how the quality filters are calibrated against the broken labels).
    """
    file = folder / "records.jsonl"
    if not file.is_file():
        raise BenchmarkError(folder, "no records.jsonl: not a SynthEdit folder written by `insvie synth`")
    samples, ids = [], []
    for row in jsonl_rows(file, folder):
        broken = row.fields.get("broken")
        if broken and not include_broken:
            continue
        sample_id = row.required_text("id")
        edited = row.file("edited")
        extra = {key: row.fields[key] for key in _SYNTH_EXTRA if key in row.fields}
        samples.append(
            EvalSample(
                sample_id=sample_id,
                source=row.file("source"),
                instruction=row.required_text("instruction"),
                edited=edited if as_predictions else None,
                target_caption=row.text("target_caption"),
                source_caption=row.text("source_caption"),
                category=row.text("category"),
                mask=row.optional_file("mask"),
                ground_truth=None if broken else edited,
                extra=extra,
            )
        )
        ids.append((sample_id, row))
    check_unique(ids)
    return samples
