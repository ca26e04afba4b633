"""Assemble the app and serve it: loopback by default, no telemetry, no share link, nothing served by path."""

from __future__ import annotations

import ipaddress
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from insvie.app.dataset_tab import dataset_tab
from insvie.app.edit_tab import edit_tab
from insvie.app.editing import Editor
from insvie.app.limits import UploadLimits
from insvie.app.media import MediaGuard

REPO_EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "media"
LOOPBACK_WARNING = (
    "WARNING: insvie app is listening on {host}, not on loopback: anyone who can reach this machine "
    "can edit videos with its CPU/GPU and read and review the dataset. There is no login. Use "
    "--host 127.0.0.1 (the default) and an SSH tunnel unless this network is trusted."
)


@dataclass(frozen=True)
class AppSettings:
    """Everything `insvie app` is started with."""

    model: str | None = None
    dataset: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    limits: UploadLimits = field(default_factory=UploadLimits)
    device: str = "auto"
    examples: Path | None = REPO_EXAMPLES
    datasets_root: Path | None = None

    def root(self) -> Path:
        """The folder visitors may open datasets under: ``datasets_root``, else the working directory;
        widened to the ``--dataset`` folder's parent when that lies outside it."""
        root = (self.datasets_root or Path.cwd()).resolve()
        if self.dataset is not None and not self.dataset.resolve().is_relative_to(root):
            return self.dataset.resolve().parent
        return root


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
            )
        except (OSError, ValueError):
            return False


def example_videos(folder: Path | None) -> list[Path]:
    return sorted(folder.glob("*.mp4")) if folder is not None and folder.is_dir() else []


def build_app(settings: AppSettings, work_dir: Path) -> gr.Blocks:
    """The app's Blocks; edited videos and staged dataset media go under ``work_dir``."""
    editor = Editor(settings.model, work_dir / "edits", device=settings.device) if settings.model else None
    guard = MediaGuard(work_dir / "media")
    # delete_cache: Gradio's copies of served files older than a day are removed every hour.
    with gr.Blocks(title="insvie", analytics_enabled=False, delete_cache=(3600, 86400)) as blocks:
        gr.Markdown("## insvie: instruction-based video editing")
        with gr.Tab("Edit", elem_id="tab-edit"):
            edit_tab(editor, settings.limits, example_videos(settings.examples))
        with gr.Tab("Dataset", elem_id="tab-dataset"):
            dataset_tab(blocks, guard, settings.dataset, settings.root())
    return blocks


@dataclass
class Running:
    """A launched app: its address, and ``close()`` to stop the server and remove its files."""

    blocks: gr.Blocks
    url: str
    work_dir: Path

    def close(self) -> None:
        self.blocks.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def launch(settings: AppSettings, *, block: bool = True, quiet: bool = False) -> Running:
    """Serve the app; with ``block`` wait until interrupted, else return at once (tests, notebooks).

    ``allowed_paths`` stays empty and the datasets root is blocked: Gradio serves only its own
    cache, uploads and the files the handlers hand it, which for the dataset are the media guard's
    staged copies.
    """
    if not is_loopback(settings.host):
        print(LOOPBACK_WARNING.format(host=settings.host), file=sys.stderr, flush=True)
    work_dir = Path(tempfile.mkdtemp(prefix="insvie-app-"))
    blocks = build_app(settings, work_dir)
    blocks.queue(default_concurrency_limit=1)
    blocked = [str(settings.root())]
    try:
        _app, url, _share = blocks.launch(
            server_name=settings.host,
            server_port=settings.port,
            share=False,
            prevent_thread_lock=True,
            quiet=True,  # Gradio's banner suggests share links; the line below is ours
            show_error=True,
            allowed_paths=[],
            blocked_paths=blocked,
            max_file_size=settings.limits.max_bytes,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
        )
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    running = Running(blocks, url, work_dir)
    if not quiet:
        print(f"insvie app: open {url} (Ctrl+C stops it)", file=sys.stderr, flush=True)
    if block:
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up as Ctrl+C does
        try:
            blocks.block_thread()
        finally:
            running.close()
    return running
