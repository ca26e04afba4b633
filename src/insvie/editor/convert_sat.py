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

Key layout (SAT, relative to the transformer prefix -> diffusers):

    time_embed.{0,2}                               -> time_embedding.linear_{1,2}
    mixins.patch_embed.text_proj                   -> patch_embed.text_proj
    mixins.patch_embed.proj_edit (32 in)           -> patch_embed.proj   (``double_ch``; proj ignored)
    mixins.patch_embed.proj + proj_edit + merge    -> patch_embed.proj   (``fix_proj``, folded)
    transformer.layers.i.input_layernorm           -> transformer_blocks.i.norm1.norm
    transformer.layers.i.attention.query_key_value -> transformer_blocks.i.attn1.to_{q,k,v} (rows /3)
    transformer.layers.i.attention.dense           -> transformer_blocks.i.attn1.to_out.0
    transformer.layers.i.post_attention_layernorm  -> transformer_blocks.i.norm2.norm
    transformer.layers.i.mlp.dense_h_to_4h         -> transformer_blocks.i.ff.net.0.proj
    transformer.layers.i.mlp.dense_4h_to_h         -> transformer_blocks.i.ff.net.2
    mixins.adaln_layer.adaLN_modulations.i.1       -> transformer_blocks.i.norm{1,2}.linear (12 chunks)
    mixins.adaln_layer.{query,key}_layernorm_list.i -> transformer_blocks.i.attn1.norm_{q,k}
    transformer.final_layernorm                    -> norm_final
    mixins.final_layer.norm_final                  -> norm_out.norm
    mixins.final_layer.adaLN_modulation.1          -> norm_out.linear
    mixins.final_layer.linear                      -> proj_out

SAT LoRA layers (``sat.model.finetune.lora2``) store ``X.original.{weight,bias}``, ``X.matrix_A.i``
(r x in) and ``X.matrix_B.i`` (out/n x r) per output partition i (n = 3 for the fused QKV). They are
merged exactly as SAT's ``merge_linear_lora`` does: ``W + concat_i(B_i @ A_i) * alpha / r`` along the
output rows, r read from A. Checkpoints saved after merging (plain ``X.weight``) convert as they are.

Every SAT key is either converted or ignored for a stated reason, and every diffusers key must be
produced: anything else is refused with the keys named, because a silently half-loaded editor would
produce plausible-looking but wrong videos.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from insvie.errors import ConfigError, InsvieError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

# The pipeline class the converted folder names in model_index.json (insvie.editor.pipeline).
PIPELINE_CLASS = "InsViEEditPipeline"
TRANSFORMER_CLASS = "CogVideoXTransformer3DModel"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
CHECKPOINT_DTYPE = "checkpoint"  # keep the dtype the checkpoint's transformer weights are stored in
DTYPES = (CHECKPOINT_DTYPE, "bfloat16", "float16", "float32")
COMPONENT_MODES = ("hardlink", "copy", "symlink")
# How many key names an error lists before it only counts.
LIST_LIMIT = 8

# Keys that end the transformer part of a SAT key; whatever precedes them is the transformer prefix
# (``model.diffusion_model.`` in released files, ``""`` in stripped ones).
_ANCHORS = (
    "time_embed.0.weight",
    "transformer.final_layernorm.weight",
    "mixins.patch_embed.text_proj.weight",
    "mixins.final_layer.linear.weight",
    "transformer.layers.0.input_layernorm.weight",
)
_ENGINE_SUFFIX = "model.diffusion_model."
# Siblings of the transformer in a saved SAT diffusion engine, reused from the base folder or only
# needed for training.
_IGNORED_ROOTS = {
    "conditioner.": "text encoder (the base folder's T5 is used)",
    "first_stage_model.": "VAE (the base folder's VAE is used)",
    "lpips.": "LPIPS network of the training loss",
    "loss_fn.": "training loss modules",
    "denoiser.": "noise schedule buffers (recomputed by InsViEDPMScheduler)",
    "sampler.": "sampler buffers (recomputed by InsViEDPMScheduler)",
}
# Keys inside the transformer that carry nothing diffusers needs.
_IGNORED_LOCAL = {
    "transformer.word_embeddings.weight": "SAT's token embedding placeholder (vocab 1), unused by the DiT",
    "transformer.position_embeddings.weight": "SAT's default position table, replaced by the pos_embed mixin",
    "mixins.pos_embed.freqs_sin": "rotary table, recomputed by diffusers",
    "mixins.pos_embed.freqs_cos": "rotary table, recomputed by diffusers",
}
_POS_EMBEDDING = "mixins.pos_embed.pos_embedding"
_PATCH = "mixins.patch_embed."
_PATCH_PARTS = {
    f"{_PATCH}{module}.{param}"
    for module in ("proj", "proj_edit", "proj_edit_merge")
    for param in ("weight", "bias")
}

_GLOBAL_MODULES = {
    "time_embed.0": "time_embedding.linear_1",
    "time_embed.2": "time_embedding.linear_2",
    "mixins.patch_embed.text_proj": "patch_embed.text_proj",
    "transformer.final_layernorm": "norm_final",
    "mixins.final_layer.norm_final": "norm_out.norm",
    "mixins.final_layer.adaLN_modulation.1": "norm_out.linear",
    "mixins.final_layer.linear": "proj_out",
}
_LAYER_MODULES = {
    "input_layernorm": "norm1.norm",
    "post_attention_layernorm": "norm2.norm",
    "attention.dense": "attn1.to_out.0",
    "mlp.dense_h_to_4h": "ff.net.0.proj",
    "mlp.dense_4h_to_h": "ff.net.2",
}
_LAYER = re.compile(r"^transformer\.layers\.(?P<i>\d+)\.(?P<module>.+)\.(?P<param>weight|bias)$")
_ADALN = re.compile(
    r"^mixins\.adaln_layer\.(?P<kind>adaLN_modulations|query_layernorm_list|key_layernorm_list)"
    r"\.(?P<i>\d+)\.(?P<rest>.+)$"
)
_LORA = re.compile(
    r"^(?P<base>.+)\.(?:original\.(?P<param>weight|bias)|matrix_(?P<ab>[AB])\.(?P<index>\d+))$"
)

ProgressFn = Callable[[str, "int | None", "int | None"], None]


class CheckpointError(InsvieError):
    """A checkpoint cannot be converted; ``reason`` says why and the key lists name what is at fault."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        unknown_keys: Iterable[str] = (),
        missing_keys: Iterable[str] = (),
        shape_mismatches: Iterable[str] = (),
    ):
        self.reason = reason
        self.path = None if path is None else str(path)
        self.unknown_keys = list(unknown_keys)
        self.missing_keys = list(missing_keys)
        self.shape_mismatches = list(shape_mismatches)
        super().__init__(reason if self.path is None else f"{self.path}: {reason}")

    def at(self, path: str | Path) -> CheckpointError:
        """The same error, naming the file it came from."""
        return CheckpointError(
            self.reason,
            path=path,
            unknown_keys=self.unknown_keys,
            missing_keys=self.missing_keys,
            shape_mismatches=self.shape_mismatches,
        )


@dataclass
class LoraMerge:
    """The LoRA layers found and merged; ``scale`` is alpha / r as SAT's LoraLinear applies it."""

    layers: list[str]
    rank: int
    alpha: float

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


@dataclass
class SatConversion:
    """A converted state dict plus what was done to get it (written to conversion.json)."""

    state_dict: dict[str, Tensor]
    patch_embedding: str
    lora: LoraMerge | None
    converted_keys: int
    ignored: dict[str, list[str]] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description, without the tensors."""
        lora = None
        if self.lora is not None:
            lora = {
                "layers": len(self.lora.layers),
                "rank": self.lora.rank,
                "alpha": self.lora.alpha,
                "scale": self.lora.scale,
            }
        return {
            "lora_merged": self.lora is not None,
            "lora": lora,
            "patch_embedding": self.patch_embedding,
            "keys": {
                "converted_sat_keys": self.converted_keys,
                "ignored_sat_keys": sum(len(keys) for keys in self.ignored.values()),
                "ignored_by_reason": {reason: len(keys) for reason, keys in sorted(self.ignored.items())},
                "diffusers_keys": len(self.state_dict),
            },
            "checks": self.checks,
            "warnings": self.warnings,
        }


def _listing(keys: list[str], noun: str) -> str:
    shown = ", ".join(keys[:LIST_LIMIT])
    more = f", ... and {len(keys) - LIST_LIMIT} more" if len(keys) > LIST_LIMIT else ""
    return f"{len(keys)} {noun}{'' if len(keys) == 1 else 's'} ({shown}{more})"


# --------------------------------------------------------------------------------------------------
# Loading


def _numpy_safe_globals() -> list[Any]:
    """numpy array/dtype reconstructors, which DeepSpeed checkpoints hold in their saved RNG state.

    They rebuild plain arrays and run no other code, so allowing them keeps ``weights_only`` safe while
    accepting the ``np_rng_state`` that SAT's DeepSpeed saver writes beside the weights. numpy 1.x files
    name the ``numpy.core`` path, numpy 2 the ``numpy._core`` one; both map to the installed function.
    """
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    dtype_classes = {type(np.dtype(name)) for name in ("uint32", "float64", "int64", "float32")}
    return [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        (_reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def _torch_load(path: Path) -> Any:
    import pickle

    import torch

    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint: {exc.strerror or exc}", path=path) from exc
    if not head:
        raise CheckpointError("empty file, not a PyTorch checkpoint", path=path)
    is_zip = zipfile.is_zipfile(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            # torch warns about pickle protocols of files it then refuses anyway; the error says it all.
            warnings.simplefilter("ignore", UserWarning)
            # mmap keeps multi-GB engines (T5 + VAE beside the transformer) out of memory until read.
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if refused:
            raise CheckpointError(
                f"refused to load: the pickle holds a Python object ({refused.group(1)}), and only tensors "
                "and plain containers are loaded (torch.load weights_only=True); code in a checkpoint "
                "is never run",
                path=path,
            ) from exc
        if is_zip:
            reason = text.splitlines()[-1].strip() if text.strip() else type(exc).__name__
            raise CheckpointError(f"unreadable PyTorch checkpoint ({reason[:200]})", path=path) from exc
        raise CheckpointError(
            "not a PyTorch checkpoint (neither a torch.save archive nor a legacy pickle of tensors)",
            path=path,
        ) from exc
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if is_zip:
            raise CheckpointError(f"damaged or truncated PyTorch checkpoint ({reason})", path=path) from exc
        raise CheckpointError(f"not a PyTorch checkpoint ({reason})", path=path) from exc


def extract_state_dict(saved: Any) -> dict[str, Tensor]:
    """The state dict inside a loaded file: SAT/DeepSpeed keep it under ``module``; others vary."""
    import torch

    state = saved
    for _ in range(3):
        if not isinstance(state, Mapping):
            break
        for container in ("module", "state_dict", "model"):
            inner = state.get(container)
            if isinstance(inner, Mapping) and inner:
                state = inner
                break
        else:
            break
    if not isinstance(state, Mapping) or not state:
        kind = type(saved).__name__
        raise CheckpointError(f"the file holds a {kind}, not a state dict (expected {{'module': {{...}}}})")
    not_tensors = sorted(str(key) for key, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise CheckpointError(
            "the state dict holds values that are not tensors: " + _listing(not_tensors, "key")
        )
    return {str(key): value for key, value in state.items()}


def load_sat_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """Load a SAT checkpoint's state dict safely (``weights_only``, memory-mapped when possible)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such file", path=path)
    try:
        return extract_state_dict(_torch_load(path))
    except CheckpointError as exc:
        raise exc.at(path) if exc.path is None else exc from None


# --------------------------------------------------------------------------------------------------
# Conversion


def _target_model(config: Mapping[str, Any]) -> Any:
    """The diffusers transformer for ``config`` on the meta device: its keys and shapes, no memory."""
    import torch
    from diffusers import CogVideoXTransformer3DModel

    name = config.get("_class_name", TRANSFORMER_CLASS)
    if name != TRANSFORMER_CLASS:
        raise ConfigError(f"the target transformer must be a {TRANSFORMER_CLASS}, the config names {name}")
    if config.get("patch_size_t") is not None:
        raise ConfigError(
            "CogVideoX 1.5 configs (patch_size_t set) are not supported: InsViE is built on CogVideoX 1.0"
        )
    if config.get("ofs_embed_dim") is not None:
        raise ConfigError("configs with an ofs embedding (CogVideoX 1.5 image-to-video) are not supported")
    with torch.device("meta"):
        return CogVideoXTransformer3DModel.from_config(dict(config))


def _find_prefix(keys: Iterable[str]) -> str:
    """The prefix in front of the transformer keys, found from keys only the CogVideoX DiT has."""
    keys = set(keys)
    prefixes = {key[: -len(anchor)] for key in keys for anchor in _ANCHORS if key.endswith(anchor)}
    # An anchor may also match a longer key with a deeper prefix ("x.time_embed.0.weight"): keep
    # the prefixes under which the most anchors exist.
    if not prefixes:
        sample = sorted(keys)[:5]
        raise CheckpointError(
            "not a CogVideoX SAT checkpoint: none of its keys belongs to a CogVideoX transformer "
            f"({len(keys)} keys, e.g. {', '.join(sample)})"
        )
    score = {prefix: sum(1 for anchor in _ANCHORS if prefix + anchor in keys) for prefix in prefixes}
    best = max(score.values())
    winners = sorted(prefix for prefix, count in score.items() if count == best)
    if len(winners) > 1:
        shown = ", ".join(repr(prefix) for prefix in winners)
        raise CheckpointError(f"the checkpoint holds several transformers (prefixes {shown})")
    return winners[0]


def _merge_lora(
    local: dict[str, Tensor],
    sources: dict[str, list[str]],
    *,
    lora_alpha: float,
    lora_rank: int | None,
) -> LoraMerge | None:
    """Replace every SAT LoRA linear in ``local`` by its merged ``weight``/``bias`` (in place)."""
    import torch

    groups: dict[str, dict[str, Any]] = {}
    for key in list(local):
        match = _LORA.match(key)
        if not match:
            continue
        group = groups.setdefault(match["base"], {"A": {}, "B": {}, "params": {}, "keys": []})
        group["keys"].append(key)
        if match["param"]:
            group["params"][match["param"]] = local[key]
        else:
            group[match["ab"]][int(match["index"])] = local[key]
    if not groups:
        return None

    ranks: set[int] = set()
    for base, group in sorted(groups.items()):
        prefix = f"LoRA layer {base}"
        weight = group["params"].get("weight")
        if weight is None:
            raise CheckpointError(
                f"{prefix} has no original.weight (found {', '.join(sorted(group['keys']))})"
            )
        if f"{base}.weight" in local or f"{base}.bias" in local:
            raise CheckpointError(f"{base} is stored both merged ({base}.weight) and as a LoRA layer")
        parts = sorted(group["A"])
        if not parts or parts != list(range(len(parts))) or sorted(group["B"]) != parts:
            raise CheckpointError(
                f"{prefix} has unmatched LoRA parts: "
                f"matrix_A {sorted(group['A'])}, matrix_B {sorted(group['B'])}"
            )
        a_parts = [group["A"][i] for i in parts]
        b_parts = [group["B"][i] for i in parts]
        rank = a_parts[0].shape[0]
        out_dim, in_dim = weight.shape
        for i, (a, b) in enumerate(zip(a_parts, b_parts, strict=True)):
            if a.ndim != 2 or a.shape != (rank, in_dim):
                raise CheckpointError(
                    f"{base}.matrix_A.{i} has shape {tuple(a.shape)}, expected ({rank}, {in_dim})"
                )
            if b.ndim != 2 or b.shape[1] != rank:
                raise CheckpointError(f"{base}.matrix_B.{i} has shape {tuple(b.shape)}, expected (*, {rank})")
        if sum(b.shape[0] for b in b_parts) != out_dim:
            raise CheckpointError(
                f"{prefix}: its matrix_B parts have {sum(b.shape[0] for b in b_parts)} rows in all, "
                f"original.weight has {out_dim}"
            )
        if lora_rank is not None and rank != lora_rank:
            raise CheckpointError(f"{prefix} has rank {rank} (rows of matrix_A), not the given {lora_rank}")
        ranks.add(rank)
        # As SAT's merge_linear_lora: float32 products, partitions stacked along the output rows.
        delta = torch.cat([b.float() @ a.float() for a, b in zip(a_parts, b_parts, strict=True)], dim=0)
        for key in group["keys"]:
            del local[key]
        local[f"{base}.weight"] = weight.float() + delta * (lora_alpha / rank)
        sources[f"{base}.weight"] = sorted(key for key in group["keys"] if not key.endswith(".bias"))
        if "bias" in group["params"]:
            local[f"{base}.bias"] = group["params"]["bias"]
            sources[f"{base}.bias"] = [f"{base}.original.bias"]
    if len(ranks) > 1:
        raise CheckpointError(f"the LoRA layers have different ranks {sorted(ranks)}; one rank r is expected")
    return LoraMerge(layers=sorted(groups), rank=ranks.pop(), alpha=float(lora_alpha))


def _patch_embedding(
    parts: dict[str, Tensor], target_channels: int | None
) -> tuple[Tensor | None, Tensor | None, str, list[str]]:
    """The diffusers patch-embedding conv from SAT's one, two or three layers (weight, bias, how, unused).

    InsViE's ``ImagePatchEmbeddingMixin`` has two edit layouts. ``double_ch`` (the released config):
    ``proj_edit`` is one conv over all 32 channels [noisy, source], and the 16-channel ``proj`` is kept
    but unused. ``fix_proj``: ``proj`` embeds the first 16 channels, ``proj_edit`` the last 16, and a
    linear ``proj_edit_merge`` mixes the two embeddings; all three are linear, so they fold exactly
    into one 32-channel conv. Two 16-channel convs without a merge layer are read as summed.
    """
    import torch

    names = {key.removeprefix(_PATCH): value for key, value in parts.items()}
    proj, proj_bias = names.get("proj.weight"), names.get("proj.bias")
    edit, edit_bias = names.get("proj_edit.weight"), names.get("proj_edit.bias")
    merge, merge_bias = names.get("proj_edit_merge.weight"), names.get("proj_edit_merge.bias")
    described = ", ".join(f"{_PATCH}{name} {tuple(value.shape)}" for name, value in sorted(names.items()))

    def channels(weight: Tensor | None) -> int | None:
        return None if weight is None or weight.ndim != 4 else weight.shape[1]

    if target_channels is None:  # nothing to aim at; let the key check report what is missing
        return None, None, "none", []
    if merge is not None:
        if proj is None or edit is None:
            raise CheckpointError(f"proj_edit_merge without both 16-channel convs: {described}")
        hidden = proj.shape[0]
        if (
            merge.shape != (hidden, 2 * hidden)
            or edit.shape != proj.shape
            or channels(proj) is None
            or 2 * channels(proj) != target_channels
        ):
            raise CheckpointError(f"patch embedding shapes do not fit the fix_proj layout: {described}")
        first, second = merge.float()[:, :hidden], merge.float()[:, hidden:]
        spatial = proj.shape[1:]
        weight = (first @ proj.float().reshape(hidden, -1)).reshape(hidden, *spatial)
        weight_edit = (second @ edit.float().reshape(hidden, -1)).reshape(hidden, *spatial)
        bias = merge_bias.float() if merge_bias is not None else torch.zeros(hidden)
        if proj_bias is not None:
            bias = bias + first @ proj_bias.float()
        if edit_bias is not None:
            bias = bias + second @ edit_bias.float()
        return (
            torch.cat([weight, weight_edit], dim=1),
            bias,
            "fix_proj (proj, proj_edit, proj_edit_merge folded)",
            [],
        )
    if edit is not None and channels(edit) == target_channels:
        unused = [f"{_PATCH}{name}" for name in ("proj.weight", "proj.bias") if name in names]
        return edit, edit_bias, f"double_ch (proj_edit, {target_channels} channels)", unused
    if edit is not None and proj is not None and channels(edit) is not None:
        if channels(proj) + channels(edit) != target_channels or proj.shape[0] != edit.shape[0]:
            raise CheckpointError(
                f"patch embedding shapes do not add up to {target_channels} channels: {described}"
            )
        bias = proj_bias
        if edit_bias is not None:
            bias = edit_bias if bias is None else bias.float() + edit_bias.float()
        weight = torch.cat([proj.float(), edit.float()], dim=1)
        return weight, bias, "summed (proj on the first channels + proj_edit on the rest)", []
    if edit is None and proj is not None and channels(proj) == target_channels:
        return proj, proj_bias, f"proj ({target_channels} channels)", []
    if edit is None and proj is not None and channels(proj) is not None and channels(proj) < target_channels:
        raise CheckpointError(
            f"the patch embedding has {channels(proj)} input channels and no proj_edit: this is a "
            f"text-to-video checkpoint, not the {target_channels}-channel editor ({described})"
        )
    if not names:
        return None, None, "none", []
    raise CheckpointError(f"unrecognised patch embedding layout for {target_channels} channels: {described}")


def _map_key(key: str, tensor: Tensor) -> list[tuple[str, Tensor]] | None:
    """The diffusers keys and tensors one plain SAT key becomes, or None if it is not a known key."""
    import torch

    module, _, param = key.rpartition(".")
    if module in _GLOBAL_MODULES and param in ("weight", "bias"):
        return [(f"{_GLOBAL_MODULES[module]}.{param}", tensor)]
    layer = _LAYER.match(key)
    if layer:
        block = f"transformer_blocks.{layer['i']}"
        name, param = layer["module"], layer["param"]
        if name == "attention.query_key_value":
            if tensor.shape[0] % 3:
                raise CheckpointError(f"{key} has {tensor.shape[0]} rows, not a multiple of 3 (q, k, v)")
            q, k, v = tensor.chunk(3, dim=0)
            return [(f"{block}.attn1.to_{n}.{param}", t) for n, t in zip("qkv", (q, k, v), strict=True)]
        if name in _LAYER_MODULES:
            return [(f"{block}.{_LAYER_MODULES[name]}.{param}", tensor)]
        return None
    adaln = _ADALN.match(key)
    if adaln:
        block = f"transformer_blocks.{adaln['i']}"
        rest = adaln["rest"]
        if adaln["kind"] == "adaLN_modulations":
            if rest not in ("1.weight", "1.bias"):
                return None
            if tensor.shape[0] % 12:
                raise CheckpointError(f"{key} has {tensor.shape[0]} rows, not a multiple of 12")
            # SAT's 12 chunks: image (shift, scale, gate) x (attention, mlp), then the same for text.
            # diffusers' LayerNormZero per sublayer wants (shift, scale, gate, text shift, scale, gate).
            chunks = tensor.chunk(12, dim=0)
            param = rest.split(".")[1]
            norm1 = torch.cat([*chunks[0:3], *chunks[6:9]], dim=0)
            norm2 = torch.cat([*chunks[3:6], *chunks[9:12]], dim=0)
            return [(f"{block}.norm1.linear.{param}", norm1), (f"{block}.norm2.linear.{param}", norm2)]
        if rest not in ("weight", "bias"):
            return None
        which = "norm_q" if adaln["kind"] == "query_layernorm_list" else "norm_k"
        return [(f"{block}.attn1.{which}.{rest}", tensor)]
    return None


def _layer_count(keys: Iterable[str], pattern: str) -> int:
    found = {int(m.group(1)) for key in keys if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def convert_sat(
    sat: Mapping[str, Tensor],
    *,
    config: Mapping[str, Any],
    lora_alpha: float = 1.0,
    lora_rank: int | None = None,
) -> SatConversion:
    """Convert a SAT state dict for ``CogVideoXTransformer3DModel(**config)``, saying what was done.

    Raises :class:`CheckpointError` naming unknown SAT keys, missing diffusers keys and shape
    mismatches (all at once, so one run shows everything that is wrong).
    """
    if not math.isfinite(lora_alpha):
        raise ConfigError(f"lora_alpha must be a finite number, got {lora_alpha}")
    if lora_rank is not None and lora_rank <= 0:
        raise ConfigError(f"lora_rank must be positive, got {lora_rank}")
    target = _target_model(config)
    expected = {key: tuple(value.shape) for key, value in target.state_dict().items()}

    keys = list(sat)
    prefix = _find_prefix(keys)
    engine_root = prefix[: -len(_ENGINE_SUFFIX)] if prefix.endswith(_ENGINE_SUFFIX) else ""
    ignored: dict[str, list[str]] = {}
    unknown: list[str] = []
    local: dict[str, Tensor] = {}
    sources: dict[str, list[str]] = {}
    for key in keys:
        if key.startswith(prefix):
            local[key[len(prefix) :]] = sat[key]
            sources[key[len(prefix) :]] = [key[len(prefix) :]]
            continue
        sibling = key[len(engine_root) :] if key.startswith(engine_root) else None
        reason = next(
            (why for root, why in _IGNORED_ROOTS.items() if sibling and sibling.startswith(root)), None
        )
        if reason is None:
            unknown.append(key)
        else:
            ignored.setdefault(reason, []).append(key)

    lora = _merge_lora(local, sources, lora_alpha=lora_alpha, lora_rank=lora_rank)

    out: dict[str, Tensor] = {}
    origin: dict[str, list[str]] = {}
    converted = 0

    def emit(target_key: str, tensor: Tensor, from_keys: list[str]) -> None:
        out[target_key] = tensor
        origin[target_key] = [prefix + key for key in from_keys]

    patch_parts = {key: local.pop(key) for key in list(local) if key in _PATCH_PARTS}
    weight_shape = expected.get("patch_embed.proj.weight")
    weight, bias, patch_layout, patch_unused = _patch_embedding(
        patch_parts, weight_shape[1] if weight_shape and len(weight_shape) == 4 else None
    )
    used_patch = [key for key in patch_parts if key not in patch_unused]
    if weight is not None:
        emit("patch_embed.proj.weight", weight, used_patch)
        converted += len(used_patch)
    if bias is not None:
        emit("patch_embed.proj.bias", bias, used_patch)
    if patch_unused:
        ignored["16-channel patch embedding, unused by the double_ch editor"] = [
            prefix + k for k in patch_unused
        ]
    if weight is None:
        unknown.extend(prefix + key for key in patch_parts)

    checks: dict[str, Any] = {}
    notes: list[str] = []
    if _POS_EMBEDDING in local:
        table = local.pop(_POS_EMBEDDING)
        if "patch_embed.pos_embedding" in expected:  # learned positional embeddings (5B image-to-video)
            emit("patch_embed.pos_embedding", table, [_POS_EMBEDDING])
            converted += 1
        else:
            ignored.setdefault("fixed sin-cos position table, recomputed by diffusers", []).append(
                prefix + _POS_EMBEDDING
            )
            checks.update(_check_position_table(table, target, notes))

    for key, tensor in local.items():
        if key in _IGNORED_LOCAL:
            ignored.setdefault(_IGNORED_LOCAL[key], []).append(prefix + key)
            continue
        mapped = _map_key(key, tensor)
        if mapped is None:
            unknown.extend(prefix + source for source in sources.get(key, [key]))
            continue
        converted += len(sources.get(key, [key]))
        for target_key, value in mapped:
            emit(target_key, value, sources.get(key, [key]))

    extra = sorted(key for key in out if key not in expected)
    for key in extra:
        unknown.extend(origin[key])
        del out[key]
    unknown = sorted(set(unknown))
    missing = sorted(key for key in expected if key not in out)
    mismatched = [
        f"{key} {tuple(out[key].shape)} from {', '.join(origin[key])}, expected {expected[key]}"
        for key in sorted(out)
        if tuple(out[key].shape) != expected[key]
    ]
    if unknown or missing or mismatched:
        problems = []
        if unknown:
            problems.append(_listing(unknown, "unknown SAT key"))
        if missing:
            problems.append(_listing(missing, "missing diffusers key"))
        if mismatched:
            problems.append(_listing(mismatched, "shape mismatch"))
        sat_layers = _layer_count(local, r"^transformer\.layers\.(\d+)\.")
        if sat_layers and sat_layers != target.config.num_layers:
            problems.append(f"the checkpoint has {sat_layers} layers, the config {target.config.num_layers}")
        raise CheckpointError(
            "the checkpoint does not match the CogVideoX transformer config: " + "; ".join(problems),
            unknown_keys=unknown,
            missing_keys=missing,
            shape_mismatches=mismatched,
        )
    return SatConversion(
        state_dict=out,
        patch_embedding=patch_layout,
        lora=lora,
        converted_keys=converted,
        ignored=ignored,
        checks=checks,
        warnings=notes,
    )


def _check_position_table(table: Tensor, target: Any, notes: list[str]) -> dict[str, Any]:
    """Compare SAT's stored sin-cos table with the one diffusers computes from the config.

    diffusers never loads this table, so a different one (other interpolation scales or sizes) would
    go unnoticed and shift every position; a mismatch is reported, not fatal, because diffusers
    recomputes the table for other sizes anyway.
    """
    config = target.config
    try:
        ours = target.patch_embed._get_positional_embeddings(
            config.sample_height, config.sample_width, config.sample_frames, device="cpu"
        )
    except (AttributeError, TypeError) as exc:  # a diffusers without the helper: skip the check
        return {"pos_embedding": f"not checked ({type(exc).__name__})"}
    if tuple(table.shape) != tuple(ours.shape):
        notes.append(
            f"SAT position table {tuple(table.shape)} differs in size from the config's {tuple(ours.shape)} "
            "(sample size or text length); diffusers recomputes it, check the config's sizes"
        )
        return {"pos_embedding": "size differs", "pos_embedding_shape": list(table.shape)}
    diff = float((table.float() - ours.float()).abs().max())
    if diff > 1e-3:
        notes.append(
            f"SAT position table differs from the config's by up to {diff:.3g}; check the config's "
            "spatial/temporal interpolation scales"
        )
    return {"pos_embedding_max_abs_diff": diff}


def convert_sat_state_dict(
    sat: Mapping[str, Tensor],
    *,
    config: Mapping[str, Any],
    lora_alpha: float = 1.0,
    lora_rank: int | None = None,
) -> dict[str, Tensor]:
    """A state dict for ``CogVideoXTransformer3DModel(**config)`` from a SAT one (see :func:`convert_sat`)."""
    return convert_sat(sat, config=config, lora_alpha=lora_alpha, lora_rank=lora_rank).state_dict


# --------------------------------------------------------------------------------------------------
# The pipeline folder


def editor_transformer_config(base_config: Mapping[str, Any]) -> dict[str, Any]:
    """The editor's transformer config: the base's, reading [noisy, source] latents (2 x out channels)."""
    config = {key: value for key, value in base_config.items() if not key.startswith("_")}
    config["_class_name"] = base_config.get("_class_name", TRANSFORMER_CLASS)
    out_channels = config.get("out_channels") or config.get("in_channels") or 16
    config["in_channels"] = 2 * int(out_channels)
    return config


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: missing; {what}") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _components(base: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The base folder's model_index.json and transformer config, checked to be CogVideoX."""
    hint = "--base must be a diffusers CogVideoX text-to-video folder (e.g. a local THUDM/CogVideoX-2b)"
    if not base.is_dir():
        raise ConfigError(f"{base}: not a folder; {hint}")
    index = _read_json(base / "model_index.json", hint)
    transformer = _read_json(base / "transformer" / "config.json", hint)
    if transformer.get("_class_name") != TRANSFORMER_CLASS:
        raise ConfigError(
            f"{base}/transformer is a {transformer.get('_class_name')}, not a {TRANSFORMER_CLASS}; {hint}"
        )
    for name, spec in index.items():
        if name.startswith("_") or name == "transformer" or not isinstance(spec, list):
            continue
        if spec[0] is not None and not (base / name).is_dir():
            raise ConfigError(f"{base}: model_index.json names {name}, but there is no {name}/ folder")
    return index, transformer


def _files(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder, followlinks=True):
        for name in sorted(names):
            yield Path(root) / name


def _place_component(source: Path, dest: Path, mode: str) -> int:
    """Reuse one component folder of the base: hard links (copy across filesystems), copy or symlink."""
    if mode == "symlink":
        dest.symlink_to(source.resolve(), target_is_directory=True)
        return 1
    count = 0
    for path in _files(source):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "hardlink":
            try:
                # follow_symlinks: hub snapshots are symlinks into blobs/, link the blob itself.
                os.link(path, target, follow_symlinks=True)
                count += 1
                continue
            except OSError:
                pass
        shutil.copyfile(path, target)
        count += 1
    return count


def _sha256(path: Path, progress: ProgressFn) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            done += len(chunk)
            progress("hash", done, total)
    return digest.hexdigest()


def _no_progress(stage: str, done: int | None, total: int | None) -> None:
    return None


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def _check_dtype(name: str) -> None:
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")


def stored_dtype(sat: Mapping[str, Tensor]) -> torch.dtype:
    """The floating dtype most of the checkpoint's transformer weights are stored in."""
    from collections import Counter

    counts = Counter(
        tensor.dtype for key, tensor in sat.items() if tensor.is_floating_point() and "diffusion_model" in key
    )
    if not counts:  # stripped keys: every floating tensor is the transformer's
        counts = Counter(tensor.dtype for tensor in sat.values() if tensor.is_floating_point())
    if not counts:
        raise CheckpointError("the checkpoint holds no floating-point weights")
    return counts.most_common(1)[0][0]


def _recipe() -> tuple[Any, Any]:
    """The released sampling recipe: the official sampler and guidance of inference_2b_edit.yaml."""
    from insvie.editor.guider import InsViEGuider
    from insvie.editor.scheduler import InsViEDPMScheduler

    return InsViEDPMScheduler(), InsViEGuider()


@contextlib.contextmanager
def _staging(out: Path, overwrite: bool) -> Iterator[Path]:
    """A fresh folder beside ``out`` that replaces it only once everything was written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out}: folder exists and is not empty (--overwrite / overwrite=True replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def convert_sat_checkpoint(
    ckpt: str | Path,
    *,
    base: str | Path,
    out: str | Path,
    dtype: str = CHECKPOINT_DTYPE,
    lora_alpha: float = 1.0,
    lora_rank: int | None = None,
    components: str = "hardlink",
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """Convert the released InsViE checkpoint into a diffusers editor pipeline folder at ``out``.

    ``base`` is a diffusers CogVideoX text-to-video folder: its transformer config (grown to 32 input
    channels) describes the editor, and its vae, text_encoder and tokenizer are reused (hard-linked by
    default, falling back to copies across filesystems; or ``copy``/``symlink``). ``out`` gets the
    converted transformer (safetensors, in the checkpoint's own dtype or ``dtype``), the reused
    components, the official sampler (``scheduler/``) and the paper's guidance recipe (``guider/``), a
    model_index.json naming :data:`PIPELINE_CLASS`, and conversion.json recording the source file's
    sha256, the LoRA merge, the key counts and the recipe. The folder appears only when complete.
    """
    import diffusers
    import safetensors.torch
    import torch

    import insvie

    report = progress or _no_progress
    ckpt, base, out = Path(ckpt), Path(base), Path(out)
    _check_dtype(dtype)
    if not math.isfinite(lora_alpha):
        raise ConfigError(f"lora_alpha must be a finite number, got {lora_alpha}")
    if components not in COMPONENT_MODES:
        raise ConfigError(f"components must be one of {', '.join(COMPONENT_MODES)}, got {components!r}")
    if not ckpt.is_file():
        raise CheckpointError("no such file", path=ckpt)
    index, base_transformer = _components(base)
    config = editor_transformer_config(base_transformer)

    sha256 = _sha256(ckpt, report)
    report("load", None, None)
    sat = load_sat_checkpoint(ckpt)
    torch_dtype = stored_dtype(sat) if dtype == CHECKPOINT_DTYPE else getattr(torch, dtype)
    report("convert", None, None)
    try:
        conversion = convert_sat(sat, config=config, lora_alpha=lora_alpha, lora_rank=lora_rank)
    except CheckpointError as exc:
        raise exc.at(ckpt) from None
    summary = conversion.summary()
    # Copies, because qkv/adaLN chunks are views sharing storage, which safetensors refuses to write;
    # popped one by one so the float32 LoRA merges are freed as their copies are made.
    converted = conversion.state_dict
    state = {
        key: converted.pop(key).to(dtype=torch_dtype, copy=True).contiguous() for key in sorted(converted)
    }
    del sat, conversion, converted

    names = [name for name, spec in index.items() if not name.startswith("_") and isinstance(spec, list)]
    with _staging(out, overwrite) as staging:
        report("write", None, None)
        folder = staging / "transformer"
        folder.mkdir()
        _target_model(config).save_config(folder)
        safetensors.torch.save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
        del state
        placed = 0
        reused = [
            name for name in names if name not in ("transformer", "scheduler") and index[name][0] is not None
        ]
        for i, name in enumerate(reused):
            report("components", i, len(reused))
            placed += _place_component(base / name, staging / name, components)
        report("components", len(reused), len(reused))
        for license_file in sorted(base.glob("LICENSE*")):
            if license_file.is_file():
                shutil.copyfile(license_file, staging / license_file.name)
        scheduler, guider = _recipe()
        scheduler.save_pretrained(staging / "scheduler")
        guider.save_pretrained(staging / "guider")
        model_index = {
            "_class_name": PIPELINE_CLASS,
            "_diffusers_version": diffusers.__version__,
            **{name: index[name] for name in names},
            "transformer": ["diffusers", TRANSFORMER_CLASS],
            "scheduler": [type(scheduler).__module__, type(scheduler).__name__],
        }
        (staging / "model_index.json").write_text(json.dumps(model_index, indent=2) + "\n", encoding="utf-8")
        record = {
            "converted_by": f"insvie {insvie.__version__}",
            "pipeline": {"class": PIPELINE_CLASS, "library": "insvie"},
            "source": {"file": ckpt.name, "sha256": sha256, "bytes": ckpt.stat().st_size},
            "base": {"path": str(base.resolve()), "reused": reused, "mode": components, "files": placed},
            "dtype": str(torch_dtype).removeprefix("torch."),
            "dtype_source": "the checkpoint's" if dtype == CHECKPOINT_DTYPE else "--dtype",
            "recipe": {
                "from": "configs/inference_2b_edit.yaml of the official code",
                "scheduler": {"class": type(scheduler).__name__, **_plain(scheduler.config)},
                "guider": _plain(guider.config),
            },
            "transformer_config": {key: value for key, value in config.items() if not key.startswith("_")},
            **summary,
            "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__},
        }
        (staging / "conversion.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        report("done", None, None)
    return out
