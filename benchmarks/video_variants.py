"""Video variants of round 8 against FFmpeg's own decoding: what the reader gives vs the truth.

Usage::

    python benchmarks/video_variants.py

Each variant is built in a temporary folder (tests/video_fixtures.py and the builders of
tests/test_media_variants.py) and read with ``video_info`` and ``read_frames(every=1)``. The truth is
the file decoded by PyAV (FFmpeg) from its first byte: the frames it outputs, in order. Columns:
frames FFmpeg shows; the reader's ``n_frames``; frames the reader returned; whether their coded pixels
(``display=False``) equal FFmpeg's, frame by frame (mean level within 1e-9); the first displayed frame's
size (``display=True``); ``errors`` of the display read (how many; the first, cut to 90 characters). Run it with ``PYTHONPATH`` at another checkout to compare versions.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def truth(path):
    import av

    from video_fixtures import frame_level

    with av.open(str(path)) as c:
        return [frame_level(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def build(tmp):
    from test_media_variants import _mp4_shifted, _mp4_with_pasp, _raw_h264_cut, _ts_cut, _webm_vp9, _with_edit_list
    from video_fixtures import index_frames

    cases = {}
    for pasp in ((65535, 1), (1000, 1), (1, 1000), (64, 1), (3, 2)):
        cases[f"MP4 pasp {pasp[0]}:{pasp[1]} on 96x64 (VUI 4:3)"] = _mp4_with_pasp(tmp / f"p{pasp[0]}_{pasp[1]}.mp4", *pasp)
    coded = np.full((48, 48, 3), 120, np.uint8)
    for size in ((4800, 48), (2304, 48)):
        cases[f"WebM display size {size[0]}x{size[1]} on 48x48"] = _webm_vp9(tmp / f"d{size[0]}.webm", [coded] * 2,
                                                                             display_size=size)
    plain = _mp4_shifted(tmp / "plain.mp4", index_frames(12, step=15), 0, bframes=False)
    for name, edits in (("a stretch shown again", [(300, 0), (500, 3072), (300, 4096)]),
                        ("a loop", [(500, 0), (500, 0)]), ("a cut", [(300, 0), (300, 6144)]),
                        ("the end trimmed", [(500, 0)])):
        cases[f"MP4 edit list: {name}"] = _with_edit_list(plain, tmp / f"e{len(cases)}.mp4", edits)
    for codec, at in (("libx264", 3), ("libx265", 3), ("mpeg2video", 3), ("mpeg2video", 1), ("libx264", 10)):
        cut, _ = _ts_cut(tmp, codec, at)
        cases[f"MPEG-TS {codec} cut at packet {at}"] = cut
    cases["raw H.264 cut at packet 3"] = _raw_h264_cut(tmp)
    return cases


def main():
    from video_fixtures import frame_level

    from forensics.media import read_frames, video_info

    with tempfile.TemporaryDirectory() as d:
        cases = build(Path(d))
        print("| variant | FFmpeg frames | n_frames | returned | pixels = FFmpeg's | display size | errors |")
        print("|---|---|---|---|---|---|---|")
        for name, path in cases.items():
            want = truth(path)
            try:
                info = video_info(path)
                r = read_frames(path, every=1)
                got = [frame_level(f) for f in read_frames(path, every=1, display=False).frames]
                same = len(got) == len(want) and np.allclose(got, want, atol=1e-9)
                shape = "x".join(map(str, r.frames[0].shape[1::-1])) if len(r) else ""
                err = (r.errors[0][:90] + ("..." if len(r.errors[0]) > 90 else "")) if r.errors else ""
                row = (info.n_frames, len(r), same, shape, f"{len(r.errors)}: {err}" if err else "0")
            except Exception as exc:  # noqa: BLE001 - the table records what the reader did
                row = ("", "", "", "", f"{type(exc).__name__}: {str(exc)[:90]}")
            print(f"| {name} | {len(want)} | " + " | ".join(str(v).replace("|", "/") for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
