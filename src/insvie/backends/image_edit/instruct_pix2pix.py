"""``instruct_pix2pix``: diffusers' ``StableDiffusionInstructPix2PixPipeline`` (InstructPix2Pix, MagicBrush).

The paper's editor family. Text guidance is ``guidance_scale``, image guidance ``image_guidance_scale``;
the pipeline runs its three-branch guidance only while text guidance > 1 and image guidance >= 1 (below
that it samples the conditional branch alone, which is a valid but unguided candidate). Works at the
input's own size by default: Stable Diffusion 1.5 handles 480x720 and 576x1024 frames directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.backends.image_edit.settings import DEFAULT_IMAGE_GUIDANCE, GuidanceSetting


class InstructPix2PixEditor(DiffusersEditor):
    name: ClassVar[str] = "instruct_pix2pix"
    pipeline_class: ClassVar[str] = "StableDiffusionInstructPix2PixPipeline"
    multiple: ClassVar[int] = 8
    default_resolution: ClassVar[Resolution] = "input"
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("guidance_scale", "image_guidance_scale")

    def effective(self, setting: GuidanceSetting) -> GuidanceSetting:
        """A missing image guidance means the usual 1.5."""
        image = DEFAULT_IMAGE_GUIDANCE if setting.image_guidance is None else setting.image_guidance
        return GuidanceSetting(setting.text_guidance, image, setting.steps)

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """One prompt and image per candidate (the pipeline deprecates broadcasting), and no size: the
        pipeline makes the image's own, which is already the working size."""
        return {"prompt": [instruction] * count, "image": [image] * count}
