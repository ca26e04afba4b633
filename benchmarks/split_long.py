"""split on a source too long to hold in memory, next to raw decoding and to a decode per clip.

    .venv/bin/python benchmarks/split_long.py [MEDIA_DIR] [--copies 4] [--repeat 3] [--quick]

The long source is the sample clips of MEDIA_DIR (default examples/media: 720x480, 8 fps, 49 frames
each) played one after another ``--copies`` times and encoded once (x264 crf 18): 3 x 4 x 49 = 588
frames, 73.5 s, a cut at every join. Under the demo config's split settings (8 fps, 17-frame clips, two
a shot) that is past what split holds in memory (``_KEEP_FRAMES``: 400 output frames), so split keeps
thumbnails for its shots on the first pass and gathers every clip in a second pass. Figures are
seconds, the best of ``--repeat`` runs, each as a ratio to raw decoding of the same file in the same
run (PyAV, threaded, RGB arrays):

- split: the stage's ``process`` on the source, in this process (decode, shots, clips measured and
  encoded on its clip threads);
- a decode per clip: the decoding alone that split did before the second pass existed, each clip
  decoded from the source's start to its end (``iter_rgb_yuv420p(start, end)``): the floor under what
  that way cost, whatever the measuring and encoding.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from baseline import best_seconds, pyav_decode

from insvie.engine import StageContext, Task
from insvie.media import iter_rgb_yuv420p, read_frames, write_video
from insvie.stages.config import load_config
from insvie.stages.split import Split

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, default=REPO_ROOT / "examples" / "media")
    parser.add_argument("--copies", type=int, default=4, help="times the sample clips are played")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument(
        "--quick", action="store_true", help="one run of 3 copies at 384x256, for the smoke test"
    )
    args = parser.parse_args()
    size = None
    if args.quick:
        args.repeat, args.copies, size = 1, 3, 384  # 441 frames (past what split holds), 384x256
    clips = [read_frames(path, max_size=size) for path in sorted(args.media.glob("*.mp4"))]
    if not clips:
        raise SystemExit(f"no .mp4 clips in {args.media}")
    split_config = load_config(REPO_ROOT / "configs" / "demo.yaml").split
    with tempfile.TemporaryDirectory(prefix="insvie-split-long-") as tmp:
        root = Path(tmp)
        source = write_video(root / "long.mp4", np.concatenate(clips * args.copies), 8, crf=18)
        (root / "tmp").mkdir()
        stage = Split(split_config)
        stage.setup(StageContext(root, root / "tmp"))
        task = Task("long", "video", None, str(source), {})
        made: list = []
        frames = pyav_decode(source)
        decode_s = best_seconds(lambda: pyav_decode(source), args.repeat)
        split_s = best_seconds(lambda: made.append(stage.process([task])[0]), args.repeat)
        outcome = made[-1]
        spans = [(c.meta["start_frame"], c.meta["num_frames"]) for c in outcome.children]
        window = {"fps": split_config.fps, "max_size": split_config.max_side}
        per_clip_s = best_seconds(
            lambda: [list(iter_rgb_yuv420p(source, start=s, end=s + n, **window)) for s, n in spans],
            args.repeat,
        )
    shots = len(outcome.output["shots"])
    print(
        f"a {frames}-frame source ({len(clips)} clips x {args.copies}), {shots} shots, "
        f"{len(spans)} clips of {split_config.clip_frames} frames; best of {args.repeat}"
    )
    rows = [
        ("PyAV decode, rgb24, threaded (baseline)", decode_s),
        ("split: first pass for shots, second for every clip", split_s),
        ("a decode per clip, from the start (decoding alone)", per_clip_s),
    ]
    for name, seconds in rows:
        print(f"  {name:<56}{seconds:>8.2f} s{seconds / decode_s:>8.2f}x decode")
    print(
        f"\nsummary: split {split_s / decode_s:.1f}x the time of one decode; a decode per clip would spend "
        f"{per_clip_s / decode_s:.1f}x on decoding alone ({per_clip_s / split_s:.1f}x split's whole time)"
    )


if __name__ == "__main__":
    main()
