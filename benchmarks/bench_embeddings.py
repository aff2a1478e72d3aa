"""CPU speed of EmbeddingTransformer against a bare timm forward pass, and of its ONNX exports.

Targets (issue #5): the transformer (preprocessing + batching + the extraction loop) costs less
than 15% more than the bare forward pass of the same network on the same, already preprocessed
tensors, at batch 1 and batch 32; the ratio is measured in this run. Also reports the latency of
the ONNX fp32 and dynamic-INT8 exports against torch, and how far the INT8 embedding drifts.

    python benchmarks/bench_embeddings.py [--model tf_efficientnet_lite0] [--n-images 64] [--repeats 5]
                                          [--threads 1] [--out results/bench_embeddings.md]

Images: 256x256 RGB face crops (LFW reals from ../shared when present, else crops of
scikit-image's astronaut), given to the transformer as decoded uint8 arrays so that both sides
do the same work but for preprocessing and bookkeeping. Weights: ../shared/models/<model>.safetensors
when present, else a random initialisation (same cost). Times are medians over repeats taken
alternately in the same run; absolute numbers are noisy on a shared machine, read the ratios.
One thread by default: on a loaded 2-core machine PyTorch's OpenMP threads spin against other
processes and a 2-thread forward pass can be 10x slower than a 1-thread one (--threads 0 to
measure torch's default anyway).

Memory allocator: with glibc's defaults, the buffers freed by preprocessing make glibc trim the
heap, and the next forward passes page-fault their activations in again (measured here: 2.5x
the minor faults and twice the system time of back-to-back forward passes at batch 1), which
shows up as "overhead" although the transformer's own work is ~3%. ``--tuned-malloc`` reruns
with ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_MMAP_THRESHOLD_`` set so freed memory is kept (the
usual PyTorch CPU-inference advice, like preloading jemalloc or tcmalloc); it also makes the bare
forward pass itself faster.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import median_time  # noqa: E402
SHARED = ROOT.parent / "shared"


def face_crops(n):
    """n RGB uint8 256x256 arrays, and where they came from."""
    import cv2

    folder = SHARED / "data" / "lfw_faceswap" / "real"
    out = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.jpg"))[:n]:
            img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            out.append(cv2.resize(img, (256, 256), interpolation=cv2.INTER_CUBIC))
        source = "LFW real faces from ../shared (250 -> 256 px)"
    if len(out) < n:
        from skimage import data

        astro = data.astronaut()
        rng = np.random.default_rng(0)
        while len(out) < n:
            y, x = rng.integers(0, 64, 2)
            out.append(np.ascontiguousarray(astro[y:y + 256, 96 + x:96 + x + 256]))
        source = "scikit-image astronaut face crops"
    return out, source



def measure(fns, repeats, seed=0):
    """Median wall and CPU seconds of each function, run in a shuffled order at each repeat.

    CPU time (``time.process_time``, this process only) is much less sensitive than wall time
    to other processes on a shared machine; with one thread it is the work done.
    """
    rng = random.Random(seed)
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(repeats):
        keys = list(fns)
        rng.shuffle(keys)
        for k in keys:
            w0, c0 = time.perf_counter(), time.process_time()
            fns[k]()
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
    return ({k: statistics.median(v) for k, v in wall.items()}, {k: statistics.median(v) for k, v in cpu.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tf_efficientnet_lite0")
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and onnxruntime threads (0: torch's default, every core)")
    parser.add_argument("--tuned-malloc", action="store_true",
                        help="rerun under glibc settings that keep freed memory (no heap trim, no mmap)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.tuned_malloc and os.environ.get("MALLOC_TRIM_THRESHOLD_") is None:
        env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="4294967295", MALLOC_MMAP_THRESHOLD_="4294967295")
        os.execve(sys.executable, [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])], env)

    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # onnxruntime sessions follow it (OnnxModel)
    import torch

    from forensics.embeddings import EmbeddingTransformer, OnnxModel, int8_path, preprocess_image

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    images, source = face_crops(args.n_images)
    weights_file = SHARED / "models" / f"{args.model}.safetensors"
    weights = str(weights_file) if weights_file.is_file() else None
    lines = [f"# EmbeddingTransformer speed ({args.model}, CPU, {threads} torch threads)", "",
             f"- images: {len(images)} x 256x256 RGB arrays, {source}",
             f"- weights: {'shared ' + weights_file.name if weights else 'random init (no shared weights)'}",
             f"- torch {torch.__version__}, medians of {args.repeats} repeats, taken in a shuffled order",
             "- glibc malloc: " + ("no heap trim, no mmap (--tuned-malloc)" if os.environ.get("MALLOC_TRIM_THRESHOLD_")
                                   else "defaults"),
             ""]

    emb = {bs: EmbeddingTransformer(model_name=args.model, weights=weights, batch_size=bs, device="cpu").fit()
           for bs in (1, 32)}
    for e in emb.values():
        e.transform(images[:2])  # load the model, warm the kernels
    model = emb[32].model_
    cfg = emb[32].data_config_
    tensors = np.stack([preprocess_image(im, **cfg) for im in images])

    def bare(batch_size):
        with torch.inference_mode():
            for s in range(0, len(tensors), batch_size):
                model(torch.from_numpy(tensors[s:s + batch_size]))

    def transformer(batch_size):
        emb[batch_size].transform(images)

    preprocess_time = median_time(lambda: [preprocess_image(im, **cfg) for im in images], args.repeats)
    lines += ["## Transformer vs bare forward pass (target: ratio < 1.15)", "",
              "Ratios of median times (transformer / bare); CPU = this process's CPU time.", "",
              "| batch | bare img/s (wall) | transformer img/s (wall) | ratio wall | ratio CPU |",
              "|---|---|---|---|---|"]
    results = {}
    for bs in (1, 32):
        wall, cpu = measure({"bare": lambda bs=bs: bare(bs), "emb": lambda bs=bs: transformer(bs)}, args.repeats)
        results[bs] = (wall["emb"] / wall["bare"], cpu["emb"] / cpu["bare"])
        lines.append(f"| {bs} | {len(images) / wall['bare']:.1f} | {len(images) / wall['emb']:.1f} | "
                     f"{results[bs][0]:.3f} | {results[bs][1]:.3f} |")
    lines += ["", f"Preprocessing alone (cv2 resize/crop/normalize): {len(images) / preprocess_time:.0f} img/s.", ""]

    # -- ONNX exports against torch ----------------------------------------------------------
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.model}.onnx"
        t0 = time.perf_counter()
        emb[32].export_onnx(path, quantize=True)
        export_s = time.perf_counter() - t0
        fp32, int8 = OnnxModel(path), OnnxModel(int8_path(path))
        for m in (fp32, int8):
            m.run(tensors[:2])
        lines += [f"## ONNX (onnxruntime {onnxruntime.__version__}, CPUExecutionProvider) vs torch", "",
                  f"Export with quantization: {export_s:.1f} s; files: fp32 {path.stat().st_size / 1e6:.1f} MB, "
                  f"int8 {int8_path(path).stat().st_size / 1e6:.1f} MB.", "",
                  "| batch | torch ms/img | onnx fp32 ms/img | onnx int8 ms/img |", "|---|---|---|---|"]
        n = len(tensors)
        for bs in (1, 32):
            def run(m, bs=bs):
                for s in range(0, n, bs):
                    m.run(tensors[s:s + bs])

            wall, _ = measure({"torch": lambda bs=bs: bare(bs), "fp32": lambda: run(fp32), "int8": lambda: run(int8)},
                              args.repeats)
            ms = {k: 1000 * v / n for k, v in wall.items()}
            lines.append(f"| {bs} | {ms['torch']:.2f} | {ms['fp32']:.2f} | {ms['int8']:.2f} |")
        with torch.inference_mode():
            ref = model(torch.from_numpy(tensors)).numpy()
        out32, out8 = fp32.run(tensors), int8.run(tensors)
        corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(out8, ref)]
        lines += ["", f"fp32 vs torch: max |diff| {np.abs(out32 - ref).max():.2e} "
                      f"(values up to {np.abs(ref).max():.2f}).",
                  f"int8 vs torch: max |diff| {np.abs(out8 - ref).max():.3f}, per-image correlation "
                  f"median {np.median(corr):.3f} (min {np.min(corr):.3f}).", ""]
    worst = max(r[1] for r in results.values())
    lines.append(f"Overhead (CPU-time ratio): batch 1 {results[1][1]:.3f}, batch 32 {results[32][1]:.3f} "
                 f"({'within' if worst < 1.15 else 'ABOVE'} the 1.15 target); wall-time ratios "
                 f"{results[1][0]:.3f} and {results[32][0]:.3f}.")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
