"""Clip models on the motion-only task: held-out AUC and training throughput (clips/s) per model.

The task (forensics.deep.make_motion_clips): fakes are real clips with their frames shuffled, so
only the order of the frames carries the label; an order-free frame-level model ("frame-mean":
the same frame backbone averaging its frame features) is at chance by construction.

    python benchmarks/bench_clips.py --quick                 # CPU: the cheap subset, tiny clips
    python benchmarks/bench_clips.py --device cuda           # every model, 16 frames of 112 px
    python benchmarks/bench_clips.py --device cuda --quick   # every model, a short run (< 3 min)
    python benchmarks/bench_clips.py --models mc3_18,frame-gru --epochs 3

Prints one line per model (AUC on held-out clips, training clips/s, seconds) and a table at the
end; models that cannot run here (transformers missing, out of memory...) are reported as such.
"""

from __future__ import annotations

import argparse
import time
import traceback

import numpy as np

# name -> VideoClassifier arguments
MODELS = {
    "r3d_18": dict(model_name="r3d_18"),
    "mc3_18": dict(model_name="mc3_18"),
    "r2plus1d_18": dict(model_name="r2plus1d_18"),
    "s3d": dict(model_name="s3d"),
    "mvit_v2_s": dict(model_name="mvit_v2_s"),
    "swin3d_t": dict(model_name="swin3d_t"),
    "frame-gru": dict(model_name="test_efficientnet", temporal="gru", temporal_hidden=32),
    "frame-bilstm": dict(model_name="test_efficientnet", temporal="bilstm", temporal_hidden=32),
    "frame-transformer": dict(model_name="test_efficientnet", temporal="transformer", temporal_hidden=32),
    "vit-gru": dict(model_name="vit_tiny_patch16_224", temporal="gru", temporal_hidden=64, weights=None),
    "timesformer": dict(model_name="timesformer", backbone_kwargs=dict(hidden_size=96, num_hidden_layers=2,
                                                                       num_attention_heads=4, intermediate_size=192,
                                                                       patch_size=8)),
    "vivit": dict(model_name="vivit", backbone_kwargs=dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4,
                                                           intermediate_size=192, tubelet_size=[2, 8, 8])),
    "frame-mean": dict(model_name="test_efficientnet", temporal="mean"),
}
QUICK_CPU = ("mc3_18", "frame-gru", "frame-mean")


def run(name, device, n_train, n_test, n_frames, size, epochs, batch_size, lr, amp):
    from sklearn.metrics import roc_auc_score

    from forensics.deep import VideoClassifier, make_motion_clips

    kw = dict(MODELS[name])
    if name == "mvit_v2_s":  # torchvision builds it for 16 frames of 224 px only
        n_frames, size = 16, 224
    if name == "s3d":
        n_frames, size = max(n_frames, 8), max(size, 32)
    X, y = make_motion_clips(n_train, n_frames=n_frames, size=size, seed=0)
    Xt, yt = make_motion_clips(n_test, n_frames=n_frames, size=size, seed=1)
    clf = VideoClassifier(**kw, n_frames=n_frames, input_size=size, epochs=epochs, batch_size=batch_size,
                          lr_head=lr, lr_backbone=lr, validation_fraction=None, device=device, amp=amp)
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    auc = roc_auc_score(yt, clf.decision_function(Xt))
    return dict(model=name, auc=auc, clips_per_s=clf.train_clips_per_s_, fit_s=fit_s, frames=n_frames, size=size,
                train=n_train, epochs=epochs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="short runs (CPU: only the cheap subset)")
    p.add_argument("--models", default=None, help="comma-separated names (default: all, or the quick subset)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--amp", action="store_true", help="float16 mixed precision (CUDA)")
    args = p.parse_args(argv)
    import torch

    cuda = args.device.startswith("cuda")
    if not cuda:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.models:
        names = args.models.split(",")
    elif cuda or not args.quick:
        names = list(MODELS)
    else:
        names = list(QUICK_CPU)
    if cuda:  # a GPU: the usual clip size for throughput, the task at 16 x 112 px
        setting = dict(n_train=256 if args.quick else 512, n_test=128, n_frames=16, size=112, epochs=2 if args.quick
                       else 6, batch_size=16, lr=1e-3)
    else:  # CPU: tiny clips so that the figures come in minutes
        setting = dict(n_train=256, n_test=64, n_frames=8, size=24, epochs=2 if args.quick else 4, batch_size=16,
                       lr=3e-3)
    if args.epochs:
        setting["epochs"] = args.epochs
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} {setting}", flush=True)
    rows = []
    for name in names:
        size = 16 if name in ("r3d_18", "mc3_18", "r2plus1d_18", "swin3d_t") and not cuda else None
        try:
            s = dict(setting, size=size or setting["size"])
            row = run(name, args.device, s["n_train"], s["n_test"], s["n_frames"], s["size"], s["epochs"],
                      s["batch_size"], s["lr"], args.amp)
            print(f"{name:18s} AUC {row['auc']:.3f}  train {row['clips_per_s']:8.1f} clips/s  fit {row['fit_s']:6.1f} s"
                  f"  ({row['train']} clips x {row['epochs']} epochs, {row['frames']} x {row['size']} px)", flush=True)
        except Exception as exc:  # report and go on: one model must not hide the others' figures
            row = dict(model=name, auc=np.nan, clips_per_s=np.nan, fit_s=np.nan, error=f"{type(exc).__name__}: {exc}")
            print(f"{name:18s} did not run: {row['error'][:200]}", flush=True)
            traceback.print_exc(limit=1)
        rows.append(row)
        if cuda:
            torch.cuda.empty_cache()
    print("\n| model | held-out AUC | training clips/s | fit s |\n| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['auc']:.3f} | {r['clips_per_s']:.1f} | {r['fit_s']:.1f} |" if "error" not in r
              else f"| {r['model']} | did not run | | |")


if __name__ == "__main__":
    main()
