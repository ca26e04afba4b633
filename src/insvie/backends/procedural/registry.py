"""Operators by name: the ``procedural`` editor's catalogue.

The built-in operators are listed explicitly (no import side effects); :func:`register` adds more at
run time, e.g. a project-specific grade, and refuses to shadow an existing name silently.
"""

from __future__ import annotations

from insvie.backends.procedural import grades, looks, stylise
from insvie.backends.procedural.operator import CATEGORIES, Category, Operator

_REGISTRY: dict[str, Operator] = {
    op.name: op for op in (*grades.OPERATORS, *looks.OPERATORS, *stylise.OPERATORS)
}


class UnknownOperatorError(KeyError):
    """No operator by that name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def get_operator(name: str) -> Operator:
    """The operator called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownOperatorError(
            f"unknown operator {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_operators(category: Category | None = None, *, pointwise: bool | None = None) -> list[str]:
    """Names of the registered operators, sorted, optionally of one category and/or pointwise-ness."""
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")
    return sorted(
        name
        for name, op in _REGISTRY.items()
        if (category is None or op.category == category) and (pointwise is None or op.pointwise == pointwise)
    )


def register(operator: Operator, *, replace: bool = False) -> None:
    """Add ``operator`` under its name; an existing name needs ``replace=True``."""
    if operator.name in _REGISTRY and not replace:
        raise ValueError(f"an operator named {operator.name!r} is already registered")
    _REGISTRY[operator.name] = operator
