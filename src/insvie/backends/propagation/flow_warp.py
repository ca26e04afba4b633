"""``flow_warp``: carry an edited first frame through a video along the source's optical flow.

The editor that made the first frame is unknown (a diffusion model, a person), so the edit is
modelled as two parts (see :mod:`.colour_transfer`):

    edited(t) = transfer(source(t)) + weight(t) * warp(carried, anchor -> t)

``transfer`` is the global colour map fitted on frame 0: it follows the source frame by frame, so
lighting changes and new content get the edit's colours with no warping at all. ``carried`` is
what the colour map misses: with ``carry="residual"`` (default) the residual
``edited(anchor) - transfer(source(anchor))`` -- outlines, textures, local changes; with
``carry="frame"`` the whole edited anchor frame (the textbook approach, kept for comparison).
``weight`` falls to 0 where the carried content cannot be trusted: pixels whose chain of matches
back to the anchor failed a forward-backward check somewhere (occlusion, disocclusion, leaving the
frame), or whose warped anchor no longer looks like the current source (photometric check).
There the colour transfer fills in.

The warp goes from the anchor to frame t through composed backward flows (one resampling of the
carried image per anchor) rather than from frame t-1 (``reanchor_every=1``, a chain: one resampling
per frame, so detail blurs away and errors compound). The anchor moves to the current output every
``reanchor_every`` frames, or sooner when too little of the frame is still carried: composed flow
drifts slowly, and a fresh anchor lets newly revealed pixels become part of what is carried. Pixels
that lose their match at motion boundaries borrow a neighbour's (:func:`.flow.repair`), or the edit
would erode from the rim of a moving object inward, a little more at every anchor.

Measured (49-frame 720x480 sample clips horse/car/cat; 128x96 synthetic scenes; PSNR in dB):

    setting                identity clips  sepia vs framewise  object interior @8/@20  drift @20  revealed
    default                85 / 82 / 94    57.5 / 45.3 / 48.4  27.5 / 22.0             1.8 px     39.5
    carry="frame"          42 / 28 / 30    42.5 / 29.7 / 31.3  28.8 / 23.4             3.0 px     34.6
    chain (reanchor 1)     85 / 83 / 94    57.5 / 45.3 / 48.3  21.7 / 17.5             6.0 px     32.0
    frame + chain          42 / 25 / 28    42.5 / 25.9 / 29.3  24.0 / 20.1             15.3 px    23.6
    never re-anchor        85 / 82 / 93    57.5 / 45.3 / 48.3  27.5 / 21.5             2.1 px     39.4
    repair_radius=0        85 / 83 / 94    57.5 / 45.2 / 48.3  18.5 / 16.7             2.1 px     39.9
    flow_preset="fast"     85 / 83 / 94    57.5 / 45.3 / 48.5  28.1 / 21.8             3.5 px     33.4

Flow runs at ``flow_size`` (longer side, DIS down to its finest pyramid level), composition and
checks there too; only the final warp and blend run at full resolution. The calling thread runs the
sequential part (composition, checks, repair, weights: about a third of the work); flow estimation
runs ahead of it and each frame's full-resolution warp and blend behind it on ``workers`` helper
threads, so two cores are used; the output is the same bytes with any number of helpers.

Speed at 720x480 (``benchmarks/propagate_speed.py``: car clip, cartoon edit, best of 3 on the shared
2-core machine, whose other work moves every figure, so compare within one run): 66 output frames/s
by default; 53 in the calling thread alone (``workers=0``: what a one-CPU worker gets); 51 with
``flow_preset="fast"``; 39 at ``flow_size=360``, the ``propagate`` step's setting. In one run, the
implementation before the helper threads made 31 frames/s where this one made 62. Per frame,
single-threaded: both flows ~10 ms, the warp and the colour lookup ~2-3 ms each, the rest ~10 ms; the
colour-transfer fit ~70 ms once per call. (This doc used to say ~88 frames/s; no run here came near
it: the previous code's best was 31.)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Literal, TypeVar

import cv2
import numpy as np

from insvie.backends.procedural.operator import check_video
from insvie.backends.propagation.colour_transfer import ColourTransfer, fit_colour_transfer
from insvie.backends.propagation.flow import (
    FlowEstimator,
    consistent,
    mismatch,
    pixel_grid,
    repair,
    sample,
    shrink_grey,
    squared_norm,
    upsample_displacement,
    working_size,
)


@dataclass(frozen=True)
class FlowWarpConfig:
    """Knobs of :func:`propagate_flow_warp`; the defaults are the measured best (module doc)."""

    flow_size: int = 240  # longer side of the working resolution for flow, checks and composition
    flow_preset: Literal["ultrafast", "fast", "medium"] = "ultrafast"
    flow_finest_scale: int | None = 0  # DIS pyramid level where refinement stops; None: the preset's
    check_finest_scale: int | None = 1  # the same for the forward flow used only by the check
    carry: Literal["residual", "frame"] = "residual"
    reanchor_every: int = 8  # frames between anchors; 1 chains frame to frame, 0 never re-anchors
    reanchor_coverage: float = 0.5  # re-anchor early when the mean carry weight drops below this
    anchor_blend: float = 0.0  # at each re-anchor, pull the carried part this far toward the transfer
    fb_alpha: float = 0.01  # forward-backward check: relative tolerance (Sundaram et al.)
    fb_beta: float = 0.5  # and absolute tolerance, in working pixels squared
    photometric_low: float = 5.0  # grey levels (5x5 mean) between warped anchor and source: full trust
    photometric_high: float = 15.0  # below low, none above high
    repair_radius: int = 2  # working pixels: neighbours whose match a failed pixel may borrow; 0: off
    feather: float = 1.0  # Gaussian sigma (working pixels) softening the weight map's edges
    transfer_degree: int = 2
    transfer_grid: int = 17
    workers: int = 2  # helper threads: flows ahead, full-size rendering behind; 0: all in the caller

    def __post_init__(self) -> None:
        if self.flow_size < 16:
            raise ValueError(f"flow_size must be at least 16, got {self.flow_size}")
        if self.carry not in ("residual", "frame"):
            raise ValueError(f"carry must be 'residual' or 'frame', got {self.carry!r}")
        if self.reanchor_every < 0:
            raise ValueError(f"reanchor_every must be >= 0, got {self.reanchor_every}")
        if not 0.0 <= self.reanchor_coverage <= 1.0 or not 0.0 <= self.anchor_blend <= 1.0:
            raise ValueError("reanchor_coverage and anchor_blend must be in [0, 1]")
        if not 0.0 <= self.photometric_low < self.photometric_high:
            raise ValueError("need 0 <= photometric_low < photometric_high")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class FrameDiagnostics:
    """What happened at one output frame."""

    index: int
    occluded: float  # share of pixels failing this step's forward-backward check (or leaving the frame)
    fallback: float  # 1 - mean carry weight: share of the frame filled by the colour transfer
    photometric_error: float  # mean |warped anchor - source| in grey levels where carried
    motion: float  # mean backward-flow magnitude, full-resolution pixels
    reanchored: bool  # this output frame became the anchor for the next ones


@dataclass(frozen=True, eq=False)
class FlowWarpResult:
    """The edited video (T, H, W, 3) uint8, one :class:`FrameDiagnostics` per frame, the fitted map."""

    video: np.ndarray
    diagnostics: list[FrameDiagnostics]
    transfer: ColourTransfer

    def diagnostics_dicts(self) -> list[dict[str, float | int | bool]]:
        """Diagnostics as plain dicts, for records and reports."""
        return [asdict(d) for d in self.diagnostics]


_T = TypeVar("_T")


class _InlineExecutor(Executor):
    """Runs each job at submission, in the calling thread: ``workers=0``."""

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller by result(), as a pool would
            future.set_exception(error)
        return future


class _Ahead(Generic[_T]):
    """Per-frame jobs submitted ``depth`` frames before their results are taken, in frame order."""

    def __init__(self, submit: Callable[[int], Future[_T]], indices: range, depth: int) -> None:
        self._submit, self._indices = submit, iter(indices)
        self._pending: deque[Future[_T]] = deque()
        for _ in range(depth):
            self._more()

    def _more(self) -> None:
        index = next(self._indices, None)
        if index is not None:
            self._pending.append(self._submit(index))

    def take(self) -> _T:
        """The next frame's result (waiting for it), after submitting one more job."""
        future = self._pending.popleft()
        self._more()
        return future.result()


@dataclass(frozen=True, eq=False)
class _Step:
    """What the source alone decides about the step from frame t-1 to t (working resolution)."""

    grey: np.ndarray  # frame t
    backward: np.ndarray  # flow t -> t-1
    passed: np.ndarray  # forward-backward check, {0, 1}
    occluded: float
    motion: float  # mean |backward|, working pixels


@dataclass(frozen=True, eq=False)
class _Stepper:
    """Flows both ways between consecutive grey frames and the check between them: a job for a
    helper thread. Each thread keeps its own two estimators (one DIS object must not run in two
    threads at once; kept, it also keeps its buffers)."""

    cfg: FlowWarpConfig
    grid: np.ndarray  # working-size pixel grid
    _estimators: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __call__(self, previous_grey: np.ndarray, grey: np.ndarray) -> _Step:
        cfg, local = self.cfg, self._estimators
        if not hasattr(local, "backward"):
            check_scale = cfg.flow_finest_scale if cfg.check_finest_scale is None else cfg.check_finest_scale
            local.backward = FlowEstimator(cfg.flow_preset, cfg.flow_finest_scale)
            local.forward = FlowEstimator(cfg.flow_preset, check_scale)
        backward = local.backward(grey, previous_grey)
        forward = local.forward(previous_grey, grey)
        passed = consistent(backward, forward, self.grid, cfg.fb_alpha, cfg.fb_beta)
        motion = float(np.sqrt(squared_norm(backward)).mean())
        return _Step(grey, backward, passed, float(1.0 - passed.mean()), motion)


@dataclass(frozen=True, eq=False)
class _Renderer:
    """The full-resolution half of an output frame: warp the carried part, blend it over the colour
    transfer of the source frame. A job for a helper thread; each call writes its own frame of ``out``.

    Frames are RGBA here (alpha is ignored, dropped at the end): OpenCV's remap has a 4-channel SIMD
    path, which makes the warp and the colour lookup 25-40% cheaper than on 3 channels, the same
    values. Each thread writes into its own reused arrays: fresh ones cost page faults (system time
    was a fifth of the total with two helpers).
    """

    source: np.ndarray
    transfer: ColourTransfer
    residual: bool
    out: np.ndarray
    _buffers: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def _buffer(self, name: str, channels: int, dtype: type[np.generic]) -> np.ndarray:
        """This thread's full-size array ``name``."""
        buffers = self._buffers.__dict__
        if name not in buffers:
            buffers[name] = np.empty((*self.out.shape[1:3], channels), dtype)
        return buffers[name]

    def __call__(
        self, index: int, carried: np.ndarray, displacement: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Writes ``out[index]``; returns the frame's colour transfer (uint8 RGBA) and the weighted
        change laid over it (float32 RGBA), from which a new anchor is made. Both are this thread's
        reused arrays: valid until its next call."""
        height, width = self.out.shape[1:3]
        full = self._buffer("displacement", 2, np.float32)
        warped = sample(
            carried,
            upsample_displacement(displacement, (height, width), full),
            self._buffer("warped", 4, np.float32),
        )
        base = self.transfer.rgba(self.source[index], self._buffer("base", 4, np.uint8))
        if not self.residual:
            cv2.subtract(warped, base, dst=warped, dtype=cv2.CV_32F)
        weight_full = self._buffer("weight", 4, np.float32)
        cv2.resize(cv2.merge([weight] * 4), (width, height), dst=weight_full, interpolation=cv2.INTER_LINEAR)
        weighted = cv2.multiply(warped, weight_full, dst=weight_full)
        blended = cv2.add(base, weighted, dst=self._buffer("blended", 4, np.uint8), dtype=cv2.CV_8U)
        cv2.cvtColor(blended, cv2.COLOR_RGBA2RGB, dst=self.out[index])  # add rounded and saturated
        return base, weighted


def propagate_flow_warp(
    source: np.ndarray,
    edited_first: np.ndarray,
    config: FlowWarpConfig | None = None,
    *,
    transfer: ColourTransfer | None = None,
) -> FlowWarpResult:
    """Carry ``edited_first`` (the edit of ``source[0]``) through ``source`` (T, H, W, 3 uint8).

    ``transfer`` may be given to reuse a colour map fitted elsewhere; by default it is fitted on
    (source[0], edited_first). Output frame 0 is ``edited_first`` exactly.

    This thread runs the sequential part at the working resolution (composing flows, checks,
    repair, weights). Flow estimation runs ahead of it, and each frame's full-resolution warp and
    blend behind it, on ``config.workers`` helper threads; only a frame that becomes an anchor is
    rendered here, as the frames after it warp its result. The output does not depend on the
    number of helpers.
    """
    cfg = config or FlowWarpConfig()
    check_video(source)
    if edited_first.shape != source.shape[1:] or edited_first.dtype != np.uint8:
        raise ValueError(
            f"edited_first must be uint8 {source.shape[1:]}, got {edited_first.dtype} {edited_first.shape}"
        )
    count, height, width = source.shape[:3]
    out = np.empty_like(source)
    out[0] = edited_first
    diagnostics = [FrameDiagnostics(0, 0.0, 0.0, 0.0, 0.0, True)]
    if count == 1:
        return FlowWarpResult(out, diagnostics, transfer or _fit(source[0], edited_first, cfg))

    small = working_size(height, width, cfg.flow_size)
    scale = width / small[1]
    stepper = _Stepper(cfg, pixel_grid(*small))
    residual = cfg.carry == "residual"
    pool = ThreadPoolExecutor(cfg.workers, "flow_warp") if cfg.workers else _InlineExecutor()
    rendering: deque[Future[tuple[np.ndarray, np.ndarray]]] = deque()
    try:
        anchor_grey = shrink_grey(source[0], small)
        greys = [anchor_grey]  # the last two shrunk, for the next job

        def submit_step(index: int) -> Future[_Step]:
            greys[:] = [greys[-1], shrink_grey(source[index], small)]
            return pool.submit(stepper, *greys)

        # Deep enough that the helpers are not idle while this thread fits the colour transfer.
        steps = _Ahead(submit_step, range(1, count), 4 * cfg.workers + 1)
        if transfer is None:
            transfer = _fit(source[0], edited_first, cfg)  # while the helpers estimate flow
        render = _Renderer(source, transfer, residual, out)

        edited = cv2.cvtColor(edited_first, cv2.COLOR_RGB2RGBA).astype(np.float32)
        carried = edited - transfer.rgba(source[0]).astype(np.float32) if residual else edited
        displacement = np.zeros((*small, 2), dtype=np.float32)
        valid = np.ones(small, dtype=np.float32)
        since_anchor = 0
        for index in range(1, count):
            step = steps.take()
            displacement = sample(displacement, step.backward) + step.backward
            valid = sample(valid, step.backward) * step.passed
            error = mismatch(anchor_grey, step.grey, displacement)
            displacement, valid, error = repair(
                displacement,
                valid,
                error,
                anchor_grey,
                step.grey,
                cfg.repair_radius,
                cfg.photometric_low,
            )
            trust = np.clip(
                (cfg.photometric_high - error) / (cfg.photometric_high - cfg.photometric_low), 0, 1
            )
            weight = valid * trust
            if cfg.feather > 0:
                weight = cv2.GaussianBlur(weight, (0, 0), cfg.feather)

            since_anchor += 1
            coverage = float(weight.mean())
            reanchor = (cfg.reanchor_every > 0 and since_anchor >= cfg.reanchor_every) or (
                coverage < cfg.reanchor_coverage
            )
            reanchor = reanchor and index < count - 1
            carried_mask = valid > 0.5
            diagnostics.append(
                FrameDiagnostics(
                    index=index,
                    occluded=step.occluded,
                    fallback=1.0 - coverage,
                    photometric_error=float(error[carried_mask].mean()) if carried_mask.any() else 0.0,
                    motion=step.motion * scale,
                    reanchored=reanchor,
                )
            )
            if not reanchor:
                rendering.append(pool.submit(render, index, carried, displacement, weight))
                while rendering and rendering[0].done():
                    rendering.popleft().result()  # raises what the job raised
                continue
            base, weighted = render(index, carried, displacement, weight)
            frame = cv2.add(base, weighted, dtype=cv2.CV_32F)
            anchored = frame + cfg.anchor_blend * (base - frame)
            carried = anchored - base if residual else anchored
            anchor_grey = step.grey
            displacement = np.zeros_like(displacement)
            valid = np.ones_like(valid)
            since_anchor = 0
        for future in rendering:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return FlowWarpResult(out, diagnostics, transfer)


def _fit(source: np.ndarray, edited: np.ndarray, cfg: FlowWarpConfig) -> ColourTransfer:
    return fit_colour_transfer(source, edited, degree=cfg.transfer_degree, grid=cfg.transfer_grid)
