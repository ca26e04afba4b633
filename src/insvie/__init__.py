"""insvie: an open data engine, editor, trainer and evaluator for instruction-based video editing."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("insvie")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
