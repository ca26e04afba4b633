"""``qwen_image_edit``: diffusers' ``QwenImageEditPipeline`` (Qwen-Image-Edit).

Text guidance is ``true_cfg_scale``: real classifier-free guidance against ``negative_prompt`` (a
single space by default, which is what switches it on); there is no image guidance (recorded as None).
The pipeline always encodes the source image at about 1 MP for its own conditioning; the output is made
at the working size (the input's aspect at ``resolution``², multiples of 16, 1024 by default). The
prompt processor is built by us from the checkpoint's ``processor/`` folder, torchvision or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from insvie.backends.hub import cannot_load
from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.errors import ConfigError


class QwenImageEditEditor(DiffusersEditor):
    name: ClassVar[str] = "qwen_image_edit"
    pipeline_class: ClassVar[str] = "QwenImageEditPipeline"
    multiple: ClassVar[int] = 16
    default_resolution: ClassVar[Resolution] = 1024
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("true_cfg_scale", None)

    def __init__(self, model: str, *, negative_prompt: str = " ", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.negative_prompt = negative_prompt

    def _processor_folder(self) -> Path:
        folder = Path(self.model)
        if folder.is_dir():
            return folder / "processor"
        from huggingface_hub import snapshot_download

        try:
            snapshot = snapshot_download(self.model, revision=self.revision, allow_patterns=["processor/*"])
        except Exception as exc:  # hub errors are many classes; all mean the same here
            raise cannot_load(
                f"image editor {self.name!r} model", self.model, exc, part="its processor"
            ) from exc
        return Path(snapshot) / "processor"

    def _extra_components(self) -> dict[str, Any]:
        """Always the image-only processor: the stock one needs torchvision (see ``qwen_processor``), and
        one processor everywhere keeps candidates the same on machines with and without it."""
        from insvie.backends.image_edit.qwen_processor import ImageOnlyQwen2VLProcessor

        folder = self._processor_folder()
        try:
            processor = ImageOnlyQwen2VLProcessor.from_folder(folder)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"image editor {self.name!r}: cannot read the processor in {folder}: {exc}"
            ) from exc
        return {"processor": processor}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "negative_prompt": self.negative_prompt,
            "processor": "ImageOnlyQwen2VLProcessor (Qwen2VLImageProcessorPil + Qwen2Tokenizer)",
        }

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """The negative prompt is what switches ``true_cfg_scale`` on (see the module docstring)."""
        return {**super()._inputs(image, instruction, count, size), "negative_prompt": self.negative_prompt}
