"""Where each SAT key of the CogVideoX DiT goes in diffusers' ``CogVideoXTransformer3DModel``.

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from insvie.editor.sat.errors import CheckpointError

if TYPE_CHECKING:
    from torch import Tensor

# Keys that end the transformer part of a SAT key; whatever precedes them is the transformer prefix
# (``model.diffusion_model.`` in released files, ``""`` in stripped ones).
_ANCHORS = (
    "time_embed.0.weight",
    "transformer.final_layernorm.weight",
    "mixins.patch_embed.text_proj.weight",
    "mixins.final_layer.linear.weight",
    "transformer.layers.0.input_layernorm.weight",
)
ENGINE_SUFFIX = "model.diffusion_model."
# Siblings of the transformer in a saved SAT diffusion engine, reused from the base folder or only
# needed for training.
IGNORED_ROOTS = {
    "conditioner.": "text encoder (the base folder's T5 is used)",
    "first_stage_model.": "VAE (the base folder's VAE is used)",
    "lpips.": "LPIPS network of the training loss",
    "loss_fn.": "training loss modules",
    "denoiser.": "noise schedule buffers (recomputed by InsViEDPMScheduler)",
    "sampler.": "sampler buffers (recomputed by InsViEDPMScheduler)",
}
# Keys inside the transformer that carry nothing diffusers needs.
IGNORED_LOCAL = {
    "transformer.word_embeddings.weight": "SAT's token embedding placeholder (vocab 1), unused by the DiT",
    "transformer.position_embeddings.weight": "SAT's default position table, replaced by the pos_embed mixin",
    "mixins.pos_embed.freqs_sin": "rotary table, recomputed by diffusers",
    "mixins.pos_embed.freqs_cos": "rotary table, recomputed by diffusers",
}
POS_EMBEDDING = "mixins.pos_embed.pos_embedding"
_PATCH = "mixins.patch_embed."
PATCH_PARTS = {
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


def find_prefix(keys: Iterable[str]) -> str:
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


def patch_embedding(
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


def map_key(key: str, tensor: Tensor) -> list[tuple[str, Tensor]] | None:
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


def layer_count(keys: Iterable[str], pattern: str) -> int:
    found = {int(m.group(1)) for key in keys if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0
