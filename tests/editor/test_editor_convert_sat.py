"""Converting the released InsViE checkpoint (CogVideoX SAT layout) to the diffusers editor.

The real file is 10+ GB and not available offline, so the tests make SAT-layout state dicts from a
tiny configuration two ways:

- from a random diffusers model through the inverse mapping written here (diffusers -> SAT keys,
  LoRA layers split so that the merged weight is the model's): converting back must give the same
  weights and the same forward pass;
- directly in the SAT layout, checked against a forward pass written from the SAT code
  (``dit_video_concat.py``, ``lora2.LoraLinear``) rather than from diffusers, so that a shared
  misreading of the layout (adaLN chunk order, QKV split, LoRA scale, the folded ``fix_proj`` patch
  embedding) cannot cancel out.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

import torch.nn.functional as F  # noqa: E402
from diffusers import CogVideoXTransformer3DModel  # noqa: E402

from insvie.editor.sat import (  # noqa: E402
    PIPELINE_CLASS,
    CheckpointError,
    convert_sat,
    convert_sat_checkpoint,
    convert_sat_state_dict,
    load_sat_checkpoint,
)
from insvie.errors import ConfigError  # noqa: E402

PREFIX = "model.diffusion_model."
TINY = {
    "num_attention_heads": 2,
    "attention_head_dim": 8,
    "in_channels": 32,
    "out_channels": 16,
    "num_layers": 2,
    "sample_width": 8,
    "sample_height": 8,
    "sample_frames": 9,
    "text_embed_dim": 16,
    "time_embed_dim": 12,
    "max_text_seq_length": 7,
}
HIDDEN = TINY["num_attention_heads"] * TINY["attention_head_dim"]
LATENT_FRAMES = (TINY["sample_frames"] - 1) // 4 + 1
ATOL = 1e-5


# ------------------------------------------------------------------------------------------------
# Building SAT-layout state dicts


def random_model(seed: int = 0, **overrides) -> CogVideoXTransformer3DModel:
    """A tiny editor whose every weight is random (LayerNorm scales around 1), so no mapping error
    hides behind an initial zero or one."""
    model = CogVideoXTransformer3DModel(**{**TINY, **overrides}).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator) * 0.3
            param.copy_(
                noise + 1.0 if "norm" in name and name.endswith("weight") and param.ndim == 1 else noise
            )
    return model


def _lora_split(
    weight: torch.Tensor, parts: int, rank: int, alpha: float, generator
) -> dict[str, torch.Tensor]:
    """SAT LoRA tensors whose merge is ``weight``: original = weight - concat_i(B_i A_i) * alpha / r."""
    out_dim, in_dim = weight.shape
    a = [torch.randn(rank, in_dim, generator=generator) for _ in range(parts)]
    b = [torch.randn(out_dim // parts, rank, generator=generator) for _ in range(parts)]
    delta = torch.cat([bi @ ai for ai, bi in zip(a, b, strict=True)], dim=0) * (alpha / rank)
    tensors = {"original.weight": weight - delta}
    tensors.update({f"matrix_A.{i}": ai for i, ai in enumerate(a)})
    tensors.update({f"matrix_B.{i}": bi for i, bi in enumerate(b)})
    return tensors


def to_sat(
    model: CogVideoXTransformer3DModel,
    *,
    patch: str = "double_ch",
    lora: bool = False,
    rank: int = 4,
    alpha: float = 1.0,
    prefix: str = PREFIX,
    siblings: bool = True,
    seed: int = 1,
) -> dict[str, torch.Tensor]:
    """The inverse mapping: a diffusers editor's weights laid out as SAT's diffusion engine saves them."""
    sd = {key: value.detach().clone() for key, value in model.state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    sat: dict[str, torch.Tensor] = {}

    def put(name: str, tensor: torch.Tensor) -> None:
        sat[prefix + name] = tensor.clone()

    def put_linear(name: str, weight: torch.Tensor, bias: torch.Tensor, parts: int) -> None:
        if lora:
            for suffix, tensor in _lora_split(weight, parts, rank, alpha, generator).items():
                put(f"{name}.{suffix}", tensor)
            put(f"{name}.original.bias", bias)
        else:
            put(f"{name}.weight", weight)
            put(f"{name}.bias", bias)

    renames = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "patch_embed.text_proj": "mixins.patch_embed.text_proj",
        "norm_final": "transformer.final_layernorm",
        "norm_out.norm": "mixins.final_layer.norm_final",
        "norm_out.linear": "mixins.final_layer.adaLN_modulation.1",
        "proj_out": "mixins.final_layer.linear",
    }
    for ours, theirs in renames.items():
        for param in ("weight", "bias"):
            put(f"{theirs}.{param}", sd[f"{ours}.{param}"])
    for i in range(model.config.num_layers):
        block, layer = f"transformer_blocks.{i}", f"transformer.layers.{i}"
        for param in ("weight", "bias"):
            put(f"{layer}.input_layernorm.{param}", sd[f"{block}.norm1.norm.{param}"])
            put(f"{layer}.post_attention_layernorm.{param}", sd[f"{block}.norm2.norm.{param}"])
            put(f"{layer}.mlp.dense_h_to_4h.{param}", sd[f"{block}.ff.net.0.proj.{param}"])
            put(f"{layer}.mlp.dense_4h_to_h.{param}", sd[f"{block}.ff.net.2.{param}"])
            put(f"mixins.adaln_layer.query_layernorm_list.{i}.{param}", sd[f"{block}.attn1.norm_q.{param}"])
            put(f"mixins.adaln_layer.key_layernorm_list.{i}.{param}", sd[f"{block}.attn1.norm_k.{param}"])
            n1 = sd[f"{block}.norm1.linear.{param}"].chunk(6)
            n2 = sd[f"{block}.norm2.linear.{param}"].chunk(6)
            # SAT: shift/scale/gate for attention, then mlp (image), then the same for text.
            put(
                f"mixins.adaln_layer.adaLN_modulations.{i}.1.{param}",
                torch.cat([*n1[:3], *n2[:3], *n1[3:], *n2[3:]]),
            )
        qkv_w = torch.cat([sd[f"{block}.attn1.to_{n}.weight"] for n in "qkv"])
        qkv_b = torch.cat([sd[f"{block}.attn1.to_{n}.bias"] for n in "qkv"])
        put_linear(f"{layer}.attention.query_key_value", qkv_w, qkv_b, 3)
        out_w, out_b = sd[f"{block}.attn1.to_out.0.weight"], sd[f"{block}.attn1.to_out.0.bias"]
        put_linear(f"{layer}.attention.dense", out_w, out_b, 1)

    weight, bias = sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"]
    half = weight.shape[1] // 2
    if patch == "double_ch":  # the released layout: proj_edit reads 32 channels, proj is left over
        put("mixins.patch_embed.proj_edit.weight", weight)
        put("mixins.patch_embed.proj_edit.bias", bias)
        put(
            "mixins.patch_embed.proj.weight",
            torch.randn(weight.shape[0], half, *weight.shape[2:], generator=generator),
        )
        put("mixins.patch_embed.proj.bias", torch.randn(bias.shape, generator=generator))
    elif patch == "summed":  # two 16-channel convs whose outputs add up
        share = torch.randn(bias.shape, generator=generator)
        put("mixins.patch_embed.proj.weight", weight[:, :half])
        put("mixins.patch_embed.proj.bias", share)
        put("mixins.patch_embed.proj_edit.weight", weight[:, half:])
        put("mixins.patch_embed.proj_edit.bias", bias - share)
    elif patch == "single":
        put("mixins.patch_embed.proj.weight", weight)
        put("mixins.patch_embed.proj.bias", bias)
    else:
        raise ValueError(patch)
    put("mixins.pos_embed.pos_embedding", model.patch_embed.pos_embedding.float())  # a float32 Parameter
    if siblings:  # the rest of the engine, saved in the same file
        sat["conditioner.embedders.0.transformer.shared.weight"] = torch.randn(5, 4)
        sat["first_stage_model.encoder.conv_in.conv.weight"] = torch.randn(2, 3, 1, 1, 1)
        sat["lpips.lin0.model.1.weight"] = torch.randn(1, 2, 1, 1)
    return sat


def fix_proj_sat(seed: int = 3) -> dict[str, torch.Tensor]:
    """A SAT dict in the ``fix_proj`` layout: proj (first 16 channels) + proj_edit (last 16) + merge."""
    sat = to_sat(random_model(seed), patch="double_ch", lora=True, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    for key in [key for key in sat if ".patch_embed.proj" in key]:
        del sat[key]
    patch = PREFIX + "mixins.patch_embed."
    sat[patch + "proj.weight"] = torch.randn(HIDDEN, 16, 2, 2, generator=generator) * 0.3
    sat[patch + "proj.bias"] = torch.randn(HIDDEN, generator=generator) * 0.3
    sat[patch + "proj_edit.weight"] = torch.randn(HIDDEN, 16, 2, 2, generator=generator) * 0.3
    sat[patch + "proj_edit.bias"] = torch.randn(HIDDEN, generator=generator) * 0.3
    sat[patch + "proj_edit_merge.weight"] = torch.randn(HIDDEN, 2 * HIDDEN, generator=generator) * 0.3
    sat[patch + "proj_edit_merge.bias"] = torch.randn(HIDDEN, generator=generator) * 0.3
    return sat


# ------------------------------------------------------------------------------------------------
# A forward pass written from the SAT code


def sat_forward(
    sat: dict,
    x: torch.Tensor,
    context: torch.Tensor,
    t: torch.Tensor,
    *,
    alpha: float = 1.0,
    final_norm_eps: float = 1e-6,
):
    """``DiffusionTransformer.forward`` of InsViE's dit_video_concat.py, computed from SAT keys.

    LoRA layers run unmerged, as ``LoraLinear.forward``: original(x) + concat_i(x A_i^T B_i^T) * alpha/r.
    LayerNorm eps as SAT builds them: the layers' and the final ``transformer.final_layernorm`` get
    ``layernorm_epsilon`` (1e-5, SAT's default; the explicit ``eps=`` overrides the 1e-6 in
    dit_video_concat's ``partial``), the q/k norms 1e-6, ``FinalLayerMixin.norm_final`` 1e-6.
    diffusers has one ``norm_eps`` (1e-5) for the last two kinds, so tests comparing exactly pass
    ``final_norm_eps=1e-5``; the effect of that one difference is measured separately.
    """
    p = {key.removeprefix(PREFIX): value for key, value in sat.items() if key.startswith(PREFIX)}
    heads = TINY["num_attention_heads"]

    def linear(name: str, value: torch.Tensor) -> torch.Tensor:
        if f"{name}.weight" in p:
            return F.linear(value, p[f"{name}.weight"], p.get(f"{name}.bias"))
        out = F.linear(value, p[f"{name}.original.weight"], p.get(f"{name}.original.bias"))
        parts = sum(1 for key in p if key.startswith(f"{name}.matrix_A."))
        rank = p[f"{name}.matrix_A.0"].shape[0]
        lora = [
            value @ p[f"{name}.matrix_A.{i}"].T @ p[f"{name}.matrix_B.{i}"].T * (alpha / rank)
            for i in range(parts)
        ]
        return out + torch.cat(lora, dim=-1)

    def norm(name: str, value: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
        return F.layer_norm(value, value.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], eps)

    def modulate(value, shift, scale):
        return value * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)

    b, frames, channels, height, width = x.shape
    # timestep_embedding(t, hidden): [cos, sin] of t * 10000^(-i/half)
    half = HIDDEN // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    emb = linear(
        "time_embed.2", F.silu(linear("time_embed.0", torch.cat([torch.cos(args), torch.sin(args)], -1)))
    )

    images = x.reshape(-1, channels, height, width)

    def patchify(weight_name: str, value: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(value, p[f"{weight_name}.weight"], p.get(f"{weight_name}.bias"), stride=2)
        out = out.view(b, frames, *out.shape[1:]).flatten(3).transpose(2, 3)
        return out.reshape(b, -1, out.shape[-1])

    if "mixins.patch_embed.proj_edit_merge.weight" in p:  # fix_proj
        first = patchify("mixins.patch_embed.proj", images[:, : channels // 2])
        second = patchify("mixins.patch_embed.proj_edit", images[:, channels // 2 :])
        image_emb = linear("mixins.patch_embed.proj_edit_merge", torch.cat([first, second], dim=2))
    else:  # double_ch
        image_emb = patchify("mixins.patch_embed.proj_edit", images)
    text_emb = linear("mixins.patch_embed.text_proj", context)
    text_len = context.shape[1]
    hidden = torch.cat([text_emb, image_emb], dim=1)
    hidden = hidden + p["mixins.pos_embed.pos_embedding"][:, : hidden.shape[1]]

    for i in range(TINY["num_layers"]):
        layer = f"transformer.layers.{i}"
        chunks = linear(f"mixins.adaln_layer.adaLN_modulations.{i}.1", F.silu(emb)).chunk(12, dim=1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = chunks[:6]
        t_shift_msa, t_scale_msa, t_gate_msa, t_shift_mlp, t_scale_mlp, t_gate_mlp = chunks[6:]
        text, image = hidden[:, :text_len], hidden[:, text_len:]
        attn_in = torch.cat(
            [
                modulate(norm(f"{layer}.input_layernorm", text), t_shift_msa, t_scale_msa),
                modulate(norm(f"{layer}.input_layernorm", image), shift_msa, scale_msa),
            ],
            dim=1,
        )
        q, k, v = linear(f"{layer}.attention.query_key_value", attn_in).chunk(3, dim=-1)
        q, k, v = (y.view(b, -1, heads, HIDDEN // heads).transpose(1, 2) for y in (q, k, v))
        q = norm(f"mixins.adaln_layer.query_layernorm_list.{i}", q, eps=1e-6)
        k = norm(f"mixins.adaln_layer.key_layernorm_list.{i}", k, eps=1e-6)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // heads), dim=-1)
        attn = (weights @ v).transpose(1, 2).reshape(b, -1, HIDDEN)
        attn = linear(f"{layer}.attention.dense", attn)
        image = image + gate_msa.unsqueeze(1) * attn[:, text_len:]
        text = text + t_gate_msa.unsqueeze(1) * attn[:, :text_len]
        mlp_in = torch.cat(
            [
                modulate(norm(f"{layer}.post_attention_layernorm", text), t_shift_mlp, t_scale_mlp),
                modulate(norm(f"{layer}.post_attention_layernorm", image), shift_mlp, scale_mlp),
            ],
            dim=1,
        )
        mlp = linear(
            f"{layer}.mlp.dense_4h_to_h",
            F.gelu(linear(f"{layer}.mlp.dense_h_to_4h", mlp_in), approximate="tanh"),
        )
        image = image + gate_mlp.unsqueeze(1) * mlp[:, text_len:]
        text = text + t_gate_mlp.unsqueeze(1) * mlp[:, :text_len]
        hidden = torch.cat([text, image], dim=1)

    hidden = norm("transformer.final_layernorm", hidden)
    image = hidden[:, text_len:]
    shift, scale = linear("mixins.final_layer.adaLN_modulation.1", F.silu(emb)).chunk(2, dim=1)
    image = linear(
        "mixins.final_layer.linear",
        modulate(norm("mixins.final_layer.norm_final", image, eps=final_norm_eps), shift, scale),
    )
    # unpatchify: "b (t h w) (c p q) -> b t c (h p) (w q)"
    out_channels = TINY["out_channels"]
    image = image.view(b, frames, height // 2, width // 2, out_channels, 2, 2)
    return image.permute(0, 1, 4, 2, 5, 3, 6).reshape(b, frames, out_channels, height, width)


def inputs(seed: int = 5, batch: int = 2):
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, LATENT_FRAMES, TINY["in_channels"], TINY["sample_height"], TINY["sample_width"])
    x = torch.randn(shape, generator=generator)
    context = torch.randn(batch, TINY["max_text_seq_length"], TINY["text_embed_dim"], generator=generator)
    t = torch.tensor([999, 321])[:batch]
    return x, context, t


def forward(model: CogVideoXTransformer3DModel, x, context, t) -> torch.Tensor:
    with torch.no_grad():
        return model(hidden_states=x, encoder_hidden_states=context, timestep=t).sample


def load_converted(state: dict[str, torch.Tensor]) -> CogVideoXTransformer3DModel:
    model = CogVideoXTransformer3DModel(**TINY).eval()
    missing, unexpected = model.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    return model


# ------------------------------------------------------------------------------------------------
# Conversion: weights and forward pass


@pytest.mark.parametrize("lora", [False, True], ids=["merged", "lora"])
@pytest.mark.parametrize("patch", ["double_ch", "summed", "single"])
def test_inverse_mapping_round_trips(lora: bool, patch: str):
    reference = random_model(seed=11)
    sat = to_sat(reference, patch=patch, lora=lora, rank=4, alpha=2.0)
    converted = convert_sat_state_dict(sat, config=TINY, lora_alpha=2.0)
    expected = reference.state_dict()
    assert set(converted) == set(expected)
    for key, value in converted.items():
        torch.testing.assert_close(value.float(), expected[key], atol=ATOL, rtol=0, msg=key)
    x, context, t = inputs()
    torch.testing.assert_close(
        forward(load_converted(converted), x, context, t),
        forward(reference, x, context, t),
        atol=ATOL,
        rtol=0,
    )


@pytest.mark.parametrize("layout", ["double_ch", "fix_proj"])
@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_converted_editor_computes_what_sat_computes(layout: str, alpha: float):
    sat = (
        to_sat(random_model(seed=21), lora=True, rank=4, alpha=alpha)
        if layout == "double_ch"
        else fix_proj_sat()
    )
    x, context, t = inputs(seed=8)
    result = convert_sat(sat, config=TINY, lora_alpha=alpha)
    assert result.lora is not None and result.lora.rank == 4
    assert result.patch_embedding.startswith(layout)
    ours = forward(load_converted(result.state_dict), x, context, t)
    theirs = sat_forward(sat, x, context, t, alpha=alpha, final_norm_eps=1e-5)
    assert ours.shape == (2, LATENT_FRAMES, 16, 8, 8)
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def test_the_one_eps_diffusers_cannot_express_changes_little():
    """SAT's final-layer norm uses eps 1e-6, diffusers' norm_out.norm its one norm_eps (1e-5)."""
    sat = to_sat(random_model(seed=21), lora=True)
    x, context, t = inputs(seed=8)
    ours = forward(load_converted(convert_sat_state_dict(sat, config=TINY)), x, context, t)
    theirs = sat_forward(sat, x, context, t)  # SAT's own eps everywhere
    assert (ours - theirs).abs().max() < 1e-3 * theirs.abs().max()


def test_lora_scale_matters_and_rank_is_read_from_matrix_a():
    sat = to_sat(random_model(seed=2), lora=True, rank=6, alpha=1.0)
    right = convert_sat(sat, config=TINY, lora_alpha=1.0)
    wrong = convert_sat_state_dict(sat, config=TINY, lora_alpha=4.0)
    assert right.lora is not None and right.lora.rank == 6 and right.lora.scale == pytest.approx(1 / 6)
    assert len(right.lora.layers) == 2 * TINY["num_layers"]  # qkv and dense of each layer
    key = "transformer_blocks.0.attn1.to_k.weight"
    assert not torch.allclose(right.state_dict[key], wrong[key])
    with pytest.raises(CheckpointError, match="rank 6"):
        convert_sat(sat, config=TINY, lora_rank=128)


def test_report_says_what_was_ignored_and_checks_the_position_table():
    result = convert_sat(to_sat(random_model()), config=TINY)
    summary = result.summary()
    assert summary["lora_merged"] is False
    ignored = result.ignored
    flat = {key for keys in ignored.values() for key in keys}
    assert PREFIX + "mixins.patch_embed.proj.weight" in flat  # double_ch leaves the 16-channel conv unused
    assert PREFIX + "mixins.pos_embed.pos_embedding" in flat
    assert "first_stage_model.encoder.conv_in.conv.weight" in flat
    assert result.checks["pos_embedding_max_abs_diff"] < 1e-6
    assert summary["keys"]["diffusers_keys"] == len(CogVideoXTransformer3DModel(**TINY).state_dict())
    assert not result.warnings


def test_a_different_position_table_warns():
    sat = to_sat(random_model())
    sat[PREFIX + "mixins.pos_embed.pos_embedding"] = sat[PREFIX + "mixins.pos_embed.pos_embedding"] * 2
    result = convert_sat(sat, config=TINY)
    assert result.warnings and "interpolation" in result.warnings[0]


def test_bare_keys_without_a_prefix_convert():
    reference = random_model(seed=4)
    sat = to_sat(reference, prefix="", siblings=False)
    converted = convert_sat_state_dict(sat, config=TINY)
    torch.testing.assert_close(converted["proj_out.weight"], reference.state_dict()["proj_out.weight"])


# ------------------------------------------------------------------------------------------------
# Refusals with the keys named


def test_unknown_and_missing_keys_are_listed():
    sat = to_sat(random_model())
    del sat[PREFIX + "time_embed.2.bias"]
    del sat[PREFIX + "transformer.layers.1.mlp.dense_4h_to_h.weight"]
    sat[PREFIX + "mixins.adaln_layer.something_new.weight"] = torch.zeros(3)
    sat["optimizer_leftover.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as caught:
        convert_sat_state_dict(sat, config=TINY)
    error = caught.value
    assert error.missing_keys == ["time_embedding.linear_2.bias", "transformer_blocks.1.ff.net.2.weight"]
    assert error.unknown_keys == [
        PREFIX + "mixins.adaln_layer.something_new.weight",
        "optimizer_leftover.weight",
    ]
    message = str(error)
    assert "2 unknown SAT keys" in message and "2 missing diffusers keys" in message
    assert "time_embedding.linear_2.bias" in message and "optimizer_leftover.weight" in message


def test_long_lists_are_cut_but_counted():
    sat = to_sat(random_model())
    for i in range(20):
        sat[f"{PREFIX}mixins.extra.{i}.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"20 unknown SAT keys \(.*\.\.\. and 12 more\)") as caught:
        convert_sat_state_dict(sat, config=TINY)
    assert len(caught.value.unknown_keys) == 20


def test_more_layers_than_the_config_is_explained():
    sat = to_sat(random_model(num_layers=3))
    with pytest.raises(CheckpointError, match="the checkpoint has 3 layers, the config 2") as caught:
        convert_sat_state_dict(sat, config=TINY)
    assert any("transformer.layers.2." in key for key in caught.value.unknown_keys)


def test_shape_mismatches_are_named():
    sat = to_sat(random_model())
    with pytest.raises(CheckpointError, match="shape mismatch") as caught:
        convert_sat_state_dict(sat, config={**TINY, "text_embed_dim": 24})
    assert caught.value.shape_mismatches[0].startswith("patch_embed.text_proj.weight (16, 16) from")


def test_a_text_to_video_checkpoint_is_not_an_editor():
    t2v = to_sat(random_model(in_channels=16), patch="single")
    with pytest.raises(CheckpointError, match="16 input channels and no proj_edit: this is a text-to-video"):
        convert_sat_state_dict(t2v, config=TINY)


@pytest.mark.parametrize(
    "damage",
    [
        "drop_matrix_b",
        "drop_original",
        "both_merged_and_lora",
        "bad_a_shape",
    ],
)
def test_broken_lora_layers_are_refused(damage: str):
    sat = to_sat(random_model(), lora=True)
    base = PREFIX + "transformer.layers.0.attention.query_key_value"
    if damage == "drop_matrix_b":
        del sat[f"{base}.matrix_B.2"]
        expected = "unmatched LoRA parts"
    elif damage == "drop_original":
        del sat[f"{base}.original.weight"]
        expected = "no original.weight"
    elif damage == "both_merged_and_lora":
        sat[f"{base}.weight"] = torch.zeros(3 * HIDDEN, HIDDEN)
        expected = "both merged"
    else:
        sat[f"{base}.matrix_A.1"] = torch.zeros(4, HIDDEN + 1)
        expected = "matrix_A.1 has shape"
    with pytest.raises(CheckpointError, match=expected):
        convert_sat_state_dict(sat, config=TINY)


def test_a_foreign_state_dict_is_not_a_cogvideox_checkpoint():
    resnet = {
        "conv1.weight": torch.zeros(4, 3, 7, 7),
        "bn1.weight": torch.ones(4),
        "layer1.0.conv1.weight": torch.zeros(4, 4, 3, 3),
        "fc.weight": torch.zeros(10, 4),
    }
    with pytest.raises(CheckpointError, match=r"not a CogVideoX SAT checkpoint.*conv1\.weight"):
        convert_sat_state_dict(resnet, config=TINY)


def test_unsupported_target_configs_are_refused():
    sat = to_sat(random_model())
    with pytest.raises(ConfigError, match=r"CogVideoX 1\.5"):
        convert_sat_state_dict(sat, config={**TINY, "patch_size_t": 2})
    with pytest.raises(ConfigError, match="must be a CogVideoXTransformer3DModel"):
        convert_sat_state_dict(sat, config={**TINY, "_class_name": "UNet2DModel"})


# ------------------------------------------------------------------------------------------------
# Files


class Payload:
    """Stands for any Python object a malicious or foreign pickle could carry."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_loading_refuses_what_is_not_a_tensor_checkpoint(tmp_path: Path):
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(bytes(range(256)) * 64)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    truncated = tmp_path / "truncated.pt"
    torch.save({"module": {"a": torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:600])
    evil = tmp_path / "object.pt"
    torch.save({"module": {"a": torch.zeros(2)}, "hook": Payload()}, evil)
    legacy_pickle = tmp_path / "legacy.pkl"
    legacy_pickle.write_bytes(pickle.dumps({"module": {"a": Payload()}}, protocol=2))
    new_pickle = tmp_path / "new.pkl"
    new_pickle.write_bytes(pickle.dumps({"module": {"a": Payload()}}, protocol=5))

    cases = {
        random_bytes: "not a PyTorch checkpoint",
        empty: "empty file",
        text: "not a PyTorch checkpoint",
        truncated: "PyTorch checkpoint",
        evil: r"refused to load: the pickle holds a Python object \(print\)",
        legacy_pickle: r"refused to load: the pickle holds a Python object \(print\)",
        new_pickle: "not a PyTorch checkpoint",
        tmp_path / "absent.pt": "no such file",
    }
    for path, expected in cases.items():
        with pytest.raises(CheckpointError, match=expected) as caught:
            load_sat_checkpoint(path)
        assert caught.value.path == str(path)
        assert "\n" not in str(caught.value)


def test_loading_finds_the_state_dict_and_rejects_odd_structures(tmp_path: Path):
    ds = tmp_path / "deepspeed.pt"
    import random

    import numpy as np

    # What SAT's DeepSpeed saver writes beside the module: numpy/Python RNG states and bookkeeping.
    torch.save(
        {
            "module": {"model.diffusion_model.time_embed.0.weight": torch.ones(2)},
            "iteration": 1000,
            "np_rng_state": np.random.get_state(),
            "random_rng_state": random.getstate(),
            "torch_rng_state": torch.get_rng_state(),
            "ds_version": "0.14.0",
        },
        ds,
    )
    assert list(load_sat_checkpoint(ds)) == ["model.diffusion_model.time_embed.0.weight"]

    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(CheckpointError, match="holds a list, not a state dict"):
        load_sat_checkpoint(listed)
    values = tmp_path / "values.pt"
    torch.save({"module": {"a": torch.zeros(1), "step": 3}}, values)
    with pytest.raises(CheckpointError, match=r"values that are not tensors: 1 key \(step\)"):
        load_sat_checkpoint(values)


def test_numpy1_rng_state_and_the_legacy_format_load(tmp_path: Path):
    """A 2024 DeepSpeed save names numpy 1.x's ``numpy.core.multiarray``; old torch wrote no zip."""
    import io
    import zipfile

    import numpy as np

    written = tmp_path / "numpy2.pt"
    torch.save({"module": {"w": torch.ones(2)}, "np_rng_state": np.random.get_state()}, written)
    numpy1 = tmp_path / "numpy1.pt"
    buffer = io.BytesIO()
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            target.writestr(info, data)
    numpy1.write_bytes(buffer.getvalue())
    assert b"numpy.core.multiarray" in numpy1.read_bytes()
    assert list(load_sat_checkpoint(numpy1)) == ["w"]

    legacy = tmp_path / "legacy.pt"
    torch.save({"module": {"w": torch.ones(2)}}, legacy, _use_new_zipfile_serialization=False)
    assert list(load_sat_checkpoint(legacy)) == ["w"]


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory) -> Path:
    """A tiny diffusers CogVideoX text-to-video folder, as ``--base`` expects (all components real)."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline
    from transformers import T5Config, T5EncoderModel

    from insvie.tiny.tokenizer_builders import tiny_t5_tokenizer

    torch.manual_seed(0)
    tokenizer = tiny_t5_tokenizer(max_length=TINY["max_text_seq_length"])
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2)
    )
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=16,
        layers_per_block=1,
        norm_num_groups=2,
    )
    t2v = CogVideoXTransformer3DModel(**{**TINY, "in_channels": 16})
    pipe = CogVideoXPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=t2v,
        scheduler=CogVideoXDDIMScheduler(),
    )
    folder = tmp_path_factory.mktemp("base") / "cogvideox-tiny"
    pipe.save_pretrained(folder)
    (folder / "LICENSE").write_text("base model licence\n")
    return folder


def released_file(tmp_path: Path, reference: CogVideoXTransformer3DModel, **kwargs) -> Path:
    """The released structure: torch.save({"module": state}) at .../mp_rank_00_model_states.pt."""
    path = tmp_path / "ckpt" / "1000" / "mp_rank_00_model_states.pt"
    path.parent.mkdir(parents=True)
    torch.save({"module": to_sat(reference, **kwargs)}, path)
    return path


def test_checkpoint_converts_into_a_folder_diffusers_loads(tmp_path: Path, base_folder: Path):
    reference = random_model(seed=31)
    ckpt = released_file(tmp_path, reference, lora=True, rank=4, alpha=1.0)
    stages: list[str] = []
    out = convert_sat_checkpoint(
        ckpt,
        base=base_folder,
        out=tmp_path / "editor",
        dtype="float32",
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert out == tmp_path / "editor"
    loaded = CogVideoXTransformer3DModel.from_pretrained(out, subfolder="transformer").eval()
    assert loaded.config.in_channels == 32 and loaded.config.out_channels == 16
    x, context, t = inputs()
    torch.testing.assert_close(
        forward(loaded, x, context, t), forward(reference, x, context, t), atol=ATOL, rtol=0
    )

    index = json.loads((out / "model_index.json").read_text())
    assert index["_class_name"] == PIPELINE_CLASS
    assert index["transformer"] == ["diffusers", "CogVideoXTransformer3DModel"]
    assert {"vae", "text_encoder", "tokenizer", "scheduler"} <= set(index)
    record = json.loads((out / "conversion.json").read_text())
    assert record["source"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert record["source"]["file"] == "mp_rank_00_model_states.pt"
    assert record["lora_merged"] is True
    assert record["lora"] == {"layers": 4, "rank": 4, "alpha": 1.0, "scale": 0.25}
    assert record["patch_embedding"].startswith("double_ch")
    assert record["pipeline"] == {"class": PIPELINE_CLASS, "library": "insvie"}
    assert record["transformer_config"]["in_channels"] == 32
    assert record["keys"]["diffusers_keys"] == len(loaded.state_dict())
    assert (out / "LICENSE").read_text() == "base model licence\n"
    assert stages[0] == "hash" and stages[-1] == "done"
    assert not list(tmp_path.glob(".editor.partial-*"))

    # Every reused component loads with the converted transformer, as one diffusers pipeline.
    from diffusers import CogVideoXPipeline

    pipe = CogVideoXPipeline.from_pretrained(out)
    assert pipe.transformer.config.in_channels == 32
    assert pipe.vae.config.latent_channels == 16
    # ... and as the editor pipeline that model_index.json names.
    from insvie.editor.pipeline import InsViEEditPipeline

    editor = InsViEEditPipeline.from_pretrained(out)
    torch.testing.assert_close(
        editor.transformer.state_dict()["proj_out.weight"], loaded.state_dict()["proj_out.weight"]
    )


@pytest.mark.parametrize("mode", ["copy", "symlink"])
def test_default_dtype_is_the_checkpoints_and_components_can_be_copied_or_linked(
    tmp_path: Path, base_folder: Path, mode: str
):
    from safetensors import safe_open

    path = tmp_path / "fp16" / "mp_rank_00_model_states.pt"
    path.parent.mkdir()
    sat = {key: value.half() for key, value in to_sat(random_model(seed=5), lora=True).items()}
    torch.save({"module": sat}, path)  # the released file stores float16
    out = convert_sat_checkpoint(path, base=base_folder, out=tmp_path / "editor", components=mode)
    with safe_open(str(out / "transformer" / "diffusion_pytorch_model.safetensors"), "pt") as weights:
        assert {weights.get_tensor(key).dtype for key in weights.keys()} == {torch.float16}  # noqa: SIM118
    record = json.loads((out / "conversion.json").read_text())
    assert record["dtype"] == "float16" and record["dtype_source"] == "the checkpoint's"
    assert (out / "vae").is_symlink() == (mode == "symlink")
    assert (out / "vae" / "config.json").is_file()

    asked = convert_sat_checkpoint(path, base=base_folder, out=tmp_path / "bf16", dtype="bfloat16")
    loaded = CogVideoXTransformer3DModel.from_pretrained(
        asked, subfolder="transformer", torch_dtype=torch.bfloat16
    )
    assert next(loaded.parameters()).dtype == torch.bfloat16
    assert json.loads((asked / "conversion.json").read_text())["dtype_source"] == "--dtype"


def test_the_folder_carries_the_released_sampling_recipe(tmp_path: Path, base_folder: Path):
    """The base's DDIM scheduler is not reused: the official sampler and the paper's guidance are the
    converted model's defaults, and the editor pipeline loads them."""
    from insvie.editor.guider import InsViEGuider
    from insvie.editor.pipeline import InsViEEditPipeline
    from insvie.editor.scheduler import InsViEDPMScheduler

    out = convert_sat_checkpoint(
        released_file(tmp_path, random_model()), base=base_folder, out=tmp_path / "e"
    )
    index = json.loads((out / "model_index.json").read_text())
    assert index["scheduler"] == ["insvie.editor.scheduler", "InsViEDPMScheduler"]
    guider = json.loads((out / "guider" / "guider_config.json").read_text())
    assert {k: v for k, v in guider.items() if not k.startswith("_")} == {
        "guidance_scale": 7.5,
        "video_guidance_scale": 1.2,
        "guidance_schedule": "cosine",
        "num_inference_steps": 50,
    }
    record = json.loads((out / "conversion.json").read_text())
    assert record["recipe"]["scheduler"]["class"] == "InsViEDPMScheduler"
    assert record["recipe"]["scheduler"]["snr_shift_scale"] == 3.0
    assert record["recipe"]["guider"]["guidance_scale"] == 7.5
    pipe = InsViEEditPipeline.from_pretrained(out)
    assert isinstance(pipe.scheduler, InsViEDPMScheduler) and isinstance(pipe.guider, InsViEGuider)
    assert pipe.guider_origin == str(out / "guider" / "guider_config.json")
    assert pipe.sampling_settings(guidance_scale=3.0) == {
        "num_inference_steps": 50,
        "guidance_scale": 3.0,
        "video_guidance_scale": 1.2,
        "guidance_schedule": "cosine",
    }


def test_checkpoint_errors_name_the_file_and_leave_no_folder(tmp_path: Path, base_folder: Path):
    reference = random_model()
    sat = to_sat(reference)
    del sat[PREFIX + "mixins.final_layer.linear.bias"]
    ckpt = tmp_path / "mp_rank_00_model_states.pt"
    torch.save({"module": sat}, ckpt)
    with pytest.raises(CheckpointError, match=r"1 missing diffusers key \(proj_out\.bias\)") as caught:
        convert_sat_checkpoint(ckpt, base=base_folder, out=tmp_path / "editor")
    assert caught.value.path == str(ckpt)
    assert not (tmp_path / "editor").exists()
    assert not list(tmp_path.glob(".editor.*"))


def test_folder_arguments_are_checked(tmp_path: Path, base_folder: Path):
    ckpt = released_file(tmp_path, random_model())
    with pytest.raises(ConfigError, match="not a folder"):
        convert_sat_checkpoint(ckpt, base=tmp_path / "nowhere", out=tmp_path / "a")
    with pytest.raises(ConfigError, match=r"model_index\.json: missing"):
        convert_sat_checkpoint(ckpt, base=tmp_path, out=tmp_path / "a")
    with pytest.raises(ConfigError, match="dtype must be one of"):
        convert_sat_checkpoint(ckpt, base=base_folder, out=tmp_path / "a", dtype="int8")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        convert_sat_checkpoint(ckpt, base=base_folder, out=taken)
    assert (taken / "keep.txt").read_text() == "mine"
    convert_sat_checkpoint(ckpt, base=base_folder, out=taken, overwrite=True, dtype="float32")
    assert not (taken / "keep.txt").exists() and (taken / "transformer" / "config.json").is_file()


# ------------------------------------------------------------------------------------------------
# The command


def test_command_converts_and_reports_errors_on_one_line(tmp_path: Path, base_folder: Path):
    import typer
    from typer.testing import CliRunner

    from insvie.cli.convert_sat import convert_sat as command

    app = typer.Typer()
    app.command("convert-sat")(command)
    app.command("noop")(lambda: None)  # two commands, so the verb name is part of the call as in insvie
    runner = CliRunner()
    ckpt = released_file(tmp_path, random_model(), lora=True)
    out = tmp_path / "editor"
    args = ["convert-sat", str(ckpt), "--base", str(base_folder), "--out", str(out), "--dtype", "float32"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "conversion.json").is_file()
    assert "LoRA merged" in result.output and str(out) in result.output

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    result = runner.invoke(
        app, ["convert-sat", str(bad), "--base", str(base_folder), "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a PyTorch checkpoint" in lines[0] and "Traceback" not in result.output
