"""How stored frames must be turned to be shown upright.

Phones store portrait video as landscape frames plus a display matrix saying "rotate by 90 degrees".
Ignoring it hands an editor sideways footage. PyAV exposes the matrix as side data on decoded
frames (FFmpeg copies the stream's matrix onto each frame), so orientation is read from the first
decoded frame. Files written by old FFmpeg versions into Matroska carry only a ``rotate`` tag instead.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import av
import numpy as np
from av.video.stream import VideoStream


@dataclass(frozen=True)
class Orientation:
    """A right-angle rotation, possibly mirrored, as a transpose followed by flips.

    ``rotation`` is FFmpeg's convention (and ffprobe's): the counter-clockwise angle in degrees,
    one of -90, 0, 90, 180. Rotations that are not right angles are snapped to the nearest one.
    """

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False
    rotation: int = 0

    @classmethod
    def from_display_matrix(cls, matrix: tuple[int, ...], rotation: float) -> Orientation:
        """Follow the matrix's own mapping of source to display coordinates.

        FFmpeg maps a source point (x, y) to (a*x + c*y, b*x + d*y); when the diagonal dominates the
        axes stay put and a negative entry mirrors one, otherwise the axes swap (a transpose).
        Reading the signs rather than only the angle keeps mirrored files right, as ffmpeg's own
        autorotation does.
        """
        a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
        snapped = _snap(rotation)
        if abs(a) + abs(d) >= abs(b) + abs(c):
            return cls(False, flip_rows=d < 0, flip_cols=a < 0, rotation=snapped)
        return cls(True, flip_rows=b < 0, flip_cols=c < 0, rotation=snapped)

    @classmethod
    def from_rotation(cls, ccw_degrees: float) -> Orientation:
        """The unmirrored orientation for a counter-clockwise rotation."""
        radians = math.radians(_snap(ccw_degrees))
        cos, sin = round(math.cos(radians)), round(math.sin(radians))
        return cls.from_display_matrix((cos, -sin, 0, sin, cos, 0, 0, 0, 1), ccw_degrees)

    @classmethod
    def of(cls, stream: VideoStream, first: av.VideoFrame) -> Orientation:
        """The orientation of a stream, given its first decoded frame."""
        # Looked up by name: newer PyAV iterates side data as its types, older releases as the data.
        side_data = first.side_data.get("DISPLAYMATRIX")
        if side_data is not None:
            matrix = struct.unpack("<9i", bytes(side_data)[:36])
            return cls.from_display_matrix(matrix, first.rotation)
        tags = {key.lower(): value for key, value in stream.metadata.items()}
        try:
            clockwise = float(tags.get("rotate", 0))
        except ValueError:
            return cls()
        return cls.from_rotation(-clockwise)

    def display_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) as shown, given the stored size."""
        return (height, width) if self.transpose else (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Turn a stored HxWxC frame upright."""
        if self.transpose:
            image = image.transpose(1, 0, 2)
        if self.flip_rows:
            image = image[::-1]
        if self.flip_cols:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)


def _snap(degrees: float) -> int:
    """Nearest right angle in FFmpeg's range, (-180, 180]."""
    snapped = round(degrees / 90) * 90 % 360
    return snapped - 360 if snapped > 180 else snapped
