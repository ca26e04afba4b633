"""``InsViEEditPipeline``: instruction-based video editing with the 32-channel CogVideoX editor.

Loaded and run like any diffusers pipeline::

    pipe = InsViEEditPipeline.from_pretrained("path/to/editor", dtype=torch.float16).to("cuda")
    out = pipe("input.mp4", "make it snowy", generator=torch.Generator().manual_seed(0))
    write_edit_video(out.frames[0], "edited.mp4")

Sampling follows the released inference code (``docs/editor.md`` lists every match and difference):
the source video is encoded by the VAE in one pass (a posterior sample, times the VAE scaling factor,
:mod:`insvie.editor.vae_codec`) and concatenated to the noisy latents on the channel axis; each step
evaluates the three guidance branches of :mod:`insvie.editor.guidance` in one batched transformer
forward in the model's dtype, while the sampler state stays float32; the scheduler is the official
stochastic DPM-Solver++(2M) (:class:`~insvie.editor.scheduler.InsViEDPMScheduler`; CogVideoX's DDIM and
DPM schedulers of older folders still work).

Components: ``tokenizer`` (T5), ``text_encoder`` (``T5EncoderModel``), ``vae``
(``AutoencoderKLCogVideoX``), ``transformer`` (``CogVideoXTransformer3DModel`` with 32 input channels,
see :func:`~insvie.editor.transformer.editor_from_t2v`) and ``scheduler``; beside them the folder's
``guider/`` (:class:`~insvie.editor.guider.InsViEGuider`) holds the sampling recipe that the call's
defaults come from. LoRA weights load with ``load_lora_weights`` (CogVideoX's loader: adapters on the
transformer) and can be fused.

This class composes the steps of an edit, each in its own module: the prompts
(:mod:`~insvie.editor.prompts`), the source video (:mod:`~insvie.editor.conditioning`), the denoising
loop (:mod:`~insvie.editor.denoise`, over :mod:`~insvie.editor.steps` and
:mod:`~insvie.editor.prediction`) and the output (:mod:`~insvie.editor.output`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel
from diffusers.loaders import CogVideoXLoraLoaderMixin
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from transformers import T5EncoderModel, T5Tokenizer

from insvie.editor import prediction
from insvie.editor.call_checks import callback_tensor_names, working_size
from insvie.editor.conditioning import align_batch, source_conditioning
from insvie.editor.denoise import CALLBACK_TENSORS, Denoising, denoise
from insvie.editor.guidance import GuidanceSchedule
from insvie.editor.guider import PAPER_ORIGIN, InsViEGuider
from insvie.editor.inputs import SourceLatent
from insvie.editor.output import InsViEEditOutput, edit_frames
from insvie.editor.prompts import encode_prompts, text_conditioning
from insvie.editor.rotary import rotary_embeddings
from insvie.editor.scheduler import from_cogvideox_config
from insvie.editor.steps import Generator, Scheduler
from insvie.editor.transformer import editor_from_t2v, vae_spatial_factor
from insvie.editor.vae_codec import decode_latents, encode_source


def _diffusers_dtype_keyword() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older releases only know it."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


class InsViEEditPipeline(DiffusionPipeline, CogVideoXLoraLoaderMixin):
    """Edit a video by an instruction with the InsViE editor (see the module docstring)."""

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    _optional_components: list[str] = []  # noqa: RUF012 - diffusers reads this class attribute
    _callback_tensor_inputs: ClassVar[list[str]] = list(CALLBACK_TENSORS)

    def __init__(
        self,
        tokenizer: T5Tokenizer,
        text_encoder: T5EncoderModel,
        vae: AutoencoderKLCogVideoX,
        transformer: CogVideoXTransformer3DModel,
        scheduler: Scheduler,
        guider: InsViEGuider | None = None,
    ) -> None:
        super().__init__()
        self.register_modules(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            scheduler=scheduler,
        )
        # Saved beside the components (guider/guider_config.json), not as one: diffusers' loader only
        # knows model, scheduler and tokenizer classes.
        self.guider = guider or InsViEGuider()
        self.guider_origin = "given" if guider is not None else PAPER_ORIGIN

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, **kwargs: Any) -> InsViEEditPipeline:
        """diffusers' loader, plus the folder's sampling recipe (``guider/``; the paper's if absent)."""
        guider = kwargs.pop("guider", None)
        origin = "given"
        if guider is None:
            guider, origin = InsViEGuider.from_model(pretrained_model_name_or_path)
        pipe = super().from_pretrained(pretrained_model_name_or_path, guider=guider, **kwargs)
        pipe.guider_origin = origin
        return pipe

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """diffusers' saver, plus the sampling recipe in ``guider/guider_config.json``."""
        super().save_pretrained(save_directory, **kwargs)
        self.guider.save_pretrained(Path(save_directory) / "guider")

    @classmethod
    def from_t2v(cls, t2v: str | Path, *, dtype: torch.dtype | None = None) -> InsViEEditPipeline:
        """An untrained editor pipeline from a CogVideoX text-to-video pipeline folder or hub id.

        Tokenizer, text encoder and VAE are the text-to-video model's; the transformer is grown to 32
        channels by :func:`editor_from_t2v`; the scheduler becomes the official sampler over the
        text-to-video model's noise schedule, and the guider the paper's recipe. Weights load in ``dtype``.
        """
        typed = {} if dtype is None else {_diffusers_dtype_keyword(): dtype}
        tokenizer = T5Tokenizer.from_pretrained(t2v, subfolder="tokenizer")
        text_encoder = T5EncoderModel.from_pretrained(t2v, subfolder="text_encoder", dtype=dtype)
        vae = AutoencoderKLCogVideoX.from_pretrained(t2v, subfolder="vae", **typed)
        transformer = editor_from_t2v(t2v, subfolder="transformer", **typed)
        scheduler = from_cogvideox_config(CogVideoXDDIMScheduler.load_config(t2v, subfolder="scheduler"))
        return cls(tokenizer, text_encoder, vae, transformer, scheduler, InsViEGuider())

    # -- sizes ------------------------------------------------------------------------------------

    @property
    def vae_scale_factor_spatial(self) -> int:
        return vae_spatial_factor(self.vae.config)

    @property
    def vae_scale_factor_temporal(self) -> int:
        return int(self.vae.config.temporal_compression_ratio)

    @property
    def default_size(self) -> tuple[int, int]:
        """(height, width) the transformer was configured for, in pixels (480x720 for CogVideoX)."""
        config = self.transformer.config
        return (
            config.sample_height * self.vae_scale_factor_spatial,
            config.sample_width * self.vae_scale_factor_spatial,
        )

    @property
    def max_num_frames(self) -> int:
        """The model's frame count (49 for CogVideoX 1.0; ``sample_frames`` counts pixel frames)."""
        return int(self.transformer.config.sample_frames)

    # -- memory options ---------------------------------------------------------------------------

    def enable_vae_slicing(self) -> None:
        """Encode/decode the videos of a batch one at a time."""
        self.vae.enable_slicing()

    def disable_vae_slicing(self) -> None:
        self.vae.disable_slicing()

    def enable_vae_tiling(self, **tile_kwargs: Any) -> None:
        """Encode/decode in overlapping spatial tiles (see ``AutoencoderKLCogVideoX.enable_tiling``)."""
        self.vae.enable_tiling(**tile_kwargs)

    def disable_vae_tiling(self) -> None:
        self.vae.disable_tiling()

    # -- the parts of an edit, each usable alone --------------------------------------------------

    def encode_prompt(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        *,
        num_videos_per_prompt: int = 1,
        max_sequence_length: int | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(text embeddings, "no text" embeddings), each (prompts x num_videos_per_prompt, L, D).

        Without a negative prompt "no text" is all zeros, as in the original sampler and training.
        """
        return encode_prompts(
            self.text_encoder,
            self.tokenizer,
            prompt,
            negative_prompt,
            num_videos_per_prompt=num_videos_per_prompt,
            max_sequence_length=max_sequence_length or self.transformer.config.max_text_seq_length,
            device=device or self._execution_device,
            dtype=dtype or self.transformer.dtype,
        )

    @torch.no_grad()
    def encode_video(
        self, frames: np.ndarray, *, generator: Generator = None, source_latent: SourceLatent = "sample"
    ) -> torch.Tensor:
        """Scaled source latents (B, F, C, h, w) of uint8 videos (B, T, H, W, 3), the whole clip in one
        pass; a posterior sample drawn with ``generator`` (official) or its mode (see
        :func:`~insvie.editor.vae_codec.encode_source`)."""
        return encode_source(
            self.vae, frames, device=self._execution_device, generator=generator, source_latent=source_latent
        )

    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        """uint8 frames (B, T, H, W, 3) of scaled latents (B, F, C, h, w), decoded as the official code
        does: an even F loses its last latent frame (see :mod:`insvie.editor.vae_codec`)."""
        return decode_latents(self.vae, latents)

    def _rotary_embeddings(
        self, height: int, width: int, latent_frames: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        config, spatial = self.transformer.config, self.vae_scale_factor_spatial
        return rotary_embeddings(config, spatial, height, width, latent_frames, device)

    guided_prediction = prediction.guided_prediction  # one batched forward of the three branches

    def sampling_settings(
        self,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        video_guidance_scale: float | None = None,
        guidance_schedule: GuidanceSchedule | None = None,
    ) -> dict[str, Any]:
        """The call's sampling settings: each one given, else the model's recipe (``self.guider``)."""
        given = {
            "num_inference_steps": num_inference_steps,
            "guidance_scale": guidance_scale,
            "video_guidance_scale": video_guidance_scale,
            "guidance_schedule": guidance_schedule,
        }
        recipe = self.guider.settings()
        return {key: recipe[key] if value is None else value for key, value in given.items()}

    # -- the edit ---------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        video: Any = None,
        prompt: str | list[str] | None = None,
        *,
        negative_prompt: str | list[str] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        video_guidance_scale: float | None = None,
        guidance_schedule: GuidanceSchedule | None = None,
        num_videos_per_prompt: int = 1,
        eta: float = 0.0,
        generator: Generator = None,
        source_latent: SourceLatent = "sample",
        latents: torch.Tensor | None = None,
        step_noises: Sequence[torch.Tensor] | None = None,
        source_latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        prefix_latents: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        attention_kwargs: dict[str, Any] | None = None,
        callback_on_step_end: Callable[..., dict[str, Any]] | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        max_sequence_length: int | None = None,
    ) -> InsViEEditOutput | tuple[Any]:
        """Edit ``video`` following ``prompt`` (the instruction).

        Args:
            video: a path, uint8 frames (T, H, W, 3), a list of PIL images, or a batch of those (a list, or a
                (B, T, H, W, 3) array) with one video per prompt; one video with several prompts is edited
                once per prompt. Frames are resized to cover ``height`` x ``width`` and centre-cropped.
            prompt, negative_prompt: the instruction (or a list); text for the "no text" branches, by
                default all-zero embeddings (as trained).
            num_frames: frames to edit, 4k+1; default the largest 4k+1 within both the video and the model's
                frame count (49); later frames are not edited (:func:`insvie.editor.windows.edit_long_video`
                edits longer videos). An even number of latent frames (45 frames: 12) is decoded without its
                last one, as the official code does, so the result is 4 frames shorter.
            height, width: working size; default the model's (480x720), multiples of 16.
            num_inference_steps, guidance_scale (text), video_guidance_scale, guidance_schedule: see
                :mod:`insvie.editor.guidance`; each defaults to the model's recipe (``self.guider``, saved
                in the folder's ``guider/``; the paper's 50 steps, 7.5, 1.2, ``cosine`` without one).
            num_videos_per_prompt: edits per prompt, each with its own noise.
            eta: DDIM's eta (only for a folder whose scheduler is CogVideoX's DDIM).
            generator: a torch generator (or one per output video) for reproducible noise, drawn in the
                official order: the source posterior, the initial noise, then the steps' noise.
            source_latent: ``"sample"`` (official: a posterior sample of the source) or ``"mode"`` (its
                mean, the same for every seed).
            latents, step_noises: the initial noise (B, F, 16, h, w) and the noise each step but the last
                adds (``num_inference_steps - 1`` such tensors; official sampler only), instead of drawing.
            source_latents, prompt_embeds, negative_prompt_embeds: the conditioning, instead of encoding
                it: scaled source latents, frames first (B or 1, F, 16, h, w); T5 embeddings, a row per
                output video.
            prefix_latents: clean scaled latents (P, 16, h, w) or (B, P, 16, h, w) the first P latent frames
                keep (:mod:`insvie.editor.denoise`), to chain the windows of a long video.
            output_type: ``"np"`` (uint8 (B, T, H, W, 3)), ``"pil"`` or ``"latent"`` (float32, frames first,
                scaled, every latent frame).
            callback_on_step_end: ``f(pipe, step, timestep, tensors) -> dict`` after each step; the tensors
                named in ``callback_on_step_end_tensor_inputs`` are passed and may be replaced.
            max_sequence_length: T5 tokens; default the transformer's ``max_text_seq_length`` (226).
        """
        names = callback_tensor_names(self, output_type, callback_on_step_end_tensor_inputs)
        settings = self.sampling_settings(
            num_inference_steps, guidance_scale, video_guidance_scale, guidance_schedule
        )
        run = Denoising(settings, generator, eta, step_noises, attention_kwargs, callback_on_step_end, names)
        size = working_size(self, height, width)
        embeds = (prompt_embeds, negative_prompt_embeds)
        text = text_conditioning(
            self, prompt, negative_prompt, embeds, num_videos_per_prompt, max_sequence_length
        )
        source = source_conditioning(self, video, source_latents, num_frames, size, generator, source_latent)
        conditioning = align_batch(source, *text, num_videos_per_prompt)
        sampled = denoise(self, conditioning, run, latents, prefix_latents, size)
        frames = edit_frames(sampled, output_type, self.decode_latents)
        self.maybe_free_model_hooks()
        return InsViEEditOutput(frames=frames) if return_dict else (frames,)
