"""The editor's options, declared once for every command that runs it (``edit``, ``eval bench``, ``app``).

Each maps onto :class:`insvie.editor.runner.EditSettings` or :class:`~insvie.editor.runner.LoadOptions`;
the help says where an unset value comes from, since the model folder decides it, not this command.
:func:`edit_settings` is that mapping for every command, so a new setting is wired in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from insvie.editor.runner import EditSettings

_RECIPE = "the model's recipe in MODEL/guider/guider_config.json, else the paper's {paper}"

Steps = Annotated[
    int | None,
    typer.Option("--steps", min=1, help="Denoising steps.", show_default=_RECIPE.format(paper="50")),
]
TextGuidance = Annotated[
    float | None,
    typer.Option(
        "--text-guidance", min=0.0, help="Text guidance scale.", show_default=_RECIPE.format(paper="7.5")
    ),
]
VideoGuidance = Annotated[
    float | None,
    typer.Option(
        "--video-guidance",
        min=0.0,
        help="Source-video guidance scale.",
        show_default=_RECIPE.format(paper="1.2"),
    ),
]
Schedule = Annotated[
    Literal["constant", "cosine", "cosine_step"] | None,
    typer.Option(
        "--schedule",
        help="Guidance over the steps: cosine is the official DynamicCFG_edit (fed the timestep, so the "
        "scales jump between 1 and 1+s), constant the scale at every step, cosine_step the ramp the "
        "formula intends.",
        show_default=_RECIPE.format(paper="cosine"),
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Noise seed; the same seed gives the same edit.")]
Frames = Annotated[
    int | None,
    typer.Option(
        "--frames",
        min=1,
        help="Frames to edit, from the start (cut to 4k+1).",
        show_default="all the video's frames, in windows past the model's 49: see --long-video",
    ),
]


def fps_option(flag: str = "--fps") -> object:
    """The resampling option under ``flag`` (``eval`` has its own ``--fps`` for scoring)."""
    return Annotated[
        float | None,
        typer.Option(
            flag,
            min=0.1,
            help="Resample the video to this frame rate before editing (and write it at this rate).",
            show_default="the video's own frames and rate, as the official script reads them",
        ),
    ]


Fps = fps_option()
Height = Annotated[
    int | None,
    typer.Option(
        "--height", min=16, help="Working height.", show_default="the model's working size, 480 for InsViE"
    ),
]
Width = Annotated[
    int | None,
    typer.Option(
        "--width", min=16, help="Working width.", show_default="the model's working size, 720 for InsViE"
    ),
]
SourceLatent = Annotated[
    Literal["sample", "mode"],
    typer.Option(
        "--source-latent",
        help="The source video's latent: a posterior sample drawn with the seed (official) or the "
        "posterior mean.",
    ),
]
LongVideo = Annotated[
    Literal["windows", "first"],
    typer.Option(
        "--long-video",
        help="A video longer than the model's frame count: edit it all in overlapping windows, or only "
        "its first frames.",
    ),
]
Dtype = Annotated[
    Literal["auto", "float32", "float16", "bfloat16"],
    typer.Option(
        "--dtype",
        help="Weights' precision; auto is the weights' own dtype on a GPU (float16 for the released "
        "model, as the official code runs it) and float32 on the CPU.",
    ),
]
Device = Annotated[str, typer.Option("--device", help="auto, cpu or cuda[:N].")]
Offload = Annotated[
    bool, typer.Option("--offload", help="Keep idle parts on the CPU and tile the VAE (small GPUs).")
]
Sampler = Annotated[
    Literal["saved", "official"],
    typer.Option(
        "--sampler",
        help="saved: the model folder's scheduler; official: InsViE's stochastic DPM-Solver++(2M), for "
        "folders written before it was saved with the model.",
    ),
]


def edit_settings(options: Mapping[str, Any]) -> EditSettings:
    """The checked :class:`~insvie.editor.runner.EditSettings` of a command's parsed options.

    The options above are named as the settings' fields, so the mapping is by name: a command passes all
    its parameters, those that are not settings (the model, the output, how it loads) are left out, and
    the settings it has no option for keep their defaults. A ConfigError names the first unusable value.
    """
    from insvie.editor.runner import EditSettings

    names = {field.name for field in dataclasses.fields(EditSettings)}
    settings = EditSettings(**{name: value for name, value in options.items() if name in names})
    settings.check()
    return settings
