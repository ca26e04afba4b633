"""``InsViEGuider``: the sampling recipe a model folder carries beside its weights.

diffusers saves a pipeline's guider config beside the weights (``guider/guider_config.json``) so that a
model samples the way it was meant to without the caller knowing the numbers. ``InsViEGuider`` does the
same for the editor's two-condition guidance (:mod:`insvie.editor.guidance`): the text and video scales,
their schedule over the steps, and the step count. Its defaults are the released InsViE recipe
(``configs/inference_2b_edit.yaml``: ``DynamicCFG_edit(scale=7.5, scale_img=1.2, exp=5, num_steps=50)``),
which ``insvie convert-sat`` writes into every converted folder.

A folder without a ``guider/`` (older conversions, other tools' folders) samples with these defaults,
and the pipeline says so in ``guider_origin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffusers.configuration_utils import ConfigMixin, register_to_config

from insvie.editor.guidance import SCHEDULES, GuidanceSchedule

GUIDER_FOLDER = "guider"
GUIDER_CONFIG = "guider_config.json"
PAPER_ORIGIN = "the paper's recipe (built in)"


class InsViEGuider(ConfigMixin):
    """Text and video guidance scales, their schedule and the step count an editor samples with."""

    config_name = GUIDER_CONFIG

    @register_to_config
    def __init__(
        self,
        guidance_scale: float = 7.5,
        video_guidance_scale: float = 1.2,
        guidance_schedule: GuidanceSchedule = "cosine",
        num_inference_steps: int = 50,
    ) -> None:
        if guidance_schedule not in SCHEDULES:
            raise ValueError(
                f"guidance_schedule must be one of {', '.join(SCHEDULES)}, got {guidance_schedule!r}"
            )
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        if guidance_scale < 0 or video_guidance_scale < 0:
            raise ValueError("guidance scales must not be negative")

    def settings(self) -> dict[str, Any]:
        """The recipe as ``InsViEEditPipeline.__call__`` keyword arguments."""
        return {
            "num_inference_steps": int(self.config.num_inference_steps),
            "guidance_scale": float(self.config.guidance_scale),
            "video_guidance_scale": float(self.config.video_guidance_scale),
            "guidance_schedule": self.config.guidance_schedule,
        }

    def save_pretrained(self, save_directory: str | Path) -> None:
        """Write ``guider_config.json`` into ``save_directory`` (a pipeline folder's ``guider/``)."""
        self.save_config(save_directory)

    @classmethod
    def from_model(cls, model: str | Path, **load_kwargs: Any) -> tuple[InsViEGuider, str]:
        """The guider a model folder (or cached hub id) carries, and where it came from.

        A folder without one gives the paper's recipe, named as such in the origin.
        """
        local = Path(model)
        if local.is_dir():
            path = local / GUIDER_FOLDER / GUIDER_CONFIG
            if not path.is_file():
                return cls(), PAPER_ORIGIN
            return cls.from_config(cls.load_config(path.parent)), str(path)
        try:
            config = cls.load_config(str(model), subfolder=GUIDER_FOLDER, **load_kwargs)
        except (OSError, ValueError):
            return cls(), PAPER_ORIGIN
        return cls.from_config(config), f"{model}/{GUIDER_FOLDER}/{GUIDER_CONFIG}"
