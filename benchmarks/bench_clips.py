"""Clip models on the motion-only task: held-out AUC, epochs, training and inference clips/s per model.

The task (forensics.deep.make_motion_clips): fakes are real clips with their frames shuffled, so
only the order of the frames carries the label; an order-free frame-level model ("frame-mean":
the same frame backbone averaging its frame features) is at chance by construction. Training
clips come from one seed, the held-out clips from another: every held-out clip is a video the
model never saw.

    python benchmarks/bench_clips.py --out bench_clips.jsonl            # CPU: every model, 8 x 16 px clips
    python benchmarks/bench_clips.py --out bench_clips.jsonl --models mc3_18,frame-mean
    python benchmarks/bench_clips.py --device cuda --out gpu.jsonl      # GPU: 16 frames of 112 px
    python benchmarks/bench_clips.py --quick                            # CPU: the cheap subset, 1 attempt
    python benchmarks/bench_clips.py --models s3d --n-train 512 --epochs 6 --lr 3e-4   # one given attempt

Each model has a list of attempts (epochs, learning rate, clip size); the next attempt runs only
when the previous one stayed under the target AUC (0.95), and every attempt is reported. Each
finished attempt is appended to ``--out`` (JSON lines) at once, so an interrupted run loses
nothing: run again with the same ``--out`` and the models already there are skipped. The table
at the end gives, per model, the best attempt and what was tried. Each attempt also records the
AUC of its training clips as seen in the last epoch (training mode) and scored again in eval mode
(``train_eval_auc``): far apart, the network in eval mode is not the one trained (e.g. stale
BatchNorm statistics); both high with a low held-out AUC, it overfits.

``mvit_v2_s``'s weights exist only for 16 frames of 224 x 224; at random initialisation the
library builds the same blocks for the task's clips (32 px here: its patch embedding strides 4
and three blocks halve the grid), so it trains on the task like the others. ``--mvit-224``
measures its training and inference throughput at 16 x 224 on a few clips instead.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import numpy as np

TARGET = 0.95
_SMALL_HF = dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=192)
# name -> VideoClassifier arguments (the frame backbones are random-init versions of the catalogue's,
# sized for small clips: the catalogue entries use ImageNet weights at 224 px)
MODELS = {  # cheapest first on a CPU, so that a partial run already covers most models
    "frame-mean": dict(model_name="test_efficientnet", temporal="mean"),
    "frame-gru": dict(model_name="test_efficientnet", temporal="gru", temporal_hidden=32),
    "frame-transformer": dict(model_name="test_efficientnet", temporal="transformer", temporal_hidden=32),
    # initializer_range: transformers' 0.02 is sized for 768-wide layers; 0.1 ~ 1 / sqrt(96) for this width (at
    # 0.02 the temporal attention, which must learn to compare neighbouring frames, barely moves from uniform)
    "timesformer": dict(model_name="timesformer", backbone_kwargs=dict(_SMALL_HF, patch_size=4, initializer_range=0.1)),
    "vivit": dict(model_name="vivit", backbone_kwargs=dict(_SMALL_HF, tubelet_size=[2, 4, 4])),
    "mc3_18": dict(model_name="mc3_18"),
    "s3d": dict(model_name="s3d"),
    "efficientnet-bilstm": dict(model_name="tf_efficientnet_lite0", temporal="bilstm", temporal_hidden=64),
    "vit-gru": dict(model_name="vit_tiny_patch16_224", temporal="gru", temporal_hidden=64,
                    backbone_kwargs=dict(img_size=16, patch_size=4)),
    "vit-transformer": dict(model_name="vit_tiny_patch16_224", temporal="transformer", temporal_hidden=64,
                            backbone_kwargs=dict(img_size=16, patch_size=4)),
    "r2plus1d_18": dict(model_name="r2plus1d_18"),
    "r3d_18": dict(model_name="r3d_18"),
    "swin3d_t": dict(model_name="swin3d_t", warmup_epochs=1.0),  # as its catalogue entry: without, it did not fit
    "mvit_v2_s": dict(model_name="mvit_v2_s", warmup_epochs=1.0),  # a random-init transformer, as swin3d_t
}
QUICK_CPU = ("mc3_18", "frame-gru", "frame-mean")

# CPU attempts: (epochs, lr, size); the base clip is 8 frames, 256 training and 128 held-out clips
CPU_ATTEMPTS = {
    "default": [(3, 1e-3, 16), (6, 1e-3, 16)],
    "s3d": [(3, 1e-3, 32), (8, 1e-3, 32), (8, 3e-4, 32)],  # its stem needs >= 32 px
    "swin3d_t": [(10, 3e-4, 16)],
    "vit-gru": [(4, 3e-4, 16), (8, 1e-4, 16)],
    "vit-transformer": [(4, 3e-4, 16), (8, 1e-4, 16)],
    "timesformer": [(4, 1e-3, 16), (10, 3e-4, 16)],
    "vivit": [(4, 1e-3, 16), (10, 3e-4, 16)],
    "efficientnet-bilstm": [(3, 1e-3, 16), (6, 1e-3, 32)],
    "frame-gru": [(3, 3e-3, 16), (6, 1e-3, 16)],
    "frame-transformer": [(3, 3e-3, 16), (6, 1e-3, 16)],
    "frame-mean": [(3, 3e-3, 16)],  # the baseline: one attempt, as the frame-gru's first
    "mvit_v2_s": [(6, 3e-4, 32), (10, 3e-4, 32)],
}
# the cheap models train on 512 clips (256 were too few for the frame backbones to generalise)
CPU_N_TRAIN = {"frame-mean": 512, "frame-gru": 512, "frame-transformer": 512, "timesformer": 512, "vivit": 512,
               "swin3d_t": 512, "mvit_v2_s": 512}


def run(name, *, device, n_train, n_test, n_frames, size, epochs, batch_size, lr, amp, seed=0, frozen_epochs=0,
        warmup_epochs=None, temporal_layers=None):
    """Fit one model on the motion task and return its figures (AUC on held-out clips, clips/s)."""
    from sklearn.metrics import roc_auc_score

    from forensics.deep import VideoClassifier, make_motion_clips

    X, y = make_motion_clips(n_train, n_frames=n_frames, size=size, seed=seed)
    Xt, yt = make_motion_clips(n_test, n_frames=n_frames, size=size, seed=seed + 1000)
    params = dict(MODELS[name])
    if warmup_epochs is not None:  # --warmup-epochs: instead of the model's own
        params["warmup_epochs"] = warmup_epochs
    clf = VideoClassifier(**params, n_frames=n_frames, input_size=size, epochs=epochs, batch_size=batch_size,
                          lr_head=lr, lr_backbone=lr, validation_fraction=None, device=device, amp=amp,
                          random_state=seed, frozen_epochs=frozen_epochs)
    if temporal_layers:
        clf.set_params(temporal_layers=temporal_layers)
    if "backbone_kwargs" in MODELS[name] and "img_size" in MODELS[name]["backbone_kwargs"]:
        clf.set_params(backbone_kwargs=dict(MODELS[name]["backbone_kwargs"], img_size=size))
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    clf.decision_function(Xt[:batch_size])  # warm-up
    t0 = time.perf_counter()
    z = clf.decision_function(Xt)
    infer = len(Xt) / (time.perf_counter() - t0)
    # the training clips again, network in eval mode: far below train_auc (seen in training mode) means
    # a train/eval mismatch (e.g. BatchNorm running statistics), not overfitting
    train_eval_auc = float(roc_auc_score(y, clf.decision_function(X)))
    return dict(model=name, auc=float(roc_auc_score(yt, z)), train_auc=float(clf.history_[-1]["train_auc"]),
                train_eval_auc=train_eval_auc,
                train_clips_per_s=float(clf.train_clips_per_s_), infer_clips_per_s=float(infer), fit_s=fit_s,
                frames=n_frames, size=size, train=n_train, test=n_test, epochs=epochs, lr=lr, batch_size=batch_size,
                frozen_epochs=frozen_epochs, warmup_epochs=clf.warmup_epochs, temporal_layers=clf.temporal_layers,
                n_params=int(sum(p.numel() for p in clf.model_.parameters())))


def throughput_only(name, *, device, n_frames, size, batch_size, lr, amp):
    """Training and inference clips/s on a few clips (for a model too slow to train here)."""
    from forensics.deep import VideoClassifier, make_motion_clips

    X, y = make_motion_clips(2 * batch_size, n_frames=n_frames, size=size, seed=0)
    clf = VideoClassifier(**MODELS[name], n_frames=n_frames, input_size=size, epochs=1, batch_size=batch_size,
                          lr_head=lr, lr_backbone=lr, validation_fraction=None, device=device, amp=amp)
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    clf.decision_function(X)
    infer = len(X) / (time.perf_counter() - t0)
    return dict(model=name, auc=float("nan"), train_clips_per_s=float(clf.train_clips_per_s_),
                infer_clips_per_s=float(infer), fit_s=fit_s, frames=n_frames, size=size, train=len(X), test=0,
                epochs=1, lr=lr, batch_size=batch_size, n_params=int(sum(p.numel() for p in clf.model_.parameters())),
                note="throughput only: one epoch on a few clips")


def _epochs(r):
    """Epochs, with how many of them kept the backbone frozen (``--frozen-epochs``) and warmed up."""
    notes = [f"{r['frozen_epochs']} frozen"] if r.get("frozen_epochs") else []
    notes += [f"{r['warmup_epochs']:g} warm-up"] if r.get("warmup_epochs") else []
    notes += [f"{r['temporal_layers']}-layer head"] if r.get("temporal_layers", 1) > 1 else []
    return f"{r['epochs']} ({', '.join(notes)})" if notes else f"{r['epochs']}"


def _fmt(r):
    if "error" in r:
        return f"did not run: {r['error'][:160]}"
    auc = "n/a" if not np.isfinite(r["auc"]) else f"{r['auc']:.3f}"
    if "train_eval_auc" in r:
        auc += f" (training clips: {r['train_auc']:.3f} as seen in training, {r['train_eval_auc']:.3f} in eval mode)"
    return (f"AUC {auc}  {_epochs(r)} epochs lr {r['lr']:g}  train {r['train_clips_per_s']:.1f} clips/s  "
            f"infer {r['infer_clips_per_s']:.1f} clips/s  fit {r['fit_s']:.0f} s  ({r['train']} clips, "
            f"{r['frames']} x {r['size']} px)")


def table(rows):
    """Markdown: per model, the best attempt, and the other attempts in the last column."""
    by = {}
    for r in rows:
        by.setdefault(r["model"], []).append(r)
    out = ["| model | held-out AUC | epochs | lr | training clips, T x px | training clips/s | inference clips/s | "
           "fit s | other attempts (epochs, lr, clips, px: AUC) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, rs in by.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            out.append(f"| {name} | did not run: {rs[-1]['error'][:120]} | | | | | | | |")
            continue
        best = max(ok, key=lambda r: (np.nan_to_num(r["auc"], nan=-1), -r["fit_s"]))
        others = "; ".join(f"{_epochs(r)}, {r['lr']:g}, {r['train']}, {r['size']}: {r['auc']:.3f}" for r in ok
                           if r is not best)
        auc = "n/a" if not np.isfinite(best["auc"]) else f"{best['auc']:.3f}"
        if best.get("note"):
            others = (others + "; " if others else "") + best["note"]
        out.append(f"| {name} | {auc} | {_epochs(best)} | {best['lr']:g} | {best['train']}, "
                   f"{best['frames']} x {best['size']} | "
                   f"{best['train_clips_per_s']:.1f} | {best['infer_clips_per_s']:.1f} | {best['fit_s']:.0f} | "
                   f"{others} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="the first attempt only (CPU: only the cheap subset)")
    p.add_argument("--models", default=None, help="comma-separated names (default: all, or the quick subset)")
    p.add_argument("--epochs", type=int, default=None, help="one attempt with this many epochs")
    p.add_argument("--lr", type=float, default=None, help="one attempt with this learning rate")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--frozen-epochs", type=int, default=0,
                   help="epochs that train the temporal head and classifier only, the backbone frozen at its init")
    p.add_argument("--warmup-epochs", type=float, default=None,
                   help="linear learning-rate warm-up (VideoClassifier; default: the model's own, mostly none)")
    p.add_argument("--temporal-layers", type=int, default=None, help="layers of a frame model's temporal head")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--amp", action="store_true", help="float16 mixed precision (CUDA)")
    p.add_argument("--mvit-224", action="store_true",
                   help="mvit_v2_s: only its throughput at 16 x 224 px (the size of its weights), on a few clips")
    p.add_argument("--out", default=None, help="JSON-lines file: each attempt appended; models in it are skipped")
    args = p.parse_args(argv)
    import torch

    cuda = args.device.startswith("cuda")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.models:
        names = args.models.split(",")
    elif cuda or not args.quick:
        names = list(MODELS)
    else:
        names = list(QUICK_CPU)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; known: {list(MODELS)}")
    if cuda:  # a GPU: the usual clip size for throughput, the task at 16 x 112 px
        base = dict(n_train=512, n_test=128, n_frames=16, batch_size=16)
        attempts = {"default": [(6, 1e-3, 112), (12, 3e-4, 112)]}
    else:  # CPU: small clips so that the figures come in minutes
        base = dict(n_train=256, n_test=128, n_frames=8, batch_size=16)
        attempts = CPU_ATTEMPTS
    if args.n_train:
        base["n_train"] = args.n_train
    done, rows = set(), []
    out = Path(args.out) if args.out else None
    if out is not None and out.is_file():
        rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        done = {r["model"] for r in rows}
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} {base}", flush=True)

    def record(row):
        rows.append(row)
        print(f"{row['model']:20s} {_fmt(row)}", flush=True)
        if out is not None:
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")

    for name in names:
        if name in done:
            print(f"{name:20s} already in {out}: skipped", flush=True)
            continue
        tries = attempts.get(name, attempts["default"])
        if args.epochs or args.lr:
            tries = [(args.epochs or tries[0][0], args.lr or tries[0][1], tries[0][2])]
        if args.quick:
            tries = tries[:1]
        try:
            if name == "mvit_v2_s" and args.mvit_224:
                record(throughput_only(name, device=args.device, n_frames=16, size=224, batch_size=4, lr=1e-3,
                                       amp=args.amp))
                continue
            for epochs, lr, size in tries:
                n_frames = base["n_frames"]
                n_train = base["n_train"] if cuda or args.n_train else CPU_N_TRAIN.get(name, base["n_train"])
                row = run(name, device=args.device, n_train=n_train, n_test=base["n_test"],
                          n_frames=n_frames, size=size, epochs=epochs, batch_size=base["batch_size"], lr=lr,
                          amp=args.amp, frozen_epochs=args.frozen_epochs, warmup_epochs=args.warmup_epochs,
                          temporal_layers=args.temporal_layers)
                record(row)
                if row["auc"] >= TARGET or name == "frame-mean":
                    break
        except Exception as exc:  # report and go on: one model must not hide the others' figures
            record(dict(model=name, error=f"{type(exc).__name__}: {exc}"))
            traceback.print_exc(limit=1)
        if cuda:
            torch.cuda.empty_cache()
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
