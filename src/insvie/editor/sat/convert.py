"""A SAT state dict to a diffusers transformer state dict, with a record of what was done.

Every SAT key is either converted or ignored for a stated reason, and every diffusers key must be
produced: anything else is refused with the keys named, because a silently half-loaded editor would
produce plausible-looking but wrong videos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from insvie.editor.sat.errors import CheckpointError, listing
from insvie.editor.sat.layout import (
    ENGINE_SUFFIX,
    IGNORED_LOCAL,
    IGNORED_ROOTS,
    PATCH_PARTS,
    POS_EMBEDDING,
    find_prefix,
    layer_count,
    map_key,
    patch_embedding,
)
from insvie.editor.sat.lora import LoraMerge, merge_lora
from insvie.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

TRANSFORMER_CLASS = "CogVideoXTransformer3DModel"


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


def target_model(config: Mapping[str, Any]) -> Any:
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
    target = target_model(config)
    expected = {key: tuple(value.shape) for key, value in target.state_dict().items()}

    keys = list(sat)
    prefix = find_prefix(keys)
    engine_root = prefix[: -len(ENGINE_SUFFIX)] if prefix.endswith(ENGINE_SUFFIX) else ""
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
            (why for root, why in IGNORED_ROOTS.items() if sibling and sibling.startswith(root)), None
        )
        if reason is None:
            unknown.append(key)
        else:
            ignored.setdefault(reason, []).append(key)

    lora = merge_lora(local, sources, lora_alpha=lora_alpha, lora_rank=lora_rank)

    out: dict[str, Tensor] = {}
    origin: dict[str, list[str]] = {}
    converted = 0

    def emit(target_key: str, tensor: Tensor, from_keys: list[str]) -> None:
        out[target_key] = tensor
        origin[target_key] = [prefix + key for key in from_keys]

    patch_parts = {key: local.pop(key) for key in list(local) if key in PATCH_PARTS}
    weight_shape = expected.get("patch_embed.proj.weight")
    weight, bias, patch_layout, patch_unused = patch_embedding(
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
    if POS_EMBEDDING in local:
        table = local.pop(POS_EMBEDDING)
        if "patch_embed.pos_embedding" in expected:  # learned positional embeddings (5B image-to-video)
            emit("patch_embed.pos_embedding", table, [POS_EMBEDDING])
            converted += 1
        else:
            ignored.setdefault("fixed sin-cos position table, recomputed by diffusers", []).append(
                prefix + POS_EMBEDDING
            )
            checks.update(_check_position_table(table, target, notes))

    for key, tensor in local.items():
        if key in IGNORED_LOCAL:
            ignored.setdefault(IGNORED_LOCAL[key], []).append(prefix + key)
            continue
        mapped = map_key(key, tensor)
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
            problems.append(listing(unknown, "unknown SAT key"))
        if missing:
            problems.append(listing(missing, "missing diffusers key"))
        if mismatched:
            problems.append(listing(mismatched, "shape mismatch"))
        sat_layers = layer_count(local, r"^transformer\.layers\.(\d+)\.")
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
