"""Video variants of rounds 8 and 9 against FFmpeg's own decoding: what the reader gives vs the truth.

Usage::

    python benchmarks/video_variants.py
    python benchmarks/video_variants.py --scan-cost   # what the round-9 checks cost a scan
    python benchmarks/video_variants.py --intra-seek  # keyframe seeks in intra-refresh clips
    python benchmarks/video_variants.py --intra-cost  # what sampling an intra-refresh clip costs (no seeks)

Each variant is built in a temporary folder (tests/video_fixtures.py and the builders of
tests/test_media_variants.py) and read with ``video_info`` and ``read_frames(every=1)``. The truth is
the file decoded by PyAV (FFmpeg) from its first byte: the frames it outputs, in order (a packet
its decoder refuses skipped). Columns:
frames FFmpeg shows; the reader's ``n_frames``; frames the reader returned; whether their coded pixels
(``display=False``) equal FFmpeg's, frame by frame (mean level within 1e-9); the first displayed frame's
size (``display=True``); whether ``read_frames(n=4)`` reads the frame FFmpeg shows last (its pixels);
``errors`` of the display read (how many; the first, cut to 90 characters). Run it with ``PYTHONPATH`` at
another checkout to compare versions.
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

    levels = []
    with av.open(str(path)) as c:
        for packet in c.demux(video=0):
            try:
                levels += [frame_level(f.to_ndarray(format="rgb24")) for f in packet.decode()]
            except av.FFmpegError:  # a packet the decoder refuses is skipped, as FFmpeg's players skip it
                pass
    return levels


def build(tmp):
    import av
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
    # round 9: streams ending with a packet that holds no picture (a capture stopped before the slices)
    from video_fixtures import with_tail

    for kind, codec, what in (("raw", "h264", "raw H.264"), ("raw", "hevc", "raw HEVC"),
                              ("raw", "mpeg2video", "raw MPEG-2"), ("ts", "h264", "MPEG-TS H.264"),
                              ("ts", "mpeg2video", "MPEG-TS MPEG-2"), ("mp4", "h264", "MP4 H.264"),
                              ("mp4", "hevc", "MP4 HEVC"), ("mkv", "h264", "Matroska H.264")):
        folder = tmp / f"tail_{kind}_{codec}"
        folder.mkdir()
        cases[f"{what} ending with a packet without a picture"] = with_tail(folder, kind, codec)["tail"]
    # round 9: intra-refresh streams, whose recovery points are flagged as keyframes
    from video_fixtures import intra_refresh

    for ext in (".mp4", ".mkv"):
        cases[f"{ext[1:].upper()} intra-refresh, 50 frames"] = intra_refresh(tmp / f"ir{ext}", 50)
    whole = intra_refresh(tmp / "ir.ts", 30, step=8)
    with av.open(str(whole)) as c:
        where = [p.pos for p in c.demux(video=0) if p.size]
    for at in (3, 12):
        cut = tmp / f"ir_cut{at}.ts"
        cut.write_bytes(whole.read_bytes()[:376] + whole.read_bytes()[where[at] // 188 * 188:])
        cases[f"MPEG-TS intra-refresh capture cut at packet {at}"] = cut
    return cases


def main():
    from video_fixtures import frame_level

    from forensics.media import read_frames, video_info

    with tempfile.TemporaryDirectory() as d:
        cases = build(Path(d))
        print("| variant | FFmpeg frames | n_frames | returned | pixels = FFmpeg's | display size "
              "| n=4 reads the last | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for name, path in cases.items():
            want = truth(path)
            try:
                info = video_info(path)
                r = read_frames(path, every=1)
                got = [frame_level(f) for f in read_frames(path, every=1, display=False).frames]
                same = len(got) == len(want) and np.allclose(got, want, atol=1e-9)
                shape = "x".join(map(str, r.frames[0].shape[1::-1])) if len(r) else ""
                err = (r.errors[0][:90] + ("..." if len(r.errors[0]) > 90 else "")) if r.errors else ""
                four = read_frames(path, n=4, display=False)
                last = bool(len(four)) and abs(frame_level(four.frames[-1]) - want[-1]) < 1e-9
                row = (info.n_frames, len(r), same, shape, last, f"{len(r.errors)}: {err}" if err else "0")
            except Exception as exc:  # noqa: BLE001 - the table records what the reader did
                row = ("", "", "", "", "", f"{type(exc).__name__}: {str(exc)[:90]}")
            print(f"| {name} | {len(want)} | " + " | ".join(str(v).replace("|", "/") for v in row) + " |", flush=True)


def scan_cost(n_frames=3000, repeats=9):
    """CPU ms of ``video_info`` (open + packet scan + first frame) with the round-9 checks (the stream's last
    packets for a picture, keyframes for a random access point) and without them (switched off in the same
    process), interleaved medians: an H.264 clip of small packets in MPEG-TS, MP4 and raw H.264, and an
    intra-only 1280x720 MP4 (every packet a keyframe of about 1 MB)."""
    from contextlib import ExitStack
    from unittest import mock

    import av
    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    import forensics.media._video as v

    with tempfile.TemporaryDirectory() as d:
        frames = index_frames(30, size=(240, 320))
        src = write_video(Path(d) / "clip.ts", [frames[k % 30] for k in range(n_frames)], gop=25)
        small = f"{n_frames} frames 320x240"
        paths = {f"MPEG-TS, {small}": src, f"MP4, {small}": Path(d) / "clip.mp4",
                 f"raw H.264, {small}": Path(d) / "clip.h264"}
        for name, fmt in ((f"MP4, {small}", "mp4"), (f"raw H.264, {small}", "h264")):
            with av.open(str(src)) as i, av.open(str(paths[name]), "w", format=fmt) as o:
                t = o.add_stream_from_template(i.streams.video[0])
                for p in i.demux(video=0):
                    if p.size:
                        p.stream = t
                        o.mux(p)
        noise = [np.random.default_rng(k).integers(0, 256, (720, 1280, 3), dtype=np.uint8) for k in range(4)]
        paths["MP4 intra-only, 120 frames 1280x720"] = write_video(
            Path(d) / "intra.mp4", [noise[k % 4] for k in range(120)], gop=1, crf=10, preset="ultrafast")
        print("| clip | with the checks (ms) | without (ms) | ratio |")
        print("|---|---|---|---|")
        for name, path in paths.items():
            def off(path=path):
                with ExitStack() as stack:
                    for f in ("_picture_test", "_random_access_test"):
                        stack.enter_context(mock.patch.object(v, f, lambda stream: None))
                    v.video_info(path)

            ms = interleaved_ms({"on": lambda path=path: v.video_info(path), "off": off}, repeats)
            print(f"| {name} | {ms['on']:.1f} | {ms['off']:.1f} | {ms['on'] / ms['off']:.3f} |", flush=True)


def intra_seek():
    """``read_frames(n=6)`` (keyframe seeks on, the default) of 50-frame intra-refresh clips (recovery points
    flagged as keyframes every 10 frames) against FFmpeg decoding them from the first byte."""
    from video_fixtures import frame_level, intra_refresh

    from forensics.media import read_frames

    with tempfile.TemporaryDirectory() as d:
        print("| clip | frames asked | returned | pixels = FFmpeg's | missing | errors |")
        print("|---|---|---|---|---|---|")
        for ext in (".mp4", ".mkv"):
            path = intra_refresh(Path(d) / f"ir{ext}", 50)
            want = truth(path)
            r = read_frames(path, n=6)
            same = all(abs(frame_level(f) - want[k]) < 1e-9 for f, k in zip(r.frames, r.indices))
            err = (r.errors[0][:90] + ("..." if len(r.errors[0]) > 90 else "")) if r.errors else ""
            print(f"| {ext[1:].upper()} intra-refresh | {r.requested.tolist()} | {r.indices.tolist()} | {same} | "
                  f"{r.missing.tolist()} | {len(r.errors)}{': ' + err if err else ''} |", flush=True)


def intra_cost(n_frames=600, repeats=5):
    """CPU ms of ``read_frames(n=8)`` on an intra-refresh MP4 (no random access point after the first picture:
    decoded from the start) against the same frames encoded with IDR keyframes at the same interval (10),
    which the reader seeks to; interleaved medians."""
    from _timing import interleaved_ms
    from video_fixtures import index_frames, write_video

    from forensics.media import read_frames

    with tempfile.TemporaryDirectory() as d:
        frames = [f for f in index_frames(30, size=(240, 320))]
        frames = [frames[k % 30] for k in range(n_frames)]
        refresh = write_video(Path(d) / "ir.mp4", frames, gop=10, options={"intra-refresh": "1", "bframes": "0"})
        idr = write_video(Path(d) / "idr.mp4", frames, gop=10, options={"bframes": "0"})
        ms = interleaved_ms({"intra-refresh": lambda: read_frames(refresh, n=8),
                             "IDR every 10": lambda: read_frames(idr, n=8)}, repeats)
        print(f"| clip ({n_frames} frames 320x240, n=8) | CPU ms |")
        print("|---|---|")
        for name, v in ms.items():
            print(f"| {name} | {v:.1f} |")
        print(f"ratio {ms['intra-refresh'] / ms['IDR every 10']:.2f}")


if __name__ == "__main__":
    if "--intra-seek" in sys.argv:
        intra_seek()
    elif "--scan-cost" in sys.argv:
        scan_cost()
    elif "--intra-cost" in sys.argv:
        intra_cost()
    else:
        main()
