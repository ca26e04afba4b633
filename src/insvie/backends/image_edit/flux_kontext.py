"""``flux_kontext``: diffusers' ``FluxKontextPipeline`` (FLUX.1 Kontext [dev] and fine-tunes).

Kontext is guidance-distilled: text guidance is the embedded ``guidance_scale`` fed to the transformer,
not classifier-free guidance, and there is no image guidance (recorded as None). The pipeline would
snap the image to one of its preferred ~1 MP resolutions and the output to ``max_area``; here both are
set to the working size (the input's aspect at ``resolution``², multiples of 16, 1024 by default, which
lands within a few pixels of Kontext's preferred sizes) so the output maps back onto the input exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from insvie.backends.image_edit.diffusers_base import DiffusersEditor, Resolution


class FluxKontextEditor(DiffusersEditor):
    name: ClassVar[str] = "flux_kontext"
    pipeline_class: ClassVar[str] = "FluxKontextPipeline"
    multiple: ClassVar[int] = 16
    default_resolution: ClassVar[Resolution] = 1024
    guidance_arguments: ClassVar[tuple[str, str | None]] = ("guidance_scale", None)

    def _inputs(self, image: Any, instruction: str, count: int, size: tuple[int, int]) -> dict[str, Any]:
        """Pins both the image snap and the output area to the working size (see the module docstring)."""
        height, width = size
        return {
            **super()._inputs(image, instruction, count, size),
            "max_area": height * width,
            "_auto_resize": False,
        }
