"""On-screen text: how much of a frame is covered by detected text (captions, logos, tickers).

Sources full of burnt-in text teach an editor to hallucinate letters, so curation can drop them. The
detector is RapidOCR's PP-OCR text detector on ONNX Runtime (the ``ocr`` extra), whose weights ship
with the package. A box counts only when recognition reads at least two characters in it with
confidence: the detector alone fires on foliage and fur.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from insvie.errors import ConfigError


class TextCoverage:
    """Share of a frame's area inside detected text boxes (overlaps counted once)."""

    def __init__(self, *, min_chars: int = 2, min_score: float = 0.5) -> None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise ConfigError("the on-screen text check needs: pip install 'insvie[ocr]'") from exc
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        self._ocr = RapidOCR()
        self.min_chars = min_chars
        self.min_score = min_score

    def boxes(self, frame: np.ndarray) -> np.ndarray:
        """Quadrilaterals of confidently read text, (N, 4, 2) in pixel coordinates of an RGB ``frame``."""
        bgr = np.ascontiguousarray(frame[..., ::-1])  # RapidOCR reads OpenCV's channel order
        result = self._ocr(bgr, use_det=True, use_cls=False, use_rec=True)
        boxes, texts, scores = (getattr(result, key, None) for key in ("boxes", "txts", "scores"))
        if boxes is None or texts is None or scores is None:
            return np.zeros((0, 4, 2), np.float32)
        keep = [
            box
            for box, text, score in zip(boxes, texts, scores, strict=True)
            if len(text.strip()) >= self.min_chars and score >= self.min_score
        ]
        return np.asarray(keep, np.float32).reshape(-1, 4, 2)

    def ratio(self, frame: np.ndarray) -> float:
        boxes = self.boxes(frame)
        if not len(boxes):
            return 0.0
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(box).astype(np.int32) for box in boxes], 1)
        return float(mask.mean())
