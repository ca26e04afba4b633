"""The resume guarantees of ``insvie build``, measured: a finished build re-runs in next to no time,
and a build killed with SIGKILL at a random moment finishes, when re-run, as if never interrupted.

    .venv/bin/python benchmarks/resume.py [--repeat 3] [--seed 0] [--config C] [--input PATH ...] [--quick]

(a) ``insvie build OUT`` (the demo config on examples/media by default) runs as a subprocess: T1.
(b) The same command again: T2, shown as T2/T1 (target < 5%), and every step in build.json must
    report ``ran: 0``.
(c) ``--repeat`` times, a fresh OUT2 is built, killed with SIGKILL after a delay drawn (from
    ``--seed``) between 20% and 80% of T1, its results snapshotted, and the build re-run to completion.
    Checks, as PASS/FAIL lines: the triplets (ids and meta) equal OUT's; no duplicate item ids;
    ``Dataset.verify()`` finds nothing; every result that was done or rejected before the kill still
    has ``attempts == 1`` (it was not recomputed); every step's verdicts (status, reason and config
    hash per item) equal OUT's. Timings are shown as ratios to the uninterrupted build's T1.

Whether the triplets' edited videos are bit-identical to OUT's is printed as information only: two
uninterrupted builds of the same inputs already differ in some triplets, because lossy H.264 encoding
(``insvie.media.write_video``: libx264 with several threads) is not bit-reproducible, so it says
nothing about resuming.

The exit status is 1 if any correctness check fails (timings never fail the run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from insvie.media import read_frames
from insvie.store import Dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
RERUN_TARGET = 0.05


def build_command(out: Path, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "insvie", "build", str(out), "--config", str(args.config)]
    for path in args.input:
        command += ["--input", str(path)]
    return command


def run_build(out: Path, args: argparse.Namespace, log: Path) -> float:
    """Run a build to completion; its wall seconds. A failing build stops the benchmark."""
    started = time.perf_counter()
    with open(log, "wb") as sink:
        code = subprocess.call(build_command(out, args), stdout=sink, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    seconds = time.perf_counter() - started
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"insvie build {out} exited with {code}:\n{tail}")
    return seconds


def run_and_kill(out: Path, args: argparse.Namespace, delay: float, log: Path) -> bool:
    """Start a build and SIGKILL its process group after ``delay`` s; False if it finished first."""
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            build_command(out, args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,  # its own group, so any worker it spawned dies with it
        )
        try:
            proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True


def snapshot(root: Path) -> dict[str, Any]:
    """What a dataset holds: items by id, every latest result by (stage, item), recorded media."""
    with Dataset.open(root, create=False) as ds:
        items = list(ds.iter_items())
        results = {(r.stage, r.item_id): r for r in ds.latest_results()}
        problems = ds.verify()
    with sqlite3.connect(f"file:{root / 'insvie.db'}?mode=ro", uri=True) as conn:
        recorded = {row[0] for row in conn.execute("SELECT relpath FROM media")}
    on_disk = {str(p.relative_to(root)) for p in (root / "media").rglob("*") if p.is_file()}
    return {
        "root": root,
        "ids": [item.id for item in items],
        "triplets": {i.id: (i.meta, i.media) for i in items if i.kind == "triplet"},
        "results": results,
        "problems": problems,
        "orphans": len(on_disk - recorded),
    }


def pixel_difference(root_a: Path, root_b: Path, media_a: str | None, media_b: str | None) -> int:
    """Largest absolute pixel difference between two triplets' edited videos."""
    if media_a is None or media_b is None:
        return -1
    a = read_frames(root_a / media_a).astype(np.int16)
    b = read_frames(root_b / media_b).astype(np.int16)
    return int(np.abs(a - b).max()) if a.shape == b.shape else -1


def verdicts(results: dict[tuple[str, str], Any]) -> dict[tuple[str, str], tuple[str, str | None, str]]:
    return {key: (r.status, r.reason, r.config_hash) for key, r in results.items()}


def line(ok: bool, text: str) -> bool:
    print(f"    {'PASS' if ok else 'FAIL'}  {text}")
    return ok


def kill_and_resume(
    index: int, delay: float, reference: dict[str, Any], t1: float, args: argparse.Namespace, tmp: Path
) -> tuple[bool, int, int]:
    """One kill-and-resume round; (all checks passed, results recomputed, results kept)."""
    out = tmp / f"killed-{index}"
    killed = run_and_kill(out, args, delay, tmp / f"killed-{index}.log")
    leftovers = len(list((out / "tmp").glob("*"))) if (out / "tmp").is_dir() else 0
    before = snapshot(out) if (out / "insvie.db").is_file() else {"results": {}, "ids": [], "triplets": {}}
    settled = {k: r for k, r in before["results"].items() if r.status in ("done", "rejected")}
    resume_s = run_build(out, args, tmp / f"resumed-{index}.log")
    after = snapshot(out)
    print(
        f"\n  kill {index + 1}: SIGKILL after {delay:.2f} s ({delay / t1:.0%} of T1)"
        + ("" if killed else " -- the build had already finished, nothing was killed")
        + f"; {len(settled)} results settled and {len(before['triplets'])} triplets made before the kill, "
        f"{leftovers} file{'' if leftovers == 1 else 's'} left in tmp/; "
        f"resume took {resume_s:.2f} s ({resume_s / t1:.2f} of T1)"
    )
    ok = True
    ref, got = reference["triplets"], after["triplets"]
    ok &= line(
        set(ref) == set(got),
        f"triplet ids equal to the uninterrupted build ({len(got)} vs {len(ref)}, "
        f"{len(set(ref) - set(got))} missing, {len(set(got) - set(ref))} extra)",
    )
    same_meta = sum(1 for i in set(ref) & set(got) if ref[i][0] == got[i][0])
    ok &= line(same_meta == len(ref) == len(got), f"triplet meta equal ({same_meta} of {len(ref)})")
    shared = sorted(set(ref) & set(got))
    differ = [i for i in shared if ref[i][1] != got[i][1]]
    worst = max((pixel_difference(reference["root"], out, ref[i][1], got[i][1]) for i in differ), default=0)
    print(
        f"    info  triplet media identical by content address: {len(shared) - len(differ)} of {len(shared)}"
        + (f" (largest pixel difference {worst}; not a resume check: see --help)" if differ else "")
    )
    ok &= line(
        len(after["ids"]) == len(set(after["ids"])),
        f"no duplicate item ids ({len(after['ids'])} items, {len(set(after['ids']))} distinct)",
    )
    ok &= line(not after["problems"], f"Dataset.verify() empty ({len(after['problems'])} problems)")
    recomputed = [
        key
        for key, r in settled.items()
        if key not in after["results"]
        or after["results"][key].attempts != 1
        or after["results"][key].config_hash != r.config_hash
    ]
    ok &= line(
        not recomputed,
        f"no settled result recomputed: {len(recomputed)} of {len(settled)} done/rejected before the kill "
        f"have attempts != 1 after the rerun"
        + (f" (e.g. {recomputed[0][0]} {recomputed[0][1]})" if recomputed else ""),
    )
    want, have = verdicts(reference["results"]), verdicts(after["results"])
    differing = [k for k in set(want) | set(have) if want.get(k) != have.get(k)]
    ok &= line(
        not differing,
        f"every step's verdicts equal the uninterrupted build's "
        f"({len(have)} results, {len(differing)} differ)",
    )
    print(
        f"    info  {after['orphans']} media files on disk but unrecorded (adopted by a batch the kill lost)"
    )
    return ok, len(recomputed), len(settled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="kill-and-resume rounds")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill delays")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "configs" / "demo.yaml")
    parser.add_argument("--input", type=Path, action="append", help="build inputs (default examples/media)")
    parser.add_argument("--quick", action="store_true", help="one clip, one kill, for the smoke test")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
        args.input = args.input or [REPO_ROOT / "examples" / "media" / "cat_grass.mp4"]
    args.input = args.input or [REPO_ROOT / "examples" / "media"]
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="insvie-resume-") as name:
        tmp = Path(name)
        out = tmp / "reference"
        print(f"insvie build --config {args.config.name} --input {' '.join(str(p) for p in args.input)}")
        t1 = run_build(out, args, tmp / "reference.log")
        t2 = run_build(out, args, tmp / "rerun.log")
        steps = json.loads((out / "build.json").read_text())["steps"]
        reference = snapshot(out)
        print(f"  {'':<44}{'seconds':>9}{'vs T1':>9}")
        print(f"  {'(a) first build, T1':<44}{t1:>9.2f}{1:>9.3f}")
        print(f"  {'(b) re-run of the finished build, T2':<44}{t2:>9.2f}{t2 / t1:>9.3f}")
        print(
            f"  {len(reference['triplets'])} triplets, {len(reference['ids'])} items, "
            f"{len(reference['results'])} results in the reference build"
        )
        ok = line(t2 / t1 < RERUN_TARGET, f"T2/T1 = {t2 / t1:.1%} (target < {RERUN_TARGET:.0%})")
        ran = {s["name"]: s["ran"] for s in steps}
        correct = line(
            all(n == 0 for n in ran.values()),
            f"build.json: every step ran 0 items on the re-run "
            f"({sum(ran.values())} in total over {len(ran)} steps)",
        )

        print(f"\n(c) {args.repeat} kill -9 and resume rounds (delays seeded with {args.seed})")
        recomputed = settled = 0
        for i in range(args.repeat):
            delay = rng.uniform(0.2, 0.8) * t1
            passed, redone, kept = kill_and_resume(i, delay, reference, t1, args, tmp)
            correct &= passed
            recomputed += redone
            settled += kept

    print(
        f"\nsummary: re-run T2/T1 {t2 / t1:.1%} (target < {RERUN_TARGET:.0%}: {'ok' if ok else 'MISS'}); "
        f"{args.repeat} kill -9 rounds, {recomputed} of {settled} settled results recomputed; "
        f"correctness checks {'all PASS' if correct else 'FAILED'}"
    )
    if not correct:
        sys.exit(1)


if __name__ == "__main__":
    main()
