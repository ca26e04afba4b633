"""CLIP similarities: the cheap edit pre-filter before the paid judge, and the CLIP evaluation metrics.

``ClipScorer`` wraps ``transformers.CLIPModel`` (hub id or folder, loaded lazily) and returns unit
embeddings and their cosines: image-image, text-image, and the directional similarity of
InstructPix2Pix / StyleGAN-NADA. ``edit_scores`` scores a whole guidance sweep in one batched pass and
``passes_prefilter`` applies InstructPix2Pix's dataset-filter thresholds to one candidate.
A tiny random checkpoint for tests and offline smoke builds is :func:`insvie.tiny.build_tiny_clip`'s.
"""

from insvie.backends.clip.scorer import (
    CLIP_EXTRA,
    DEFAULT_CLIP_MODEL,
    IP2P_MIN_CAPTION_SIMILARITY,
    IP2P_MIN_DIRECTIONAL,
    IP2P_MIN_IMAGE_SIMILARITY,
    RESIZE_MODES,
    SCORE_KEYS,
    ClipScorer,
    passes_prefilter,
)

__all__ = [
    "CLIP_EXTRA",
    "DEFAULT_CLIP_MODEL",
    "IP2P_MIN_CAPTION_SIMILARITY",
    "IP2P_MIN_DIRECTIONAL",
    "IP2P_MIN_IMAGE_SIMILARITY",
    "RESIZE_MODES",
    "SCORE_KEYS",
    "ClipScorer",
    "passes_prefilter",
]
