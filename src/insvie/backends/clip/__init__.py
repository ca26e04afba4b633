"""CLIP similarities: the cheap edit pre-filter before the paid judge, and the CLIP evaluation metrics.

``ClipScorer`` wraps ``transformers.CLIPModel`` (hub id or folder, loaded lazily) and returns unit
embeddings and their cosines: image-image, text-image, and the directional similarity of
InstructPix2Pix / StyleGAN-NADA. ``edit_scores`` scores a whole guidance sweep in one batched pass and
``passes_prefilter`` applies InstructPix2Pix's dataset-filter thresholds to one candidate.
``build_tiny_clip`` writes a tiny random checkpoint for tests and offline smoke builds.
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
from insvie.backends.clip.tiny import build_tiny_clip, tiny_clip_tokenizer

__all__ = [
    "CLIP_EXTRA",
    "DEFAULT_CLIP_MODEL",
    "IP2P_MIN_CAPTION_SIMILARITY",
    "IP2P_MIN_DIRECTIONAL",
    "IP2P_MIN_IMAGE_SIMILARITY",
    "RESIZE_MODES",
    "SCORE_KEYS",
    "ClipScorer",
    "build_tiny_clip",
    "passes_prefilter",
    "tiny_clip_tokenizer",
]
