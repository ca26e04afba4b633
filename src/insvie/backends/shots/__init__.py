"""Shot-boundary detectors by name: ``content`` (HSV frame differences, no weights) and ``transnetv2``.

make_shot_detector(name, *, threshold=None) -> ShotBoundaryModel
ShotBoundaryModel.shots(frames) -> [(start, end_exclusive)]
"""

from insvie.backends.shots.registry import ShotBoundaryModel, make_shot_detector

__all__ = ["ShotBoundaryModel", "make_shot_detector"]
