"""Do the random-init frame and video transformers' features carry the motion of ``make_motion_clips``?

Two probes behind the notes on ``vit-gru`` / ``vit-transformer`` and TimeSformer in
``docs/results.md`` (section "Clip models on the motion-only task"), 8 frames of 16 px:

- ``vit``: the random-init ViT-tiny frame backbone of ``bench_clips.py`` (4 px patches), frozen;
  its frame features are computed once for 256 clips and a GRU head (the classifier's own
  temporal head and linear layer) is trained alone on the first 128 (AdamW lr 3e-3, batch 16,
  400 steps); AUC on those and on the other 128. ``--backbone test_efficientnet`` runs the same
  probe on the cheap CNN frame backbone; ``--head transformer --layers 2`` trains the classifier's
  Transformer head (2 layers) instead of the GRU; ``--lr`` sets the head's learning rate.
- ``timesformer``: the random-init 2-layer, 96-wide TimeSformer of ``bench_clips.py``; a
  logistic regression on its CLS feature (or the mean patch token) over 384 clips, AUC on 128
  held-out ones, with its time embeddings at their zero init or set to sinusoids.

- ``timesformer-fit`` (not run by default): ``VideoClassifier`` fits of that TimeSformer on 512
  clips (lr 1e-3, 1 warm-up epoch), held-out AUC on 128 others, for each ``--variants`` entry:
  time embeddings at zero or sinusoids, ``initializer_range``, epochs.

    python benchmarks/probe_clip_features.py             # both probes, about a minute on one thread
    python benchmarks/probe_clip_features.py --probes timesformer-fit   # about 10 minutes
"""
from __future__ import annotations

import argparse

import numpy as np


def _net(torch, **kwargs):
    from forensics.deep._video import VideoClassifier, _build

    clf = VideoClassifier(**kwargs, n_frames=8, input_size=16)
    torch.manual_seed(0)
    return _build(torch, clf.get_params(deep=False), 8, (16, 16))


def _inputs(X, cfg):
    from forensics.deep._video import _normalise

    mean = np.asarray(cfg["mean"], np.float32)[:, None, None]
    std = np.asarray(cfg["std"], np.float32)[:, None, None]
    return _normalise(list(X), mean, std)


def probe_frames(torch, backbone, head="gru", layers=1, lr=3e-3):
    from sklearn.metrics import roc_auc_score

    from forensics.deep import make_motion_clips

    kwargs = (dict(model_name="vit_tiny_patch16_224", backbone_kwargs=dict(img_size=16, patch_size=4))
              if backbone == "vit" else dict(model_name=backbone))
    net, cfg = _net(torch, **kwargs, temporal=head, temporal_hidden=64, temporal_layers=layers)
    X, y = make_motion_clips(256, n_frames=8, size=16)
    x = torch.from_numpy(_inputs(X, cfg))
    yt = torch.tensor(y, dtype=torch.float32)
    net.eval()
    with torch.no_grad():
        F = net.backbone(x.flatten(0, 1)).reshape(256, 8, -1)
    opt = torch.optim.AdamW(list(net.temporal.parameters()) + list(net.head.parameters()), lr=lr)
    rng = np.random.default_rng(0)
    for step in range(400):
        b = rng.choice(128, 16, replace=False)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net.head(net.temporal(F[b])).squeeze(1), yt[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 99:
            with torch.no_grad():
                z = net.head(net.temporal(F)).squeeze(1).numpy()
            print(f"{backbone} frozen + {head} head ({layers} layer(s), lr {lr:g}), step {step + 1}: "
                  f"training AUC {roc_auc_score(y[:128], z[:128]):.3f}"
                  f"  held-out AUC {roc_auc_score(y[128:], z[128:]):.3f}", flush=True)


def probe_timesformer(torch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from forensics.deep import make_motion_clips
    from forensics.deep._video import _sinusoids

    small = dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=192, patch_size=4)
    X, y = make_motion_clips(512, n_frames=8, size=16)
    for mode in ("zero time embeddings, CLS", "sinusoidal time embeddings, CLS",
                 "sinusoidal time embeddings, mean patch token"):
        net, cfg = _net(torch, model_name="timesformer", backbone_kwargs=small)
        e = net.backbone.embeddings.time_embeddings  # the library starts them from sinusoids: set both ways here
        if mode.startswith("sinusoidal"):
            e.data.copy_(_sinusoids(torch, e.shape[1], e.shape[2])[None])
        else:
            e.data.zero_()
        net.eval()
        with torch.no_grad():
            h = net.backbone(pixel_values=torch.from_numpy(_inputs(X, cfg))).last_hidden_state
        F = (h[:, 1:].mean(1) if mode.endswith("mean patch token") else h[:, 0]).numpy()
        lr = LogisticRegression(max_iter=2000).fit(F[:384], y[:384])
        print(f"timesformer random init, {mode}: probe training AUC "
              f"{roc_auc_score(y[:384], lr.decision_function(F[:384])):.3f}  held-out AUC "
              f"{roc_auc_score(y[384:], lr.decision_function(F[384:])):.3f}", flush=True)


def fit_timesformer(torch, variants):
    """VideoClassifier fits of the small TimeSformer: time embeddings at zero or sinusoids, init 0.02 or 0.1."""
    from sklearn.metrics import roc_auc_score

    import forensics.deep._video as video
    from forensics.deep import VideoClassifier, make_motion_clips

    X, y = make_motion_clips(512, n_frames=8, size=16, seed=0)
    Xt, yt = make_motion_clips(128, n_frames=8, size=16, seed=1000)
    small = dict(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=192, patch_size=4)
    built = video._transformers_backbone

    def zero_time(*args, **kwargs):  # the transformers init, instead of the library's sinusoids
        net, n = built(*args, **kwargs)
        net.embeddings.time_embeddings.data.zero_()
        return net, n

    for variant in variants:  # e.g. "sin-0.1-10": time init, initializer_range, epochs
        time_init, init, epochs = variant.split("-")
        video._transformers_backbone = zero_time if time_init == "zeros" else built
        try:
            clf = VideoClassifier(model_name="timesformer", backbone_kwargs=dict(small, initializer_range=float(init)),
                                  n_frames=8, input_size=16, epochs=int(epochs), batch_size=16, lr_head=1e-3,
                                  lr_backbone=1e-3, warmup_epochs=1.0, validation_fraction=None).fit(X, y)
        finally:
            video._transformers_backbone = built
        print(f"timesformer fit, time embeddings {time_init}, initializer_range {init}, {epochs} epochs: training AUC "
              f"{roc_auc_score(y, clf.decision_function(X)):.3f}  held-out AUC "
              f"{roc_auc_score(yt, clf.decision_function(Xt)):.3f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probes", default="vit,timesformer")
    p.add_argument("--backbone", default="vit", help="frame backbone of the frozen probe: vit or a timm name")
    p.add_argument("--head", default="gru", help="temporal head of the frozen probe (a VideoClassifier temporal=)")
    p.add_argument("--layers", type=int, default=1, help="its temporal_layers")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate of the frozen probe's head")
    p.add_argument("--variants", default="zeros-0.02-10,sin-0.02-10,zeros-0.1-10,sin-0.1-10,zeros-0.1-30,zeros-0.02-30",
                   help="timesformer-fit: time embeddings (zeros, sin), initializer_range, epochs")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    probes = args.probes.split(",")
    if "vit" in probes:
        probe_frames(torch, args.backbone, args.head, args.layers, args.lr)
    if "timesformer" in probes:
        probe_timesformer(torch)
    if "timesformer-fit" in probes:
        fit_timesformer(torch, args.variants.split(","))


if __name__ == "__main__":
    main()
