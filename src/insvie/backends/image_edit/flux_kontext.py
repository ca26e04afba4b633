"""``flux_kontext``: diffusers' ``FluxKontextPipeline`` (FLUX.1 Kontext [dev] and fine-tunes).

Kontext is guidance-distilled: text guidance is the embedded ``guidance_scale`` fed to the transformer,
not classifier-free guidance, and there is no image guidance (recorded as None). The pipeline would
snap the image to one of its preferred ~1 MP resolutions and the output to ``max_area``; here both are
set to the working size (the input's aspect at ``resolution``², multiples of 16, 1024 by default, which
lands within a few pixels of Kontext's preferred sizes) so the output maps back onto the input exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution
from insvie.backends.image_edit.settings import GuidanceSetting


class FluxKontextEditor(DiffusersEditor):
    name: ClassVar[str] = "flux_kontext"
    pipeline_class: ClassVar[str] = "FluxKontextPipeline"
    multiple: ClassVar[int] = 16
    default_resolution: ClassVar[Resolution] = 1024
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("guidance_scale", None)

    def _run(
        self,
        image: Any,
        instruction: str,
        setting: GuidanceSetting,
        generators: list[Any],
        size: tuple[int, int],
    ) -> np.ndarray:
        height, width = size
        return self.pipe(
            image=image,
            prompt=instruction,
            height=height,
            width=width,
            max_area=height * width,
            _auto_resize=False,
            num_inference_steps=setting.steps,
            guidance_scale=setting.text_guidance,
            num_images_per_prompt=len(generators),
            generator=generators,
            output_type="np",
        ).images
