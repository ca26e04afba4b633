"""``ClipScorer``: CLIP image and text embeddings and the similarities built on them.

The edit pre-filter (issue 4) and the evaluation metrics (issue 7: CLIP-T, CLIP-F, directional
similarity) all reduce to cosines between L2-normalised CLIP embeddings, so one class owns the model,
its preprocessing and the arithmetic, and every caller gets the same numbers for the same inputs.

Loading is lazy (``load()``, or the first call that needs the model) so a stage can build its scorer
in the driver and only pay for the weights in the worker that scores. Images go through the
Pillow-backed CLIP image processor (``backend="pil"``), never the torchvision one: torchvision is not
a dependency, and pinning the backend keeps the resampling (and so the scores) the same on machines
that happen to have torchvision installed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from insvie.backends.devices import resolve_device
from insvie.backends.hub import load_pretrained, model_source, weights_commit
from insvie.errors import ConfigError

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"  # ViT-L/14, the model InstructPix2Pix filtered with
CLIP_EXTRA = "models"  # the pyproject extra that brings torch, transformers and tokenizers
RESIZE_MODES = ("crop", "squash")

# InstructPix2Pix's dataset filter (Brooks et al. 2023, sec. 3.1.2): keep an edit whose CLIP
# image-image similarity exceeds 0.75 (the edit did not wreck the picture), whose image-caption
# similarity exceeds 0.2 (the edited image shows the target caption) and whose directional similarity
# exceeds 0.2 (the change between the images follows the change between the captions). Their released
# generate_img_dataset.py compares with >= and defaults the image threshold to 0.7; we keep the
# paper's 0.75 and the code's >=.
IP2P_MIN_IMAGE_SIMILARITY = 0.75
IP2P_MIN_DIRECTIONAL = 0.2
IP2P_MIN_CAPTION_SIMILARITY = 0.2

SCORE_KEYS = ("image_similarity", "directional_similarity", "caption_similarity")

# A direction (difference of unit vectors) shorter than this is treated as no change at all. Two unit
# vectors this close have a cosine above 1 - 5e-13: nothing a real edit produces, only rounding.
_ZERO_NORM = 1e-6
_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}  # fmt: skip


def _check_image(image: Any, index: int) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image {index} must be an HxWx3 uint8 array, got shape {shape} dtype {dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image {index} is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


def _image_key(image: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return image.shape, image.tobytes()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors in float64; 0.0 when either is (numerically) the zero vector.

    Renormalising in float64 (rather than dotting the float32 unit rows) makes the cosine of a row
    with itself 1.0 and keeps every result inside [-1, 1].
    """
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = float(np.linalg.norm(a64)), float(np.linalg.norm(b64))
    if na < _ZERO_NORM or nb < _ZERO_NORM:
        return 0.0
    return float(np.clip(np.dot(a64, b64) / (na * nb), -1.0, 1.0))


class ClipScorer:
    """L2-normalised CLIP embeddings of images (HxWx3 uint8 arrays) and texts, and their cosines.

    ``model`` is a hub id (read from the local cache when ``HF_HUB_OFFLINE`` is set) or a folder that
    ``CLIPModel.from_pretrained`` loads, such as the one ``insvie.tiny.build_tiny_clip`` writes (resolved
    by :mod:`insvie.backends.hub`). ``device="auto"`` picks CUDA, then MPS, then the CPU; ``dtype=None``
    is float16 on CUDA (CLIP was trained in mixed precision; bfloat16's 8-bit mantissa would blur cosines
    near the thresholds) and float32 elsewhere.
    Embeddings are always returned as float32 whatever the compute dtype.

    ``resize="crop"`` is CLIP's own preprocessing (shortest edge to the model's size, centre crop);
    ``"squash"`` resizes the whole frame to the square input as InstructPix2Pix's ``ClipSimilarity``
    does, so an edit near the sides of a wide frame is not cropped out of view (resampled by Pillow's
    antialiased bicubic, where IP2P used torch's ``interpolate``, so scores differ slightly).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_CLIP_MODEL,
        *,
        device: str = "auto",
        dtype: Any = None,
        revision: str | None = None,
        batch_size: int = 32,
        resize: Literal["crop", "squash"] = "crop",
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"CLIP batch_size must be >= 1, got {batch_size}")
        if resize not in RESIZE_MODES:
            raise ConfigError(f"CLIP resize must be one of {list(RESIZE_MODES)}, got {resize!r}")
        if isinstance(dtype, str) and dtype.lower() not in _DTYPES:
            raise ConfigError(f"CLIP dtype must be one of {sorted(set(_DTYPES.values()))}, got {dtype!r}")
        self.name = str(model)
        self.source = model_source(self.name, "CLIP model")
        self.requested_device = device
        self.requested_dtype = dtype
        self.requested_revision = revision
        self.batch_size = batch_size
        self.resize = resize
        self._model: Any = None
        self._tokenizer: Any = None
        self._image_processor: Any = None
        self._torch: Any = None
        self.device: str | None = None
        self.dtype: Any = None
        self.revision: str | None = revision
        self.dimension: int | None = None
        self.image_size: tuple[int, int] | None = None
        self.max_length: int | None = None

    # -- loading ----------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> ClipScorer:
        """Load the tokenizer, image processor and model (once); returns ``self`` for chaining.

        Every failure to find or read the checkpoint is a ``ConfigError`` naming the model, since a
        wrong name or folder in the config is the usual cause.
        """
        if self._model is not None:
            return self
        try:
            import torch
            from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
        except ImportError as exc:
            raise ConfigError(f"the CLIP scorer needs: pip install 'insvie[{CLIP_EXTRA}]'") from exc
        self._torch = torch
        device = resolve_device(self.requested_device)
        dtype = self._pick_dtype(torch, device)
        what = "CLIP model"
        options = {"revision": self.requested_revision}
        tokenizer = load_pretrained(what, self.name, AutoTokenizer.from_pretrained, self.source, **options)
        image_processor = load_pretrained(
            what, self.name, AutoImageProcessor.from_pretrained, self.source, backend="pil", **options
        )
        model = load_pretrained(
            what, self.name, CLIPModel.from_pretrained, self.source, dtype=dtype, **options
        )
        model.to(device).eval()
        config = model.config
        self.device = device
        self.dtype = dtype
        self.dimension = int(config.projection_dim)
        size = int(config.vision_config.image_size)
        crop = getattr(image_processor, "crop_size", None) or {}
        self.image_size = (int(crop.get("height", size)), int(crop.get("width", size)))
        limit = int(config.text_config.max_position_embeddings)
        tokenizer_limit = getattr(tokenizer, "model_max_length", None) or limit
        self.max_length = min(limit, int(tokenizer_limit)) if tokenizer_limit < 1_000_000 else limit
        self.revision = weights_commit(model, self.requested_revision, self.source)
        self._tokenizer = tokenizer
        self._image_processor = image_processor
        self._model = model
        return self

    def _pick_dtype(self, torch: Any, device: str) -> Any:
        dtype = self.requested_dtype
        if isinstance(dtype, torch.dtype):
            return dtype
        if dtype is None:
            return torch.float16 if device.startswith("cuda") else torch.float32
        if not isinstance(dtype, str):
            raise ConfigError(f"CLIP dtype must be None, a name or a torch.dtype, got {dtype!r}")
        return getattr(torch, _DTYPES[dtype.lower()])

    # -- embeddings -------------------------------------------------------------------------------

    def image_embeddings(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float32 unit rows, one per image, in order; batches of ``batch_size``.

        Each image is preprocessed on its own, so a row does not depend on the other images in
        the call beyond floating-point noise of the batched matrix products.
        """
        if isinstance(images, np.ndarray) and images.ndim == 3:
            raise TypeError("image_embeddings() takes a sequence of images, not one image")
        checked = [_check_image(image, i) for i, image in enumerate(images)]
        self.load()
        out = np.zeros((len(checked), self.dimension or 0), np.float32)
        torch = self._torch
        overrides: dict[str, Any] = {}
        if self.resize == "squash" and self.image_size is not None:
            height, width = self.image_size
            overrides = {"size": {"height": height, "width": width}, "do_center_crop": False}
        with torch.inference_mode():
            for start in range(0, len(checked), self.batch_size):
                chunk = [Image.fromarray(image, "RGB") for image in checked[start : start + self.batch_size]]
                pixels = self._image_processor(images=chunk, return_tensors="pt", **overrides)["pixel_values"]
                features = self._model.get_image_features(pixel_values=pixels.to(self.device, self.dtype))
                out[start : start + len(chunk)] = self._normalise(features)
        return out

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 unit rows, one per text, in order; texts past CLIP's 77 tokens are truncated.

        Padding cannot leak into a row: CLIP's text tower is causal and pools at the end token, which
        comes before any padding.
        """
        if isinstance(texts, str):
            raise TypeError("text_embeddings() takes a sequence of texts, not one string")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} must be a string, got {type(text).__name__}")
        self.load()
        out = np.zeros((len(texts), self.dimension or 0), np.float32)
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                chunk = list(texts[start : start + self.batch_size])
                encoded = self._tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                ).to(self.device)
                features = self._model.get_text_features(
                    input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
                )
                out[start : start + len(chunk)] = self._normalise(features)
        return out

    def _normalise(self, features: Any) -> np.ndarray:
        """Projected features (a tensor, or transformers 5's output object) as float32 unit rows."""
        tensor = getattr(features, "pooler_output", features)
        tensor = self._torch.nn.functional.normalize(tensor.float(), p=2, dim=-1)
        return tensor.cpu().numpy()

    def _unique_image_embeddings(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Like ``image_embeddings`` but byte-identical images share one forward pass and one row.

        Beyond saving work this makes "the edit returned the source unchanged" exact: the two rows
        are the same vector, so the image direction is exactly zero instead of rounding noise.
        """
        checked = [_check_image(image, i) for i, image in enumerate(images)]
        first: dict[tuple[tuple[int, ...], bytes], int] = {}
        unique: list[np.ndarray] = []
        slots: list[int] = []
        for image in checked:
            key = _image_key(image)
            if key not in first:
                first[key] = len(unique)
                unique.append(image)
            slots.append(first[key])
        return self.image_embeddings(unique)[slots]

    def _unique_text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """``text_embeddings`` with identical strings sharing one row (see the image version)."""
        first: dict[str, int] = {}
        for text in texts:
            first.setdefault(text, len(first))
        return self.text_embeddings(list(first))[[first[text] for text in texts]]

    # -- similarities -----------------------------------------------------------------------------

    def image_similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two images' CLIP embeddings (1.0 for identical pixels)."""
        rows = self._unique_image_embeddings([a, b])
        return _cosine(rows[0], rows[1])

    def text_image_similarity(self, texts: Sequence[str], images: Sequence[np.ndarray]) -> np.ndarray:
        """(len(texts), len(images)) float32 matrix of text-image cosines.

        CLIP-T of one caption against a video's frames is row 0 averaged; pairwise scores (caption i
        vs image i) are the diagonal. Raw cosines, not CLIPScore's ``2.5 * max(cos, 0)`` rescaling.
        """
        text_rows = self.text_embeddings(texts)
        image_rows = self.image_embeddings(images)
        return np.clip(text_rows @ image_rows.T, -1.0, 1.0).astype(np.float32)

    def directional_similarity(
        self,
        source_image: np.ndarray,
        edited_image: np.ndarray,
        source_caption: str,
        target_caption: str,
    ) -> float:
        """cos(E_img(edited) - E_img(source), E_txt(target) - E_txt(source)).

        The directional CLIP similarity of StyleGAN-NADA (Gal et al. 2022) and InstructPix2Pix: does
        the image change the way the caption changed? Swapping the two images (or the two captions)
        negates it; swapping both leaves it unchanged. When either difference is the zero vector
        (identical images, or identical captions) there is no direction and the score is 0.0, neither
        agreement nor disagreement, rather than NaN.
        """
        return self.edit_scores(source_image, [edited_image], source_caption, target_caption)[0][
            "directional_similarity"
        ]

    def edit_scores(
        self,
        source: np.ndarray,
        candidates: Sequence[np.ndarray],
        source_caption: str,
        target_caption: str,
    ) -> list[dict[str, float]]:
        """Per candidate: ``image_similarity`` (source vs candidate), ``directional_similarity`` and
        ``caption_similarity`` (target caption vs candidate), the three numbers of InstructPix2Pix's
        filter (see ``passes_prefilter``).

        The source and all candidates go through the image tower in one batched call (split only at
        ``batch_size``) and the two captions in one text call, so scoring a CFG sweep costs one
        forward, not one per candidate. A candidate byte-identical to the source scores image
        similarity 1.0 and directional similarity 0.0.
        """
        if isinstance(candidates, np.ndarray) and candidates.ndim == 3:
            raise TypeError("edit_scores() takes a sequence of candidate images, not one image")
        if not candidates:
            return []
        images = self._unique_image_embeddings([source, *candidates])
        captions = self._unique_text_embeddings([source_caption, target_caption])
        source_row, candidate_rows = images[0], images[1:]
        text_direction = captions[1] - captions[0]
        scores = []
        for row in candidate_rows:
            scores.append(
                {
                    "image_similarity": _cosine(source_row, row),
                    "directional_similarity": _cosine(row - source_row, text_direction),
                    "caption_similarity": _cosine(captions[1], row),
                }
            )
        return scores

    def describe(self) -> dict[str, Any]:
        """What made the scores, for provenance records (loads the model to know its dimension)."""
        self.load()
        return {
            "backend": "transformers",
            "class": "CLIPModel",
            "model": self.name,
            "path": self.source,
            "revision": self.revision,
            "dimension": self.dimension,
            "image_size": list(self.image_size) if self.image_size else None,
            "resize": self.resize,
            "max_length": self.max_length,
            "image_processor": type(self._image_processor).__name__,
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "normalize": True,
        }


def passes_prefilter(
    scores: Mapping[str, float],
    *,
    min_image_similarity: float = IP2P_MIN_IMAGE_SIMILARITY,
    min_directional: float = IP2P_MIN_DIRECTIONAL,
    min_caption_similarity: float = IP2P_MIN_CAPTION_SIMILARITY,
) -> bool:
    """Whether one candidate's ``edit_scores`` entry clears InstructPix2Pix's CLIP filter.

    Defaults are the paper's thresholds: image-image > 0.75, image-caption > 0.2, directional > 0.2
    (Brooks et al. 2023, sec. 3.1.2; compared with >= as their released code does). It is a cheap
    gate before the paid judge, not a ranking: IP2P then sorted survivors by directional similarity.
    A missing key is a ValueError; a NaN score fails.
    """
    missing = [key for key in SCORE_KEYS if key not in scores]
    if missing:
        raise ValueError(f"edit scores lack {missing}; expected the keys of ClipScorer.edit_scores")
    checks = (
        (scores["image_similarity"], min_image_similarity),
        (scores["directional_similarity"], min_directional),
        (scores["caption_similarity"], min_caption_similarity),
    )
    return all(not math.isnan(float(value)) and float(value) >= limit for value, limit in checks)
