"""The editor transformer: zero-initialised source channels, loading, real configurations on meta."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")

from diffusers import CogVideoXTransformer3DModel  # noqa: E402
from diffusers.models.embeddings import get_3d_rotary_pos_embed  # noqa: E402

from insvie.editor.transformer import (  # noqa: E402
    COGVIDEOX_2B_CONFIG,
    COGVIDEOX_5B_CONFIG,
    EDITOR_IN_CHANNELS,
    editor_from_t2v,
    empty_transformer,
    latent_shape,
    load_t2v_transformer,
    parameter_count,
)
from insvie.tiny import build_tiny_t2v_transformer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


VARIANTS = {
    "2b-like sincos": {},
    "5b-like rotary": {"rotary": True},
    "1.5-like linear patches": {"patch_size_t": 2},
}


def _rotary(config: dict, frames: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    if not config.get("rotary") and not config.get("patch_size_t"):
        return None
    if config.get("patch_size_t"):
        return get_3d_rotary_pos_embed(
            embed_dim=16,
            crops_coords=None,
            grid_size=(2, 3),
            temporal_size=frames // 2,
            grid_type="slice",
            max_size=(2, 3),
        )
    return get_3d_rotary_pos_embed(
        embed_dim=16, crops_coords=((0, 0), (2, 3)), grid_size=(2, 3), temporal_size=frames
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fresh_editor_computes_the_t2v_model_whatever_the_source(variant: str) -> None:
    config = VARIANTS[variant]
    t2v = build_tiny_t2v_transformer(**config).eval()
    editor = editor_from_t2v(t2v)
    assert editor is not t2v and t2v.config.in_channels == 16  # the input model is left alone
    assert editor.config.in_channels == EDITOR_IN_CHANNELS and editor.config.out_channels == 16
    frames = 4 if config.get("patch_size_t") else 3
    g = torch.Generator().manual_seed(0)
    noisy = torch.randn(2, frames, 16, 4, 6, generator=g)
    text = torch.randn(2, 16, 32, generator=g)
    timestep = torch.tensor([999, 400])
    rotary = _rotary(config, frames)
    with torch.no_grad():
        expected = t2v(noisy, text, timestep, image_rotary_emb=rotary, return_dict=False)[0]
        for source in (torch.zeros_like(noisy), 10 * torch.randn(noisy.shape, generator=g)):
            got = editor(
                torch.cat([noisy, source], dim=2), text, timestep, image_rotary_emb=rotary, return_dict=False
            )
            torch.testing.assert_close(got[0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_grown_patch_embedding_copies_old_weights_and_zeros_new_ones(variant: str) -> None:
    t2v = build_tiny_t2v_transformer(**VARIANTS[variant])
    old = t2v.patch_embed.proj
    new = editor_from_t2v(t2v).patch_embed.proj
    torch.testing.assert_close(new.bias, old.bias)
    if new.weight.ndim == 4:  # Conv2d (D, C, p, p)
        torch.testing.assert_close(new.weight[:, :16], old.weight)
        assert not new.weight[:, 16:].any()
    else:  # Linear over (C, p_t, p, p) patches, channel-major
        blocks = new.weight.reshape(new.weight.shape[0], 32, -1)
        torch.testing.assert_close(blocks[:, :16].reshape(old.weight.shape), old.weight)
        assert not blocks[:, 16:].any()


def test_editor_round_trips_through_save_and_load(tmp_path: Path) -> None:
    editor = editor_from_t2v(build_tiny_t2v_transformer(rotary=True))
    editor.save_pretrained(tmp_path / "editor")
    loaded = CogVideoXTransformer3DModel.from_pretrained(tmp_path / "editor")
    assert loaded.config.in_channels == 32
    for name, tensor in editor.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, msg=name)


def test_loads_t2v_from_transformer_and_pipeline_folders(tmp_path: Path) -> None:
    t2v = build_tiny_t2v_transformer()
    t2v.save_pretrained(tmp_path / "bare")
    t2v.save_pretrained(tmp_path / "pipe" / "transformer")
    for folder in (tmp_path / "bare", tmp_path / "pipe", str(tmp_path / "pipe")):
        editor = editor_from_t2v(folder)
        assert editor.config.in_channels == 32
        torch.testing.assert_close(editor.patch_embed.proj.weight[:, :16], t2v.patch_embed.proj.weight)
    assert load_t2v_transformer(tmp_path / "pipe", subfolder="transformer").config.in_channels == 16


def test_refuses_a_model_that_already_takes_32_channels() -> None:
    editor = editor_from_t2v(build_tiny_t2v_transformer())
    with pytest.raises(ValueError, match="16 input channels"):
        editor_from_t2v(editor)


def test_inplace_grows_the_given_model() -> None:
    t2v = build_tiny_t2v_transformer()
    assert editor_from_t2v(t2v, inplace=True) is t2v
    assert t2v.config.in_channels == 32


REAL = {
    # name: (config, layers, hidden, heads, T2V parameters, editor parameters)
    "2B": (COGVIDEOX_2B_CONFIG, 30, 1920, 30, 1_693_783_872, 1_693_906_752),
    "5B": (COGVIDEOX_5B_CONFIG, 42, 3072, 48, 5_570_283_072, 5_570_479_680),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_configs_on_the_meta_device(name: str) -> None:
    config, layers, hidden, heads, t2v_params, editor_params = REAL[name]
    model = empty_transformer(config)
    assert model.patch_embed.proj.weight.device.type == "meta"
    assert len(model.transformer_blocks) == layers and model.config.num_attention_heads == heads
    assert model.config.num_attention_heads * model.config.attention_head_dim == hidden
    assert parameter_count(model) == t2v_params
    editor = editor_from_t2v(model, inplace=True)
    # The growth adds exactly 16 input channels x hidden x patch 2x2.
    assert parameter_count(editor) == editor_params == t2v_params + 16 * hidden * 4
    assert tuple(editor.patch_embed.proj.weight.shape) == (hidden, 32, 2, 2)

    frames, channels, height, width = latent_shape(49, 480, 720)
    assert (frames, channels, height, width) == (13, 16, 60, 90)
    meta = torch.device("meta")
    hidden_states = torch.empty(1, frames, 2 * channels, height, width, device=meta)
    text = torch.empty(1, 226, 4096, device=meta)
    rotary = None
    if config["use_rotary_positional_embeddings"]:
        rotary = get_3d_rotary_pos_embed(
            embed_dim=64, crops_coords=((0, 0), (30, 45)), grid_size=(30, 45), temporal_size=13, device=meta
        )
    out = editor(hidden_states, text, torch.zeros(1, dtype=torch.long, device=meta), image_rotary_emb=rotary)
    assert tuple(out.sample.shape) == (1, 13, 16, 60, 90)


def test_latent_shape_refuses_invalid_sizes() -> None:
    with pytest.raises(ValueError, match="4k\\+1"):
        latent_shape(48, 480, 720)
    with pytest.raises(ValueError, match="multiples"):
        latent_shape(49, 484, 720)
