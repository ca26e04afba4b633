"""The ``procedural`` image editor: deterministic global edits that need no model weights.

    get_operator(name) -> Operator          # .apply(image, strength, seed=0), .apply_video(frames, ...)
    list_operators(category=None, *, pointwise=None) -> list[str]
    Operator: name, category ("style" | "colour_grade" | "season" | "time_of_day"), pointwise,
              instructions (phrasings), caption (target-caption suffix), instruction(rng),
              target_caption(source_caption)
    PointwiseOperator.colour_map(strength) -> ColourMap   # baked tables; .lut3d(size) for .cube export
    sample_request(rng) / strength_sweep(k) / edit_candidates(...) / match_instruction(text)

Strength in [0, 1] stands in for a diffusion editor's guidance sweep; strength 0 is the identity.
"""

from insvie.backends.procedural.edit import (
    EditRequest,
    edit_candidates,
    match_instruction,
    sample_request,
    strength_sweep,
)
from insvie.backends.procedural.lut import ChannelCurves, ColourMap, Cube
from insvie.backends.procedural.operator import (
    CATEGORIES,
    Category,
    FilterOperator,
    Operator,
    PointwiseOperator,
)
from insvie.backends.procedural.registry import UnknownOperatorError, get_operator, list_operators, register

__all__ = [
    "CATEGORIES",
    "Category",
    "ChannelCurves",
    "ColourMap",
    "Cube",
    "EditRequest",
    "FilterOperator",
    "Operator",
    "PointwiseOperator",
    "UnknownOperatorError",
    "edit_candidates",
    "get_operator",
    "list_operators",
    "match_instruction",
    "register",
    "sample_request",
    "strength_sweep",
]
