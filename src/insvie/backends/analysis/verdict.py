"""What a filtering step decides about one item, in the form every filter's decision returns.

The decisions live in the backends (:mod:`.gates` for the quality gates, :mod:`.refilter` for the
refilter); the steps only record a :class:`Verdict`: kept or rejected with its funnel reason, and the
output kept with the result either way, so thresholds can be re-tuned from what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """``reason`` is None when the item passes, else the funnel reason (the first failed check);
    ``output`` is the JSON kept with the result."""

    reason: str | None
    output: dict[str, Any] = field(default_factory=dict)
