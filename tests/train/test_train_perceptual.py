"""The optional perceptual term: its distance, the first-frame decode it rests on, and training with it."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from torch.utils.data import Dataset  # noqa: E402

from insvie.errors import ConfigError  # noqa: E402
from insvie.train.config import TrainStageConfig  # noqa: E402
from insvie.train.loop import train  # noqa: E402
from insvie.train.perceptual import PerceptualLoss, first_frames, perceptual_term  # noqa: E402
from insvie.train.tracking import read_log  # noqa: E402


@pytest.fixture(scope="module")
def tiny_editor(tmp_path_factory) -> Path:
    from insvie.tiny import build_tiny_editor_pipeline

    return build_tiny_editor_pipeline(tmp_path_factory.mktemp("tiny") / "editor")


def _images(seed: int, count: int = 2) -> torch.Tensor:
    return torch.rand(count, 3, 32, 48, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_distance_is_zero_for_equal_images_and_grows_with_the_difference(tiny_dino):
    loss = PerceptualLoss.from_pretrained(str(tiny_dino), size=32)
    images = _images(0)
    assert loss(images, images).item() == pytest.approx(0.0, abs=1e-7)
    near = loss((images + 0.05 * _images(1)).clamp(-1, 1), images).item()
    far = loss(_images(2), images).item()
    assert 0 < near < far
    # weights scale each sample: a zero weight silences it
    assert loss(_images(2), images, torch.tensor([0.0, 0.0])).item() == 0.0
    only_first = loss(_images(2), images, torch.tensor([1.0, 0.0])).item()
    assert 0 < only_first < far


def test_gradients_reach_the_images_not_the_backbone(tiny_dino):
    loss = PerceptualLoss.from_pretrained(str(tiny_dino), size=32, layers=[2])
    images = _images(3).requires_grad_(True)
    loss(images, _images(4)).backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.backbone.parameters())


def test_unloadable_backbone_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"perceptual\.model .*cannot load it"):
        PerceptualLoss.from_pretrained(str(tmp_path / "missing"))


def test_term_sends_gradients_through_the_frozen_vae(tiny_editor, tiny_dino):
    from insvie.editor import InsViEEditPipeline

    vae = InsViEEditPipeline.from_pretrained(tiny_editor).vae.requires_grad_(False)
    loss = PerceptualLoss.from_pretrained(str(tiny_dino), size=32)
    target = torch.randn(2, 3, 16, 4, 6, generator=torch.Generator().manual_seed(1))
    estimate = target + 0.5 * torch.randn(target.shape, generator=torch.Generator().manual_seed(2))
    estimate.requires_grad_(True)
    assert first_frames(vae, target, 1.0).shape == (2, 3, 32, 48)  # one decoded frame per sample
    term = perceptual_term(loss, vae, estimate, target, torch.tensor([1.0, 0.5]), 1.0)
    term.backward()
    assert term.item() > 0
    assert estimate.grad[:, 0].abs().sum() > 0 and estimate.grad[:, 1:].abs().sum() == 0  # frame 0 only
    assert perceptual_term(loss, vae, target, target, torch.tensor([1.0, 1.0]), 1.0).item() < 1e-6


class Latents(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {
            "source_latents": torch.randn(3, 16, 4, 6, generator=g),
            "target_latents": torch.randn(3, 16, 4, 6, generator=g),
            "prompt_embeds": torch.randn(16, 32, generator=g),
            "id": str(i),
        }


def test_training_adds_the_term_to_the_loss(tiny_editor, tiny_dino, tmp_path):
    def run(out: str, **extra) -> list[float]:
        config = TrainStageConfig(
            model=tiny_editor,
            output_dir=tmp_path / out,
            steps=2,
            batch_size=2,
            lora={"rank": 4},
            learning_rate=1e-3,
            **extra,
        )
        train(config, Latents())
        assert (tmp_path / out / "final" / "model_index.json").is_file()
        return [row["loss"] for row in read_log(tmp_path / out)]

    plain = run("plain")
    with_term = run("perceptual", perceptual={"model": str(tiny_dino), "weight": 5.0, "size": 32})
    assert all(b > a for a, b in zip(plain, with_term, strict=True))  # same draws, a positive term added
