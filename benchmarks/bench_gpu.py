"""GPU figures for the deep parts: embedding throughput (crops/s) on CUDA against the CPU, with and
without autocast, and the same network through ONNX Runtime when it has a CUDA provider.

Run on a machine with an NVIDIA GPU (CI never has one; on a machine without CUDA it prints the CPU
rows only and says so):

    python benchmarks/bench_gpu.py [--model tf_efficientnet_lite0] [--n 512] [--batch 64] [--out results/bench_gpu.json]

Crops are 256x256 uint8 RGB arrays (what :class:`forensics.features.VideoFeatures` hands on after
face cropping); the transformer resizes them to the model's input as in real use. Each figure is the
median of three timed passes after one warm-up pass (the warm-up includes CUDA initialisation and
cuDNN autotuning, which a long extraction job pays once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _time(fn, repeats=3):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _weights(model):
    folder = os.environ.get("FORENSICS_MODEL_DIR")
    if folder and (Path(folder) / f"{model}.safetensors").exists():
        return str(Path(folder) / f"{model}.safetensors")
    return None  # random init: the cost of the forward pass does not depend on the weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tf_efficientnet_lite0")
    parser.add_argument("--n", type=int, default=512, help="crops per pass")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--cpu-n", type=int, default=64, help="crops per pass on the CPU (slower)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_gpu.json"))
    args = parser.parse_args(argv)

    import torch

    from forensics.embeddings import EmbeddingTransformer

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(args.n)]
    weights = _weights(args.model)
    rows = []
    cuda = torch.cuda.is_available()
    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else None, "cpu_threads": torch.get_num_threads(),
            "model": args.model, "weights": "local file" if weights else "random init", "batch": args.batch}
    print(json.dumps(info))

    configs = [("cpu", False, args.cpu_n)]
    if cuda:
        configs += [("cuda", False, args.n), ("cuda", True, args.n)]
    else:
        print("CUDA is not available here: CPU rows only")
    for device, amp, n in configs:
        emb = EmbeddingTransformer(model_name=args.model, weights=weights, batch_size=args.batch, device=device,
                                   amp=amp).fit(crops[:2])
        out = {}

        def run():
            out["z"] = emb.transform(crops[:n])

        seconds = _time(run)
        row = {"runtime": "torch", "device": device, "amp": amp, "n": n, "seconds": seconds,
               "crops_per_s": n / seconds, "dim": int(out["z"].shape[1])}
        rows.append(row)
        print(json.dumps(row))
        if device == "cuda":
            torch.cuda.synchronize()

    try:  # the same network through ONNX Runtime, on the providers it has here
        import onnxruntime as ort


        providers = ort.get_available_providers()
        print(json.dumps({"onnxruntime": ort.__version__, "providers": providers}))
        path = ROOT / "results" / f"bench_gpu_{args.model}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        emb = EmbeddingTransformer(model_name=args.model, weights=weights, device="cpu").fit(crops[:2])
        onnx = emb.export_onnx(path).set_params(batch_size=args.batch).fit(crops[:2])
        n = args.n if "CUDAExecutionProvider" in providers else args.cpu_n

        def run_onnx():
            onnx.transform(crops[:n])

        seconds = _time(run_onnx)
        used = "CUDAExecutionProvider" if "CUDAExecutionProvider" in providers else "CPUExecutionProvider"
        row = {"runtime": "onnxruntime", "device": used, "amp": False, "n": n,
               "seconds": seconds, "crops_per_s": n / seconds}
        rows.append(row)
        print(json.dumps(row))
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what could not run
        print(f"onnxruntime row not measured: {type(exc).__name__}: {exc}", file=sys.stderr)

    print("\n| runtime | device | autocast | crops | s | crops/s |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['runtime']} | {r['device']} | {r['amp']} | {r['n']} | {r['seconds']:.3f} | {r['crops_per_s']:.0f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"info": info, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
