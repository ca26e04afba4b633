"""SynthEdit: procedural videos with known content and ground-truth edits.

Scenes of moving textured shapes over textured or gradient backgrounds, seen by a still, panning,
zooming or rotating camera; an edit (recolor, remove, add, background, grayscale, sepia) re-renders the
scene with the same camera and motion, so the changed pixels are known exactly. Some edits can be
deliberately broken (flicker, drift, first frames only, motion mismatch, wrong attribute, blur,
blocking) to calibrate quality filters. Used by tests, filter calibration and CPU-scale training.

    generate_sample(seed, *, size=(240, 360), num_frames=17, category=None, broken=None) -> SynthSample
    write_synth_dataset(out_dir, n, seed, *, size, num_frames, fps, broken_fraction, lossless, on_sample)
        -> list[dict]   # on_sample(record) once per sample, skipped ones included
    sample_seed(seed, index) / choose_broken(sample_seed, fraction)
    random_scene(rng, size, num_frames) -> Scene;  render(scene) -> Rendered;  make_edit(scene, rng, ...)
"""

from insvie.synth.broken import BROKEN_KINDS, break_video
from insvie.synth.edits import CATEGORIES, GLOBAL_CATEGORIES, LOCAL_CATEGORIES, Edit, make_edit, misapply
from insvie.synth.generate import random_scene
from insvie.synth.render import Rendered, apply_look, object_coverage, render
from insvie.synth.sample import SynthSample, changed_pixels, choose_broken, generate_sample, sample_seed
from insvie.synth.scene import Background, Camera, Scene, SceneObject, Trajectory, describe_scene
from insvie.synth.writer import write_synth_dataset

__all__ = [
    "BROKEN_KINDS",
    "CATEGORIES",
    "GLOBAL_CATEGORIES",
    "LOCAL_CATEGORIES",
    "Background",
    "Camera",
    "Edit",
    "Rendered",
    "Scene",
    "SceneObject",
    "SynthSample",
    "Trajectory",
    "apply_look",
    "break_video",
    "changed_pixels",
    "choose_broken",
    "describe_scene",
    "generate_sample",
    "make_edit",
    "misapply",
    "object_coverage",
    "random_scene",
    "render",
    "sample_seed",
    "write_synth_dataset",
]
