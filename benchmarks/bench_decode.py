"""Decode strategies of the video reader against bare PyAV decoding, at 1080p, 720p and 480p.

    python benchmarks/bench_decode.py [--frames 300] [--n 32] [--repeats 3] [--sizes 1080 720 480]
                                      [--clips results/bench_clips] [--out results/bench_decode.md]

Clips (written once into ``--clips`` and reused): H.264 (libx264 ``veryfast``: 3 B-frames, crf 23)
of a synthetic face on a textured, panning background, ``--frames`` frames at 30 fps, keyframes
every 250 frames as in DFDC; plus one 720p clip with a keyframe every 30 frames, where seeking
can skip packets.

Per clip, each strategy is timed ``--repeats`` times (median), one after the other in one run,
with one decoder thread unless stated:

- ``pyav decode (path)``: bare PyAV, ``container.decode`` of every frame up to the last
  sampled one, no RGB conversion (the "decode limit" of issue 11), file opened by name.
- ``pyav decode (file object)``: the same through a Python file object (how the reader opens
  files, so that names are never protocols).
- ``packet scan``: opening and scanning the packet headers (``video_info`` without the first
  frame), the reader's fixed cost.
- ``sequential``: the reader without its savings (decode every packet up to the last sampled
  frame; RGB for sampled frames only): the previous reader's strategy.
- ``+ skip non-ref``: non-reference frames that were not asked for are not decoded.
- ``+ seek`` (the default ``read_frames``): keyframe seeks when they skip packets.
- ``default, 2 threads``: the default with ``threads=2`` (frame threading).
- ``torchcodec exact``: ``torchcodec.decoders.VideoDecoder(seek_mode="exact",
  num_ffmpeg_threads=1).get_frames_at(indices)``, only when torchcodec loads. It is not a
  dependency of the library: ``pip install torchcodec`` leaves torch alone, but torchcodec
  loads a *system* FFmpeg (4 to 9) at run time, which PyAV's bundled one is not. Without one
  installed, Debian's can be unpacked privately (``apt-get download`` of libavcodec59 and its
  dependencies, ``dpkg -x`` into a folder, ``LD_LIBRARY_PATH`` to its ``usr/lib/x86_64-linux-gnu``
  plus ``blas`` and ``lapack`` subfolders); that FFmpeg is 5.1, PyAV's is newer, so the speed
  comparison includes a decoder version difference.

A second table checks frame identity on clips that break naive bookkeeping (an MP4 edit list,
an undecodable packet, a stale AVI header, variable frame rate): the frames each decoder
returns are identified from their pixels.

Ratios are to ``pyav decode (path)`` of the same clip, measured in the same run, on wall-clock
time and on the process's CPU time (steadier on a shared machine; with 2 threads it adds both
threads' time, so only the wall ratio says whether threads help). Every strategy
of the reader must return identical frames (checked); torchcodec frames are compared by mean
absolute difference (its RGB conversion differs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SIZES = {1080: (1080, 1920), 720: (720, 1280), 480: (480, 854)}


def make_clip(folder, height, frames, gop):
    from video_fixtures import face_video

    h, w = SIZES[height]
    w -= w % 2
    path = Path(folder) / f"h264_{height}p_{frames}f_gop{gop}.mp4"
    if not path.exists():
        tmp = path.with_name("tmp_" + path.name)
        face_video(tmp, n_frames=frames, size=(h, w), faces_from="synthetic", face_size=h // 3, fps=30,
                   crf=23, gop=gop)
        tmp.rename(path)
    return path


def bare_pyav(path, last, fileobj=False):
    import av

    fh = open(path, "rb") if fileobj else None
    try:
        with av.open(fh if fileobj else str(path)) as c:
            s = c.streams.video[0]
            s.codec_context.thread_count = 1
            for k, _ in enumerate(c.decode(s)):
                if k >= last:
                    break
    finally:
        if fh is not None:
            fh.close()


def scan(path):
    from forensics.media._video import _Errors, _probe, _Video

    with _Video(path, 0) as v:
        return _probe(v, _Errors())


def reader(path, indices, **kw):
    from forensics.media._video import _read

    _, got, _, _, _, dec = _read(path, 0, None, lambda info, table, tb: indices, **kw)
    return [got[k][1] for k in sorted(got)], dec.seeks


def torchcodec_frames(path, indices):
    from torchcodec.decoders import VideoDecoder

    dec = VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC")
    return list(dec.get_frames_at(indices=[int(i) for i in indices]).data.numpy())


def torchcodec_status(path):
    """None when torchcodec decodes ``path`` here, else why not (it loads a system FFmpeg lazily)."""
    import contextlib
    import io

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            torchcodec_frames(path, [0])
    except Exception as exc:  # noqa: BLE001 - report why, whatever it is
        first = str(exc).strip().splitlines()[0][:200]
        return f"not compared: {type(exc).__name__}: {first}"
    return None


def identity_rows(folder, with_torchcodec):
    """Which frames each decoder returns on clips that break naive bookkeeping (read from pixels)."""
    import contextlib
    import io

    from video_fixtures import frame_level, index_frames, patch_avi_frame_count, remux, write_video

    from forensics.media import read_frames

    def ids(frames, step):
        return np.rint((np.array([frame_level(f) for f in frames]) - 16) / step).astype(int).tolist()

    d = Path(folder)
    src = write_video(d / "id_src.mp4", index_frames(20), fps=25, gop=5)
    intra = write_video(d / "id_intra.mkv", index_frames(30), gop=1)
    vfr = [200 * i for i in range(20)] + [3800 + 20 * (i + 1) for i in range(20)]
    cases = [
        ("MP4 edit list hiding 3 frames", remux(src, d / "id_cut.mp4", shift=-3 / 25), 7, [0, 8, 16]),
        ("undecodable packet (frame 10)", remux(intra, d / "id_bad.mkv", damage={10}), 7, [9, 10, 11, 20]),
        ("AVI header says 30 of 60 frames",
         patch_avi_frame_count(write_video(d / "id_stale.avi", index_frames(60, step=3), fps=10, codec="mjpeg"), 30),
         3, [0, 20, 39, 59]),
        ("VFR MKV (5 then 50 fps)", write_video(d / "id_vfr.mkv", index_frames(40, step=5), fps=30, pts=vfr), 5,
         [5, 19, 24, 39]),
    ]
    rows = []
    for name, path, step, asked in cases:
        ours = read_frames(path, indices=asked)
        tc = "not run"
        if with_torchcodec:
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    dec = VideoDecoder_exact(path)
                    n = dec.metadata.num_frames
                    got = []
                    for i in asked:
                        try:
                            got.append(ids([dec.get_frame_at(i).data.numpy()], step)[0])
                        except Exception as exc:  # noqa: BLE001 - report, whatever it is
                            got.append(type(exc).__name__)
                tc = f"{got} (n={n})"
            except Exception as exc:  # noqa: BLE001 - report, whatever it is
                tc = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        rows.append(f"| {name} | {asked} | {ids(ours.frames, step)} missing {ours.missing.tolist()} "
                    f"(n={ours.info.n_frames}) | {tc} |")
    return rows


def VideoDecoder_exact(path):  # noqa: N802 - named after the class it builds
    from torchcodec.decoders import VideoDecoder

    return VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC")


def timed(fn, repeats):
    """(median wall seconds, median CPU seconds of this process, last result)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu)), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--n", type=int, default=32, help="evenly spaced frames sampled")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1080, 720, 480])
    parser.add_argument("--clips", default=str(ROOT / "results" / "bench_clips"))
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_decode.md"))
    parser.add_argument("--identity-only", action="store_true", help="only the frame identity table")
    args = parser.parse_args(argv)
    if args.identity_only:
        Path(args.clips).mkdir(parents=True, exist_ok=True)
        first = make_clip(args.clips, min(args.sizes), 30, 250)
        print("\n".join(identity_rows(args.clips, torchcodec_status(first) is None)))
        return

    from forensics.media import read_frames, sample_indices, video_info

    Path(args.clips).mkdir(parents=True, exist_ok=True)
    clips = [(h, 250, make_clip(args.clips, h, args.frames, 250)) for h in args.sizes]
    if 720 in args.sizes:
        clips.append((720, 30, make_clip(args.clips, 720, args.frames, 30)))
    tc_reason = torchcodec_status(clips[0][2])
    lines = [f"# Video decode strategies ({args.frames}-frame H.264 clips, {args.n} evenly spaced frames, "
             f"median of {args.repeats})", "",
             "| clip | strategy | wall ms | CPU ms | ratio (CPU) | ratio (wall) | seeks |",
             "|---|---|---|---|---|---|---|"]
    for height, gop, path in clips:
        info = video_info(path)
        idx = sample_indices(info.n_frames, n=args.n)
        last = int(idx[-1])
        label = f"{height}p gop {gop}"
        rows = []
        base = timed(lambda: bare_pyav(path, last), args.repeats)
        rows.append(("pyav decode (path)", base, None))
        rows.append(("pyav decode (file object)", timed(lambda: bare_pyav(path, last, fileobj=True), args.repeats),
                     None))
        rows.append(("packet scan", timed(lambda: scan(path), args.repeats), None))
        ref = None
        for name, kw in (("sequential", dict(seek=False, skip_nonref=False, threads=1)),
                         ("+ skip non-ref", dict(seek=False, skip_nonref=True, threads=1)),
                         ("+ seek (default read_frames)", dict(seek=True, skip_nonref=True, threads=1)),
                         ("default, 2 threads", dict(seek=True, skip_nonref=True, threads=2))):
            t = timed(lambda kw=kw: reader(path, idx, display=True, **kw), args.repeats)
            frames, seeks = t[2]
            if ref is None:
                ref = frames
            same = len(frames) == len(ref) and all(np.array_equal(a, b) for a, b in zip(frames, ref))
            if not same:
                raise SystemExit(f"{label} {name}: frames differ from the sequential strategy")
            rows.append((name, t, seeks))
        rows.append(("read_frames(n) public call", timed(lambda: read_frames(path, n=args.n), args.repeats), None))
        if tc_reason is None:
            t = timed(lambda: torchcodec_frames(path, idx), args.repeats)
            frames = t[2]
            diff = float(np.mean([np.abs(a.astype(float) - b.astype(float)).mean() for a, b in zip(frames, ref)]))
            rows.append((f"torchcodec exact (mean abs diff to ours {diff:.2f})", t, None))
        for name, (wall, cpu, _), seeks in rows:
            lines.append(f"| {label} | {name} | {1000 * wall:.0f} | {1000 * cpu:.0f} | {cpu / base[1]:.2f} | "
                         f"{wall / base[0]:.2f} | {'' if seeks is None else seeks} |")
            print(lines[-1], flush=True)
    lines += ["", "Frame identity (frames read from their pixels; torchcodec `get_frame_at` in exact mode):", "",
              "| clip | asked | read_frames | torchcodec |", "|---|---|---|---|"]
    lines += identity_rows(args.clips, tc_reason is None)
    print("\n".join(lines[-6:]))
    lines += ["", f"torchcodec: {tc_reason or 'compared (CPU, one FFmpeg thread)'}",
              f"Command: python benchmarks/bench_decode.py --frames {args.frames} --n {args.n} "
              f"--repeats {args.repeats} --sizes {' '.join(map(str, args.sizes))}"]
    print(lines[-2])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
