"""``forensics tune``: Optuna search over a detector's parameters; the best pipeline refitted and saved."""

from __future__ import annotations

import os

from . import _common as C
from ._options import option


def add_parser(subparsers):
    from ..tuning import METRICS

    parser = subparsers.add_parser(
        "tune",
        help="search a detector's parameters with Optuna (grouped folds, pruning, resumable); save the best model",
        description=(
            "Search the parameters of a catalogued detector's steps after 'features' (forensics.tuning."
            "tune_detector): each trial is cross-validated on the grouped, stratified folds 'evaluate' uses, "
            "a trial whose best running mean so far is below the median of the completed trials' at that fold is "
            "pruned (once 3 trials have completed; --no-prune runs every fold), a finite space that --n-trials covers is tried setting by "
            "setting (each once, then the study stops), the study is saved in an SQLite file (OUT/study.db by "
            "default) so the same command resumes it, and the best parameters are refitted on all of DATA and "
            "saved (OUT/best_model.skops). --n-trials is the study's total budget. The search space is the "
            "catalogue's grid unless the config gives tune.space (lists of values, or {low, high, log} ranges). "
            "DATA is best a feature table: features are extracted once (in memory otherwise)."
        ),
    )
    C.add_config(parser)
    C.add_data(parser)
    C.add_detector(parser)
    parser._forensics_specs["detector"].required = True
    option(parser, "--space", key="tune.space", type=C.set_pair, action="pairs", default={}, metavar="NAME=VALUES",
           help="a parameter to search, e.g. --space 'head__C=[0.01, 0.1, 1]' (a list: choices) or "
                "--space \"head__C={'low': 0.001, 'high': 10, 'log': True}\" (a range); repeatable; replaces the "
                "catalogue's grid")
    option(parser, "--n-trials", key="tune.n_trials", type=C.int_at_least(1), default=20, metavar="N",
           help="total finished trials of the study (a resumed study runs the rest; default: %(default)s)")
    option(parser, "--timeout", key="tune.timeout", type=C.positive_float, default=None, metavar="SECONDS",
           help="stop starting trials after this long (default: no limit)")
    option(parser, "--metric", key="tune.metric", choices=METRICS, default=None,
           help="what a trial maximises (default: video_roc_auc for videos at frame level, else roc_auc)")
    option(parser, "--study", key="tune.study", default=None, metavar="NAME", help="study name (default: the detector)")
    option(parser, "--storage", key="tune.storage", default=None, metavar="URL",
           help="Optuna storage (default: sqlite:///OUT/study.db)")
    option(parser, "--no-prune", key="tune.prune", action="flag", const=False, default=True, dest="prune",
           help="run every fold of every trial (no median pruning)")
    C.add_cv(parser)
    C.add_frames(parser)
    option(parser, "--out", key="output.out", required=True, metavar="DIR",
           help="output folder: best_model.skops, trials.csv, study.db, config.yaml, run.json")
    C.add_audit(parser)
    C.add_tracking(parser)
    C.add_run(parser)
    return parser


def run(args):
    from ..tuning import tune_detector

    pipe = C.build_detector(args.detector, args, args.params)
    C.check_weights(pipe, args.detector)
    if args.space:
        bad = [k for k, v in args.space.items() if not isinstance(v, (list, tuple, dict))]
        if bad:
            raise C.UsageError(f"--space {bad[0]}: give a list of values or a {{low, high}} mapping, "
                               f"got {args.space[bad[0]]!r}")
    out = C.prepare_out(args.out)
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    kind, data = C.load_input(args)
    C.record_frames(args, kind, data)
    with C.Run(args, out=out) as run_:
        print(f"forensics tune: {args.detector} on {args.data}, {args.n_trials} trials"
              + (f" or {args.timeout:g} s" if args.timeout else "") + f", study in {storage}", flush=True)
        C.audit_first(args, kind, data)
        table = C.drop_failed(C.table_for_detector(args, kind, data, pipe))
        print(f"  {C.describe_data(table)}, {args.cv}-fold CV" + (" grouped" if table.groups is not None else ""))
        C.no_groups_note(table)

        def log_trial(study, trial):
            if trial.value is not None:
                run_.tracker.log_metrics({"trial_value": trial.value}, step=trial.number)
            print(trial_line(trial, args.cv), flush=True)

        with C.quiet_warnings():
            try:
                result = tune_detector(pipe, table, space=args.space or _default_space(args.detector),
                                       n_trials=args.n_trials, timeout=args.timeout, cv=args.cv, metric=args.metric,
                                       storage=storage, study_name=args.study or args.detector, prune=args.prune,
                                       random_state=args.seed, aggregate=args.aggregate, k=args.top_k,
                                       callbacks=(log_trial,))
            except ValueError as exc:
                raise C.CommandError(C.one_line(exc)) from None
        from ._train import save_model

        model_path = save_model(result.best_model, out / "best_model.skops")
        result.trials.to_csv(out / "trials.csv", index=False)
        counts = result.trials["state"].value_counts().to_dict()
        print(f"  {len(result.trials)} trials in the study ({', '.join(f'{v} {k.lower()}' for k, v in counts.items())}"
              f"; {result.n_new_trials} run now)")
        if result.n_grid is not None:
            print(f"  the space has {result.n_grid} settings, each tried once (--n-trials {args.n_trials} covers them)")
        print(f"  best {result.metric} {result.best_score:.4f} with {result.best_params}")
        best = result.study.best_trial
        metrics = {result.metric: result.best_score, "n_trials": len(result.trials)}
        metrics.update({k: v for k, v in best.user_attrs.items() if isinstance(v, float)})
        run_.add_result(args.detector, metrics, best_params=result.best_params, model=os.fspath(model_path),
                        study=result.study.study_name, storage=storage)
        run_.tracker.log_params({f"best.{k}": v for k, v in result.best_params.items()})
        run_.files += [model_path, out / "trials.csv"]
        run_.record(data=str(args.data), level=table.level, n_items=len(table),
                    n_videos=C.count_videos(table))
        print(f"Wrote {model_path} and {out / 'trials.csv'}")
    return 0


def _default_space(detector):
    from ..tuning import default_space

    space = default_space(detector)
    if not space:
        raise C.UsageError(f"{detector} has no tunable parameters after its features in the catalogue; give --space "
                           "or tune.space in the config")
    return space


def trial_line(trial, cv):
    """One finished trial as printed: a pruned one with the fold it stopped at and its running mean (the
    value Optuna keeps for it), a repeated setting with the trial whose value it reuses."""
    state = trial.state.name.lower()
    if trial.state.name == "PRUNED" and trial.last_step is not None:
        mean = trial.intermediate_values[trial.last_step]
        value = f" after fold {trial.last_step + 1} of {cv} (running mean {mean:.4f})"
    else:
        value = "" if trial.value is None else f" {trial.value:.4f}"
    if "repeat_of" in trial.user_attrs:
        value += f" (a repeat of trial {trial.user_attrs['repeat_of']}: its value, not run again)"
    return f"  trial {trial.number}: {state}{value} {trial.params}"
