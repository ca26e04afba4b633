"""``framewise``: re-apply a known edit to every source frame.

Possible only when the editor is a procedural operator (name + strength + seed). For pointwise
operators this is the exact answer, the ground truth ``flow_warp`` is measured against; for filters
(cartoon, sketch) every frame is edited independently and may flicker where the filter's decisions
flip between frames.
"""

from __future__ import annotations

import numpy as np

from insvie.backends.procedural import Operator, get_operator
from insvie.backends.procedural.operator import check_video


def propagate_framewise(
    source: np.ndarray, operator: str | Operator, strength: float, seed: int = 0
) -> np.ndarray:
    """``source`` (T, H, W, 3 uint8) with ``operator`` applied to every frame."""
    check_video(source)
    op = get_operator(operator) if isinstance(operator, str) else operator
    return op.apply_video(source, strength, seed)
