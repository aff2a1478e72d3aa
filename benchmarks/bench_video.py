"""Frames per second for decode + face detection + crop, at 720p and 1080p, on one core.

    python benchmarks/bench_video.py [--frames 48] [--repeats 3] [--out results/bench_video.md]

Clips: H.264 (libx264, crf 23) of a face (an LFW photo from ../shared when present, else a
synthetic face) pasted at 1/3 of the frame height on a textured, panning background, written
with the test fixtures. Detector: YuNet from ../shared/models when present, else the cascade
fallback (slow on OpenCV 5, where scikit-image runs it). OpenCV and PyAV use one thread.
Reported: median over repeats of frames/s for each stage alone and for the whole chain.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
YUNET = ROOT.parent / "shared" / "models" / "face_detection_yunet_2023mar.onnx"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_video.md"))
    args = parser.parse_args(argv)

    from forensics.media import FaceCropper, crop_face, make_detector, read_frames
    from video_fixtures import face_video

    detector = make_detector("yunet", model_path=str(YUNET)) if YUNET.exists() else make_detector("cascade")
    name = type(detector).__name__
    cropper = FaceCropper(detector, size=256)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, (h, w) in (("720p", (720, 1280)), ("1080p", (1080, 1920))):
            path = Path(tmp) / f"{label}.mp4"
            _, source = face_video(path, n_frames=args.frames, size=(h, w), face_size=h // 3, crf=23)
            frames = read_frames(path, every=1).frames
            decode, detect, crop, chain = [], [], [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                read_frames(path, every=1)
                decode.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                faces = [detector.detect(f) for f in frames]
                detect.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                found = 0
                for f, fs in zip(frames, faces):
                    if fs:
                        crop_face(f, fs[0].bbox, margin=1.3, size=256)
                        found += 1
                crop.append(max(time.perf_counter() - t0, 1e-9))
                t0 = time.perf_counter()
                for f in read_frames(path, every=1).frames:
                    cropper.crop(f)
                chain.append(time.perf_counter() - t0)
            n = len(frames)
            rows.append((label, source, n, n / np.median(decode), n / np.median(detect), max(found, 1) / np.median(crop),
                         n / np.median(chain), found / n, sum(len(x) > 0 for x in faces) / n))
    lines = ["# Video decode + detect + crop speed", "",
             f"{args.frames}-frame H.264 clips, one core (OpenCV/PyAV threads = 1), detector {name}, crop 256 px, "
             f"median of {args.repeats} repeats.", "",
             "| clip | face | frames | decode fps | detect fps | crop fps | **decode + detect + crop fps** | "
             "face found |", "|---|---|---|---|---|---|---|---|"]
    for label, source, n, d, det, c, ch, rate, _ in rows:
        lines.append(f"| {label} | {source} | {n} | {d:.1f} | {det:.1f} | {c:.0f} | **{ch:.1f}** | {rate:.0%} |")
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)


if __name__ == "__main__":
    main()
