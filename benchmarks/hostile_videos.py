"""Huge and hostile videos: what each costs the reader (status, peak memory, time), one child process each.

Usage::

    python benchmarks/hostile_videos.py [--mem-gb 8] [--timeout 300] [--only NAME ...]
    python benchmarks/hostile_videos.py --dask

``--dask``: six good videos and three hostile ones (``header_16000``, ``billion_frames``,
``grows_16000``) in one ``VideoFeatures(BlurFeatures(), faces=False, n_frames=4, on_error="nan")``
batch on a ``distributed.LocalCluster`` (2 worker processes, 1 thread, 3 GB memory limit each):
each row's status, whether the good rows equal a one-process run, and the time.

Every case is built in a temporary folder (small files; the zero-padded ones are sparse) and read in
a fresh child process under an address-space limit (``--mem-gb``, so that a reader that follows a
hostile header gets a MemoryError instead of the machine's OOM killer) and a time limit. Columns:
``outcome`` (``ok`` / ``partial``: frames returned, with errors; ``ItemError``; ``MemoryError``;
``timeout``; ``crash``), ``frames`` returned, ``peak RSS`` of the child (``VmHWM``), ``seconds``.
Run it with ``PYTHONPATH`` at another checkout to compare versions.

Cases:

- ``header_16000``: an 880-byte raw H.264 stream whose sequence parameter sets declare 16000x16000
  (the slices code 64x48; FFmpeg conceals the rest), ``read_frames(n=8)``.
- ``grows_16000``: two MPEG-TS parts joined, 64x48 then 16000x16000, ``read_frames(n=16)``.
- ``billion_frames``: an AVI cut after a header saying 10**9 frames, ``read_frames(every=1)``.
- ``streams_5000``: a Matroska file with one video and 4,999 audio tracks (FFmpeg keeps 1,000).
- ``metadata_16mib``: a 16 MiB title and a 1 MiB rotate tag, ``read_frames(n=4)``.
- ``zeros_4gib_mkv`` / ``zeros_4gib_ts``: an 8-frame clip followed by 4 GiB of zeros (sparse),
  ``video_info`` then ``read_frames(n=8)``.
- ``pasp_65535``: a 96x64 H.264 MP4 (8 frames, VUI 4:3) whose ``pasp`` box says 65535:1,
  ``read_frames(n=8)`` (display geometry; ``VideoFeatures(faces=False)`` reads the coded frames).
- ``uhd_n32`` / ``uhd_iter`` / ``uhd_features``: a 40-frame 3840x2160 H.264 clip:
  ``read_frames(n=32)``; ``iter_frames`` over the same 32 frames; ``VideoFeatures(BlurFeatures(),
  faces=False, n_frames=32)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # video_fixtures

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {tests!r})
limit = {mem} << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from forensics.media import ItemError, iter_frames, read_frames, sample_indices, video_info
path, how = {path!r}, {how!r}
t = time.perf_counter()
out = dict(outcome="ok", frames=0, note="")
try:
    if how == "features":
        from forensics.features import BlurFeatures, VideoFeatures
        vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=32).fit()
        X = vf.transform([path])
        st = vf.status_.iloc[0]
        out.update(outcome=st["status"], frames=int(vf.records_.shape[0]), note=str(st["error"])[:160])
    elif how == "iter":
        idx = sample_indices(video_info(path).n_frames, n=32)
        out["frames"] = sum(1 for _ in iter_frames(path, idx, errors=[]))
    else:
        if how == "info+n8":
            video_info(path)
            kw = dict(n=8)
        else:
            kw = json.loads(how)
        r = read_frames(path, **kw)
        out.update(outcome="partial" if r.errors else "ok", frames=len(r.frames), note="; ".join(r.errors)[:160])
except ItemError as exc:
    out.update(outcome="ItemError", note=exc.reason[:160])
except MemoryError as exc:
    out.update(outcome="MemoryError", note=str(exc)[:160])
out["seconds"] = round(time.perf_counter() - t, 1)
# VmHWM (this process since exec; ru_maxrss keeps the parent's peak from before the exec)
hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
out["peak_mb"] = round(int(hwm.split()[1]) / 1024)
print("RESULT " + json.dumps(out))
"""


def _zero_tail(path, pad):
    size = Path(path).stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size + pad)
    return path


def _streams(path, n_tracks):
    """One video and 899 audio tracks (PyAV's writer stops near 1,000), then TrackEntry copies up to ``n_tracks``
    (the SeekHead and Cues are blanked: their offsets no longer hold)."""
    import av

    c = av.open(str(path), "w", format="matroska")
    vs = c.add_stream("libx264", rate=25)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    for _ in range(899):
        c.add_stream("pcm_s16le", rate=8000, layout="mono")
    for _ in range(4):
        for p in vs.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")):
            c.mux(p)
    for p in vs.encode():
        c.mux(p)
    c.close()
    b = Path(path).read_bytes()

    def vint(i):
        n = 1
        while not b[i] & (0x80 >> (n - 1)):
            n += 1
        v = b[i] & (0xFF >> n)
        for k in range(1, n):
            v = (v << 8) | b[i + k]
        return v, n

    def children(start, end):
        i = start
        while i < end:
            n = 1
            while not b[i] & (0x80 >> (n - 1)):
                n += 1
            size, ns = vint(i + n)
            yield b[i:i + n], i, i + n + ns, i + n + ns + size
            i = i + n + ns + size

    def size8(v):
        return bytes([0x01]) + v.to_bytes(7, "big")

    _, _, _, header_end = next(children(0, len(b)))
    seg_id, _, seg_data, _ = next(children(header_end, len(b)))
    out = []
    for eid, c0, cd, ce in children(seg_data, len(b)):
        if eid == bytes.fromhex("1654AE6B"):  # Tracks
            entries = [(t0, td, te) for _, t0, td, te in children(cd, ce)]
            t0, td, te = entries[-1]
            kids = [(k, b[k0:ke]) for k, k0, _, ke in children(td, te)]
            extra = []
            for k in range(len(entries) + 1, n_tracks + 1):
                body = b"".join(b"\xd7\x84" + k.to_bytes(4, "big") if kid == b"\xd7"  # TrackNumber
                                else b"\x73\xc5\x88" + (10**9 + k).to_bytes(8, "big") if kid == b"\x73\xc5"  # TrackUID
                                else raw for kid, raw in kids)
                extra.append(b"\xae" + size8(len(body)) + body)
            entries = [b[e0:ee] for e0, _, ee in entries]
            payload = b"".join(entries + extra)
            out.append(eid + size8(len(payload)) + payload)
        elif eid in (bytes.fromhex("114D9B74"), bytes.fromhex("1C53BB6B")):  # SeekHead, Cues
            out.append(b"\xec" + size8(ce - c0 - 9) + b"\x00" * (ce - c0 - 9))
        else:
            out.append(b[c0:ce])
    Path(path).write_bytes(b[:header_end] + seg_id + b"\x01\xff\xff\xff\xff\xff\xff\xff" + b"".join(out))
    return path


def build(tmp, only):
    from video_fixtures import (h264_declaring, index_frames, patch_avi_frame_count, to_mpegts, with_metadata,
                                write_video)

    cases = {}
    want = (lambda name: not only or name in only)
    if want("header_16000"):
        cases["header_16000"] = (h264_declaring(tmp / "huge.h264", [(1000, 1000)] * 2), '{"n": 8}')
    if want("grows_16000"):
        a = to_mpegts(h264_declaring(tmp / "a.h264", []), tmp / "a.ts")
        b = to_mpegts(h264_declaring(tmp / "b.h264", [(1000, 1000)] * 2), tmp / "b.ts", first_pts=8)
        (tmp / "grows.ts").write_bytes(a.read_bytes() + b.read_bytes())
        cases["grows_16000"] = (tmp / "grows.ts", '{"n": 16}')
    if want("billion_frames"):
        src = write_video(tmp / "v.avi", index_frames(8), codec="mjpeg")
        patch_avi_frame_count(src, 10**9)
        data = src.read_bytes()
        (tmp / "cut.avi").write_bytes(data[:data.find(b"movi") + 4])
        cases["billion_frames"] = (tmp / "cut.avi", '{"every": 1}')
    if want("streams_5000"):
        cases["streams_5000"] = (_streams(tmp / "streams.mkv", 5000), '{"n": 4}')
    if want("metadata_16mib"):
        cases["metadata_16mib"] = (with_metadata(tmp / "meta.mkv", "t" * (16 << 20), "x" * (1 << 20)), '{"n": 4}')
    for fmt in ("mkv", "ts"):
        if want(f"zeros_4gib_{fmt}"):
            clip = write_video(tmp / f"clip.{fmt}", index_frames(8, size=(48, 64)))
            cases[f"zeros_4gib_{fmt}"] = (_zero_tail(clip, 4 << 30), "info+n8")
    if want("pasp_65535"):
        from fractions import Fraction

        src = write_video(tmp / "pasp.mp4", index_frames(8, size=(64, 96)), sample_aspect_ratio=Fraction(4, 3))
        data = bytearray(src.read_bytes())
        at = data.find(b"pasp")
        data[at + 4:at + 12] = (65535).to_bytes(4, "big") + (1).to_bytes(4, "big")
        src.write_bytes(bytes(data))
        cases["pasp_65535"] = (src, '{"n": 8}')
    if any(want(n) for n in ("uhd_n32", "uhd_iter", "uhd_features")):
        rng = np.random.default_rng(0)
        base = (np.linspace(0, 255, 3840)[None, :, None] * np.ones((2160, 1, 3))).astype(np.uint8)
        frames = []
        for k in range(40):
            f = base.copy()
            f[1000:1400, 100 + 40 * k:500 + 40 * k] = rng.integers(0, 255, (400, 400, 3), dtype=np.uint8)
            frames.append(f)
        uhd = write_video(tmp / "uhd.mp4", frames, preset="ultrafast")
        for name, how in (("uhd_n32", '{"n": 32}'), ("uhd_iter", "iter"), ("uhd_features", "features")):
            if want(name):
                cases[name] = (uhd, how)
    return cases


def dask_batch():
    import time

    import distributed

    import forensics
    from forensics.features import BlurFeatures, VideoFeatures
    from video_fixtures import index_frames, write_video

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bad = build(tmp, {"header_16000", "billion_frames", "grows_16000"})
        good = [str(write_video(tmp / f"good{k}.mp4", index_frames(12, seed=k))) for k in range(6)]
        seq = good[:2] + [str(bad["header_16000"][0])] + good[2:4] + [str(bad["billion_frames"][0])] + good[4:]
        seq.append(str(bad["grows_16000"][0]))
        t = time.perf_counter()
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=40, memory_limit="3GB") as cluster, \
                distributed.Client(cluster), forensics.use_cluster(cluster.scheduler_address):
            vf = VideoFeatures(BlurFeatures(), faces=False, n_frames=4, on_error="nan", progress=True)
            try:
                X = vf.fit_transform(seq)
            except Exception as exc:  # what the batch gave before the guards: report it, do not hide it
                print(f"batch raised {type(exc).__name__} after {time.perf_counter() - t:.1f} s: {str(exc)[:200]}")
                return
        took = time.perf_counter() - t
        ref = VideoFeatures(BlurFeatures(), faces=False, n_frames=4, n_jobs=1).fit_transform(good)
        rows = [i for i, p in enumerate(seq) if p in good]
        print(f"{len(seq)} rows in {took:.1f} s; good rows equal one process: "
              f"{np.array_equal(X[rows], ref, equal_nan=True)}")
        for i, row in vf.status_.iterrows():
            print(f"| {i} | {Path(row['source']).name} | {row['status']} | {str(row['error'])[:110]} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mem-gb", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--dask", action="store_true")
    args = ap.parse_args()
    if args.dask:
        return dask_batch()
    with tempfile.TemporaryDirectory() as d:
        cases = build(Path(d), set(args.only))
        print("| case | file size | outcome | frames | peak RSS | seconds | note |")
        print("|---|---|---|---|---|---|---|")
        for name, (path, how) in cases.items():
            code = CHILD.format(tests=str(ROOT / "tests"), mem=args.mem_gb, path=str(path), how=how)
            try:
                run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     timeout=args.timeout)
                line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
                r = json.loads(line[7:]) if line else dict(outcome=f"crash (rc {run.returncode})", frames="",
                                                            peak_mb="", seconds="", note=run.stderr[-160:])
            except subprocess.TimeoutExpired:
                r = dict(outcome=f"timeout ({args.timeout} s)", frames="", peak_mb="", seconds="", note="")
            size = Path(path).stat().st_size
            shown = f"{size / 2**30:.0f} GiB (sparse)" if size > 2**30 else f"{size / 1024:.0f} KiB"
            note = r["note"].replace("|", "/").replace("\n", " ")
            print(f"| {name} | {shown} | {r['outcome']} | {r['frames']} | {r['peak_mb']} MB | {r['seconds']} "
                  f"| {note} |", flush=True)


if __name__ == "__main__":
    main()
