"""gather_spans: every span's frames from one pass, as soon as each is complete."""

from __future__ import annotations

from insvie.media.spans import gather_spans


def test_each_span_comes_when_its_last_frame_has_come():
    spans = {"a": (2, 5), "b": (4, 6), "c": (0, 1)}  # b overlaps a
    seen = []

    def frames():
        for index in range(10):
            seen.append(index)
            yield f"f{index}"

    got = list(gather_spans(frames(), spans))
    assert got == [("c", ["f0"]), ("a", ["f2", "f3", "f4"]), ("b", ["f4", "f5"])]
    assert seen == list(range(6))  # nothing decoded after the last span ended
    assert list(gather_spans(frames(), {})) == [] and seen == list(range(6))  # no spans: nothing decoded


def test_frames_numbered_from_first_and_a_span_cut_short_comes_last():
    got = list(gather_spans(iter([30, 31, 32]), {"late": (31, 40), "early": (30, 32)}, first=30))
    assert got == [("early", [30, 31]), ("late", [31, 32])]  # late got 2 of its 9 frames
