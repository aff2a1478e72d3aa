"""``forensics demo``: the offline demo (its logic is :func:`forensics.datasets.run_demo`)."""

from __future__ import annotations

from . import _common as C
from ._options import option


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="cross-validate the feature bank on the embedded demo set (offline)",
        description=(
            "Build the embedded demo set (real and manipulated JPEG crops of photos shipped with scikit-image and "
            "scikit-learn), extract the full handcrafted feature bank, and report the ROC-AUC of a "
            "logistic-regression head under 5-fold cross-validation grouped by source photo; then the detector "
            "catalogue on the same data and the HTML report (forensics.datasets.run_demo). Writes "
            "OUT/features.csv, OUT/results.json, OUT/catalogue.csv and OUT/catalogue.md, OUT/report/ (report.html, "
            "report.md, figures and tables) and OUT/config.yaml (the resolved options)."
        ),
    )
    C.add_config(parser)
    option(parser, "--out", key="output.out", default="results/demo", metavar="DIR",
           help="output folder (default: %(default)s)")
    option(parser, "--n-per-class", key="data.n_per_class", type=C.int_at_least(10), default=120, metavar="N",
           help="real items, and fake items, in the demo set (default: %(default)s)")
    option(parser, "--size", key="data.size", type=C.int_at_least(32), default=256, metavar="PX",
           help="side of the square crops in pixels (default: %(default)s)")
    option(parser, "--seed", key="cv.seed", type=C.int_at_least(0), default=0,
           help="seed of the data set and of the fold shuffling (default: %(default)s)")
    option(parser, "--no-catalogue", key="demo.catalogue", action="flag", const=False, default=True, dest="catalogue",
           help="skip the second part: the catalogued detectors on the same data")
    option(parser, "--no-report", key="demo.report", action="flag", const=False, default=True, dest="report",
           help="skip the third part: the HTML report (OUT/report/report.html)")
    C.add_run(parser)
    return parser


def run(args):
    from ..datasets import run_demo

    out = C.prepare_out(args.out)
    run_demo(out, n_per_class=args.n_per_class, size=args.size, seed=args.seed, n_jobs=args.n_jobs,
             progress=args.progress, catalogue=args.catalogue, report=args.report)
    C.write_resolved_config(args, out)
    return 0
