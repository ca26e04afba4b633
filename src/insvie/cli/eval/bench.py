"""``insvie eval bench B --out R``: score an editor's outputs (a folder, or the editor run now) on B."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer

from insvie.cli import editor_options as opt
from insvie.cli.eval.option_groups import with_option_groups
from insvie.cli.eval.options import DecodeArgs, JudgeArgs, MetricModels, Out, Title, metric_names, score_run
from insvie.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from insvie.editor.runner import EditSettings, LoadOptions
    from insvie.eval.predictions import Predictions
    from insvie.eval.sample import SampleScores

EditFps = opt.fps_option("--edit-fps")  # `--fps` is the rate videos are scored at (DecodeArgs)

DEFAULT_METRICS = "motion,warp,preserve,gt,seam"


@dataclass(frozen=True)
class EditorArgs:
    """How `--model` runs the editor: the options `insvie edit` takes, reused from editor_options."""

    PANEL: ClassVar[str] = "Editor (with --model)"

    steps: opt.Steps = None
    text_guidance: opt.TextGuidance = None
    video_guidance: opt.VideoGuidance = None
    schedule: opt.Schedule = None
    seed: opt.Seed = 0
    height: opt.Height = None
    width: opt.Width = None
    edit_fps: EditFps = None  # type: ignore[valid-type]
    source_latent: opt.SourceLatent = "sample"
    dtype: opt.Dtype = "auto"
    sampler: opt.Sampler = "saved"

    def settings(self) -> EditSettings:
        """The checked edit settings; ``--edit-fps`` is the settings' ``fps``."""
        return opt.edit_settings({**asdict(self), "fps": self.edit_fps})

    def load(self, device: str) -> LoadOptions:
        from insvie.editor.runner import LoadOptions

        return LoadOptions(device=device, dtype=self.dtype, sampler=self.sampler)


@with_option_groups
def bench(
    benchmark: Annotated[
        Path,
        typer.Argument(
            metavar="BENCH",
            help="A folder with a manifest (generic CSV/JSONL, InsViE, EditVerseBench, OpenVE-Bench, or a "
            "SynthEdit folder from `insvie synth`) or the manifest file.",
            show_default=False,
        ),
    ],
    out: Out,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Folder of edited videos named SAMPLE_ID.mp4 (any video extension) or like the source file.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Run this InsViE editor (folder) on every sample."),
    ] = None,
    bench_kind: Annotated[
        str,
        typer.Option(
            "--bench-kind", help="Benchmark layout: auto, generic, insvie, editverse, openve, synthedit."
        ),
    ] = "auto",
    metrics: Annotated[str, metric_names("Comma-separated metrics.")] = DEFAULT_METRICS,
    title: Title = None,
    *,
    models: MetricModels,
    judge: JudgeArgs,
    decode: DecodeArgs,
    editor: EditorArgs,
) -> None:
    """Score an editor on benchmark BENCH: its outputs in `--predictions DIR`, or the InsViE editor
    `--model M` run now (into R/predictions/); with neither, the manifest's `edited` column.

    Every sample's videos are decoded once, each metric scores it, and its row is appended to
    R/scores.jsonl as it finishes: a rerun skips scored samples and adds only newly asked metrics. A bad
    sample (missing or corrupt video, no prediction) is recorded with its reason and the run goes on.
    Then R/scores.json, R/scores.csv and a self-contained R/report.html (tables per metric and category,
    histograms, best and worst samples). A SynthEdit folder is a ground-truth benchmark: `gt` is
    PSNR/SSIM against the correct edit and `preserve` PSNR/SSIM outside the edit mask, per category.
    Unset editor options come from the model folder's recipe, as for `insvie edit`.
    """

    def score(console: Console) -> list[SampleScores]:
        from insvie.eval.bench import read_benchmark
        from insvie.eval.runner import evaluate

        source = _prediction_source(out, predictions, model, editor, models.device)
        samples = read_benchmark(benchmark, kind=bench_kind)
        scoring = models.metrics(metrics) + judge.metrics(out)
        return evaluate(samples, scoring, out, source, decode=decode.options(), console=console)

    score_run(out, title or f"insvie eval {benchmark.name}", score)


def _prediction_source(
    out: Path, predictions: Path | None, model: str | None, editor: EditorArgs, device: str
) -> Predictions:
    """Where edited videos come from: the editor run now, a folder, or the benchmark's own column."""
    from insvie.eval.predictions import EditorPredictions, FolderPredictions, ManifestPredictions

    settings = editor.settings()  # checked even without --model: a typo should not pass silently
    if predictions is not None and model is not None:
        raise ConfigError("give --predictions or --model, not both")
    if model is not None:
        return EditorPredictions(model, out / "predictions", settings, editor.load(device))
    if predictions is not None:
        return FolderPredictions(predictions)
    return ManifestPredictions()
