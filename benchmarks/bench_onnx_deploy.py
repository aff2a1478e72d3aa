"""Deployment figures of the catalogued image detectors that have a network: ONNX fp32 and static INT8.

For each such detector (``cnn-scratch``, ``efficientnet-finetune``, ``mobilenet-finetune`` and the
EfficientNet-Lite0 embedding network of ``embedding-xgb``/``fusion-xgb``), on the embedded demo set
(split in two halves by source photo):

1. fit the detector on the first half (short schedules, see ``--epochs``; pretrained weights from
   ``$FORENSICS_MODEL_DIR``);
2. export its network to ONNX fp32 (``forensics.app.export_detector``, or
   ``EmbeddingTransformer.export_onnx``) and to INT8 with **static** quantization calibrated on
   ``--n-calibration`` training images (``forensics.app.quantize_static_int8``: QDQ, per-channel
   int8 weights, uint8 activations, MinMax ranges);
3. time the network alone on preprocessed inputs, per image, for batches of 1 and 32 (median of
   ``--repeats`` runs, after one warm-up), in torch (eval, ``inference_mode``), ONNX Runtime fp32
   and ONNX Runtime INT8, all on the CPU with ``--threads`` threads;
4. score the second half with the three and report the ROC-AUC of each, the INT8-vs-fp32 AUC
   difference, the largest change of a fake probability and the share of unchanged decisions.

    FORENSICS_MODEL_DIR=/path/to/weights python benchmarks/bench_onnx_deploy.py [--threads 1] [--repeats 5]
        [--epochs 2] [--n-per-class 120] [--models cnn-scratch,efficientnet-finetune,...]

The CPU may be shared with other jobs (it was when the figures in docs/results.md were measured):
latencies compare runtimes measured in one run, interleaved, not absolute speeds.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DETECTORS = ("cnn-scratch", "efficientnet-finetune", "mobilenet-finetune", "embedding-xgb")


def median_ms(fn, repeats, per):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times)) / per


def auc(y, s):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def split(demo, seed=0):
    from sklearn.model_selection import GroupShuffleSplit

    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.5, random_state=seed).split(
        demo, demo["label"], demo["group"]))
    return train, test


def fit_detector(name, X, y, epochs, folder):
    """Fit (or reload from an earlier run in the same folder) a catalogued detector; (pipeline, seconds)."""
    import joblib

    from forensics import make_pipeline

    saved = folder / f"{name}.fitted.joblib"
    if saved.is_file():
        pipe, fit_s = joblib.load(saved)
        return pipe, fit_s
    pipe = make_pipeline(name, random_state=0)
    if "head__epochs" in pipe.get_params():
        pretrained = pipe.get_params()["head__weights"] is not None
        pipe.set_params(head__epochs=epochs if pretrained else max(3 * epochs, 4),
                        head__frozen_epochs=min(1, epochs) if pretrained else 0, head__batch_size=16,
                        head__validation_fraction=None)
    t0 = time.perf_counter()
    pipe.fit(X, y)
    fit_s = time.perf_counter() - t0
    joblib.dump((pipe, fit_s), saved)
    return pipe, fit_s


def classifier_case(name, pipe, X_train, X_test, y_test, folder, args):
    """(torch net, fp32 path, int8 path, inputs (32, ...), scores dict) for a BackboneClassifier pipeline."""
    from forensics.app import OnnxDetector, export_detector, preprocess_images, quantize_static_int8

    clf = pipe.steps[-1][1]
    fp32 = export_detector(clf, folder / f"{name}.onnx")
    int8 = quantize_static_int8(fp32, folder / f"{name}.int8.onnx",
                                preprocess_images(X_train[:args.n_calibration], clf.data_config_))
    batch = preprocess_images(X_test[:32], clf.data_config_)
    p = {"torch": clf.predict_proba(X_test)[:, 1], "fp32": OnnxDetector(fp32).predict_proba(X_test)[:, 1],
         "int8": OnnxDetector(int8).predict_proba(X_test)[:, 1]}
    return clf.model_, fp32, int8, batch, p


def embedding_case(name, pipe, X_train, X_test, y_test, folder, args):
    """The same for an EmbeddingTransformer + head pipeline: the network is the embedding."""
    from forensics.app import quantize_static_int8
    from forensics.embeddings import OnnxEmbeddingTransformer, preprocess_image
    from forensics.media import load_item

    names = [n for n, _ in pipe.steps]
    k = names.index("features")
    emb = pipe.steps[k][1]
    onnx_emb = emb.export_onnx(folder / f"{name}.onnx")
    fp32 = Path(onnx_emb.path)
    cfg = {key: v for key, v in emb.data_config_.items()}

    def prep(items):
        return np.stack([preprocess_image(load_item(x, i).rgb, **cfg) for i, x in enumerate(items)]).astype(np.float32)

    int8 = quantize_static_int8(fp32, folder / f"{name}.int8.onnx", prep(X_train[:args.n_calibration]))
    scores = {"torch": pipe.predict_proba(X_test)[:, 1]}
    for label, path in (("fp32", fp32), ("int8", int8)):
        other = copy.deepcopy(pipe)
        other.steps[k] = ("features", OnnxEmbeddingTransformer(str(path), batch_size=32).fit())
        scores[label] = other.predict_proba(X_test)[:, 1]
    return emb.model_, fp32, int8, prep(X_test[:32]), scores


def latencies(net, fp32, int8, batch, repeats):
    import torch

    from forensics.embeddings import OnnxModel

    net = net.cpu().eval()
    x32 = np.ascontiguousarray(np.resize(batch, (32, *batch.shape[1:])), dtype=np.float32)
    x1 = x32[:1]
    out = {}
    with torch.inference_mode():
        t32, t1 = torch.from_numpy(x32), torch.from_numpy(x1)
        out["torch"] = (median_ms(lambda: net(t1), repeats, 1), median_ms(lambda: net(t32), repeats, 32))
    for label, path in (("fp32", fp32), ("int8", int8)):
        model = OnnxModel(path, providers=["CPUExecutionProvider"])
        out[label] = (median_ms(lambda: model.run(x1), repeats, 1), median_ms(lambda: model.run(x32), repeats, 32))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DETECTORS), help="comma-separated catalogue names")
    parser.add_argument("--n-per-class", type=int, default=120, help="demo items per class (default: 120)")
    parser.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs, 1 of them frozen (cnn-scratch: "
                        "3x, from scratch) (default: 2)")
    parser.add_argument("--n-calibration", type=int, default=32, help="INT8 calibration images (default: 32)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (default: 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads (default: 1; on a "
                        "shared CPU more threads mostly measure contention)")
    parser.add_argument("--out", default=None, help="folder for the ONNX files and results.json")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # onnxruntime's intra-op threads (forensics OnnxModel)
    import torch

    from forensics.datasets import make_demo_dataset
    from forensics.deep._torch import state_to_bytes

    torch.set_num_threads(args.threads)
    folder = Path(args.out or tempfile.mkdtemp(prefix="bench-onnx-"))
    folder.mkdir(parents=True, exist_ok=True)
    demo = make_demo_dataset(n_per_class=args.n_per_class, seed=0)
    train, test = split(demo)
    items, labels = list(demo["item"]), demo["label"].to_numpy()
    X_train, y_train = [items[i] for i in train], labels[train]
    X_test, y_test = [items[i] for i in test], labels[test]
    print(f"demo set: {len(train)} training and {len(test)} test items (split by source photo); "
          f"{args.threads} threads; medians of {args.repeats} runs")
    rows = []
    for name in args.models.split(","):
        pipe, fit_s = fit_detector(name, X_train, y_train, args.epochs, folder)
        kind = "classifier" if type(pipe.steps[-1][1]).__name__ == "BackboneClassifier" else "embedding"
        case = classifier_case if kind == "classifier" else embedding_case
        net, fp32, int8, batch, scores = case(name, pipe, X_train, X_test, y_test, folder, args)
        lat = latencies(net, fp32, int8, batch, args.repeats)
        a = {k: auc(y_test, v) for k, v in scores.items()}
        same = float(np.mean((scores["int8"] >= 0.5) == (scores["fp32"] >= 0.5)))
        row = dict(detector=name, network=getattr(pipe.steps[-1][1], "model_name", None) or
                   pipe.named_steps["features"].model_name, input=list(batch.shape[1:]), fit_s=fit_s,
                   torch_mb=len(state_to_bytes(torch, net)) / 2**20, fp32_mb=fp32.stat().st_size / 2**20,
                   int8_mb=int8.stat().st_size / 2**20,
                   latency_ms={k: {"batch1": v[0], "batch32": v[1]} for k, v in lat.items()},
                   auc=a, auc_int8_minus_fp32=a["int8"] - a["fp32"],
                   max_abs_dp_int8_fp32=float(np.max(np.abs(scores["int8"] - scores["fp32"]))),
                   max_abs_dp_fp32_torch=float(np.max(np.abs(scores["fp32"] - scores["torch"]))),
                   same_decision=same)
        rows.append(row)
        print(f"\n{name} ({row['network']}, input {row['input']}, fitted in {fit_s:.0f} s)")
        print(f"  size MB: torch {row['torch_mb']:.1f}, ONNX fp32 {row['fp32_mb']:.1f}, INT8 {row['int8_mb']:.1f}")
        for k, (b1, b32) in lat.items():
            print(f"  {k:5s}: {b1:7.1f} ms/image at batch 1, {b32:7.1f} ms/image at batch 32")
        print(f"  AUC torch {a['torch']:.4f}, fp32 {a['fp32']:.4f}, INT8 {a['int8']:.4f} "
              f"(INT8 - fp32 {row['auc_int8_minus_fp32']:+.4f}); max |p_int8 - p_fp32| "
              f"{row['max_abs_dp_int8_fp32']:.3f}; same decision {100 * same:.1f} %")
        (folder / "results.json").write_text(json.dumps(rows, indent=2))
    print("\n| detector | network | size MB torch / fp32 / INT8 | ms/img b1 torch / fp32 / INT8 | "
          "ms/img b32 torch / fp32 / INT8 | AUC fp32 | AUC INT8 - fp32 | same decision |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lat = r["latency_ms"]
        print(f"| {r['detector']} | {r['network']} {r['input'][-1]} px | {r['torch_mb']:.1f} / {r['fp32_mb']:.1f} / "
              f"{r['int8_mb']:.1f} | {lat['torch']['batch1']:.1f} / {lat['fp32']['batch1']:.1f} / "
              f"{lat['int8']['batch1']:.1f} | {lat['torch']['batch32']:.1f} / {lat['fp32']['batch32']:.1f} / "
              f"{lat['int8']['batch32']:.1f} | {r['auc']['fp32']:.3f} | {r['auc_int8_minus_fp32']:+.3f} | "
              f"{100 * r['same_decision']:.0f} % |")
    return rows


if __name__ == "__main__":
    main()
