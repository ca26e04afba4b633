"""Shared fixtures: the real sample clips (examples/media), an offline environment, a tiny DINOv2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # Workers share the cores: each (and the processes it starts) gets its share of them, not all, since
    # oversubscribed torch threads run toy-sized ops slower than one thread does.
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_media_dir() -> Path | None:
    candidates = [
        os.environ.get("INSVIE_SHARED_MEDIA"),
        REPO_ROOT / "examples" / "media",
        REPO_ROOT.parent / "shared" / "media",
    ]
    for candidate in candidates:
        if candidate and Path(candidate, "horse_gallop.mp4").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The folder of real sample clips (720x480, 8 fps, 49 frames, H.264)."""
    found = _shared_media_dir()
    if found is None:
        pytest.fail("examples/media is missing its clips; set INSVIE_SHARED_MEDIA to a folder holding them")
    return found


@pytest.fixture
def fake_openai():
    """A loopback HTTP server speaking OpenAI's chat-completions protocol; set ``.responder`` to script it."""
    from fakes import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder ``insvie tiny-models`` writes (every tiny model and the configs naming them), made once
    per test process through the CLI, as a user makes it; tests that train or write add their own
    subfolders (``runs/<name>``)."""
    from insvie_cli import run_cli

    dest = tmp_path_factory.mktemp("tiny")
    result = run_cli("tiny-models", str(dest))
    assert result.returncode == 0, result.stderr
    return dest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Toy-sized torch ops run fastest on one thread, and far faster when another process shares the cores.

    Modules of tiny-model tests use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``;
    the previous thread count is restored after the module.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_dino(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random DINOv2 (model and image processor) saved as a folder, for metrics and losses."""
    from insvie.tiny import build_tiny_dino

    return build_tiny_dino(tmp_path_factory.mktemp("dino") / "dinov2")
