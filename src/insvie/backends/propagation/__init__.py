"""Propagators: carry an edited first frame through the whole source video.

propagate_framewise(source, operator, strength, seed=0) -> video        # known procedural edit
propagate_flow_warp(source, edited_first, config=None) -> FlowWarpResult  # unknown editor
fit_colour_transfer(source_frame, edited_frame) -> ColourTransfer         # the global fallback map
get_propagator(name) -> Propagator     # "framewise" / "flow_warp" / "svd" / "wan" (image-to-video, .i2v)
is_image_to_video(name) -> bool;  summarize(name, diagnostics) -> dict   # what a result records
propagation_backend(name).propagate(source, edited_first, PropagationInputs(...))  # a stage's one call
"""

from insvie.backends.propagation.colour_transfer import ColourTransfer, fit_colour_transfer
from insvie.backends.propagation.flow_warp import (
    FlowWarpConfig,
    FlowWarpResult,
    FrameDiagnostics,
    propagate_flow_warp,
)
from insvie.backends.propagation.framewise import propagate_framewise
from insvie.backends.propagation.registry import (
    Propagation,
    PropagationBackend,
    PropagationInputs,
    Propagator,
    get_propagator,
    is_image_to_video,
    list_propagators,
    propagation_backend,
    summarize,
)

__all__ = [
    "ColourTransfer",
    "FlowWarpConfig",
    "FlowWarpResult",
    "FrameDiagnostics",
    "Propagation",
    "PropagationBackend",
    "PropagationInputs",
    "Propagator",
    "fit_colour_transfer",
    "get_propagator",
    "is_image_to_video",
    "list_propagators",
    "propagate_flow_warp",
    "propagate_framewise",
    "propagation_backend",
    "summarize",
]
