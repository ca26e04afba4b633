"""The training loop under ``accelerate launch`` with the shipped configs: DDP and FSDP2, 2 CPU processes.

Both runs go through ``accelerate launch --config_file configs/accelerate/<name>.yaml`` on gloo. For
FSDP, accelerate turns sharding on only for GPUs and other accelerators (on CPU it falls back to plain
data parallel), so the script sets the distributed type by hand after reading the plugin from the
environment the launcher built from the YAML: from there on the same FSDP2 code runs (``fully_shard``,
sharded checkpoints, gathered final weights) as on GPUs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("accelerate")
pytest.importorskip("peft")

from insvie.train.checkpoint import list_checkpoints, weights_digest  # noqa: E402
from insvie.train.tracking import read_log  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

SCRIPT = """
import sys
from pathlib import Path

import torch
from torch.utils.data import Dataset

from insvie.train.config import TrainStageConfig
from insvie.train.loop import train


class Latents(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {
            "source_latents": torch.randn(3, 16, 4, 6, generator=g),
            "target_latents": torch.randn(3, 16, 4, 6, generator=g),
            "prompt_embeds": torch.randn(16, 32, generator=g),
            "id": str(i),
        }


model, out, finetune, stop_after, sharded, video = sys.argv[1:7]
accelerator = None
if sharded == "fsdp":
    from accelerate import Accelerator
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* variables accelerate launch set
    accelerator = Accelerator(cpu=True, fsdp_plugin=plugin)
    PartialState().distributed_type = DistributedType.FSDP
    accelerator.state.fsdp_plugin = plugin
extra = {"lora": {"rank": 4}} if finetune == "lora" else {"finetune": "full"}
validation = {"every": 3, "videos": [video], "prompts": ["make it sepia"], "num_inference_steps": 2,
              "num_frames": 5, "height": 32, "width": 48}
config = TrainStageConfig(model=Path(model), output_dir=Path(out), steps=3, batch_size=1,
                          learning_rate=1e-3, checkpoint_every=1, validation=validation, **extra)
train(config, Latents(), accelerator=accelerator, stop_after=int(stop_after) or None)
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from insvie.tiny import build_tiny_editor_pipeline

    return build_tiny_editor_pipeline(tmp_path_factory.mktemp("tiny") / "editor")


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scripts") / "train_2proc.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return path


def _launch(script: Path, config: str, model: Path, out: Path, finetune: str, stop_after: int = 0) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "configs" / "accelerate" / f"{config}.yaml"),
        "--num_processes=2",
        "--main_process_port=0",
        str(script),
        str(model),
        str(out),
        finetune,
        str(stop_after),
        "fsdp" if config.startswith("fsdp") else "plain",
        str(REPO / "examples" / "media" / "cat_grass.mp4"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]


def _validated(out: Path) -> bool:
    """Whether the step-3 validation edit was written (a failed one is only a warning in the log)."""
    folder = out / "validation" / "step-00000003"
    return (folder / "000.mp4").is_file() and (folder / "grid.png").is_file()


def _digests(out: Path) -> list[str]:
    return [(out / f"weights_rank{rank}.sha256").read_text().strip() for rank in range(2)]


def _transformer(folder: Path):
    from diffusers import CogVideoXTransformer3DModel

    return CogVideoXTransformer3DModel.from_pretrained(folder / "transformer")


def test_ddp_config_trains_two_processes_in_step(tiny_model, script, tmp_path):
    out = tmp_path / "ddp"
    _launch(script, "ddp", tiny_model, out, "lora")
    digests = _digests(out)
    assert digests[0] == digests[1]
    assert [r["step"] for r in read_log(out)] == [1.0, 2.0, 3.0]
    assert (out / "final" / "model_index.json").is_file()
    assert _validated(out)


def test_fsdp2_full_finetune_saves_the_gathered_weights(tiny_model, script, tmp_path):
    out = tmp_path / "fsdp_full"
    _launch(script, "fsdp2", tiny_model, out, "full")
    digests = _digests(out)
    assert digests[0] == digests[1]  # each process digests the gathered (whole) weights
    final = _transformer(out / "final")
    assert weights_digest(final) == digests[0]  # what was saved is what was trained
    assert weights_digest(final) != weights_digest(_transformer(tiny_model))
    (_, checkpoint), *_ = reversed(list_checkpoints(out))
    assert (checkpoint / "pytorch_model_fsdp_0").is_dir()  # sharded, one file per process


# FSDP2 + LoRA, run straight through and run stopped after step 1 then resumed: one launch per fixture
# (mostly three processes' imports; the training itself takes seconds), shared by the tests below. Those
# run on one xdist worker, so that each launch happens once, and no one test pays for all three.
@pytest.fixture(scope="module")
def fsdp2_lora_straight(tiny_model, script, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fsdp2_lora") / "straight"
    _launch(script, "fsdp2", tiny_model, out, "lora")
    return out


@pytest.fixture(scope="module")
def fsdp2_lora_stopped(tiny_model, script, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fsdp2_lora") / "resumed"
    _launch(script, "fsdp2", tiny_model, out, "lora", stop_after=1)
    return out


@pytest.fixture(scope="module")
def fsdp2_lora_resumed(tiny_model, script, fsdp2_lora_stopped) -> Path:
    _launch(script, "fsdp2", tiny_model, fsdp2_lora_stopped, "lora")
    return fsdp2_lora_stopped


@pytest.mark.xdist_group("fsdp2_lora")
def test_fsdp2_lora_validates_and_merges_the_lora(tiny_model, fsdp2_lora_straight):
    assert _validated(fsdp2_lora_straight)  # sharded forward passes, on every process
    a = _transformer(fsdp2_lora_straight / "final")
    start = _transformer(tiny_model).state_dict()
    assert any(not torch.equal(start[k], v) for k, v in a.state_dict().items())  # LoRA merged in


@pytest.mark.xdist_group("fsdp2_lora")
def test_fsdp2_lora_run_stops_after_the_step_asked(fsdp2_lora_stopped):
    # before the resumed run below (the tests of a module run in order) picks it up
    assert not (fsdp2_lora_stopped / "final").exists()
    assert [r["step"] for r in read_log(fsdp2_lora_stopped)] == [1.0]


@pytest.mark.xdist_group("fsdp2_lora")
def test_fsdp2_lora_stopped_run_resumes_to_the_end(fsdp2_lora_resumed):
    assert _validated(fsdp2_lora_resumed)
    assert [r["step"] for r in read_log(fsdp2_lora_resumed)] == [1.0, 2.0, 3.0]


@pytest.mark.xdist_group("fsdp2_lora")
def test_fsdp2_lora_resume_equals_uninterrupted(fsdp2_lora_straight, fsdp2_lora_resumed):
    straight, resumed = fsdp2_lora_straight, fsdp2_lora_resumed
    assert _digests(resumed) == _digests(straight)
    losses = [[r["loss"] for r in read_log(out)] for out in (straight, resumed)]
    assert losses[1] == pytest.approx(losses[0], abs=1e-6)
    a, b = _transformer(straight / "final"), _transformer(resumed / "final")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name
