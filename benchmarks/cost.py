"""Where the data engine spends its time: seconds per kept triplet by step, and 1M triplets projected.

    .venv/bin/python benchmarks/cost.py [--inputs 3] [--repeat 2] [--json OUT] [--quick]

What is measured (CPU, tiny models). The paper recipe (``configs/paper.yaml``) shrunk by ``insvie
tiny-models``' own :func:`~insvie.cli.tiny_models.tiny_config` (tiny random InstructPix2Pix, CLIP and
SVD checkpoints written by ``insvie.tiny``, gates opened, the executor local; the models' devices are
pinned to the CPU, so a GPU machine measures the same thing) runs as ``insvie build``
runs it: ``build_steps`` + ``check_needs``, ``ingest``, then ``insvie.engine.Runner`` in this process.
Its inputs are ``--inputs`` of the real sample clips (``examples/media``) plus one image. The chat steps
(instruct, judge, video_judge) talk over real HTTP to the test suite's loopback OpenAI-compatible
server (``tests/fakes``), which answers at once and passes every candidate, so their rows are the
client's own work (image encoding, requests, parsing), not a model's latency or price, and the funnel
is the recipe's fan-out alone (no judge rejects anything).

A :class:`ProgressSink` times each step from the runner's ``start`` to its ``finish`` (batching, the
step's work, recording its outcomes); every step's ``setup()`` (model loading, once per worker) is run
beforehand through the engine's own ``ready_stage`` and kept out of it, as a long build amortises it.
(The propagate step's setup loads nothing: the SVD pipeline is loaded on first use into a process-wide
cache, so the first run in the process pays it inside its propagate step; with ``--repeat`` >= 2 the
fastest run of each variant is one that did not.)
seconds per item = step seconds / items the step ran. The funnel scales it to the dataset's unit:
items per triplet = items the step ran / triplets the final step kept, and seconds per triplet =
seconds per item x items per triplet (so a step before a fan-out costs less per triplet than per item).
The total is the sum over steps; 1M triplets cost total x 1e6 / 86400 days of this machine (wall time
with torch's CPU threads; the ingest of input files and the final export are not counted).

Two runs of the same recipe, in separate datasets: ``looped`` edits one item per batch
(``edit.batch_size: 1``) with the ``pipeline`` sampler (one diffusers call per guidance setting), what
the edit step did before batching, and propagates one clip per batch (``propagate.i2v.batch_size: 1``:
each clip's windows alone through the SVD UNet); ``batched`` uses the defaults (edit: ``batch_size`` 8,
the ``sweep`` sampler: one denoising loop for every candidate of a batch, ``max_batch`` auto; propagate:
``i2v.batch_size`` 4, the windows of a batch's clips stacked in shared inversion and sampling loops,
``i2v.max_batch`` auto). Everything else is equal (the judge steps take ``judge.chat.concurrency`` items
per batch in both; the recipe's animate step films its images along camera paths, no model). Per step
the ratio batched / looped of seconds per item is printed (< 1: batching saves). ``--repeat`` runs the
pair that many times, interleaved and alternating which goes first, and keeps each step's fastest time:
the machine is shared, and the slower runs measure the neighbours. ``--quick`` is a smoke run of this
script, not of the recipe: one clip, no image, one round, 5-frame clips and one denoising step.

The models are tiny (random widths of a few channels): their absolute seconds, and the CPU-days, say
nothing about what real models cost. What carries over is the shape: which steps dominate, what the
fan-out does, and how much per-call overhead batching removes.

Real-size models (a CUDA device only). With a GPU, a second table times one denoising step of each
model the recipe's GPU work runs, built from its config with random weights (the speed does not depend
on the values; nothing is downloaded), in float16: the InstructPix2Pix UNet (SD 1.5 widths, 8 input
channels) at 512 px, looped (one guidance setting: 3 branches) and batched (every candidate of
``edit.batch_size`` items: 3 x 6 x 8), the SVD-XT UNet at 1024x576x25 (2 branches: classifier-free
guidance) and the InsViE editor's CogVideoX-2B transformer at 49x480x720 (3 branches, 32 input
channels). Seconds per call = seconds per step x the recipe's steps (edit.steps, propagate.i2v.steps,
the editor's 50). GPU-days per 1M triplets = (edit seconds per item x (edit + image_edit) items per
triplet + propagate seconds per item x propagate items per triplet, the CPU run's funnel) x 1e6 / 86400.
It counts the denoisers only: no VAE, text or image encoders, and one pass per SVD step where the
propagator's inversion and feature injection add more; the editor is ``insvie edit``'s cost per video,
not part of a build. Without CUDA the table says "not measured: no CUDA device".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the loopback OpenAI-compatible server lives with the tests

from fakes.openai_server import FakeOpenAIServer  # noqa: E402

from insvie.backends.image_edit import default_sweep  # noqa: E402
from insvie.cli.tiny_models import REPO_CONFIGS, tiny_config  # noqa: E402
from insvie.engine import ProgressSink, Runner, ingest, make_executor  # noqa: E402
from insvie.engine.work import ready_stage  # noqa: E402
from insvie.stages.config import BuildConfig, parse_config  # noqa: E402
from insvie.stages.pipeline import build_steps, final_step  # noqa: E402
from insvie.stages.preflight import check_needs  # noqa: E402
from insvie.store import Dataset  # noqa: E402

MEDIA_DIRS = (REPO_ROOT / "examples" / "media", REPO_ROOT.parent / "shared" / "media")
CLIPS = ("cat_grass.mp4", "horse_gallop.mp4", "car_dirt_road.mp4")
IMAGE = "camping.png"
TRIPLETS = 1_000_000
DAY = 86_400.0
# The edit and propagate steps' settings that differ between the two runs; the rest of the recipe is shared.
VARIANTS: dict[str, dict[str, Any]] = {
    "looped": {"edit": {"batch_size": 1, "sampler": "pipeline"}, "propagate": {"i2v": {"batch_size": 1}}},
    "batched": {
        "edit": {"batch_size": 8, "sampler": "sweep", "max_batch": "auto"},
        "propagate": {"i2v": {"batch_size": 4, "max_batch": "auto"}},
    },
}
# The tiny models run on the CPU even where a GPU is present, so the first table means the same everywhere.
ON_CPU: dict[str, Any] = {
    "edit": {"device": "cpu"},
    "prefilter": {"device": "cpu"},
    "propagate": {"i2v": {"device": "cpu"}},
}
# --quick: a lighter recipe, to smoke-test this script (its figures are not the recipe's): 5-frame clips
# (one SVD window) and one denoising step per edit candidate and per propagation.
QUICK: dict[str, Any] = {
    "split": {"clip_frames": 5},
    "edit": {"steps": 1},
    "propagate": {"i2v": {"steps": 1}},
}
EDITOR_STEPS = 50  # the InsViE editor's default sampling steps (insvie.editor.guider)


# -- the CPU run: the paper recipe on tiny models -------------------------------------------------------


def respond(request: dict[str, Any]) -> dict[str, Any]:
    """Valid replies for every chat request of the recipe: a caption, one edit per category asked for,
    and judge scores that clear the paper's bar (so both runs keep the same items)."""
    name = request["response_format"]["json_schema"]["name"]
    if name == "caption":
        return {"caption": "A subject moves through an outdoor scene.", "objects": ["subject", "ground"]}
    if name == "edit_proposals":
        prompt = request["messages"][0]["content"][0]["text"]
        wanted = re.findall(r"^\d+\. (\w+):", prompt, flags=re.MULTILINE)
        keep = "while the subject, its motion, the framing and every other part of the scene stay the same"
        return {
            "edits": [
                {
                    "category": category,
                    "instruction": f"apply a {words} edit",
                    "long_instruction": f"Apply a clear {words} edit to the subject {keep}.",
                    "target_caption": f"the same scene after a {words} edit",
                }
                for category, words in ((c, c.replace("_", " ")) for c in wanted)
            ]
        }
    return {"instruction_following": 4, "preservation": 4, "realism": 4, "overall": 4, "rationale": "ok"}


def media_dir() -> Path:
    """The folder holding the sample clips (the repository's, else the shared copy)."""
    for folder in MEDIA_DIRS:
        if all((folder / name).is_file() for name in (*CLIPS, IMAGE)):
            return folder
    raise SystemExit(f"no sample media: expected {', '.join(CLIPS)} and {IMAGE} in one of {MEDIA_DIRS}")


def write_models(dest: Path) -> None:
    """The tiny checkpoints ``tiny_config`` points the paper recipe at (its editor, CLIP and SVD)."""
    from insvie.tiny import build_tiny_clip, build_tiny_instruct_pix2pix, build_tiny_svd

    build_tiny_instruct_pix2pix(dest / "instruct_pix2pix")
    build_tiny_clip(dest / "clip")
    build_tiny_svd(dest / "svd")


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` written over it, section by section (nested mappings merge)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def recipe(models: Path, base_url: str, changes: dict[str, Any]) -> BuildConfig:
    """configs/paper.yaml on the tiny models (as ``insvie tiny-models`` writes it) with ``changes``."""
    paper = yaml.safe_load((REPO_CONFIGS / "paper.yaml").read_text(encoding="utf-8"))
    return parse_config(merged(tiny_config(paper, models, base_url), changes), origin="benchmarks/cost.py")


class StepClock(ProgressSink):
    """Wall seconds of each step from the runner's start to its finish, and the items it was given."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.items: dict[str, int] = {}

    def start(self, step: str, total: int) -> None:
        self.items[step] = total
        self.started[step] = time.perf_counter()

    def finish(self, step: str) -> None:
        self.seconds[step] = time.perf_counter() - self.started[step]


@dataclass
class Run:
    """One build: per step the items it ran and its seconds (setup apart), and the triplets kept."""

    items: dict[str, int]
    seconds: dict[str, float]
    setup: dict[str, float]
    triplets: int


def run_recipe(config: BuildConfig, inputs: Path, dest: Path) -> Run:
    """Build ``dest`` from ``inputs`` under ``config`` as ``insvie build`` does, timing every step."""
    steps = build_steps(config)
    check_needs(steps)
    clock = StepClock()
    with Dataset.open(dest) as ds, ds.writing("benchmarks/cost.py"):
        ingest(ds, [inputs])
        engine = make_executor("local", workers=0)
        try:
            runner = Runner(ds, engine, max_attempts=config.run.max_attempts, progress=clock)
            setup = {}
            for step in steps:
                started = time.perf_counter()
                ready_stage(step.stage, runner.ctx)  # the worker's one-off model loading, kept apart
                setup[step.name] = time.perf_counter() - started
            reports = runner.run(steps)
        finally:
            engine.close()
    failed = {r.name: r.funnel.failed for r in reports if r.funnel.failed}
    if failed:
        raise SystemExit(f"items failed in {failed}: the timings would not be the recipe's (see {dest})")
    final = {r.name: r.funnel.kept for r in reports}[final_step(config)]
    ran = {name: count for name, count in clock.items.items() if count}
    return Run(ran, {name: clock.seconds[name] for name in ran}, setup, final)


def measure_cpu(
    inputs: Path, models: Path, base_url: str, repeat: int, work: Path, changes: dict[str, Any]
) -> dict[str, Run]:
    """Both variants ``repeat`` times, interleaved (alternating which goes first); the fastest time of each
    step is kept. Every run must run the same items and keep the same triplets (the recipe is deterministic
    and its gates are open), else the ratios would compare different work."""
    best: dict[str, Run] = {}
    first: Run | None = None
    for round_ in range(repeat):
        order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            print(f"  round {round_ + 1}/{repeat}: {variant} ...", flush=True)
            config = recipe(models, base_url, merged(changes, VARIANTS[variant]))
            run = run_recipe(config, inputs, work / f"{variant}-{round_}")
            first = first or run
            if (first.items, first.triplets) != (run.items, run.triplets):
                raise SystemExit(f"{variant}, round {round_ + 1}: other items or triplets than the first run")
            kept = best.get(variant)
            if kept is None:
                best[variant] = run
                continue
            kept.seconds = {name: min(kept.seconds[name], run.seconds[name]) for name in kept.seconds}
            kept.setup = {name: min(kept.setup[name], run.setup[name]) for name in kept.setup}
    return best


def cpu_table(runs: dict[str, Run]) -> dict[str, Any]:
    """Per step: items, items per triplet, seconds per item and per triplet of each variant, the batched
    run's share of the total and the ratio batched / looped; then totals and the 1M projection."""
    batched = runs["batched"]  # the same items and triplets as the looped run (measure_cpu checks)
    rows = []
    for name, items in batched.items.items():
        per_item = {v: runs[v].seconds[name] / items for v in runs}
        fan = items / batched.triplets
        rows.append(
            {
                "step": name,
                "items": items,
                "items_per_triplet": fan,
                "s_per_item": per_item,
                "s_per_triplet": {v: per_item[v] * fan for v in runs},
                "setup_s": {v: runs[v].setup[name] for v in runs},
                "ratio_batched_looped": per_item["batched"] / per_item["looped"],
            }
        )
    total = {v: sum(row["s_per_triplet"][v] for row in rows) for v in runs}
    for row in rows:
        row["share_batched"] = row["s_per_triplet"]["batched"] / total["batched"]
    return {
        "triplets": batched.triplets,
        "rows": rows,
        "total_s_per_triplet": total,
        "ratio_batched_looped": total["batched"] / total["looped"],
        "days_per_1M_triplets": {v: total[v] * TRIPLETS / DAY for v in runs},
    }


def print_cpu_table(table: dict[str, Any]) -> None:
    print("\nSeconds per kept triplet by step: paper recipe, TINY random models, CPU (wall seconds)")
    print(f"triplets kept: {table['triplets']}, in each run")
    head = (
        f"{'step':24s} {'items':>5s} {'items/trip':>10s} {'looped s/item':>13s} {'batched s/item':>14s} "
        f"{'looped s/trip':>13s} {'batched s/trip':>14s} {'share':>6s} {'b/l':>6s}"
    )
    print(head)
    print("-" * len(head))
    for row in table["rows"]:
        item, trip = row["s_per_item"], row["s_per_triplet"]
        print(
            f"{row['step']:24s} {row['items']:5d} {row['items_per_triplet']:10.2f} {item['looped']:13.3f} "
            f"{item['batched']:14.3f} {trip['looped']:13.3f} {trip['batched']:14.3f} "
            f"{row['share_batched']:6.1%} {row['ratio_batched_looped']:6.2f}"
        )
    print("-" * len(head))
    total = table["total_s_per_triplet"]
    print(
        f"{'total':24s} {'':5s} {'':10s} {'':13s} {'':14s} {total['looped']:13.3f} {total['batched']:14.3f} "
        f"{1:6.1%} {table['ratio_batched_looped']:6.2f}"
    )
    days = table["days_per_1M_triplets"]
    print(
        f"\n1M triplets on this CPU with the tiny models: {days['looped']:,.0f} CPU-days looped, "
        f"{days['batched']:,.0f} batched (total s/triplet x 1e6 / 86400)."
    )
    print(
        "These are tiny random models: the absolute seconds and days are not what real models cost; the\n"
        "per-step shares and the batched/looped ratios (b/l < 1: batching is cheaper) are the point.\n"
        "Chat steps answer from an instant loopback server; model loading (setup) is not counted."
    )


# -- real-size denoisers on a GPU -----------------------------------------------------------------------


def best_step_seconds(call: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` synchronised calls after one warm-up (kernel selection, allocator)."""
    import torch

    with torch.no_grad():
        call()
        best = float("inf")
        for _ in range(repeat):
            torch.cuda.synchronize()
            started = time.perf_counter()
            call()
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - started)
    return best


def real_size_rows(config: BuildConfig, sweep: int, repeat: int) -> list[dict[str, Any]]:
    """One denoising step of each real-size model with random weights, on the GPU in float16.

    Each row: the model, what one step computes, its batch, seconds per step, the steps per call the
    recipe uses, seconds per call, candidates per call (edit only) and the peak memory (weights and one
    step). Models are built on the GPU one at a time and freed, so each peak is that model's own.
    """
    import torch
    from diffusers import CogVideoXTransformer3DModel, UNet2DConditionModel, UNetSpatioTemporalConditionModel

    from insvie.editor.transformer import COGVIDEOX_2B_CONFIG, EDITOR_IN_CHANNELS

    device, dtype = torch.device("cuda"), torch.float16
    batch = VARIANTS["batched"]["edit"]["batch_size"]

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=device, dtype=dtype)

    def ip2p(branches: int) -> tuple[torch.nn.Module, dict[str, Any]]:
        # SD 1.5 widths (diffusers' defaults) with InstructPix2Pix's 8 input channels; 512 px = 64x64 latents.
        unet = UNet2DConditionModel(in_channels=8, cross_attention_dim=768, sample_size=64)
        x, text = randn(branches, 8, 64, 64), randn(branches, 77, 768)
        return unet, {"sample": x, "timestep": torch.tensor(500), "encoder_hidden_states": text}

    def svd() -> tuple[torch.nn.Module, dict[str, Any]]:
        # diffusers' defaults are SVD's UNet; 1024x576 -> 128x72 latents, 25 frames, CFG: 2 branches.
        unet = UNetSpatioTemporalConditionModel(num_frames=25)
        x, image, ids = randn(2, 25, 8, 72, 128), randn(2, 1, 1024), randn(2, 3)
        return unet, {
            "sample": x,
            "timestep": torch.tensor(1.0),
            "encoder_hidden_states": image,
            "added_time_ids": ids,
        }

    def editor() -> tuple[torch.nn.Module, dict[str, Any]]:
        # 49x480x720 -> 13x60x90 latents; the source's latents concatenated on channels; 3 guidance branches.
        config_2b = {**COGVIDEOX_2B_CONFIG, "in_channels": EDITOR_IN_CHANNELS}
        model = CogVideoXTransformer3DModel.from_config(config_2b)
        x, text = randn(3, 13, EDITOR_IN_CHANNELS, 60, 90), randn(3, 226, 4096)
        return model, {"hidden_states": x, "encoder_hidden_states": text, "timestep": torch.tensor([500] * 3)}

    cases = [
        ("InstructPix2Pix UNet, looped", "512 px, 1 setting x 3 branches", 3, 1, config.edit.steps,
         lambda: ip2p(3)),
        ("InstructPix2Pix UNet, batched", f"512 px, {batch} items x {sweep} settings x 3 branches",
         3 * sweep * batch, sweep * batch, config.edit.steps, lambda: ip2p(3 * sweep * batch)),
        ("SVD-XT UNet", "1024x576x25, 2 branches", 2, None, config.propagate.i2v.steps, svd),
        ("CogVideoX-2B editor", "49x480x720, 3 branches", 3, None, EDITOR_STEPS, editor),
    ]  # fmt: skip
    rows = []
    for name, shape, branches, candidates, steps, make in cases:
        with torch.device(device):  # random initialisation on the GPU: seconds, not minutes on the CPU
            model, inputs = make()
        model = model.to(dtype).eval()
        torch.cuda.reset_peak_memory_stats()
        step_s = best_step_seconds(lambda model=model, inputs=inputs: model(**inputs), repeat)
        rows.append(
            {
                "model": name,
                "shape": shape,
                "batch": branches,
                "s_per_step": step_s,
                "steps": steps,
                "s_per_call": step_s * steps,
                "candidates_per_call": candidates,
                "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
            }
        )
        del model, inputs
        torch.cuda.empty_cache()
    return rows


def gpu_projection(rows: list[dict[str, Any]], cpu: dict[str, Any], sweep: int) -> dict[str, float]:
    """GPU-days per 1M triplets of the edit and propagate denoisers, looped and batched, with the CPU
    run's funnel (edit, image_edit and propagate items per triplet)."""
    fan = {row["step"]: row["items_per_triplet"] for row in cpu["rows"]}
    by_model = {row["model"]: row for row in rows}
    propagate = by_model["SVD-XT UNet"]["s_per_call"] * fan.get("propagate", 0.0)
    edits = fan.get("edit", 0.0) + fan.get("image_edit", 0.0)  # both branches edit with the same model
    days = {}
    for variant in VARIANTS:
        edit = by_model[f"InstructPix2Pix UNet, {variant}"]
        per_item = edit["s_per_call"] / edit["candidates_per_call"] * sweep
        days[variant] = (per_item * edits + propagate) * TRIPLETS / DAY
    return days


def print_gpu_table(rows: list[dict[str, Any]] | str, days: dict[str, float] | None) -> None:
    print("\nReal-size denoisers, random weights, float16: one step x the recipe's steps")
    if isinstance(rows, str):
        print(rows)
        return
    head = (
        f"{'model':30s} {'shape':40s} {'batch':>5s} {'s/step':>8s} {'steps':>5s} {'s/call':>8s} "
        f"{'peak GiB':>8s}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        print(
            f"{row['model']:30s} {row['shape']:40s} {row['batch']:5d} {row['s_per_step']:8.4f} "
            f"{row['steps']:5d} {row['s_per_call']:8.2f} {row['peak_gib']:8.2f}"
        )
    looped, batched = (next(r for r in rows if r["model"].endswith(v)) for v in ("looped", "batched"))
    ratio = (batched["s_per_call"] / batched["candidates_per_call"]) / looped["s_per_call"]
    print(f"edit seconds per candidate, batched / looped: {ratio:.3f}")
    if days:
        print(
            f"1M triplets, edit + propagate denoisers only: {days['looped']:,.1f} GPU-days looped, "
            f"{days['batched']:,.1f} batched (no VAE/encoders, one SVD pass per step, no judge API)"
        )


# -- main ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inputs", type=int, default=len(CLIPS), help=f"sample clips, 1-{len(CLIPS)}, plus one image"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of both runs; each step's fastest counts"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: one clip, no image, one round, a lighter recipe"
    )
    args = parser.parse_args()
    if args.quick:
        args.inputs, args.repeat = 1, 1
    images = () if args.quick else (IMAGE,)
    changes = merged(ON_CPU, QUICK) if args.quick else ON_CPU
    if not 1 <= args.inputs <= len(CLIPS) or args.repeat < 1:
        parser.error(f"--inputs must be 1-{len(CLIPS)} and --repeat at least 1")
    # The models are local folders (never reach the hub); the chat client wants a key the fake ignores.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENAI_API_KEY", "sk-loopback-only")

    import torch

    with tempfile.TemporaryDirectory(prefix="insvie-cost-") as tmp:
        work = Path(tmp)
        inputs = work / "inputs"
        inputs.mkdir()
        media = media_dir()
        for name in (*CLIPS[: args.inputs], *images):
            shutil.copy(media / name, inputs)
        print(
            f"writing tiny models; inputs: {', '.join(p.name for p in sorted(inputs.iterdir()))}", flush=True
        )
        write_models(work / "models")
        with FakeOpenAIServer(respond) as server:
            runs = measure_cpu(inputs, work / "models", server.base_url, args.repeat, work, changes)
    cpu = cpu_table(runs)
    print_cpu_table(cpu)

    gpu: list[dict[str, Any]] | str = "not measured: no CUDA device"
    days = None
    if torch.cuda.is_available():
        paper = parse_config(yaml.safe_load((REPO_CONFIGS / "paper.yaml").read_text(encoding="utf-8")))
        sweep = len(paper.edit.sweep) if paper.edit.sweep else len(default_sweep())
        gpu = real_size_rows(paper, sweep, max(args.repeat, 3))
        days = gpu_projection(gpu, cpu, sweep)
    print_gpu_table(gpu, days)

    if args.json:
        record = {
            "inputs": [*CLIPS[: args.inputs], *images],
            "quick": args.quick,
            "repeat": args.repeat,
            "variants": VARIANTS,
            "cpu": cpu,
            "runs": {variant: asdict(run) for variant, run in runs.items()},
            "gpu": gpu,
            "gpu_days_per_1M_triplets": days,
            "gpu_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        }
        args.json.write_text(json.dumps(record, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
