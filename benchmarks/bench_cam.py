"""Do the class activation maps point at the evidence? CAM mass on a planted artefact, per method.

``forensics.datasets.make_planted_artifact_images``: fakes carry a checkerboard square (the only
evidence) at a random place. For each image size / square size and seed, ``cnn-small`` is trained
from scratch on ``--n-train`` images per class, and on ``--n-test`` held-out fakes the share of
each map's mass inside the square (``forensics.inspection.cam_mass``) is measured for every CAM
method, at the default target layer (``backbone.14``, the end of the last stage, an 8x coarser
grid than the image) and one stage earlier (``backbone.10``, 4x coarser). A uniform map scores
the square's area fraction. Printed: mean over the held-out fakes, then mean +- std over seeds.

    python benchmarks/bench_cam.py [--seeds 3] [--configs 64:24,96:32] [--n-train 32] [--n-test 32]

The CPU is shared with other jobs: the times are indicative only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METHODS = ("gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam")
LAYERS = ("backbone.14", "backbone.10")


def run(size, patch, seed, n_train, n_test, epochs):
    from sklearn.metrics import roc_auc_score

    from forensics.datasets import make_planted_artifact_images
    from forensics.deep import BackboneClassifier
    from forensics.inspection import cam_mass, grad_cam

    X, y, _ = make_planted_artifact_images(n_train, size=size, patch=patch, amplitude=40, seed=2 * seed)
    Xt, yt, mt = make_planted_artifact_images(n_test, size=size, patch=patch, amplitude=40, seed=2 * seed + 1)
    t0 = time.perf_counter()
    clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=size, epochs=epochs, frozen_epochs=0,
                             batch_size=16, lr_head=5e-3, lr_backbone=5e-3, label_smoothing=0.0, augment=False,
                             validation_fraction=None, random_state=seed).fit(list(X), y)
    fit_s = time.perf_counter() - t0
    auc = roc_auc_score(yt, clf.predict_proba(list(Xt))[:, 1])
    fakes = np.flatnonzero(yt == 1)
    out = {}
    for layer in LAYERS:
        for method in METHODS:
            t0 = time.perf_counter()
            res = grad_cam(clf, [Xt[i] for i in fakes], method=method, target_layer=layer, batch_size=32)
            masses = [cam_mass(r.heatmap, mt[i]) for r, i in zip(res, fakes)]
            out[(layer, method)] = (float(np.nanmean(masses)), time.perf_counter() - t0)
    return auc, fit_s, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", default="64:24,96:32", help="size:patch pairs (default: 64:24,96:32)")
    parser.add_argument("--n-train", type=int, default=32, help="training images per class (default: 32)")
    parser.add_argument("--n-test", type=int, default=32, help="held-out images per class (default: 32)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    for config in args.configs.split(","):
        size, patch = (int(v) for v in config.split(":"))
        area = patch * patch / size**2
        per_seed = []
        print(f"\n{size} px images, {patch} px square (area fraction {area:.3f}), cnn-small, {args.epochs} epochs "
              f"on {args.n_train}+{args.n_train} images, {args.n_test} held-out fakes")
        for seed in range(args.seeds):
            auc, fit_s, out = run(size, patch, seed, args.n_train, args.n_test, args.epochs)
            per_seed.append(out)
            print(f"  seed {seed}: held-out AUC {auc:.3f}, fitted in {fit_s:.0f} s; " + ", ".join(
                f"{m} {out[('backbone.14', m)][0]:.2f}" for m in METHODS))
        print(f"  {'method':10s} " + " ".join(f"{layer:>22s}" for layer in LAYERS) + "   (mean +- std over seeds)")
        for method in METHODS:
            cells = []
            for layer in LAYERS:
                v = np.array([o[(layer, method)][0] for o in per_seed])
                t = np.median([o[(layer, method)][1] for o in per_seed])
                cells.append(f"{v.mean():.3f} +- {v.std():.3f} ({t:4.1f} s)")
            print(f"  {method:10s} " + " ".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
    main()
