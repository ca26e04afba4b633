"""Virtual camera paths that turn an (image, edited image) pair into a (video, edited video) pair.

animate_pair(source, edited, *, path="pan_left", num_frames=17, out_size=None, strength=0.6,
             seed=0, easing="ease_in_out", keep_in_view=None) -> (src_video, edt_video, params)
random_path(rng) -> dict of keyword arguments for animate_pair
list_paths() -> ["dolly_in", "dolly_out", "pan_down", ..., "static", "zoom_in", "zoom_out"]
render_path(image, params) -> video       # film another image (a mask, a third edit) the same way
changed_region(source, edited) -> bbox    # what keep_in_view="changed" keeps on screen
"""

from insvie.backends.camera.animate import animate_pair, changed_region, mask_bbox, plan_camera, render_path
from insvie.backends.camera.easing import EASINGS
from insvie.backends.camera.paths import list_paths, random_path
from insvie.backends.camera.window import Window

__all__ = [
    "EASINGS",
    "Window",
    "animate_pair",
    "changed_region",
    "list_paths",
    "mask_bbox",
    "plan_camera",
    "random_path",
    "render_path",
]
