"""``insvie eval``: score an editor on a benchmark, score a built dataset, or calibrate the refilter.

One subcommand per verb (bench.py, dataset.py, calibration.py) over the options they share (options.py,
declared once as option groups: option_groups.py). legacy.py keeps the old flag form working
(``insvie eval --bench B ...``), with a note naming the new one.
"""

from __future__ import annotations

import typer

from insvie.cli.eval.bench import bench
from insvie.cli.eval.calibration import calibration
from insvie.cli.eval.dataset import dataset
from insvie.cli.eval.legacy import EvalGroup

eval_command = typer.Typer(
    cls=EvalGroup,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Score an editor on a benchmark, a built dataset, or the refilter's checks on SynthEdit.\n\n"
    "The old flag form (`insvie eval --bench B ...`, `--dataset OUT`, `--calibration`) still works but is "
    "deprecated: it runs the subcommand it names and says so on stderr.",
)
eval_command.command("bench")(bench)
eval_command.command("dataset")(dataset)
eval_command.command("calibration")(calibration)
