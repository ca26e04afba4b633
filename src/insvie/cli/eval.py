"""``insvie eval``: score an editor on a benchmark, score a built dataset, or calibrate the refilter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from insvie.cli import editor_options as opt
from insvie.cli.console import console as make_console
from insvie.errors import ConfigError, InsvieError

EditFps = opt.fps_option("--edit-fps")

_DEFAULTS = "motion,warp,preserve,gt,seam"


def _print_means(console: Console, rows: Sequence, title: str) -> None:
    """Mean of every score over the samples that have it, and how many samples each figure covers."""
    from insvie.eval.summary import summarize

    summary = summarize(rows)
    table = Table("score", "mean", "samples", title=title, title_justify="left")
    for key, stats in summary["scores"].items():
        mean = "-" if stats["mean"] is None else f"{stats['mean']:.4g}"
        table.add_row(key, mean, str(stats["n"]))
    console.print(table)
    failed = [row for row in rows if "sample" in row.errors]
    for row in failed[:10]:
        console.print(f"[yellow]not evaluated[/yellow] {row.errors['sample']}")
    if len(failed) > 10:
        console.print(f"... and {len(failed) - 10} more samples not evaluated (see scores.jsonl)")


def _metrics(
    names: str | None, options, judge: str | None, judge_model: str | None, judge_url: str | None, out: Path
) -> list:
    """The metrics named (none for None) plus the judge, if one is asked for."""
    from insvie.eval.metrics import build_metrics, parse_metric_names

    metrics = build_metrics(parse_metric_names(names), options) if names else []
    if judge is not None:
        from insvie.eval.judge_protocols import make_judge_metric

        if not judge_model:
            raise ConfigError("--judge needs --judge-model (the chat model name, e.g. gpt-4o)")
        metrics.append(
            make_judge_metric(judge, model=judge_model, base_url=judge_url, cache_dir=out / "cache")
        )
    return metrics


def _calibration(out: Path, seeds: int, size: str, frames: int, workers: int, console: Console) -> None:
    from insvie.eval.calibration import calibration_table, collect
    from insvie.stages.refilter import RefilterConfig

    try:
        height, width = (int(side) for side in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--synth-size {size!r} is not HEIGHTxWIDTH, e.g. 240x360") from None
    with console.status(f"rendering and measuring {seeds} seeds of every SynthEdit kind"):
        samples = collect(seeds, size=(height, width), frames=frames, workers=workers)
    table = calibration_table(samples, RefilterConfig())
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps({**table, "measurements": samples}, indent=1))
    kinds = list(table["samples"])
    view = Table(
        "check (limit)", *kinds, "precision", title="share rejected per sample kind", title_justify="left"
    )
    for check in table["checks"]:
        limit = (
            ""
            if check["limit"] is None
            else f" ({'<' if check['side'] == 'min' else '>'} {check['limit']:g})"
        )
        cells = ["-" if check["rejected"][k] is None else f"{check['rejected'][k]:.2f}" for k in kinds]
        precision = "-" if check["precision"] is None else f"{check['precision']:.2f}"
        view.add_row(check["check"] + limit, *cells, precision)
    console.print(view)
    console.print(f"targets met: {table['targets_met']}; wrote {out / 'calibration.json'}")


def _dataset(out: Path, dataset: Path, scorers: list, decode, console: Console) -> list:
    from insvie.eval.dataset_report import dataset_samples, dataset_summary, read_build, triplet_rows
    from insvie.eval.predictions import ManifestPredictions
    from insvie.eval.runner import evaluate
    from insvie.store import Dataset

    with Dataset.open(dataset, create=False) as ds:
        build = read_build(ds)
        rows = triplet_rows(ds, build["final_step"])
        summary = dataset_summary(ds, build, rows)
        samples = dataset_samples(ds, build["final_step"]) if scorers else []
    if samples:
        scored = evaluate(samples, scorers, out, ManifestPredictions(), decode=decode, console=console)
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


def eval_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder (created; a rerun resumes it).")],
    bench: Annotated[
        Path | None,
        typer.Option(
            help="Benchmark: a folder with a manifest (generic CSV/JSONL, InsViE, EditVerseBench, "
            "OpenVE-Bench, or a SynthEdit folder from `insvie synth`) or the manifest file."
        ),
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option(help="A dataset built by `insvie build`: funnel and quality per category.")
    ] = None,
    calibration: Annotated[
        bool, typer.Option("--calibration", help="Precision/recall of every refilter check on SynthEdit.")
    ] = False,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="Folder of edited videos named SAMPLE_ID.mp4 (any video extension) or like the source file."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Run this InsViE editor (folder) on every sample.")
    ] = None,
    bench_kind: Annotated[
        str, typer.Option(help="Benchmark layout: auto, generic, insvie, editverse, openve, synthedit.")
    ] = "auto",
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated metrics. Weight-free: motion, warp, preserve, gt, seam (the default for "
            "--bench). With a model: clip_t, clip_f, clip_dir (--clip-model), dino (--dino-model), "
            "pickscore (--pickscore-model). For --dataset, scores the accepted triplets with them too."
        ),
    ] = None,
    clip_model: Annotated[
        str, typer.Option(help="CLIP for clip_t/clip_f/clip_dir: hub id or folder.")
    ] = "openai/clip-vit-large-patch14",
    dino_model: Annotated[
        str, typer.Option(help="DINOv2 for dino: hub id or folder.")
    ] = "facebook/dinov2-base",
    pickscore_model: Annotated[
        str, typer.Option(help="PickScore weights: hub id or folder.")
    ] = "yuvalkirstain/PickScore_v1",
    pickscore_processor: Annotated[
        str, typer.Option(help="PickScore's tokenizer and image processor: hub id or folder.")
    ] = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    judge: Annotated[
        Literal["pairs", "scores"] | None,
        typer.Option(
            help="Add a VLM judge: pairs (three frame pairs, 0-3 on three criteria, 0-9) or scores (three "
            "1-5 scores per sample)."
        ),
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Chat model the judge asks (e.g. gpt-4o).")] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL, else OpenAI).")
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto, cpu or cuda[:N] for model metrics and the editor.")
    ] = "auto",
    max_frames: Annotated[
        int, typer.Option(min=1, help="Frames of each video scored (from the start).")
    ] = 49,
    max_size: Annotated[int, typer.Option(min=16, help="Longer side videos are scored at, at most.")] = 512,
    fps: Annotated[
        float | None, typer.Option(min=1.0, help="Read every video at this frame rate (default: as stored).")
    ] = None,
    steps: opt.Steps = None,
    text_guidance: opt.TextGuidance = None,
    video_guidance: opt.VideoGuidance = None,
    schedule: opt.Schedule = None,
    seed: opt.Seed = 0,
    height: opt.Height = None,
    width: opt.Width = None,
    edit_fps: EditFps = None,  # type: ignore[valid-type]
    source_latent: opt.SourceLatent = "sample",
    dtype: opt.Dtype = "auto",
    sampler: opt.Sampler = "saved",
    seeds: Annotated[int, typer.Option(min=1, help="--calibration: samples per kind.")] = 20,
    synth_size: Annotated[str, typer.Option(help="--calibration: SynthEdit HEIGHTxWIDTH.")] = "240x360",
    synth_frames: Annotated[int, typer.Option(min=2, help="--calibration: frames per sample.")] = 17,
    workers: Annotated[int, typer.Option(min=1, help="--calibration: processes.")] = 1,
    title: Annotated[str | None, typer.Option(help="Report title.")] = None,
) -> None:
    """Score an editor on a benchmark, a built dataset, or the refilter's checks on SynthEdit.

    **--bench B --out R (--predictions DIR | --model M)**: every sample's videos are decoded once, each
    metric scores it, and its row is appended to R/scores.jsonl as it finishes (a rerun skips scored
    samples and adds only newly asked metrics); a bad sample (missing or corrupt video, no prediction)
    is recorded with its reason and the run goes on. Then R/scores.json, R/scores.csv and a
    self-contained R/report.html (tables per metric and category, histograms, best and worst samples).
    A SynthEdit folder is a ground-truth benchmark: `gt` is PSNR/SSIM against the correct edit and
    `preserve` PSNR/SSIM outside the edit mask, per category. With `--model`, predictions are written to
    R/predictions/.

    **--dataset OUT --out R**: the acceptance funnel and each category's refilter metric distributions
    from the build's database (R/dataset.json and the report), no recomputation unless `--metrics` asks.

    **--calibration --out R**: recall, false rejections and precision of every refilter check on
    SynthEdit's labelled broken edits (R/calibration.json).
    """
    console = make_console(stderr=True)
    modes = [
        name
        for name, on in (("--bench", bench), ("--dataset", dataset), ("--calibration", calibration))
        if on
    ]
    try:
        if len(modes) != 1:
            raise ConfigError("give exactly one of --bench, --dataset or --calibration")
        if bench is None and (predictions is not None or model is not None):
            raise ConfigError("--predictions and --model go with --bench (a dataset holds its own edits)")
        if calibration:
            _calibration(out, seeds, synth_size, synth_frames, workers, console)
            return
        from insvie.eval.frames import DecodeOptions
        from insvie.eval.metrics import MetricOptions
        from insvie.eval.report import write_report

        options = MetricOptions(
            clip_model=clip_model,
            dino_model=dino_model,
            pickscore_model=pickscore_model,
            pickscore_processor=pickscore_processor,
            device=device,
        )
        decode = DecodeOptions(max_frames=max_frames, max_size=max_size, fps=fps)
        if dataset is not None:
            scorers = _metrics(metrics, options, judge, judge_model, judge_base_url, out)
            rows = _dataset(out, dataset, scorers, decode, console)
            written = write_report(rows, out, title=title or f"insvie dataset {dataset.name}")
        else:
            from insvie.editor.runner import EditSettings, LoadOptions
            from insvie.eval.bench import read_benchmark
            from insvie.eval.runner import evaluate

            assert bench is not None
            settings = EditSettings(
                steps=steps,
                text_guidance=text_guidance,
                video_guidance=video_guidance,
                schedule=schedule,
                seed=seed,
                fps=edit_fps,
                height=height,
                width=width,
                source_latent=source_latent,
            )
            settings.check()
            load = LoadOptions(device=device, dtype=dtype, sampler=sampler)
            source = _prediction_source(out, predictions, model, settings, load)
            samples = read_benchmark(bench, kind=bench_kind)
            scorers = _metrics(metrics or _DEFAULTS, options, judge, judge_model, judge_base_url, out)
            rows = evaluate(samples, scorers, out, source, decode=decode, console=console)
            written = write_report(rows, out, title=title or f"insvie eval {bench.name}")
    except InsvieError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=2) from exc
    _print_means(console, rows, "mean scores")
    console.print(f"report: {written.html}")


def _prediction_source(out: Path, predictions: Path | None, model: str | None, settings, load):
    """Where edited videos come from: the editor run now, a folder, or the benchmark's own column."""
    from insvie.eval.predictions import EditorPredictions, FolderPredictions, ManifestPredictions

    if predictions is not None and model is not None:
        raise ConfigError("give --predictions or --model, not both")
    if model is not None:
        return EditorPredictions(model, out / "predictions", settings, load)
    if predictions is not None:
        return FolderPredictions(predictions)
    return ManifestPredictions()
