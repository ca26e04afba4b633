"""Option groups: a dataclass of Typer options that several commands take as one parameter.

Typer reads a command's options from its function signature, so options shared by several commands
(the metric models, the judge, decoding) would be spelt out in every signature and passed on one by one.
Here a command declares ``judge: JudgeArgs`` instead; :func:`with_option_groups` shows Typer the
dataclass's fields as options (under the group's help panel) and hands the command the dataclass built
from them. Each option and its default is then declared once, in its group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from copy import copy
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from typer.models import ParameterInfo

F = TypeVar("F", bound=Callable[..., Any])


class OptionGroup(Protocol):
    """A dataclass whose fields are ``Annotated[..., typer.Option(...)]`` with defaults."""

    PANEL: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]


def _in_panel(annotation: Any, panel: str) -> Any:
    """The same option, listed under ``panel`` in ``--help`` (a copy: the shared declaration is kept)."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation
    kind, *extras = typing.get_args(annotation)
    moved = []
    for extra in extras:
        if isinstance(extra, ParameterInfo) and extra.rich_help_panel is None:
            extra = copy(extra)
            extra.rich_help_panel = panel
        moved.append(extra)
    return Annotated[(kind, *moved)]


def _group_parameters(group: type[OptionGroup]) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(group, include_extras=True)
    params = []
    for field in dataclasses.fields(group):  # type: ignore[arg-type]
        if field.default is dataclasses.MISSING:
            raise TypeError(f"{group.__name__}.{field.name} needs a default to be an option")
        annotation = _in_panel(hints[field.name], group.PANEL)
        params.append(
            inspect.Parameter(
                field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default, annotation=annotation
            )
        )
    return params


def with_option_groups(command: F) -> F:
    """Expand every parameter annotated with an option group into the group's options, for Typer.

    The other parameters are kept as they are, in their order, with the groups' options after them.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    own: list[inspect.Parameter] = []
    grouped: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for param in inspect.signature(command).parameters.values():
        annotation = hints.get(param.name, param.annotation)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            fields = _group_parameters(annotation)
            groups[param.name] = (annotation, [field.name for field in fields])
            grouped.extend(fields)
        else:
            own.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    params = own + grouped
    names = [param.name for param in params]
    if len(set(names)) != len(names):
        raise TypeError(f"{command.__name__}: an option name is used twice in {names}")

    @functools.wraps(command)
    def expanded(**values: Any) -> Any:
        for name, (group, fields) in groups.items():
            values[name] = group(**{field: values.pop(field) for field in fields})
        return command(**values)

    expanded.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    expanded.__annotations__ = {param.name: param.annotation for param in params}
    return typing.cast(F, expanded)
