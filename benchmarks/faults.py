"""The fault battery of ``insvie build`` and ``insvie export``: every fault the reliability guarantees
cover (``docs/reliability.md``), provoked for real, with what was expected and what was seen.

    .venv/bin/python benchmarks/faults.py [--seed 0] [--keep DIR]

Each row runs real commands as subprocesses on the example clips (small settings, CPU), against a real
loopback HTTP server where an endpoint is involved (``tests/fakes/openai_server.py``):

- kill -9 at random moments (up to three times in one build), then a re-run: the same triplets as an
  uninterrupted build, no duplicate ids, ``verify()`` clean, nothing done before a kill recomputed;
- two builds on one dataset at once: the second is refused at once naming the first, the first
  finishes, no item is tried twice;
- bad files among good ones (garbage, a truncated clip, a symlink loop, a dangling link): the good ones
  give triplets, every bad one is listed with its reason by ``status --json``;
- a flaky endpoint (every other request a 503): retries absorb it, every item gets its instruction;
- a budget cap of 3 requests with 4 requests in flight: exactly 3 sent, the step stopped, a re-run
  with a larger cap continues;
- an endpoint that is down, a model folder that is missing, an input that does not exist: refused
  before any work, naming the config key or flag;
- a step that fails every item (the endpoint refuses the key): the reason printed once as it happens,
  listed by ``status``, and a non-zero exit;
- exports to bad destinations (a file, a path under a file, the dataset's media folder): one-line
  errors, exit 2, no traceback.

Prints one table: fault, expected, seen, PASS/FAIL. Exits 1 if any row fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MEDIA = REPO_ROOT / "examples" / "media"
sys.path.insert(0, str(REPO_ROOT / "tests"))

from fakes.openai_server import FakeOpenAIServer, FakeReply  # noqa: E402

from insvie.store import Dataset  # noqa: E402

SMALL = {
    "split": {"clip_frames": 9, "max_side": 128, "clips_per_shot": 1},
    "instruct": {"per_item": 1, "seed": 3, "operators": ["night", "sepia", "teal_orange"]},
    "edit": {"strengths": [0.6, 1.0]},
    "propagate": {"flow_size": 128},
    "animate": {"num_frames": 9, "max_side": 128},
}
WORDS = "keep the subject, its pose, the camera framing and the layout of the scene exactly as they are"


def llm_reply(request: dict) -> dict:
    """A valid reply to each of the two requests the LLM instruction writer makes per clip."""
    if request["response_format"]["json_schema"]["name"] == "caption":
        return {"caption": "A subject moves across an outdoor scene.", "objects": ["subject"]}
    edit = {
        "category": "style",
        "instruction": "Turn it into a pop art poster",
        "long_instruction": f"Turn it into a pop art poster across the whole frame while you {WORDS}.",
        "target_caption": "the same scene as a pop art poster",
    }
    return {"edits": [edit]}


@dataclass
class Row:
    fault: str
    expected: str
    seen: str
    ok: bool


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "insvie", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "250", **(env or {})},
    )


def write_config(path: Path, **sections: object) -> Path:
    path.write_text(json.dumps({**SMALL, **sections}))
    return path


def triplets(root: Path) -> set[str]:
    with Dataset.open(root, create=False) as ds:
        return {item.id for item in ds.iter_items("triplet")}


def one_line_error(result: subprocess.CompletedProcess) -> bool:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr


# -- the faults -------------------------------------------------------------------------------------


def kills(tmp: Path, rng: random.Random) -> Row:
    config = write_config(tmp / "kill.yaml")
    started = time.perf_counter()
    reference = run("build", str(tmp / "whole"), "-c", str(config), "-i", str(MEDIA))
    whole_s = time.perf_counter() - started
    out = tmp / "killed"
    done_before: dict[tuple[str, str], int] = {}
    killed = 0
    for _ in range(8):  # until three kills landed (a resumed build has less left to do)
        if killed == 3:
            break
        command = [sys.executable, "-m", "insvie", "build", str(out), "-c", str(config), "-i", str(MEDIA)]
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.3, 0.6) * whole_s * (0.8**killed))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
        if (out / "insvie.db").is_file():
            with Dataset.open(out, create=False) as ds:
                for result in ds.latest_results():
                    if result.status != "failed":
                        done_before.setdefault((result.stage, result.item_id), result.attempts)
    final = run("build", str(out), "-c", str(config), "-i", str(MEDIA))
    with Dataset.open(out, create=False) as ds:
        ids = [item.id for item in ds.iter_items()]
        problems = ds.verify(rehash=True)
        redone = [
            key
            for key, r in {(r.stage, r.item_id): r for r in ds.latest_results()}.items()
            if key in done_before and r.attempts != done_before[key]
        ]
    same = reference.returncode == final.returncode == 0 and triplets(out) == triplets(tmp / "whole")
    ok = same and len(ids) == len(set(ids)) and not problems and not redone
    seen = (
        f"{killed} kills; triplets {'equal' if same else 'DIFFER'}; "
        f"{len(ids) - len(set(ids))} duplicate ids; "
        f"{len(problems)} verify problems; {len(redone)} of {len(done_before)} settled results recomputed"
    )
    return Row("kill -9 at random moments, re-run", "same triplets, nothing settled redone", seen, ok)


def concurrent(tmp: Path) -> Row:
    config = write_config(tmp / "two.yaml")
    out = tmp / "two"
    command = [sys.executable, "-m", "insvie", "build", str(out), "-c", str(config), "-i", str(MEDIA)]
    first = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "writer.lock").is_file():
        time.sleep(0.05)
    time.sleep(0.5)
    started = time.perf_counter()
    second = run("build", str(out), "-c", str(config), "-i", str(MEDIA))
    refused_s = time.perf_counter() - started
    first.communicate(timeout=900)
    with Dataset.open(out, create=False) as ds:
        twice = [r for r in ds.latest_results() if r.attempts > 1]
    named = f"pid {first.pid}" in second.stderr
    ok = second.returncode == 2 and named and first.returncode == 0 and not twice
    seen = (
        f"second exit {second.returncode} after {refused_s:.1f} s, "
        f"holder {'named' if named else 'NOT named'}; "
        f"first exit {first.returncode}; {len(twice)} results tried twice"
    )
    return Row("two builds on one dataset", "second refused naming the first", seen, ok)


def bad_files(tmp: Path) -> Row:
    media = tmp / "mixed"
    media.mkdir()
    shutil.copy(MEDIA / "horse_gallop.mp4", media)
    (media / "garbage.mp4").write_bytes(os.urandom(5000))
    whole = (MEDIA / "cat_grass.mp4").read_bytes()
    (media / "truncated.mp4").write_bytes(whole[: len(whole) // 3])
    (media / "loop-a").symlink_to(media / "loop-b")
    (media / "loop-b").symlink_to(media / "loop-a")
    (media / "dangling.png").symlink_to(tmp / "gone.png")
    result = run(
        "build", str(tmp / "mixed-ds"), "-c", str(write_config(tmp / "mixed.yaml")), "-i", str(media)
    )
    report = json.loads(run("status", str(tmp / "mixed-ds"), "--json").stdout or "{}")
    listed = {Path(p["path"]).name: p["reason"] for p in report.get("inputs", [])}
    bad = {"garbage.mp4", "truncated.mp4", "loop-a", "loop-b", "dangling.png"}
    ok = result.returncode == 0 and report.get("triplets", 0) > 0 and bad <= set(listed)
    seen = (
        f"exit {result.returncode}; {report.get('triplets', 0)} triplets; "
        f"listed {len(bad & set(listed))}/5 bad"
    )
    return Row("bad files among good ones", "good ones built, every bad one named", seen, ok)


def videos(tmp: Path) -> Path:
    """The example clips without the photo, so only the video branch's instruction step asks the LLM."""
    folder = tmp / "videos"
    if not folder.is_dir():
        folder.mkdir()
        for clip in MEDIA.glob("*.mp4"):
            shutil.copy(clip, folder)
    return folder


def llm_config(tmp: Path, name: str, server: FakeOpenAIServer, **chat: object) -> Path:
    settings = {"model": "fake-gpt", "base_url": server.base_url, "concurrency": 4, **chat}
    instruct = {"source": "llm", "per_item": 1, "categories": {"style": 1}, "chat": settings}
    return write_config(tmp / f"{name}.yaml", instruct=instruct, run={"max_attempts": 1})


def flaky(tmp: Path) -> Row:
    counter = iter(range(10**6))

    def every_other(request: dict) -> FakeReply | dict:
        return (
            FakeReply(status=503, error_message="overloaded")
            if next(counter) % 2 == 0
            else llm_reply(request)
        )

    with FakeOpenAIServer(every_other) as server:
        config = llm_config(tmp, "flaky", server, max_retries=3)
        result = run("build", str(tmp / "flaky-ds"), "-c", str(config), "-i", str(videos(tmp)))
        sent = len(server.chat_requests)
    report = json.loads(run("status", str(tmp / "flaky-ds"), "--json").stdout or "{}")
    (instruct,) = [s for s in report.get("steps", []) if s["stage"] == "instruct"] or [{}]
    ok = result.returncode == 0 and instruct.get("failed", 1) == 0 and instruct.get("kept", 0) > 0
    seen = (
        f"exit {result.returncode}; kept {instruct.get('kept')}, failed {instruct.get('failed')}; "
        f"{sent} requests"
    )
    return Row("flaky endpoint (every other 503)", "retries absorb it, nothing fails", seen, ok)


def budget(tmp: Path) -> Row:
    with FakeOpenAIServer(llm_reply) as server:
        capped = llm_config(tmp, "capped", server, max_requests=3)
        first = run("build", str(tmp / "budget-ds"), "-c", str(capped), "-i", str(videos(tmp)))
        sent_first = len(server.chat_requests)
        raised = llm_config(tmp, "raised", server, max_requests=50)
        second = run("build", str(tmp / "budget-ds"), "-c", str(raised), "-i", str(videos(tmp)))
        sent_second = len(server.chat_requests) - sent_first
    stopped = "instruct stopped" in first.stderr
    ok = first.returncode == 0 and sent_first == 3 and stopped and second.returncode == 0 and sent_second > 0
    seen = (
        f"{sent_first} sent under the cap ({'stopped' if stopped else 'NOT stopped'}); "
        f"{sent_second} after raising it"
    )
    return Row("budget 3 requests, 4 in flight", "exactly 3 sent, re-run continues", seen, ok)


def refused_before_work(tmp: Path) -> Row:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(
        tmp / "dead.yaml",
        edit={"backend": "instruct_pix2pix", "model": str(tmp / "no-model")},
        instruct={"source": "llm", "chat": {"model": "m", "base_url": f"http://127.0.0.1:{port}/v1"}},
    )
    dead = run("build", str(tmp / "dead-ds"), "-c", str(config), "-i", str(MEDIA))
    missing = run("build", str(tmp / "missing-ds"), "-i", str(tmp / "nowhere"))
    named = "edit.model" in dead.stderr and "instruct.chat.base_url" in dead.stderr
    nothing = not (tmp / "dead-ds").exists() and not (tmp / "missing-ds").exists()
    ok = (
        dead.returncode == 2 and missing.returncode == 2 and named and nothing and "--input" in missing.stderr
    )
    seen = f"exits {dead.returncode}/{missing.returncode}; keys {'named' if named else 'NOT named'}; " + (
        "no dataset made" if nothing else "a dataset was made"
    )
    return Row("dead endpoint, missing model, missing input", "refused before any work", seen, ok)


def every_item_fails(tmp: Path) -> Row:
    with FakeOpenAIServer(lambda _r: FakeReply(status=401, error_message="Incorrect API key")) as server:
        config = llm_config(tmp, "refused", server, max_retries=0)
        result = run("build", str(tmp / "refused-ds"), "-c", str(config), "-i", str(videos(tmp)))
    printed = sum(line.startswith("instruct failed") for line in result.stderr.splitlines())
    table = run("status", str(tmp / "refused-ds")).stdout
    ok = result.returncode == 1 and printed == 1 and "Incorrect API key" in table
    shown = "shows" if "Incorrect API key" in table else "MISSES"
    seen = f"exit {result.returncode}; reason printed {printed}x during the build; status {shown} it"
    return Row("a step fails every item", "reason shown once, in status, exit 1", seen, ok)


def bad_exports(tmp: Path, dataset: Path) -> Row:
    a_file = tmp / "a-file"
    a_file.write_text("x")
    cases = [
        ("parquet", a_file),
        ("webdataset", a_file),
        ("insvie-csv", a_file / "below"),
        ("insvie-csv", dataset / "media"),
    ]
    results = [run("export", str(dataset), "-f", fmt, "--dest", str(dest)) for fmt, dest in cases]
    good = sum(one_line_error(r) for r in results)
    fine = run("export", str(dataset), "-f", "insvie-csv").returncode == 0
    return Row(
        "exports to bad destinations",
        "one-line errors, exit 2",
        f"{good}/{len(cases)} one-line exit-2 errors; a good export then exits {0 if fine else 'non-zero'}",
        good == len(cases) and fine,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="draws the kill moments")
    parser.add_argument("--keep", type=Path, help="keep the datasets in this folder (default: a temp one)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as temp:
        tmp = args.keep or Path(temp)
        tmp.mkdir(parents=True, exist_ok=True)
        battery: list[Callable[[], Row]] = [
            lambda: kills(tmp, rng),
            lambda: concurrent(tmp),
            lambda: bad_files(tmp),
            lambda: flaky(tmp),
            lambda: budget(tmp),
            lambda: refused_before_work(tmp),
            lambda: every_item_fails(tmp),
            lambda: bad_exports(tmp, tmp / "whole"),
        ]
        rows = []
        for fault in battery:
            started = time.perf_counter()
            rows.append(fault())
            print(f"  {rows[-1].fault}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("fault", "expected", "seen")]
    header = ("fault", "expected", "seen", "result")
    print("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 6], strict=True)))
    for row in rows:
        cells = (row.fault, row.expected, row.seen, "PASS" if row.ok else "FAIL")
        print("  ".join(c.ljust(w) for c, w in zip(cells, [*widths, 6], strict=True)))
    failed = sum(not row.ok for row in rows)
    print(f"\nsummary: {len(rows) - failed}/{len(rows)} faults handled as promised")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
