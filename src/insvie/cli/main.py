"""The ``insvie`` command. Each verb lives in its own module; this one only assembles them."""

from __future__ import annotations

import typer

from insvie import __version__
from insvie.cli import app as app_cli
from insvie.cli import build, convert_sat, edit, export, probe, stages, status, synth, tiny_models, train
from insvie.cli.eval import eval_command

app = typer.Typer(
    name="insvie",
    help="Instruction-based video editing: build edit-pair datasets, train and run the InsViE editor, "
    "evaluate editors.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"insvie {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """insvie: an open edit-pair data engine and the InsViE video editor."""


app.command("build")(build.build)
app.command("status")(status.status)
app.command("stages")(stages.stages)
app.command("export")(export.export)
app.command("edit")(edit.edit)
app.command("convert-sat")(convert_sat.convert_sat)
app.add_typer(train.app, name="train")
app.command("synth")(synth.synth)
app.command("probe")(probe.probe)
app.command("tiny-models")(tiny_models.tiny_models)
app.add_typer(eval_command, name="eval")
app.command("app")(app_cli.app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
