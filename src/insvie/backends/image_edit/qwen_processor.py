"""A Qwen2-VL processor that works without torchvision, for Qwen-Image-Edit's prompt encoder.

transformers 5 builds ``Qwen2VLProcessor`` with a video processor, and its video processors need
torchvision; without it even constructing the processor fails (``VIDEO_PROCESSOR_MAPPING`` is a stub).
Qwen-Image-Edit only ever feeds the processor one image and text, so this subclass accepts a missing
video processor and reads the image processor and tokenizer from a folder laid out like the real
``processor/`` folder. The backend uses it with or without torchvision, so a candidate does not depend
on which of transformers' two image-processor implementations a machine happens to have.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import Qwen2Tokenizer, Qwen2VLProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

VIDEO_CONFIG = "video_preprocessor_config.json"


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    """``Qwen2VLProcessor`` for images and text only (no video processor, no torchvision)."""

    def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
        if argument_name == "video_processor" and argument is None:
            return type(None)
        return super().check_argument_for_proper_class(argument_name, argument)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ImageOnlyQwen2VLProcessor:
        """Image processor (``preprocessor_config.json``) and tokenizer files of a ``processor/`` folder."""
        folder = Path(folder)
        return cls(
            image_processor=Qwen2VLImageProcessorPil.from_pretrained(folder),
            tokenizer=Qwen2Tokenizer.from_pretrained(folder),
            video_processor=None,
        )

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """Write what the stock ``Qwen2VLProcessor.from_pretrained`` reads, video config included."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.image_processor.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        ip = self.image_processor
        video = {
            "video_processor_type": "Qwen2VLVideoProcessor",
            "processor_class": "Qwen2VLProcessor",
            "patch_size": ip.patch_size,
            "temporal_patch_size": ip.temporal_patch_size,
            "merge_size": ip.merge_size,
            "size": dict(ip.size),
            "image_mean": list(ip.image_mean),
            "image_std": list(ip.image_std),
        }
        (folder / VIDEO_CONFIG).write_text(json.dumps(video, indent=2) + "\n")
