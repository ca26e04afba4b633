"""The editor training loop on the tiny editor: one run per data mode, exact resume (2-process runs:
test_train_distributed.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")
pytest.importorskip("peft")

from torch.utils.data import Dataset  # noqa: E402

from insvie.train.config import TrainStageConfig  # noqa: E402
from insvie.train.loop import train  # noqa: E402
from insvie.train.tracking import read_log  # noqa: E402


class TinyTriplets(Dataset):
    """Random triplets for the tiny editor: 9 frames at 32x48 (3 latent frames of 4x6)."""

    def __init__(self, cached: bool, size: int = 6):
        self.cached, self.size = cached, size
        self.fetched = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict:
        self.fetched += 1
        g = torch.Generator().manual_seed(i)
        if self.cached:
            return {
                "source_latents": torch.randn(3, 16, 4, 6, generator=g),
                "target_latents": torch.randn(3, 16, 4, 6, generator=g),
                "prompt_embeds": torch.randn(16, 32, generator=g),
                "id": f"c{i}",
                "drop_source": i % 3 == 1,
                "drop_text": i % 3 == 2,
            }
        return {
            "source": torch.rand(9, 3, 32, 48, generator=g) * 2 - 1,
            "target": torch.rand(9, 3, 32, 48, generator=g) * 2 - 1,
            "prompt": "make it red" if i % 2 else "",
            "id": f"p{i}",
        }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from insvie.tiny import build_tiny_editor_pipeline

    return build_tiny_editor_pipeline(tmp_path_factory.mktemp("tiny") / "editor")


def _config(model: Path, out: Path, **extra) -> TrainStageConfig:
    settings = {
        "model": model,
        "output_dir": out,
        "steps": 2,
        "batch_size": 2,
        "learning_rate": 1e-3,
        "warmup_steps": 1,
        "lora": {"rank": 4},
        **extra,
    }
    return TrainStageConfig.model_validate(settings)


def _accelerator(accumulation: int = 1):
    from accelerate import Accelerator

    return Accelerator(gradient_accumulation_steps=accumulation, mixed_precision="no", cpu=True)


def _transformer_state(folder: Path) -> dict:
    from safetensors.torch import load_file

    files = sorted((folder / "transformer").glob("*.safetensors"))
    state: dict = {}
    for file in files:
        state.update(load_file(file))
    return state


@pytest.mark.parametrize("cached", [True, False])
def test_trains_and_saves_a_loadable_pipeline(tiny_model, tmp_path, cached):
    from insvie.editor import InsViEEditPipeline

    config = _config(tiny_model, tmp_path / "run")
    final = train(config, TinyTriplets(cached), accelerator=_accelerator())
    rows = read_log(config.output_dir)
    assert [r["step"] for r in rows] == [1.0, 2.0]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    assert rows[0]["lr"] == pytest.approx(1e-3)
    pipe = InsViEEditPipeline.from_pretrained(final)
    assert type(pipe.transformer).__name__ == "CogVideoXTransformer3DModel"
    before, after = _transformer_state(tiny_model), _transformer_state(final)
    assert before.keys() == after.keys()  # LoRA fused: no adapter keys left
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert "patch_embed.proj.weight" in changed
    assert any("to_q" in k for k in changed)
    assert not any("norm" in k for k in changed)  # frozen outside LoRA + patch embedding


def test_full_finetune_updates_everything_trainable(tiny_model, tmp_path):
    config = _config(tiny_model, tmp_path / "full", finetune="full", steps=1, learning_rate=1e-2)
    final = train(config, TinyTriplets(True), accelerator=_accelerator())
    before, after = _transformer_state(tiny_model), _transformer_state(final)
    assert not torch.equal(before["norm_final.weight"], after["norm_final.weight"])


def test_resume_equals_uninterrupted(tiny_model, tmp_path):
    data = TinyTriplets(True, size=5)
    extra = {"steps": 4, "batch_size": 1, "gradient_accumulation_steps": 2, "checkpoint_every": 1}
    straight = _config(tiny_model, tmp_path / "straight", **extra)
    final_a = train(straight, data, accelerator=_accelerator(2))

    resumed = _config(tiny_model, tmp_path / "resumed", **extra)
    train(resumed, data, accelerator=_accelerator(2), stop_after=2)
    assert not (resumed.output_dir / "final").exists()
    assert [r["step"] for r in read_log(resumed.output_dir)] == [1.0, 2.0]
    data.fetched = 0
    final_b = train(resumed, data, accelerator=_accelerator(2))
    assert data.fetched == 4  # the resumed run did only the last 2 steps x 2 micro-batches

    losses_a = [r["loss"] for r in read_log(straight.output_dir)]
    losses_b = [r["loss"] for r in read_log(resumed.output_dir)]
    assert len(losses_a) == len(losses_b) == 4
    assert losses_b == pytest.approx(losses_a, abs=1e-6)
    state_a, state_b = _transformer_state(final_a), _transformer_state(final_b)
    for key, value in state_a.items():
        assert torch.allclose(value, state_b[key], atol=1e-6), key


def test_gradient_checkpointing_changes_memory_not_results(tiny_model, tmp_path):
    """Recomputing activations in the backward pass must give the same losses and weights."""
    data = TinyTriplets(True, size=4)
    plain = _config(tiny_model, tmp_path / "plain", steps=2)
    checkpointed = _config(tiny_model, tmp_path / "ckpt", steps=2, gradient_checkpointing=True)
    final_a = train(plain, data, accelerator=_accelerator())
    final_b = train(checkpointed, data, accelerator=_accelerator())
    losses_a = [r["loss"] for r in read_log(plain.output_dir)]
    assert [r["loss"] for r in read_log(checkpointed.output_dir)] == pytest.approx(losses_a, abs=1e-6)
    state_a, state_b = _transformer_state(final_a), _transformer_state(final_b)
    for key, value in state_a.items():
        assert torch.allclose(value, state_b[key], atol=1e-6), key


def test_bf16_mixed_precision_trains(tiny_model, tmp_path):
    """bf16 autocast (CPU here, GPU in real runs): finite losses near fp32's, fp32 master weights saved."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    data = TinyTriplets(True, size=4)
    fp32 = _config(tiny_model, tmp_path / "fp32", steps=2)
    bf16 = _config(tiny_model, tmp_path / "bf16", steps=2, mixed_precision="bf16")
    train(fp32, data, accelerator=_accelerator())
    AcceleratorState._reset_state(reset_partial_state=True)  # the process-wide state pins the precision
    try:
        final = train(bf16, data, accelerator=Accelerator(mixed_precision="bf16", cpu=True))
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    losses_fp32 = [r["loss"] for r in read_log(fp32.output_dir)]
    losses_bf16 = [r["loss"] for r in read_log(bf16.output_dir)]
    assert all(torch.isfinite(torch.tensor(losses_bf16)))
    assert losses_bf16 != losses_fp32  # autocast really ran in bf16
    assert losses_bf16 == pytest.approx(losses_fp32, rel=0.05)
    state = _transformer_state(final)
    assert all(v.dtype == torch.float32 for v in state.values())
    changed = _transformer_state(tiny_model)["patch_embed.proj.weight"]
    assert not torch.equal(changed, state["patch_embed.proj.weight"])
