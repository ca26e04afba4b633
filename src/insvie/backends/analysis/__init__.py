"""CPU analysis primitives for curation and the refilter: flow, quality, hashes, shots, motion, edits.

Pure functions of uint8 RGB frames (HxWx3) and clips (TxHxWx3), numpy and OpenCV only, fast enough to
run beside decoding: every metric works at a reduced working resolution (a ``max_side`` parameter)
and on sampled frames, and returns plain floats (or dataclasses with ``as_dict``) for JSON.

    working      shrink / frame_pairs / evenly_spaced         the one place frames get small
    flow         optical_flow, resize_flow, video_flows       OpenCV DIS, one instance per thread
    warp         backward_warp, occlusion_mask                forward-backward consistency
    quality      sharpness, exposure, blockiness, colourfulness, frame_quality, clip_quality
    phash        phash, hamming, clip_hash, near_duplicate, earlier_duplicates   the dedup step's decision
    shots        ShotDetector (streaming), detect_shots       content-difference hard cuts
    motion       motion_stats -> MotionStats                  amount, camera/object, static|dynamic
    consistency  motion_fidelity, warp_error, flicker, quality_ratio   edited vs source
    persistence  edit_persistence                             does the first-frame edit last?
    refilter     refilter_metrics, refilter_failures, refilter_pair   the refilter step's whole decision
    curation     clip_signals, text_ratio, image_signals      what the quality gates decide on
    gates        clip_verdict, image_verdict                  the quality gates' whole decision
    verdict      Verdict                                      what a filter's decision returns
"""

from insvie.backends.analysis.consistency import (
    Flicker,
    MotionFidelity,
    QualityRatio,
    flicker,
    motion_fidelity,
    quality_ratio,
    source_flows,
    visible_masks,
    warp_error,
)
from insvie.backends.analysis.curation import (
    ClipSignals,
    ImageSignals,
    clip_signals,
    image_signals,
    text_ratio,
)
from insvie.backends.analysis.flow import VideoFlows, flow_magnitude, optical_flow, resize_flow, video_flows
from insvie.backends.analysis.gates import ClipLimits, ImageLimits, clip_verdict, image_verdict
from insvie.backends.analysis.motion import (
    MotionStats,
    camera_flow,
    motion_from_flows,
    motion_label,
    motion_stats,
)
from insvie.backends.analysis.persistence import EditPersistence, edit_persistence
from insvie.backends.analysis.phash import (
    Duplicate,
    clip_distance,
    clip_hash,
    duplicate_groups,
    earlier_duplicates,
    hamming,
    near_duplicate,
    pairwise_distances,
    phash,
)
from insvie.backends.analysis.quality import (
    Exposure,
    FrameQuality,
    blockiness,
    clip_quality,
    colourfulness,
    exposure,
    frame_quality,
    sharpness,
)
from insvie.backends.analysis.refilter import (
    RefilterLimits,
    edit_metrics,
    refilter_failures,
    refilter_metrics,
    refilter_pair,
)
from insvie.backends.analysis.shots import ShotConfig, ShotDetector, content_scores, detect_shots
from insvie.backends.analysis.verdict import Verdict
from insvie.backends.analysis.warp import backward_warp, occlusion_mask
from insvie.backends.analysis.working import evenly_spaced, frame_pairs, shrink, shrink_video

__all__ = [
    "ClipLimits",
    "ClipSignals",
    "Duplicate",
    "EditPersistence",
    "Exposure",
    "Flicker",
    "FrameQuality",
    "ImageLimits",
    "ImageSignals",
    "MotionFidelity",
    "MotionStats",
    "QualityRatio",
    "RefilterLimits",
    "ShotConfig",
    "ShotDetector",
    "Verdict",
    "VideoFlows",
    "backward_warp",
    "blockiness",
    "camera_flow",
    "clip_distance",
    "clip_hash",
    "clip_quality",
    "clip_signals",
    "clip_verdict",
    "colourfulness",
    "content_scores",
    "detect_shots",
    "duplicate_groups",
    "earlier_duplicates",
    "edit_metrics",
    "edit_persistence",
    "evenly_spaced",
    "exposure",
    "flicker",
    "flow_magnitude",
    "frame_pairs",
    "frame_quality",
    "hamming",
    "image_signals",
    "image_verdict",
    "motion_fidelity",
    "motion_from_flows",
    "motion_label",
    "motion_stats",
    "near_duplicate",
    "occlusion_mask",
    "optical_flow",
    "pairwise_distances",
    "phash",
    "quality_ratio",
    "refilter_failures",
    "refilter_metrics",
    "refilter_pair",
    "resize_flow",
    "sharpness",
    "shrink",
    "shrink_video",
    "source_flows",
    "text_ratio",
    "video_flows",
    "visible_masks",
    "warp_error",
]
