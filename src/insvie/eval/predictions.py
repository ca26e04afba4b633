"""Where each sample's edited video comes from: a folder of another tool's outputs, the benchmark's own
``edited`` column, or the InsViE editor run now.

Every source implements ``get(sample) -> Prediction`` and raises :class:`PredictionMissing` naming the
sample and where it looked. A prediction may carry the frame indices of window seams (a long video
edited window by window), read from a ``<name>.json`` sidecar ``{"seams": [...]}`` beside the video.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from insvie.errors import ConfigError, InsvieError
from insvie.eval.sample import EvalSample

if TYPE_CHECKING:
    from insvie.editor.runner import EditSettings, LoadOptions

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".gif")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PredictionMissing(InsvieError):
    """No edited video for a sample; the message names the sample and where it was looked for."""


@dataclass(frozen=True)
class Prediction:
    path: Path
    seams: tuple[int, ...] = ()


class Predictions(Protocol):
    def get(self, sample: EvalSample) -> Prediction: ...


def file_stem(sample_id: str) -> str:
    """A sample id as a safe file name (ids may hold slashes or spaces)."""
    return _UNSAFE.sub("_", sample_id).strip("._") or "sample"


def _with_seams(path: Path) -> Prediction:
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return Prediction(path)
    try:
        seams = json.loads(sidecar.read_text(encoding="utf-8")).get("seams", [])
        return Prediction(path, tuple(int(s) for s in seams))
    except (ValueError, TypeError, AttributeError) as exc:
        raise PredictionMissing(f"{sidecar}: unreadable seams sidecar ({exc})") from exc


def _video_in(folder: Path, sample_id: str) -> Path | None:
    """The edit in a per-sample folder: ``generate.<ext>``, else its only video."""
    if not folder.is_dir():
        return None
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    named = [p for p in videos if p.stem == "generate"]
    if len(named) == 1 or len(videos) == 1:
        return (named or videos)[0]
    if videos:
        raise PredictionMissing(
            f"sample {sample_id}: {folder} holds {len(videos)} videos, none named generate.*"
        )
    return None


class FolderPredictions:
    """``DIR/<sample id>.<ext>`` (any video extension), else a file named like the sample's source, else
    the one video in ``DIR/<sample id>/`` (EditVerseBench writes ``<id>/generate.mp4``)."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ConfigError(f"predictions folder {folder}: no such folder")
        self.folder = folder

    def get(self, sample: EvalSample) -> Prediction:
        stems = dict.fromkeys((sample.sample_id, file_stem(sample.sample_id), sample.source.stem))
        candidates = [self.folder / f"{stem}{ext}" for stem in stems for ext in VIDEO_EXTENSIONS]
        candidates.insert(0, self.folder / sample.source.name)
        for path in candidates:
            if path.is_file():
                return _with_seams(path)
        for stem in stems:  # a folder per sample, as EditVerseBench's results/<id>/generate.mp4
            found = _video_in(self.folder / stem, sample.sample_id)
            if found is not None:
                return _with_seams(found)
        names = ", ".join(dict.fromkeys(f"{stem}.mp4" for stem in stems))
        raise PredictionMissing(
            f"sample {sample.sample_id}: no prediction in {self.folder} (looked for {names} and other "
            f"video extensions, {sample.source.name}, and a folder {file_stem(sample.sample_id)}/ "
            "holding one video)"
        )


class ManifestPredictions:
    """The benchmark's own ``edited`` column."""

    def get(self, sample: EvalSample) -> Prediction:
        if sample.edited is None:
            raise PredictionMissing(
                f"sample {sample.sample_id}: the benchmark names no edited video; "
                "pass --predictions DIR or --model M"
            )
        return _with_seams(sample.edited)


class EditorPredictions:
    """Runs the InsViE editor on each sample's source into ``folder/<id>.mp4``; existing outputs are kept.

    The shared :class:`~insvie.editor.runner.EditorRunner` decides loading, defaults (the model's recipe)
    and frames: a source longer than the model's frame count is edited in overlapping windows and its
    seams written to the sidecar, for the seam metric. The model loads on the first sample that needs
    it, so a rerun over finished predictions loads nothing.
    """

    def __init__(
        self,
        model: str,
        folder: Path,
        settings: EditSettings | None = None,
        load: LoadOptions | None = None,
    ) -> None:
        from insvie.editor.runner import EditorRunner, EditSettings

        self.folder = folder
        self.settings = settings or EditSettings()
        self.runner = EditorRunner(model, load)

    def get(self, sample: EvalSample) -> Prediction:
        path = self.folder / f"{file_stem(sample.sample_id)}.mp4"
        if path.is_file():
            return _with_seams(path)
        from insvie.editor.output import write_edit_video

        result = self.runner.edit(sample.source, sample.instruction, self.settings)
        frames, seams = result.frames, result.seams
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")
        try:
            write_edit_video(frames, tmp, fps=result.fps)
            if seams:
                path.with_suffix(".json").write_text(json.dumps({"seams": seams}), encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return Prediction(path, tuple(seams))
