"""Resident memory of the app while it scores a 1080p video, on its torch-free path.

A 1920 x 1080 H.264 video (``--frames`` frames, 25 fps, natural-looking panning texture) is written
once. Then, for each model, a fresh Python process runs the app's page with Streamlit's AppTest
(the page code, Streamlit's script runner and the scoring core, exactly as ``forensics app``
runs them, minus the web server), uploads the video and waits for the score. The process reports
its resident size after the imports, its peak resident size (``VmHWM`` of /proc/self/status)
at the end, the time to score, and whether torch was ever imported.

Models (fitted here, on the embedded demo set):

- ``dct-lr`` and ``forensic-xgb`` (handcrafted; the full feature bank and XGBoost for the latter), saved as
  ``.skops`` by ``forensics.save``;
- ``mobilenetv2_100`` fine-tuned for one frozen epoch and exported with
  ``forensics.app.export_detector`` (fp32 and static INT8), when the timm weights are found in
  ``$FORENSICS_MODEL_DIR`` (else ``cnn-small`` trained from scratch for one epoch).

    python benchmarks/bench_app_memory.py [--frames 120] [--n-frames 12] [--out DIR]

The CPU is shared with other jobs: times are indicative; the memory figures are not affected.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_1080p(path, n_frames, fps=25):
    """A 1920x1080 H.264 video: a large random texture panning 6 px per frame, with fresh sensor-like
    grain in every frame (so that the bit rate is that of a camera video, ~10 Mbit/s, not of a still)."""
    import av
    import cv2

    rng = np.random.default_rng(0)
    h, w = 1080, 1920
    big = np.zeros((h, w + 6 * n_frames, 3), np.float32)
    for sigma, weight in ((60, 60.0), (12, 25.0), (2, 10.0)):
        noise = cv2.GaussianBlur(rng.normal(size=big.shape).astype(np.float32), (0, 0), sigma)
        big += weight * noise / max(float(noise.std()), 1e-6)
    big = np.clip(big + 128, 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        grain = rng.normal(0, 4, size=(8, h, w, 1)).astype(np.float32)
        for k in range(n_frames):
            view = big[:, 6 * k:6 * k + w].astype(np.float32) + grain[k % 8] + grain[(3 * k + 1) % 8] * 0.5
            frame = av.VideoFrame.from_ndarray(np.clip(view, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def fit_models(folder, quick=False):
    """Fit and save the benchmark's models; return {label: path}."""
    import torch

    from forensics import make_pipeline, save
    from forensics.app import export_detector
    from forensics.datasets import make_demo_dataset
    from forensics.deep import BackboneClassifier

    torch.set_num_threads(1)
    demo = make_demo_dataset(n_per_class=24 if quick else 48, size=128, seed=0)
    X, y = list(demo["item"]), demo["label"].to_numpy()
    mixed = np.r_[0:16, len(X) - 16:len(X)]  # the demo set lists reals first
    models = {}
    for name in ("dct-lr",) if quick else ("dct-lr", "forensic-xgb"):
        path = folder / f"{name}.skops"
        models[name] = path if path.is_file() else save(make_pipeline(name, random_state=0).fit(X, y), path)
    weights = Path(os.environ.get("FORENSICS_MODEL_DIR", "")) / "mobilenetv2_100.safetensors"
    label = "mobilenetv2_100 ONNX" if weights.is_file() else "cnn-small ONNX"
    if (folder / "net.int8.onnx").is_file():  # reuse the export of an earlier run in the same folder
        return {**models, f"{label} fp32": folder / "net.onnx", f"{label} INT8 (static)": folder / "net.int8.onnx"}
    if weights.is_file():
        clf = BackboneClassifier(model_name="mobilenetv2_100", weights=str(weights), frozen_epochs=1, epochs=1,
                                 batch_size=16, validation_fraction=None).fit([X[i] for i in mixed], y[mixed])
        label = "mobilenetv2_100 ONNX"
    else:
        clf = BackboneClassifier(model_name="cnn-small", weights=None, epochs=1, frozen_epochs=0,
                                 validation_fraction=None).fit(X, y)
        label = "cnn-small ONNX"
    path = export_detector(clf, folder / "net.onnx", int8=True, calibration=[X[i] for i in mixed])
    models[f"{label} fp32"] = path
    models[f"{label} INT8 (static)"] = folder / "net.int8.onnx"
    return models


CHILD = """
import os, sys, time
def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
from streamlit.testing.v1 import AppTest
import forensics.app._scoring, forensics.app._page, forensics.media, forensics.features, onnxruntime, sklearn
base = rss("VmRSS:")
os.environ["FORENSICS_APP_MODEL"] = {model!r}
at = AppTest.from_file({page!r}, default_timeout=3600).run()
at.sidebar.slider[0].set_value({n_frames})
at.run()
data = open({video!r}, "rb").read()
at.file_uploader[0].upload("video.mp4", data, "video/mp4")
del data
t0 = time.perf_counter()
at.run()
elapsed = time.perf_counter() - t0
assert not at.exception, [e.value for e in at.exception]
assert not at.error, [e.value for e in at.error]
import json
print("RESULT", json.dumps(dict(score=at.metric[0].value, base=base, peak=rss("VmHWM:"), end=rss("VmRSS:"),
                                seconds=elapsed, torch="torch" in sys.modules)))
"""


def measure(model, video, n_frames):
    from forensics.app._launch import page_path

    code = textwrap.dedent(CHILD.format(model=str(model), page=str(page_path()), video=str(video), n_frames=n_frames))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FORENSICS_APP_MODELS": str(Path(model).parent),
           "FORENSICS_APP_MAX_MB": "2000", "OMP_NUM_THREADS": "1"}
    env.pop("FORENSICS_MODEL_DIR", None)  # no face detector: the scoring path alone
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120, help="frames in the 1080p video (default: 120)")
    parser.add_argument("--n-frames", type=int, default=12, help="frames the app samples and scores (default: 12)")
    parser.add_argument("--quick", action="store_true", help="dct-lr and the ONNX network only, smaller fits")
    parser.add_argument("--out", default=None, help="folder for the video and the models (default: a temporary one)")
    args = parser.parse_args(argv)
    folder = Path(args.out or tempfile.mkdtemp(prefix="bench-app-"))
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "1080p.mp4"
    t0 = time.perf_counter()
    if not video.is_file():
        write_1080p(video, args.frames)
    print(f"video: {video} ({video.stat().st_size / 2**20:.1f} MB, {args.frames} frames of 1920x1080, "
          f"written in {time.perf_counter() - t0:.0f} s)")
    models = fit_models(folder, quick=args.quick)
    print(f"\n{'model':34s} {'after imports':>14s} {'peak RSS':>10s} {'score':>7s} {'time':>8s}  torch imported")
    rows = []
    for label, path in models.items():
        r = measure(path, video, args.n_frames)
        rows.append(dict(model=label, **r))
        print(f"{label:34s} {r['base'] / 2**20:11.0f} MB {r['peak'] / 2**20:7.0f} MB {r['score']:>7s} "
              f"{r['seconds']:6.1f} s  {r['torch']}")
    print(f"\n{args.n_frames} frames of 1920x1080 scored per video; peak = VmHWM of the process (Python, Streamlit "
          "script runner, scoring); limit 1 GB")
    (folder / "memory.json").write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
