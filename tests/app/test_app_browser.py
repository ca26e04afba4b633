"""`insvie app` in a real headless browser (Debian's chromium driven by Playwright): an edit with a tiny
editor, an upload over the limit, a triplet of a built dataset shown and reviewed, and what is served."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from insvie.media import write_video
from insvie.store import Dataset, accepted_triplets

pytest.importorskip("gradio")
pytest.importorskip("diffusers")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path(os.environ.get("INSVIE_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.is_file():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # One page, driven test after test (an upload clears what the edit left): one worker, in file order.
    pytest.mark.xdist_group("browser"),
    # Gradio's own queue code calls pandas options pandas 3 deprecates; nothing of ours.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning", "ignore:The copy keyword:Warning"),
]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUILD_CONFIG = """
split: {clip_frames: 9, max_side: 256, clips_per_shot: 1}
instruct: {per_item: 2, seed: 3, operators: [sepia, night]}
edit: {strengths: [0.6, 0.8, 1.0]}
propagate: {flow_size: 160}
"""
MAX_SECONDS = 3.0
MAX_MB = 5.0


def _clip(path: Path, seconds: float) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (int(seconds * 8), 48, 64, 3), dtype=np.uint8)
    return write_video(path, frames, 8.0)


def _big(path: Path, megabytes: float) -> Path:
    path.write_bytes(b"\0" * int(megabytes * 1024 * 1024))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> dict[str, Path]:
    from insvie.tiny import build_tiny_editor_pipeline

    root = tmp_path_factory.mktemp("app")
    (root / "in").mkdir()
    shutil.copy(shared_media / "cat_grass.mp4", root / "in")
    (root / "build.yaml").write_text(BUILD_CONFIG)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "insvie",
            "build",
            str(root / "ds"),
            "-c",
            str(root / "build.yaml"),
            "-i",
            str(root / "in"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return {
        "dataset": root / "ds",
        "editor": build_tiny_editor_pipeline(root / "editor"),
        "short": _clip(root / "short.mp4", 2),
        "long": _clip(root / "long.mp4", MAX_SECONDS + 2),
        "big": _big(root / "big.mp4", MAX_MB + 1),
        "shots": root / "screenshots",
    }


@pytest.fixture(scope="module")
def app(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from insvie.app.limits import UploadLimits
    from insvie.app.server import AppSettings, launch

    cache = tmp_path_factory.mktemp("gradio")
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    settings = AppSettings(
        model=str(files["editor"]),
        dataset=files["dataset"],
        port=_free_port(),
        limits=UploadLimits(max_mb=MAX_MB, max_seconds=MAX_SECONDS),
    )
    running = launch(settings, block=False, quiet=True)
    try:
        yield running
    finally:
        running.close()
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


@pytest.fixture(scope="module")
def browser(app, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One page on the app, and every request it made that did not go to the app itself."""
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith((app.url, "data:", "blob:"))
                    else outside.append(request.url)
                ),
            )
            page.goto(app.url)
            yield {"page": page, "outside": outside}
        finally:
            context.close()


def _wait_for_playable(page, selector: str) -> None:
    """Wait until the browser has decoded the video's first frame (so it is a video chromium can play)."""
    page.wait_for_function(f"document.querySelector({selector!r})?.readyState >= 2")


def test_the_app_listens_on_loopback_only(app):
    assert app.url.startswith("http://127.0.0.1:")


def test_an_edit_completes_with_progress_and_a_download(browser, files: dict[str, Path]):
    page = browser["page"]
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-source input[type=file]").set_input_files(str(files["short"]))
    page.get_by_text("64x48, 2.0 s").wait_for()
    page.locator("#edit-instruction textarea").fill("make it look like a watercolour painting")
    steps = page.locator("#edit-steps input[type=number]")
    steps.fill("3")
    steps.press("Enter")
    page.evaluate(
        """() => {
            window.seenProgress = false;
            new MutationObserver(() => {
                if (document.body.innerText.includes('denoising')) window.seenProgress = true;
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.locator("#edit-run").click()
    page.get_by_text("edited the first 9 of 16 frames").wait_for()
    assert page.evaluate("window.seenProgress"), "the progress bar never showed the denoising steps"
    _wait_for_playable(page, "#edit-result video")
    link = page.locator("#edit-download a").first
    assert link.get_attribute("href").endswith(".mp4")
    page.screenshot(path=str(files["shots"] / "edit.png"), full_page=True)


def test_uploads_over_the_limits_are_refused_with_clear_messages(browser, files: dict[str, Path]):
    page = browser["page"]
    page.get_by_role("tab", name="Edit").click()
    page.locator("#edit-source button[aria-label='Clear']").first.click()
    page.locator("#edit-source input[type=file]").set_input_files(str(files["long"]))
    page.get_by_text(f"this app edits at most {MAX_SECONDS:g} s").first.wait_for()
    page.locator(".toast-close").first.click()
    page.locator("#edit-source button[aria-label='Clear']").first.click()
    page.locator("#edit-source input[type=file]").set_input_files(str(files["big"]))
    page.get_by_text(f"exceed the maximum allowed size of {MAX_MB:.1f} Mb").first.wait_for()
    page.locator(".toast-close").first.click()


def test_a_triplet_is_shown_and_a_review_is_stored(browser, files: dict[str, Path]):
    page = browser["page"]
    page.get_by_role("tab", name="Dataset").click()
    page.get_by_text("2 triplets, 2 exported, 0 reviewed").wait_for()
    for video in ("#ds-source video", "#ds-edited video"):
        _wait_for_playable(page, video)
    with Dataset.open(files["dataset"], create=False) as ds:
        shown = page.locator("#ds-triplet input").input_value()
        item = ds.get_item(shown)
    assert item is not None and item.kind == "triplet"
    page.locator("#ds-about").get_by_text(item.meta["instruction"]).wait_for()
    assert page.locator("#ds-candidates img").count() == 3  # the whole sweep, rejected candidates too
    assert page.locator("#ds-funnel [data-step='refilter']").count() == 1
    page.locator("#ds-next").click()
    page.wait_for_function(f"document.querySelector('#ds-triplet input').value !== {shown!r}")
    cells = page.locator("#ds-table [role=gridcell]:visible")
    cells.filter(has_text=item.meta["instruction"]).first.click()  # its row in the table
    page.wait_for_function(f"document.querySelector('#ds-triplet input').value === {shown!r}")
    page.locator("#ds-about").get_by_text(item.meta["instruction"]).wait_for()
    page.locator("#ds-verdict").get_by_text("reject").click()
    page.locator("#ds-reason textarea").fill("the sepia bleeds into the sky")
    page.locator("#ds-save").click()
    page.get_by_text("saved: reject").wait_for()
    page.get_by_text("2 triplets, 1 exported, 1 reviewed").wait_for()
    page.locator("#ds-about").get_by_text("left out of exports").wait_for()
    for video in ("#ds-source video", "#ds-edited video"):
        _wait_for_playable(page, video)
    page.screenshot(path=str(files["shots"] / "dataset.png"), full_page=True)
    page.locator("#ds-status input").click()
    page.get_by_role("option", name="accepted", exact=True).click()
    page.get_by_text("1 triplet matches").wait_for()  # the filter: only what export writes
    with Dataset.open(files["dataset"], create=False) as ds:
        review = ds.get_review(shown)
        assert (review.verdict, review.reason) == ("reject", "the sepia bleeds into the sky")
        assert shown not in {t.item.id for t in accepted_triplets(ds)}


def test_only_staged_media_is_served_and_nothing_leaves_the_machine(app, browser, files: dict[str, Path]):
    dataset = files["dataset"].resolve()
    with Dataset.open(dataset, create=False) as ds:
        media = ds.resolve(next(ds.iter_items("triplet")).media)
    for path in (dataset / "insvie.db", media, dataset / "build.json"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{app.url}gradio_api/file={path}", timeout=10)
        assert refused.value.code == 403, path
    assert browser["outside"] == []
