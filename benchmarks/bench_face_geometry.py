"""face-consistency-lr on lfw_faceswap (equalized) for several assumed face geometries (margin, band).

    python benchmarks/bench_face_geometry.py [--per-class 600] [--margins 1.3 1.6 2.0 2.4] [--n-jobs 2]

The detector assumes the library's crop geometry (face box = crop side / margin, margin 1.3). LFW
images are not such crops: their 250 px frame holds a face of about 125 px (YuNet boxes), i.e.
margin ~2.0. 5-fold stratified CV ROC-AUC (mean +- std) with the catalogue's protocol
(forensics.model_selection.cross_validate_detector: threshold on a validation split of each
training fold), per margin.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generalization import load_set  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--margins", type=float, nargs="+", default=[1.3, 1.6, 2.0, 2.4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    from forensics import make_pipeline
    from forensics.model_selection import cross_validate_detector

    data = load_set("lfw_faceswap", args.per_class, args.seed)
    print(f"`python benchmarks/bench_face_geometry.py {' '.join(sys.argv[1:])}`: lfw_faceswap equalized, "
          f"{len(data['y'])} items\n\n| margin | ROC-AUC | ECE |\n|---|---|---|")
    for margin in args.margins:
        pipe = make_pipeline("face-consistency-lr", n_jobs=args.n_jobs, random_state=args.seed)
        features = pipe.steps[0][1].set_params(faceregion__margin=margin)
        F = features.fit(data["items"]).transform(data["items"])
        rest = pipe[1:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = cross_validate_detector(rest, F, data["y"], random_state=args.seed)
        s = res.summary
        print(f"| {margin:g} | {s.loc['roc_auc', 'mean']:.3f} ± {s.loc['roc_auc', 'std']:.3f} | "
              f"{s.loc['ece', 'mean']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
