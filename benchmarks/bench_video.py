"""Per-video cost of faces + the full handcrafted bank against the bare decode, at 1080p/720p/480p, one core.

    python benchmarks/bench_video.py [--videos 2] [--frames 300] [--sample 32] [--repeats 3]
                                     [--resolutions 1080p 720p 480p] [--image-mp 108] [--out results/bench_video.md]

What is measured, per H.264 video (libx264 crf 23, keyframe every 250 frames, B-frames), in one
process pinned to one thread (OpenCV, onnxruntime, PyAV decoder threads = 1):

- ``decode``: the bare PyAV decode of every frame up to the last sampled one (no RGB conversion);
- ``pipeline``: ``VideoFeatures(make_feature_bank(), n_frames=32, faces=True,
  detector=YuNetDetector(...))``: sampling 32 frames (decode + RGB), YuNet on a 640 px copy then
  near the tracked face, 256 px crops, the full handcrafted bank on the batch of crops;
- the stages alone (reader, faces, bank) for the profile, and the previous pipeline's way
  (YuNet via OpenCV on the full-resolution frame, every frame, bank crop by crop) for "before".

Times are CPU seconds of this process (``time.process_time``), robust to other jobs on a shared
machine; the ratio pipeline / decode is taken per video and repeat, both measured in the same
repeat, and the median is reported. Wall-clock medians are printed too.

Face agreement: on the sampled frames, the default detection (640 px, search near the track)
against YuNet on every full-resolution frame: the fraction of frames where both find the face
with box IoU >= 0.5 or neither finds one, and the IoU of the boxes.

Memory (one run per video, apart from the timed ones): peak resident growth (``VmHWM`` reset
through ``/proc/self/clear_refs`` after handing free heap back with ``malloc_trim``), for 300-frame
videos and a 600-frame 1080p one (flat means independent of the length); and a
``--image-mp`` megapixel JPEG through ``extract_faces`` (bytes per pixel).

Videos: an LFW face (``../shared/data/lfw_faceswap/real``; synthetic when absent) composited
at 1/4 of the frame height on a textured, panning background, moving and zooming slowly like a
talking head. Detector: YuNet from ``../shared/models`` (required).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SHARED = ROOT.parent / "shared"
YUNET = SHARED / "models" / "face_detection_yunet_2023mar.onnx"
LFW = SHARED / "data" / "lfw_faceswap" / "real"
DFDC_VIDEOS = 119_000
RESOLUTIONS = {"1080p": (1080, 1920), "720p": (720, 1280), "480p": (480, 854)}


# -- inputs -----------------------------------------------------------------------------------------
def _photo(seed, side):
    from PIL import Image

    files = sorted(LFW.glob("*.jpg")) if LFW.is_dir() else []
    if files:
        img = Image.open(files[(7 * seed) % len(files)]).convert("RGB").resize((side, side), Image.BICUBIC)
        return np.asarray(img)
    from video_fixtures import synthetic_face

    return synthetic_face(side)


def talking_head(path, n_frames, size, seed):
    """A face moving and zooming slowly over a textured, panning background (H.264)."""
    from video_fixtures import _background, write_video

    h, w = size
    side = h // 4 // 2 * 2
    photo = _photo(seed, int(side * 1.2) // 2 * 2)
    bg = _background(h, w, n_frames, seed)
    frames = []
    for t in range(n_frames):
        f = bg[:, t:t + w].copy()
        s = int(side * (1 + 0.1 * np.sin(2 * np.pi * t / 200))) // 2 * 2
        face = cv2.resize(photo, (s, s), interpolation=cv2.INTER_AREA)
        cx = w / 2 + 0.25 * w * np.sin(2 * np.pi * t / 150 + seed)
        cy = h / 2 + 0.1 * h * np.sin(2 * np.pi * t / 90 + seed)
        x0, y0 = int(cx - s / 2), int(cy - s / 2)
        f[y0:y0 + s, x0:x0 + s] = face
        frames.append(f)
    write_video(path, frames, fps=30, crf=23, gop=250, options={"threads": "2"})
    return path


def large_image(path, megapixels):
    h = int(round(np.sqrt(megapixels * 1e6 * 3 / 4)))
    w = h * 4 // 3
    img = np.empty((h, w, 3), np.uint8)
    img[:] = 120
    face = cv2.resize(_photo(3, 250), (h // 2, h // 2), interpolation=cv2.INTER_CUBIC)
    img[h // 4:h // 4 + h // 2, w // 3:w // 3 + h // 2] = face
    cv2.imwrite(str(path), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return h, w


# -- measurements -------------------------------------------------------------------------------------
def _clock(fn):
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - t


def bare_decode(path, last):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        k = 0
        for _ in container.decode(stream):
            k += 1
            if k > last:
                break
    return k


def _status(key):
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(key)).split()[1]) * 1024


def peak_growth(fn):
    """(result, peak resident bytes above the resident size at the start).

    Free heap memory is first handed back to the system (glibc ``malloc_trim``) so the start
    is the live data only, then the peak (``VmHWM``) is reset to it.
    """
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status("VmRSS")
    out = fn()
    return out, _status("VmHWM") - base


def _iou(a, b):
    from forensics.media._faces import _iou as iou

    return iou(a, b)


def agreement(test, ref):
    """(agreeing frames, frames, IoUs) of two record lists of the same frames (selected track)."""
    a = {r.frame_index: r for r in test}
    b = {r.frame_index: r for r in ref}
    ious, agree = [], 0
    for k in b:
        if a[k].face_found and b[k].face_found:
            iou = _iou(a[k].bbox, b[k].bbox)
            ious.append(iou)
            agree += iou >= 0.5
        else:
            agree += a[k].face_found == b[k].face_found
    return agree, len(b), ious


def run_video(path, args, vf, det, det_cv):
    from forensics.features._video import _crop_rows
    from forensics.media import FaceCropper, Item, iter_display, read_display_frames, sample_indices, video_info

    last = int(sample_indices(video_info(path).n_frames, n=args.sample)[-1])
    rows = []
    for _ in range(args.repeats):
        _, dec_c, dec_w = _clock(lambda: bare_decode(path, last))
        _, pipe_c, pipe_w = _clock(lambda: vf.transform([str(path)]))
        (video, _, _), read_c, _ = _clock(lambda: read_display_frames(path, n=args.sample))
        frames = list(iter_display(video))
        (crops, records), faces_c, _ = _clock(lambda: FaceCropper(det, size=256).crop_frames(frames))
        _, bank_c, _ = _clock(lambda: _crop_rows(vf.extractor_, crops, 0, str(path), list(range(len(crops)))))
        rows.append(dict(decode=dec_c, pipeline=pipe_c, decode_wall=dec_w, pipeline_wall=pipe_w, read=read_c,
                         faces=faces_c, bank=bank_c, ratio=pipe_c / dec_c, n_crops=len(crops),
                         near=sum(r.detection == "near" for r in records)))
    # memory apart from the timings: handing the heap back first makes the next run fault its pages in
    peak = peak_growth(lambda: vf.transform([str(path)]))[1]
    for row in rows:
        row["peak"] = peak
    # agreement with YuNet on every full-resolution frame, and the previous pipeline's cost
    ref = FaceCropper(det, size=256, detect_size=None, reuse=False).crop_frames(frames)[1]
    only_small = FaceCropper(det, size=256, reuse=False).crop_frames(frames)[1]

    def before():
        crops_b, _ = FaceCropper(det_cv, size=256, detect_size=None, reuse=False).crop_frames(frames)
        return [vf.extractor_._compute(Item(0, None, pixels=c)) for c in crops_b]

    _, before_c, _ = _clock(before)
    return rows, dict(agree=agreement(records, ref), agree_small=agreement(only_small, ref),
                      before=(before_c + rows[0]["read"]) / rows[0]["decode"], last=last)


def yunet_batches(det_path, repeats=20):
    from forensics.media import YuNetDetector

    frame = cv2.resize(_photo(1, 250), (640, 360))
    out = {}
    for b in (1, 4, 8):
        det = YuNetDetector(det_path, engine="onnxruntime", batch_size=b)
        frames = [frame] * b
        det.detect_batch(frames)
        c = time.process_time()
        for _ in range(repeats):
            det.detect_batch(frames)
        out[b] = (time.process_time() - c) / repeats / b * 1000
    det = YuNetDetector(det_path, engine="opencv")
    det.detect(frame)
    c = time.process_time()
    for _ in range(repeats):
        det.detect(frame)
    out["opencv"] = (time.process_time() - c) / repeats * 1000
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2, help="videos per resolution")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--sample", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resolutions", nargs="+", default=list(RESOLUTIONS), choices=list(RESOLUTIONS))
    parser.add_argument("--long", type=int, default=600, help="frames of the extra 1080p video for memory (0: none)")
    parser.add_argument("--image-mp", type=float, default=108.0, help="megapixels of the still image (0: none)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_video.md"))
    args = parser.parse_args(argv)
    if not YUNET.is_file():
        sys.exit(f"needs the YuNet model at {YUNET}")

    import pandas as pd

    from forensics.datasets import extract_faces
    from forensics.features import VideoFeatures, make_feature_bank
    from forensics.media import YuNetDetector

    det = YuNetDetector(YUNET)
    det_cv = YuNetDetector(YUNET, engine="opencv")
    vf = VideoFeatures(make_feature_bank(), n_frames=args.sample, faces=True, detector=det, size=256).fit()
    lines = ["# Per-video cost: 32 sampled frames + YuNet + crops + full bank vs bare decode (one core)", "",
             f"`python benchmarks/bench_video.py --videos {args.videos} --frames {args.frames} --repeats "
             f"{args.repeats}`: {args.videos} H.264 videos of {args.frames} frames per resolution, "
             f"{args.sample} frames sampled, bank of {vf.extractor_.n_features_out_} features, CPU seconds of one "
             f"thread, medians over videos x {args.repeats} repeats.", ""]
    table, profile, agree_rows, memory = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        # warm every code path (numba kernels, onnxruntime session) on a small video first
        warm = talking_head(Path(tmp) / "warm.mp4", 12, (240, 320), 99)
        vf.transform([str(warm)])
        for label in args.resolutions:
            size = RESOLUTIONS[label]
            rows, extra = [], []
            for k in range(args.videos):
                t0 = time.perf_counter()
                path = talking_head(Path(tmp) / f"{label}_{k}.mp4", args.frames, size, k)
                print(f"{label} video {k}: written in {time.perf_counter() - t0:.0f} s", flush=True)
                r, e = run_video(path, args, vf, det, det_cv)
                rows += r
                extra.append(e)
                print(f"  ratio {np.median([x['ratio'] for x in r]):.2f}, decode {np.median([x['decode'] for x in r]):.2f}"
                      f" s, pipeline {np.median([x['pipeline'] for x in r]):.2f} s", flush=True)
                path.unlink()
            df = pd.DataFrame(rows)
            med = df.median(numeric_only=True)
            agree = sum(e["agree"][0] for e in extra), sum(e["agree"][1] for e in extra)
            small = sum(e["agree_small"][0] for e in extra), sum(e["agree_small"][1] for e in extra)
            ious = np.concatenate([e["agree"][2] for e in extra])
            table.append((label, med["decode"], med["pipeline"], med["ratio"], df["ratio"].min(), df["ratio"].max(),
                          np.median([e["before"] for e in extra]), 3600 / med["pipeline"], med["decode_wall"],
                          med["pipeline_wall"]))
            other = med["pipeline"] - med["read"] - med["faces"] - med["bank"]
            profile.append((label, med["decode"], med["read"] - med["decode"], med["faces"], med["bank"], other,
                            med["n_crops"], med["near"]))
            agree_rows.append((label, agree, small, float(np.mean(ious)), float(np.median(ious)),
                               float(np.min(ious))))
            memory.append((label, args.frames, df["peak"].median() / 2**20, df["peak"].max() / 2**20))
        if args.long and "1080p" in args.resolutions:
            path = talking_head(Path(tmp) / "long.mp4", args.long, RESOLUTIONS["1080p"], 5)
            peaks = [peak_growth(lambda: vf.transform([str(path)]))[1] for _ in range(args.repeats)]
            memory.append(("1080p", args.long, np.median(peaks) / 2**20, max(peaks) / 2**20))
        image = None
        if args.image_mp:
            path = Path(tmp) / "large.jpg"
            h, w = large_image(path, args.image_mp)
            m = pd.DataFrame([dict(path=str(path), label=0, method="m")])
            (res, peak), c, _ = _clock(lambda: peak_growth(lambda: extract_faces(
                m, Path(tmp) / "img", detector=det, size=256, progress=False)))
            image = (h, w, peak, c, res.status["status"][0], len(res.crops))
    batches = yunet_batches(YUNET)

    lines += ["| clip | decode s | pipeline s | **pipeline / decode** (min-max) | previous faces + bank (full-res YuNet, bank per "
              "crop) with this reader / decode | videos/hour/core | wall decode / pipeline s |", "|---|---|---|---|---|---|---|"]
    for label, d, p, r, lo, hi, before, vph, dw, pw in table:
        lines.append(f"| {label} | {d:.2f} | {p:.2f} | **{r:.2f}** ({lo:.2f}-{hi:.2f}) | {before:.2f} | {vph:.0f} | "
                     f"{dw:.2f} / {pw:.2f} |")
    full = [t for t in table if t[0] == "1080p"]
    if full:
        lines += ["", f"Projected DFDC ({DFDC_VIDEOS:,} videos, all taken as 1080p 300-frame): "
                  f"**{DFDC_VIDEOS * full[0][2] / 3600:.0f} core-hours** (bare decode alone: "
                  f"{DFDC_VIDEOS * full[0][1] / 3600:.0f})."]
    lines += ["", "Where the time goes (CPU s per video, medians): reader = `read_frames` beyond the bare decode "
              "(RGB conversion of the sampled frames, packet scan, opening); faces = detection + tracking + crops; "
              "bank = the full bank on the batch of crops.", "",
              "| clip | bare decode | reader extra | faces | bank | other | crops | frames searched near the track |",
              "|---|---|---|---|---|---|---|---|"]
    for label, d, rd, fc, bk, ot, nc, nr in profile:
        lines.append(f"| {label} | {d:.3f} | {rd:.3f} | {fc:.3f} | {bk:.3f} | {ot:.3f} | {nc:.0f} | {nr:.0f} |")
    lines += ["", "Face agreement with YuNet on every full-resolution frame (sampled frames of all videos):", "",
              "| clip | default (640 px + search near the track) | 640 px only | box IoU mean / median / min |",
              "|---|---|---|---|"]
    for label, (a, n), (sa, sn), mean, median, lo in agree_rows:
        lines.append(f"| {label} | {a}/{n} = {a / n:.3f} | {sa}/{sn} = {sa / sn:.3f} | {mean:.3f} / {median:.3f} / "
                     f"{lo:.3f} |")
    lines += ["", "Peak resident growth per video (pipeline, one video at a time):", "",
              "| clip | frames | median MiB | max MiB |", "|---|---|---|---|"]
    for label, n, med, mx in memory:
        lines.append(f"| {label} | {n} | {med:.0f} | {mx:.0f} |")
    if image:
        h, w, peak, c, status, n = image
        lines += ["", f"Still image {w}x{h} ({h * w / 1e6:.0f} MP, JPEG) through `extract_faces` (YuNet): status "
                  f"{status}, {n} crop, peak resident growth {peak / 2**20:.0f} MiB = {peak / (h * w):.1f} bytes/pixel, "
                  f"{c:.1f} CPU s."]
    lines += ["", "YuNet per 640x360 frame, CPU ms: onnxruntime batch 1 / 4 / 8: "
              + " / ".join(f"{batches[b]:.1f}" for b in (1, 4, 8)) + f"; OpenCV FaceDetectorYN: {batches['opencv']:.1f}."]
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)


if __name__ == "__main__":
    main()
