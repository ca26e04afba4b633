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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import (
    AutoencoderKLCogVideoX,
    CogVideoXDDIMScheduler,
    CogVideoXDPMScheduler,
    CogVideoXTransformer3DModel,
)
from diffusers.loaders import CogVideoXLoraLoaderMixin
from diffusers.models.embeddings import get_3d_rotary_pos_embed
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils.torch_utils import randn_tensor
from transformers import T5EncoderModel, T5Tokenizer

from insvie.editor.guidance import GuidanceSchedule, combine_guidance, guidance_scales
from insvie.editor.guider import PAPER_ORIGIN, InsViEGuider
from insvie.editor.inputs import SourceLatent, as_video_batch, choose_num_frames, prepare_videos
from insvie.editor.output import InsViEEditOutput, frames_to_pil
from insvie.editor.scheduler import InsViEDPMScheduler, from_cogvideox_config
from insvie.editor.transformer import EDITOR_IN_CHANNELS, editor_from_t2v
from insvie.editor.vae_codec import decode_latents, encode_source

log = logging.getLogger(__name__)

Generator = torch.Generator | list[torch.Generator] | None
Scheduler = InsViEDPMScheduler | CogVideoXDDIMScheduler | CogVideoXDPMScheduler


def _grid_crop_region(
    grid: tuple[int, int], base_width: int, base_height: int
) -> tuple[tuple[int, int], ...]:
    """The region of the training grid a smaller/larger grid maps to (diffusers' CogVideoX helper)."""
    height, width = grid
    if height / width > base_height / base_width:
        resize_height, resize_width = base_height, round(base_height / height * width)
    else:
        resize_width, resize_height = base_width, round(base_width / width * height)
    top = round((base_height - resize_height) / 2.0)
    left = round((base_width - resize_width) / 2.0)
    return (top, left), (top + resize_height, left + resize_width)


def _diffusers_dtype_keyword() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); older releases only know it."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _align_batch(
    source: torch.Tensor,
    prompt: torch.Tensor,
    negative: torch.Tensor,
    num_prompts: int,
    num_videos_per_prompt: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source latents and text embeddings with one row per output video, in the same order.

    Text rows come prompt-major (each prompt's ``num_videos_per_prompt`` rows together). One video is
    shared by every prompt; one prompt is applied to every video; otherwise videos and prompts pair up.
    """
    if num_prompts == 1 and len(source) > 1:
        num_prompts = len(source)
        prompt, negative = prompt.repeat(num_prompts, 1, 1), negative.repeat(num_prompts, 1, 1)
    if len(source) == 1:
        source = source.expand(num_prompts, *source.shape[1:])
    elif len(source) != num_prompts:
        raise ValueError(f"{len(source)} videos for {num_prompts} prompts: give one, or one per prompt")
    return source.repeat_interleave(num_videos_per_prompt, dim=0), prompt, negative


def _expand_prefix(
    prefix: torch.Tensor, batch: int, latent_frames: int, latents: torch.Tensor
) -> torch.Tensor:
    """Prefix latents as (batch, P, C, h, w), checked against the latents they will be written into."""
    if prefix.ndim == 4:
        prefix = prefix.unsqueeze(0)
    prefix = prefix.expand(batch, *prefix.shape[1:])
    if prefix.shape[1] > latent_frames or prefix.shape[2:] != latents.shape[2:]:
        raise ValueError(f"prefix_latents {tuple(prefix.shape)} do not fit latents {tuple(latents.shape)}")
    return prefix


def t5_embeddings(
    text_encoder: Any, tokenizer: Any, prompts: list[str], max_sequence_length: int, device: Any = None
) -> torch.Tensor:
    """T5 embeddings (B, L, D) of prompts padded to ``max_sequence_length``; ids go to ``device``
    (default: the encoder's).

    One definition for the pipeline and the training latent cache, so cached embeddings are exactly
    what the pipeline computes at edit time.
    """
    ids = tokenizer(
        prompts,
        padding="max_length",
        max_length=max_sequence_length,
        truncation=True,
        add_special_tokens=True,
        return_tensors="pt",
    ).input_ids
    return text_encoder(ids.to(device or next(text_encoder.parameters()).device))[0]


class InsViEEditPipeline(DiffusionPipeline, CogVideoXLoraLoaderMixin):
    """Edit a video by an instruction with the InsViE editor (see the module docstring)."""

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    _optional_components: list[str] = []  # noqa: RUF012 - diffusers reads this class attribute
    _callback_tensor_inputs = ["latents", "source_latents", "prompt_embeds", "negative_prompt_embeds"]  # noqa: RUF012

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

    # -- construction -----------------------------------------------------------------------------

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
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

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

    # -- encoders ---------------------------------------------------------------------------------

    def _t5_embeds(
        self, prompts: list[str], max_sequence_length: int, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        embeds = t5_embeddings(self.text_encoder, self.tokenizer, prompts, max_sequence_length, device)
        return embeds.to(device=device, dtype=dtype)

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
        device = device or self._execution_device
        dtype = dtype or self.transformer.dtype
        length = max_sequence_length or self.transformer.config.max_text_seq_length
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        embeds = self._t5_embeds(prompts, length, device, dtype)
        if negative_prompt is None:
            negative = torch.zeros_like(embeds)
        else:
            negatives = (
                [negative_prompt] * len(prompts) if isinstance(negative_prompt, str) else negative_prompt
            )
            if len(negatives) != len(prompts):
                raise ValueError(f"{len(negatives)} negative prompts for {len(prompts)} prompts")
            negative = self._t5_embeds(list(negatives), length, device, dtype)
        return (
            embeds.repeat_interleave(num_videos_per_prompt, dim=0),
            negative.repeat_interleave(num_videos_per_prompt, dim=0),
        )

    @torch.no_grad()
    def encode_video(
        self,
        frames: np.ndarray,
        *,
        generator: Generator = None,
        source_latent: SourceLatent = "sample",
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
        config = self.transformer.config
        if not config.use_rotary_positional_embeddings:
            return None
        p, p_t = config.patch_size, config.patch_size_t
        grid_height = height // (self.vae_scale_factor_spatial * p)
        grid_width = width // (self.vae_scale_factor_spatial * p)
        base_width, base_height = config.sample_width // p, config.sample_height // p
        if p_t is None:
            return get_3d_rotary_pos_embed(
                embed_dim=config.attention_head_dim,
                crops_coords=_grid_crop_region((grid_height, grid_width), base_width, base_height),
                grid_size=(grid_height, grid_width),
                temporal_size=latent_frames,
                device=device,
            )
        return get_3d_rotary_pos_embed(
            embed_dim=config.attention_head_dim,
            crops_coords=None,
            grid_size=(grid_height, grid_width),
            temporal_size=(latent_frames + p_t - 1) // p_t,
            grid_type="slice",
            max_size=(base_height, base_width),
            device=device,
        )

    # -- one denoising prediction -----------------------------------------------------------------

    def guided_prediction(
        self,
        latents: torch.Tensor,
        source_latents: torch.Tensor,
        prompt_embeds: torch.Tensor,
        negative_prompt_embeds: torch.Tensor,
        timestep: torch.Tensor,
        text_scale: float,
        video_scale: float,
        *,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        guided: bool = True,
    ) -> torch.Tensor:
        """The guided model output for noisy ``latents`` at ``timestep`` (float32).

        The three branches (no video + no text, video + no text, video + text) go through the
        transformer as one batch of 3B in its dtype; ``guided=False`` runs only the video + text branch.
        The combination is made in float32, as the official guider combines float32 predictions.
        """
        latents = self.scheduler.scale_model_input(latents, timestep).to(self.transformer.dtype)
        source_latents = source_latents.to(self.transformer.dtype)
        with_source = torch.cat([latents, source_latents], dim=2)
        if guided:
            without_source = torch.cat([latents, torch.zeros_like(source_latents)], dim=2)
            model_input = torch.cat([without_source, with_source, with_source])
            text = torch.cat([negative_prompt_embeds, negative_prompt_embeds, prompt_embeds])
        else:
            model_input, text = with_source, prompt_embeds
        output = self.transformer(
            hidden_states=model_input,
            encoder_hidden_states=text,
            timestep=timestep.expand(model_input.shape[0]),
            image_rotary_emb=image_rotary_emb,
            attention_kwargs=attention_kwargs,
            return_dict=False,
        )[0].float()
        if not guided:
            return output
        uu, cu, cc = output.chunk(3)
        return combine_guidance(uu, cu, cc, text_scale, video_scale)

    def _scheduler_step(
        self,
        noise_pred: torch.Tensor,
        timesteps: torch.Tensor,
        i: int,
        latents: torch.Tensor,
        old_pred_original_sample: torch.Tensor | None,
        *,
        eta: float,
        generator: Generator,
        noise: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One sampler step in float32; CogVideoX's DPM sampler also carries its previous x0 prediction
        (2nd order), ours keeps it itself."""
        t = timesteps[i]
        if isinstance(self.scheduler, InsViEDPMScheduler):
            step = self.scheduler.step(
                noise_pred, t, latents, generator=generator, variance_noise=noise, return_dict=False
            )
            return step[0], None
        if isinstance(self.scheduler, CogVideoXDPMScheduler):
            return self.scheduler.step(
                noise_pred,
                old_pred_original_sample,
                t,
                timesteps[i - 1] if i > 0 else None,
                latents.float(),
                eta=eta,
                generator=generator,
                return_dict=False,
            )
        step = self.scheduler.step(
            noise_pred, t, latents.float(), eta=eta, generator=generator, return_dict=False
        )
        return step[0], None

    def _check_call(self, output_type: str, tensor_inputs: list[str] | None) -> list[str]:
        """Refuse a call this pipeline cannot serve; the callback's tensor names."""
        if self.transformer.config.in_channels != EDITOR_IN_CHANNELS:
            raise ValueError(
                f"the transformer takes {self.transformer.config.in_channels} channels, not "
                f"{EDITOR_IN_CHANNELS}: build it with insvie.editor.editor_from_t2v"
            )
        if output_type not in {"np", "pil", "latent"}:
            raise ValueError(f"output_type must be 'np', 'pil' or 'latent', got {output_type!r}")
        names = tensor_inputs or ["latents"]
        unknown = set(names) - set(self._callback_tensor_inputs)
        if unknown:
            raise ValueError(
                f"callback tensors must be among {self._callback_tensor_inputs}, got {sorted(unknown)}"
            )
        return names

    def _working_size(self, height: int | None, width: int | None) -> tuple[int, int]:
        """(height, width) in pixels: the given ones, else the model's; multiples of the patch grid."""
        default_height, default_width = self.default_size
        height, width = height or default_height, width or default_width
        step = self.vae_scale_factor_spatial * self.transformer.config.patch_size
        if height % step or width % step:
            raise ValueError(f"height and width must be multiples of {step}, got {height}x{width}")
        return height, width

    def _encode_source(
        self,
        video: Any,
        num_frames: int | None,
        height: int,
        width: int,
        generator: Generator,
        source_latent: SourceLatent,
    ) -> torch.Tensor:
        """One video or a batch, cut to its 4k+1 frame count and sized, as scaled source latents."""
        videos = as_video_batch(video, limit=num_frames or self.max_num_frames)
        count = choose_num_frames(min(len(v) for v in videos), num_frames, self.max_num_frames)
        if count > self.max_num_frames:
            log.warning("editing %d frames, more than the model's %d", count, self.max_num_frames)
        frames = prepare_videos(videos, count, height, width)
        return self.encode_video(frames, generator=generator, source_latent=source_latent)

    def _schedule(
        self, settings: dict[str, Any], device: torch.device, step_noises: Sequence[torch.Tensor] | None
    ) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """The timesteps to visit and the (text, video) guidance scales at each."""
        self.scheduler.set_timesteps(settings["num_inference_steps"], device=device)
        timesteps = self.scheduler.timesteps
        if step_noises is not None:
            if not isinstance(self.scheduler, InsViEDPMScheduler):
                raise ValueError("step_noises need the official sampler (InsViEDPMScheduler)")
            if len(step_noises) != len(timesteps) - 1:
                raise ValueError(
                    f"{len(timesteps)} steps add {len(timesteps) - 1} noises, got {len(step_noises)}"
                )
        scales = guidance_scales(
            settings["guidance_scale"],
            settings["video_guidance_scale"],
            settings["guidance_schedule"],
            [int(t) for t in timesteps],
        )
        return timesteps, scales

    def _initial_noise(
        self, latents: torch.Tensor | None, shape: torch.Size, generator: Generator, device: torch.device
    ) -> torch.Tensor:
        """The float32 starting point: the given noise (checked) or a draw from ``generator``."""
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        else:
            latents = latents.to(device=device, dtype=torch.float32)
            if latents.shape != shape:
                raise ValueError(f"latents {tuple(latents.shape)} do not match {tuple(shape)}")
        return latents * self.scheduler.init_noise_sigma

    def _noised_prefix(
        self, prefix: torch.Tensor, noise: torch.Tensor, i: int, t: torch.Tensor
    ) -> torch.Tensor:
        """Known latent frames at the noise level step ``i`` starts from."""
        if isinstance(self.scheduler, InsViEDPMScheduler):
            return self.scheduler.add_noise_at_step(prefix, noise, i)
        return self.scheduler.add_noise(prefix, noise, t.reshape(1))

    # -- the edit ---------------------------------------------------------------------------------

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
            video: a path, uint8 frames (T, H, W, 3), a list of PIL images, or a batch of those (a list,
                or a (B, T, H, W, 3) array) with one video per prompt. One video with several prompts is
                edited once per prompt. Frames are resized to cover ``height`` x ``width`` and centre-cropped.
            prompt: the instruction, or a list of them.
            negative_prompt: text for the "no text" branches; default all-zero embeddings (as trained).
            num_frames: frames to edit, 4k+1; default the largest 4k+1 within both the video and the
                model's frame count (49). Frames after them are not edited (see
                :func:`insvie.editor.windows.edit_long_video` for longer videos). An even number of latent
                frames (45 frames: 12) is sampled whole and decoded without its last latent frame, as the
                official code does, so the result is 4 frames shorter.
            height, width: working size; default the model's (480x720), multiples of 16.
            num_inference_steps, guidance_scale (text), video_guidance_scale, guidance_schedule: see
                :mod:`insvie.editor.guidance`; each defaults to the model's recipe (``self.guider``, saved
                in the folder's ``guider/``; the paper's 50 steps, 7.5, 1.2, ``cosine`` without one).
            num_videos_per_prompt: edits per prompt, each with its own noise.
            eta: DDIM's eta (only for a folder whose scheduler is CogVideoX's DDIM).
            generator: a torch generator (or one per output video) for reproducible noise. Draws come in
                the official order: the source posterior, the initial noise, then the steps' noise.
            source_latent: ``"sample"`` (official: a posterior sample of the source) or ``"mode"`` (its
                mean, the same for every seed).
            latents: initial noise (B, F, 16, h, w), instead of drawing it.
            step_noises: the noise each step but the last adds (``num_inference_steps - 1`` tensors shaped
                like ``latents``), instead of drawing it; for the official sampler only.
            source_latents: the source latents as the transformer sees them (B or 1, F, 16, h, w): frames
                first, already multiplied by the VAE scaling factor; instead of encoding ``video``.
            prompt_embeds, negative_prompt_embeds: precomputed T5 embeddings (one row per output video).
            prefix_latents: clean scaled latents (P, 16, h, w) or (B, P, 16, h, w) the first P latent
                frames must keep: at every step they are re-noised to the step's level and written over
                the noisy latents, and written clean after the last step (the original sampler's
                ``fixed_frames`` with ``sdedit``). Used to chain windows of a long video.
            output_type: ``"np"`` (uint8 (B, T, H, W, 3)), ``"pil"`` or ``"latent"`` (float32, frames first,
                scaled, every latent frame).
            callback_on_step_end: ``f(pipe, step, timestep, tensors) -> dict`` after each step; tensors
                named in ``callback_on_step_end_tensor_inputs`` are passed and may be replaced.
            max_sequence_length: T5 tokens; default the transformer's ``max_text_seq_length`` (226).
        """
        device = self._execution_device
        dtype = self.transformer.dtype
        tensor_inputs = self._check_call(output_type, callback_on_step_end_tensor_inputs)
        settings = self.sampling_settings(
            num_inference_steps, guidance_scale, video_guidance_scale, guidance_schedule
        )
        height, width = self._working_size(height, width)

        # 1. Text.
        if prompt_embeds is None:
            if prompt is None:
                raise ValueError("give a prompt or prompt_embeds")
            prompt_embeds, negative_prompt_embeds = self.encode_prompt(
                prompt,
                negative_prompt,
                num_videos_per_prompt=num_videos_per_prompt,
                max_sequence_length=max_sequence_length,
                device=device,
                dtype=dtype,
            )
        else:
            prompt_embeds = prompt_embeds.to(device=device, dtype=dtype)
            if negative_prompt_embeds is None:
                negative_prompt_embeds = torch.zeros_like(prompt_embeds)
            negative_prompt_embeds = negative_prompt_embeds.to(device=device, dtype=dtype)
        num_prompts = prompt_embeds.shape[0] // num_videos_per_prompt

        # 2. Source video -> latents, one row per prompt, then one per output video.
        if source_latents is None:
            if video is None:
                raise ValueError("give a video or source_latents")
            source_latents = self._encode_source(video, num_frames, height, width, generator, source_latent)
        source_latents, prompt_embeds, negative_prompt_embeds = _align_batch(
            source_latents.to(device=device, dtype=dtype),
            prompt_embeds,
            negative_prompt_embeds,
            num_prompts,
            num_videos_per_prompt,
        )
        batch = source_latents.shape[0]

        # CogVideoX 1.5 patches latent frames in pairs: pad at the front with the first frame, drop later.
        latent_frames = source_latents.shape[1]
        p_t = self.transformer.config.patch_size_t
        pad = (-latent_frames) % p_t if p_t else 0
        if pad:
            source_latents = torch.cat([source_latents[:, :1].repeat(1, pad, 1, 1, 1), source_latents], dim=1)

        # 3. Timesteps, guidance scales, noise (the sampler state is float32, as in the official sampler).
        timesteps, scales = self._schedule(settings, device, step_noises)
        guided = any(pair != (1.0, 1.0) for pair in scales)
        latents = self._initial_noise(latents, source_latents.shape, generator, device)
        prefix = prefix_noise = None
        if prefix_latents is not None:
            prefix = _expand_prefix(
                prefix_latents.to(device=device, dtype=torch.float32), batch, latent_frames, latents
            )
            prefix_noise = randn_tensor(prefix.shape, generator=generator, device=device, dtype=torch.float32)
        rotary = self._rotary_embeddings(height, width, latents.shape[1], device)

        # 4. Denoise.
        self._num_timesteps = len(timesteps)
        old_pred_original_sample = None
        with self.progress_bar(total=len(timesteps)) as progress:
            for i, t in enumerate(timesteps):
                if prefix is not None:
                    latents[:, pad : pad + prefix.shape[1]] = self._noised_prefix(prefix, prefix_noise, i, t)
                noise_pred = self.guided_prediction(
                    latents,
                    source_latents,
                    prompt_embeds,
                    negative_prompt_embeds,
                    t,
                    *scales[i],
                    image_rotary_emb=rotary,
                    attention_kwargs=attention_kwargs,
                    guided=guided,
                )
                latents, old_pred_original_sample = self._scheduler_step(
                    noise_pred,
                    timesteps,
                    i,
                    latents,
                    old_pred_original_sample,
                    eta=eta,
                    generator=generator,
                    noise=None if step_noises is None or i >= len(step_noises) else step_noises[i],
                )
                if callback_on_step_end is not None:
                    available = {
                        "latents": latents,
                        "source_latents": source_latents,
                        "prompt_embeds": prompt_embeds,
                        "negative_prompt_embeds": negative_prompt_embeds,
                    }
                    returned = (
                        callback_on_step_end(self, i, t, {k: available[k] for k in tensor_inputs}) or {}
                    )
                    latents = returned.get("latents", latents)
                    source_latents = returned.get("source_latents", source_latents)
                    prompt_embeds = returned.get("prompt_embeds", prompt_embeds)
                    negative_prompt_embeds = returned.get("negative_prompt_embeds", negative_prompt_embeds)
                progress.update()
        if prefix is not None:
            latents[:, pad : pad + prefix.shape[1]] = prefix
        latents = latents[:, pad:]

        # 5. Decode.
        if output_type == "latent":
            frames: Any = latents
        else:
            frames = self.decode_latents(latents)
            if output_type == "pil":
                frames = frames_to_pil(frames)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return InsViEEditOutput(frames=frames)
