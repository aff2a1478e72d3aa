"""The Grad-CAM gallery of a deep detector's report, on the planted-artefact task: does it show the evidence?

``forensics.datasets.make_planted_artifact_images``: fakes carry a checkerboard square (the only
evidence) at a random place. ``cnn-small`` is cross-validated on the images exactly as
``build_report`` does it (``cross_validate_detector(..., return_estimator=True)``) and the gallery
is drawn with ``cam_gallery_figure`` from the fold models, each item mapped by the model that
scored it, for the class the gallery says it decided. Printed: the cross-validated ROC-AUC, the
gallery's items per group and, for the fakes shown, the share of each map's mass inside the square
(``cam_mass``; a uniform map scores the square's area fraction). With ``--out DIR`` the full HTML
report of the same detector and data is written too (it trains the folds again).

    python benchmarks/bench_report_gallery.py [--n 40] [--size 96] [--patch 32] [--folds 3] [--out DIR]

The CPU is shared with other jobs: the times are indicative only.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="images per class")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--gallery", type=int, default=4)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import matplotlib
    import torch
    from PIL import Image
    from sklearn.pipeline import Pipeline

    matplotlib.use("Agg")
    torch.set_num_threads(1)
    from forensics.datasets import make_planted_artifact_images
    from forensics.deep import BackboneClassifier
    from forensics.inspection import build_report, cam_gallery_figure, cam_mass
    from forensics.model_selection import cross_validate_detector

    X, y, masks = make_planted_artifact_images(args.n, size=args.size, patch=args.patch, amplitude=40, seed=0)
    items = []
    for x in X:
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, "PNG")
        items.append(buf.getvalue())
    clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=args.size, epochs=args.epochs,
                             frozen_epochs=0, batch_size=16, lr_head=5e-3, lr_backbone=5e-3, label_smoothing=0.0,
                             augment=False, validation_fraction=None, random_state=0)
    pipe = Pipeline([("head", clf)])
    t0 = time.perf_counter()
    cv = cross_validate_detector(pipe, items, y, cv=args.folds, return_estimator=True)
    cv_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fig = cam_gallery_figure(cv.estimators, items, y, scores=cv.oof_scores, threshold=cv.thresholds[cv.test_fold],
                             fold=cv.test_fold, n=args.gallery)
    cam_s = time.perf_counter() - t0
    area = float(masks[y == 1][0].mean())
    print(f"{args.n} + {args.n} images of {args.size} px, {args.patch} px square (area {area:.3f}), cnn-small "
          f"{args.epochs} epochs, {args.folds} folds: ROC-AUC {cv.summary.loc['roc_auc', 'mean']:.3f} +- "
          f"{cv.summary.loc['roc_auc', 'std']:.3f} ({cv_s:.0f} s); gallery maps {cam_s:.1f} s")
    for group, idx in fig.gallery.items():
        line = f"  {group}: {len(idx)} items"
        if len(idx) and y[idx[0]] == 1:
            mass = [cam_mass(fig.cams[int(i)].heatmap, masks[i]) for i in idx]
            line += (f", map target {fig.cams[int(idx[0])].target}; mass in the square "
                     + ", ".join(f"{m:.2f}" for m in mass) + f" (mean {np.nanmean(mass):.2f})")
        print(line)
    if args.out:
        res = build_report(items, y, detector=pipe, cv=args.folds, out_dir=args.out, gallery=args.gallery,
                           name="cnn-small (planted task)")
        print(f"wrote {res.html_path} ({res.timings['total']:.0f} s)")


if __name__ == "__main__":
    main()
