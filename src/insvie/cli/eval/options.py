"""What ``insvie eval bench`` and ``insvie eval dataset`` share, declared once: the report folder and title,
the metric names' help, the metric models, the VLM judge, decoding, and how a run ends (a refusal on one
line, the means table, the report). ``calibration`` shares only ``--out`` and the refusal.

The groups are option groups (see :mod:`insvie.cli.eval.option_groups`): a command takes ``models:
MetricModels`` and gets every model option, under its own help panel. Defaults are written here rather
than imported from ``insvie.eval`` so that ``insvie --help`` does not import the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from insvie.cli.console import console as make_console
from insvie.errors import ConfigError, InsvieError

if TYPE_CHECKING:
    from insvie.eval.frames import DecodeOptions
    from insvie.eval.metrics import MetricOptions
    from insvie.eval.sample import Metric, SampleScores

Out = Annotated[Path, typer.Option("--out", "-o", help="Report folder (created; a rerun resumes it).")]
Title = Annotated[str | None, typer.Option("--title", help="Report title.")]

METRICS_PANEL = "Metrics"
METRIC_NAMES_HELP = (
    "Weight-free: motion, warp, preserve, gt, seam. With a model: clip_t, clip_f, clip_dir (--clip-model), "
    "dino (--dino-model), pickscore (--pickscore-model)."
)


def metric_names(lead: str) -> Any:
    """The ``--metrics`` option (comma-separated metric names), its help opening with ``lead``: what the
    command scores with them."""
    return typer.Option("--metrics", help=f"{lead} {METRIC_NAMES_HELP}", rich_help_panel=METRICS_PANEL)


@dataclass(frozen=True)
class MetricModels:
    """The learned metrics' models (hub id or folder) and the device they run on."""

    PANEL: ClassVar[str] = METRICS_PANEL

    clip_model: Annotated[
        str, typer.Option("--clip-model", help="CLIP for clip_t/clip_f/clip_dir: hub id or folder.")
    ] = "openai/clip-vit-large-patch14"
    dino_model: Annotated[str, typer.Option("--dino-model", help="DINOv2 for dino: hub id or folder.")] = (
        "facebook/dinov2-base"
    )
    pickscore_model: Annotated[
        str, typer.Option("--pickscore-model", help="PickScore weights: hub id or folder.")
    ] = "yuvalkirstain/PickScore_v1"
    pickscore_processor: Annotated[
        str,
        typer.Option(
            "--pickscore-processor", help="PickScore's tokenizer and image processor: hub id or folder."
        ),
    ] = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    device: Annotated[
        str,
        typer.Option("--device", help="auto, cpu or cuda[:N]: where model metrics (and an editor) run."),
    ] = "auto"

    def metrics(self, names: str | None) -> list[Metric]:
        """The metrics ``names`` (comma-separated; none for None or "") on these models."""
        from insvie.eval.metrics import build_metrics, parse_metric_names

        return build_metrics(parse_metric_names(names), self.options()) if names else []

    def options(self) -> MetricOptions:
        from insvie.eval.metrics import MetricOptions

        return MetricOptions(
            clip_model=self.clip_model,
            dino_model=self.dino_model,
            pickscore_model=self.pickscore_model,
            pickscore_processor=self.pickscore_processor,
            device=self.device,
        )


@dataclass(frozen=True)
class JudgeArgs:
    """An optional VLM judge over an OpenAI-compatible endpoint, scored like any other metric."""

    PANEL: ClassVar[str] = "VLM judge"

    judge: Annotated[
        Literal["pairs", "scores"] | None,
        typer.Option(
            "--judge",
            help="Add a VLM judge: pairs (three frame pairs, 0-3 on three criteria, 0-9) or scores (three "
            "1-5 scores per sample).",
        ),
    ] = None
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="Chat model the judge asks (e.g. gpt-4o).")
    ] = None
    judge_base_url: Annotated[
        str | None,
        typer.Option(
            "--judge-base-url", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL, else OpenAI)."
        ),
    ] = None

    def metrics(self, out: Path) -> list[Metric]:
        """The judge as a metric (replies cached under ``out/cache``), or none when not asked for."""
        if self.judge is None:
            return []
        from insvie.eval.judge_protocols import make_judge_metric

        if not self.judge_model:
            raise ConfigError("--judge needs --judge-model (the chat model name, e.g. gpt-4o)")
        metric = make_judge_metric(
            self.judge, model=self.judge_model, base_url=self.judge_base_url, cache_dir=out / "cache"
        )
        return [metric]


@dataclass(frozen=True)
class DecodeArgs:
    """How much of each video the metrics see."""

    PANEL: ClassVar[str] = "Decoding"

    max_frames: Annotated[
        int, typer.Option("--max-frames", min=1, help="Frames of each video scored (from the start).")
    ] = 49
    max_size: Annotated[
        int, typer.Option("--max-size", min=16, help="Longer side videos are scored at, at most.")
    ] = 512
    fps: Annotated[
        float | None,
        typer.Option("--fps", min=1.0, help="Read every video at this frame rate (default: as stored)."),
    ] = None

    def options(self) -> DecodeOptions:
        from insvie.eval.frames import DecodeOptions

        return DecodeOptions(max_frames=self.max_frames, max_size=self.max_size, fps=self.fps)


@contextmanager
def refusals(console: Console) -> Iterator[None]:
    """A refusal (any InsvieError) is the user's to fix: one line naming it and exit code 2, no traceback."""
    try:
        yield
    except InsvieError as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc


def report(rows: Sequence[SampleScores], out: Path, title: str, console: Console) -> None:
    """Write the report, then print each score's mean and the samples that could not be evaluated."""
    from insvie.eval.report import write_report
    from insvie.eval.summary import summarize

    with refusals(console):
        written = write_report(rows, out, title=title)
    summary = summarize(rows)
    table = Table("score", "mean", "samples", title="mean scores", title_justify="left")
    for key, stats in summary["scores"].items():
        mean = "-" if stats["mean"] is None else f"{stats['mean']:.4g}"
        table.add_row(key, mean, str(stats["n"]))
    console.print(table)
    failed = [row for row in rows if "sample" in row.errors]
    for row in failed[:10]:
        console.print(f"[yellow]not evaluated[/yellow] {escape(str(row.errors['sample']))}")
    if len(failed) > 10:
        console.print(f"... and {len(failed) - 10} more samples not evaluated (see scores.jsonl)")
    console.print(f"report: {written.html}")


def score_run(out: Path, title: str, score: Callable[[Console], Sequence[SampleScores]]) -> None:
    """A scoring verb's run around its own scoring: ``score`` gives the rows (a refusal on the way ends
    the run as :func:`refusals` does), then the report is written and summed up."""
    console = make_console(stderr=True)
    with refusals(console):
        rows = score(console)
    report(rows, out, title, console)
