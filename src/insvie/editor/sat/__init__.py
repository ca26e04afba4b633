"""Convert the released InsViE checkpoint (CogVideoX "SAT" layout) into our diffusers editor format.

The authors released only ``mp_rank_00_model_states.pt``: a SwissArmyTransformer (SAT) state dict of
the whole diffusion engine, the transformer under ``model.diffusion_model.``. This module turns it
into a ``CogVideoXTransformer3DModel`` with 32 input channels and writes a pipeline folder that
reuses the VAE, text encoder and tokenizer of a diffusers CogVideoX text-to-video folder and carries the
released sampling recipe: the official sampler (:class:`~insvie.editor.scheduler.InsViEDPMScheduler`,
``scheduler/``) and guidance (:class:`~insvie.editor.guider.InsViEGuider`, ``guider/``), as
``configs/inference_2b_edit.yaml`` sets them. The weights keep the checkpoint's dtype (float16 for the
released file) unless another is asked for.

    convert_sat_checkpoint(ckpt, *, base, out, dtype="checkpoint", lora_alpha=1.0, ...) -> Path
    convert_sat_state_dict(sat, *, config, lora_alpha=1.0, lora_rank=None) -> dict[str, Tensor]
    convert_sat(sat, *, config, ...) -> SatConversion   # the same, with what was merged/ignored
    load_sat_checkpoint(path) -> dict[str, Tensor]       # weights_only, mmap; clear errors
    editor_transformer_config(base_config) -> dict       # in_channels = 2 x out_channels

Modules: ``load`` (reading the file safely), ``layout`` (which SAT key goes where), ``lora`` (merging
LoRA layers), ``convert`` (the state dict), ``folder`` (the pipeline folder); the names below are the
public API.
"""

from insvie.editor.sat.convert import SatConversion, convert_sat, convert_sat_state_dict
from insvie.editor.sat.errors import CheckpointError
from insvie.editor.sat.folder import (
    CHECKPOINT_DTYPE,
    DTYPES,
    PIPELINE_CLASS,
    convert_sat_checkpoint,
    editor_transformer_config,
)
from insvie.editor.sat.load import extract_state_dict, load_sat_checkpoint, stored_dtype
from insvie.editor.sat.lora import LoraMerge

__all__ = [
    "CHECKPOINT_DTYPE",
    "DTYPES",
    "PIPELINE_CLASS",
    "CheckpointError",
    "LoraMerge",
    "SatConversion",
    "convert_sat",
    "convert_sat_checkpoint",
    "convert_sat_state_dict",
    "editor_transformer_config",
    "extract_state_dict",
    "load_sat_checkpoint",
    "stored_dtype",
]
