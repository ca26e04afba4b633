"""The old flag form of ``insvie eval`` (``--bench B``, ``--dataset OUT``, ``--calibration``), still accepted.

Scripts and docs written before the subcommands keep working: the flag naming the verb becomes the
subcommand (its value the subcommand's argument), every other option is passed on unchanged, since the
subcommands kept the old option names, and a note on stderr names the new form. The refusals the old
single command gave before any work are kept word for word.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup

from insvie.cli.console import console as make_console

VERB_FLAGS = {"--bench": "bench", "--dataset": "dataset", "--calibration": "calibration"}
_VALUED_VERB_FLAGS = {"--bench", "--dataset"}
_BENCH_ONLY = {"--predictions", "--model", "-m"}


class EvalGroup(TyperGroup):
    """``insvie eval``'s subcommands, also reached by the old flag form (rewritten before parsing)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and not ctx.resilient_parsing:
            args = from_flag_form(args, self.commands, ctx.help_option_names)
        return super().parse_args(ctx, args)


def _options_taking_a_value(commands: Mapping[str, Any]) -> set[str]:
    """Every option name of the subcommands that reads the next token as its value."""
    names = set(_VALUED_VERB_FLAGS)
    for command in commands.values():
        for param in command.params:
            if param.param_type_name == "option" and not (param.is_flag or param.count):
                names.update(param.opts, param.secondary_opts)
    return names


def _split(args: list[str], valued: set[str]) -> list[tuple[str, list[str]]]:
    """The command line as (option name, its tokens) pairs; anything else is its own pair, named by itself."""
    items: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            items.append((token, args[index:]))
            break
        name = token.partition("=")[0] if token.startswith("--") else token
        width = 2 if name == token and name in valued and index + 1 < len(args) else 1
        items.append((name, args[index : index + width]))
        index += width
    return items


def _flag_value(tokens: list[str]) -> list[str]:
    """``--bench=B`` or ``--bench B`` -> ``[B]``; a bare ``--bench`` at the end -> ``[]`` (the subcommand says
    its argument is missing)."""
    _, equals, value = tokens[0].partition("=")
    return [value] if equals else tokens[1:]


def _refuse(message: str) -> NoReturn:
    make_console(stderr=True).print(f"[red]error[/red] {escape(message)}")
    raise typer.Exit(code=2)


def from_flag_form(args: list[str], commands: Mapping[str, Any], help_names: Iterable[str]) -> list[str]:
    """The subcommand line the old flag form ``args`` means (printing the deprecation note), or ``args``
    as given when it names no verb and only asks for help."""
    items = _split(args, _options_taking_a_value(commands))
    verbs = [(name, tokens) for name, tokens in items if name in VERB_FLAGS]
    if not verbs:
        if any(name in help_names for name, _ in items):
            return [next(name for name, _ in items if name in help_names)]
        _refuse(
            "give a subcommand: insvie eval bench|dataset|calibration ... (the deprecated flag form takes "
            "exactly one of --bench, --dataset or --calibration)"
        )
    if len(verbs) > 1:
        _refuse(
            "give exactly one of --bench, --dataset or --calibration (or a subcommand: insvie eval bench ...)"
        )
    flag, tokens = verbs[0]
    verb = VERB_FLAGS[flag]
    if verb != "bench" and any(name in _BENCH_ONLY for name, _ in items):
        _refuse("--predictions and --model go with --bench (a dataset holds its own edits)")
    rest = [token for name, group in items if name not in VERB_FLAGS for token in group]
    value = _flag_value(tokens) if flag in _VALUED_VERB_FLAGS else []
    shown = shlex.join(["insvie", "eval", verb, *value, *rest])
    typer.echo(
        f"note: `insvie eval {flag} ...` is deprecated; the new form of this command is: {shown}", err=True
    )
    if value and value[0].startswith("-"):
        return [verb, *rest, "--", *value]
    return [verb, *value, *rest]
