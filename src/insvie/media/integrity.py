"""Detecting files that were cut short, from their container structure alone.

FFmpeg reports a truncated mp4 whose index sits at the end as "Invalid data", the same words it uses
for a text file, and plays a truncated faststart mp4 or mkv up to the cut without complaint. The
top-level structure of these containers declares how long each part is, so comparing the declared
lengths with the file size tells "cut short" apart from "not a video" before FFmpeg is involved.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from insvie.errors import TruncatedMediaError

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_MATROSKA_SEGMENT = 0x18538067


def check_not_truncated(path: Path) -> None:
    """Raise :class:`TruncatedMediaError` if an ISO-BMFF (mp4/mov) or Matroska file is cut short."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        handle.seek(0)
        if head[4:8] == b"ftyp":
            _check_isobmff(path, handle, size)
        elif head[:4] == _EBML_MAGIC:
            _check_matroska(path, handle, size)


def _check_isobmff(path: Path, handle: BinaryIO, size: int) -> None:
    seen: set[bytes] = set()
    offset = 0
    while offset < size:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            raise TruncatedMediaError(path, f"file ends inside a box header at byte {offset}")
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1:
            if len(header) < 16:
                raise TruncatedMediaError(path, f"file ends inside a box header at byte {offset}")
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:  # "extends to the end of the file"
            box_size = size - offset
        if box_size < 8:
            return  # not a box structure we understand; FFmpeg will judge the file
        if offset + box_size > size:
            name = box_type.decode("latin-1")
            raise TruncatedMediaError(
                path,
                f"file is cut short: its '{name}' box needs {box_size} bytes at offset {offset}, "
                f"but only {size - offset} remain",
            )
        seen.add(box_type)
        offset += box_size
    # Media data with no index and no still-image metadata (HEIF) is an unfinished recording.
    if b"mdat" in seen and not seen & {b"moov", b"meta"}:
        raise TruncatedMediaError(path, "file has media data but no 'moov' index: it was never finalised")


def _read_vint(handle: BinaryIO, keep_marker: bool) -> tuple[int, int, bool] | None:
    """Read an EBML variable-length integer: (value, byte length, all value bits set)."""
    first = handle.read(1)
    if not first:
        return None
    length = 9 - first[0].bit_length()
    if length > 8:
        return None
    rest = handle.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = first[0] if keep_marker else first[0] & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, unknown


def _check_matroska(path: Path, handle: BinaryIO, size: int) -> None:
    offset = 0
    for _ in range(2):  # the EBML header, then the Segment that holds everything else
        handle.seek(offset)
        element = _read_vint(handle, keep_marker=True)
        length = _read_vint(handle, keep_marker=False)
        if element is None or length is None:
            raise TruncatedMediaError(path, f"file ends inside a Matroska element header at byte {offset}")
        body_start = offset + element[1] + length[1]
        if element[0] == _MATROSKA_SEGMENT:
            if not length[2] and body_start + length[0] > size:
                raise TruncatedMediaError(
                    path,
                    f"file is cut short: its Matroska segment needs {length[0]} bytes, "
                    f"but only {size - body_start} remain",
                )
            return
        offset = body_start + length[0]
    # No Segment after the header: a structure we do not understand; FFmpeg will judge the file.
