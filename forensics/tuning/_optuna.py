"""Hyper-parameter search with Optuna over the same grouped, stratified folds as the evaluation."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass

__all__ = ["METRICS", "TuneResult", "default_space", "tune_detector"]

#: What a trial maximises: the mean over folds of the held-out ROC-AUC or average precision, of
#: the rows (items or frames) or of the videos (frame scores aggregated per video).
METRICS = ("roc_auc", "average_precision", "video_roc_auc", "video_average_precision")


@dataclass(repr=False)
class TuneResult:
    """What :func:`tune_detector` returns.

    Attributes
    ----------
    study : optuna.study.Study
        The study (persisted in ``storage`` when one was given: run again to resume it).
    best_params : dict
        The parameters of the best trial (pipeline parameter names).
    best_score : float
        Its mean held-out ``metric`` over the folds.
    metric : str
    trials : pandas.DataFrame
        One row per trial: ``number``, ``state`` (COMPLETE, PRUNED, FAIL), ``value``, the
        parameters (``params_<name>``), per-trial means of the other metrics
        (``user_attrs_<metric>``), timings.
    best_model : estimator or None
        The pipeline with the best parameters refitted on every row (``refit=True``), scoring
        files: see :meth:`forensics.FeatureTable.fit_detector`.
    n_new_trials : int
        Trials run by this call (a resumed study ran the others before).
    n_grid : int or None
        The number of distinct settings of a finite space that ``n_trials`` covers (each is then
        tried once, and the study stops there); None for a space searched by TPE.
    """

    study: object
    best_params: dict
    best_score: float
    metric: str
    trials: "pandas.DataFrame"
    best_model: object = None
    n_new_trials: int = 0
    n_grid: int = None

    def __repr__(self):
        return (f"TuneResult(best_score={self.best_score:.4f}, metric={self.metric!r}, n_trials={len(self.trials)}, "
                f"best_params={self.best_params!r})")


def default_space(detector):
    """The catalogue's grid of a detector, restricted to the steps after ``features``, as Optuna choices.

    Parameters
    ----------
    detector : str
        A catalogued detector (:func:`forensics.list_estimators`).

    Returns
    -------
    dict
        ``{parameter: list of values}`` (each list becomes a categorical choice). Feature
        parameters are left out: the features come from a table extracted once.

    Examples
    --------
    >>> default_space("dct-lr")
    {'head__C': [0.001, 0.01, 0.1, 1.0]}
    """
    from ..estimators import get

    return {k: list(v) for k, v in get(detector).param_grid.items() if not k.startswith(("features__", "equalize__"))}


def _check_space(space):
    """Refuse a malformed search space before any trial runs (a trial would only record a failure)."""
    import optuna

    for name, spec in space.items():
        if isinstance(spec, optuna.distributions.BaseDistribution):
            continue
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise ValueError(f"the search space of {name!r} is an empty list")
            continue
        if isinstance(spec, dict):
            unknown = set(spec) - {"low", "high", "log", "step", "type"}
            if unknown or "low" not in spec or "high" not in spec:
                raise ValueError(f"the search space of {name!r} must be a list of values or a mapping with low, high "
                                 f"(and optionally log, step, type: int|float), got {spec!r}")
            if spec.get("type", "float" if not isinstance(spec["low"], int) else "int") not in ("int", "float"):
                raise ValueError(f"the search space of {name!r}: type must be 'int' or 'float', got {spec['type']!r}")
            if not spec["low"] < spec["high"]:
                raise ValueError(f"the search space of {name!r}: low must be below high, got {spec!r}")
            continue
        raise ValueError(f"the search space of {name!r} must be a list of values or a mapping with low, high, "
                         f"got {spec!r}")


def _suggest(trial, name, spec):
    import optuna

    if isinstance(spec, optuna.distributions.BaseDistribution):
        return trial._suggest(name, spec)
    if isinstance(spec, (list, tuple)):
        choices = [tuple(c) if isinstance(c, list) else c for c in spec]
        if not choices:
            raise ValueError(f"the search space of {name!r} is an empty list")
        return trial.suggest_categorical(name, choices)
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log", "step", "type"}
        if unknown or "low" not in spec or "high" not in spec:
            raise ValueError(f"the search space of {name!r} must be a list of values or a mapping with low, high "
                             f"(and optionally log, step, type: int|float), got {spec!r}")
        low, high = spec["low"], spec["high"]
        kind = spec.get("type") or ("int" if all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                 for v in (low, high)) else "float")
        if kind == "int":
            return trial.suggest_int(name, int(low), int(high), step=int(spec.get("step", 1)),
                                     log=bool(spec.get("log", False)))
        if kind == "float":
            return trial.suggest_float(name, float(low), float(high), step=spec.get("step"),
                                       log=bool(spec.get("log", False)))
        raise ValueError(f"the search space of {name!r}: type must be 'int' or 'float', got {kind!r}")
    raise ValueError(f"the search space of {name!r} must be a list, a mapping or an optuna distribution, got {spec!r}")


def _finite_grid(space, limit):
    """Every setting of a finite space as a list of ``{parameter: value}``, or None when the space has a
    continuous range or more than ``limit`` settings (lists, int ranges and categorical or int
    distributions are finite)."""
    import itertools
    import math

    import optuna

    values = {}
    for name, spec in space.items():
        if isinstance(spec, optuna.distributions.CategoricalDistribution):
            values[name] = list(spec.choices)
        elif isinstance(spec, optuna.distributions.IntDistribution):
            values[name] = list(range(spec.low, spec.high + 1, spec.step))
        elif isinstance(spec, (list, tuple)):
            # distinct by their printed form: 1, 1.0 and True are three settings, and a dict (class_weight)
            # or a list is a setting too (dict.fromkeys merged the first and refused the second)
            seen = {}
            for c in (tuple(c) if isinstance(c, list) else c for c in spec):
                seen.setdefault(repr(c), c)
            values[name] = list(seen.values())
        elif (isinstance(spec, dict) and spec.get("type", "int" if all(
                isinstance(spec[v], numbers.Integral) and not isinstance(spec[v], bool) for v in ("low", "high"))
                else "float") == "int"):
            values[name] = list(range(int(spec["low"]), int(spec["high"]) + 1, int(spec.get("step", 1))))
        else:
            return None
        if math.prod(len(v) for v in values.values()) > limit:
            return None
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def _key(params):
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _score(metric, y, scores, videos, aggregate, k):
    from ..metrics import aggregate_labels, aggregate_scores, average_precision, roc_auc

    if metric.startswith("video_"):
        vs = aggregate_scores(scores, videos, how=aggregate, k=k)
        y, scores = aggregate_labels(y, videos).to_numpy(), vs.to_numpy()
        metric = metric[len("video_"):]
    return roc_auc(y, scores) if metric == "roc_auc" else average_precision(y, scores)


def tune_detector(detector, table, *, space=None, n_trials=20, timeout=None, cv=5, metric=None, storage=None,
                  study_name=None, prune=True, refit=True, random_state=0, aggregate="mean", k=3, progress=False,
                  callbacks=()):
    """Search a detector's parameters with Optuna on a feature table; resume a persisted study.

    Every trial samples parameters of the steps after ``features`` (imputation, scaling,
    decorrelation, head), cross-validates them on the table's rows with the grouped, stratified
    folds of :func:`~forensics.model_selection.make_cv` (the same folds for every trial, and
    those of ``forensics evaluate`` with the same ``cv`` and ``random_state``), and maximises the
    mean held-out ``metric``. Each fold's model is fitted on the whole training part (no
    validation split is held out: a ranking metric needs no threshold), so a trial's value is
    what :func:`~forensics.model_selection.cross_validate_detector` gives with a numeric
    ``threshold_rule``. After each fold the running mean is reported, so a trial the best of whose
    running means so far is below the median of the *completed* trials' running means at the
    same fold is pruned
    (:class:`optuna.pruners.MedianPruner` with ``n_startup_trials=3``: nothing is pruned before
    3 trials have completed; a tie with the median is not pruned; pruning is not checked after
    the last fold). The features are read from the table, never extracted again.

    Parameters
    ----------
    detector : str or Pipeline
        A catalogued detector, or a pipeline whose first step is ``features``.
    table : FeatureTable
        Labelled feature rows (:func:`forensics.read_table`); ``status="error"`` rows are left
        out; its ``group`` column (else, at frame level, the videos) keeps groups on one side of
        every split.
    space : dict, optional
        ``{parameter: choices}``: a list of values (categorical), a mapping ``{low, high[, log,
        step, type]}`` (a range), or an optuna distribution. Default: :func:`default_space` of a
        catalogued detector. Feature parameters (``features__...``) are refused: they would need
        another extraction.
    n_trials : int, default=20
        The study's total budget of finished trials (complete, pruned or failed): a resumed study
        that already has some runs only the rest. When the space is finite (lists of values, int
        ranges) and ``n_trials`` covers all its settings, every setting not yet in the study is
        queued once (:meth:`optuna.study.Study.enqueue_trial`, in a seeded random order) and the
        study stops when all are tried (``n_grid``): TPE would draw repeats from a finite space.
        Otherwise TPE samples; a setting it draws again that a complete trial already scored
        reuses that trial's value (user attribute ``repeat_of``) instead of cross-validating (or
        pruning) it again, as Optuna's FAQ advises for duplicated samples.
    timeout : float, optional
        Seconds this call may spend (the trial running when it expires finishes).
    cv : int, default=5
    metric : {"roc_auc", "average_precision", "video_roc_auc", "video_average_precision"}, optional
        Default: ``"video_roc_auc"`` for a frame-level table, else ``"roc_auc"``.
    storage : str, optional
        An Optuna storage URL (``sqlite:///study.db``): the study is saved there as it runs and
        loaded again by the next call with the same ``study_name``. None keeps it in memory.
    study_name : str, optional
        Default: the detector's name (``"custom"`` for a pipeline).
    prune : bool, default=True
    refit : bool, default=True
        Refit the best parameters on every row and return the model (``best_model``).
    random_state : int, default=0
        Seed of the folds and of the sampler (TPE).
    aggregate, k
        Video scores for the ``video_*`` metrics (:func:`~forensics.metrics.aggregate_scores`).
    progress : bool, default=False
        Optuna's progress bar and per-trial log lines.
    callbacks : sequence of callables
        Passed to :meth:`optuna.study.Study.optimize` (e.g. to log each trial).

    Returns
    -------
    TuneResult

    Raises
    ------
    ValueError
        A resumed study was made for another detector, metric, space or data (refused, not
        mixed); an unknown or feature parameter in ``space``; an unknown metric.

    Examples
    --------
    >>> from forensics import extract_table, make_pipeline
    >>> from forensics.datasets import make_demo_dataset
    >>> demo = make_demo_dataset(n_per_class=12, size=64)
    >>> demo["path"] = None
    >>> table = extract_table(demo, features=["blur"])
    >>> res = tune_detector(make_pipeline(features=["blur"]), table, space={"head__C": [0.01, 1.0]},
    ...                     n_trials=3, cv=3)
    >>> res.metric, res.n_grid, sorted(res.trials["params_head__C"])  # each of the 2 settings once
    ('roc_auc', 2, [0.01, 1.0])
    """
    try:
        import optuna
    except ImportError as exc:
        raise ImportError("tuning needs Optuna: pip install \"scikit-forensics[workflow]\" (or optuna)") from exc
    import numpy as np
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from .. import make_pipeline
    from ..model_selection import make_cv

    if isinstance(detector, str):
        name = detector
        pipe = make_pipeline(detector, random_state=random_state)
        space = default_space(detector) if space is None else space
    else:
        name = "custom"
        pipe = detector
        if space is None:
            raise ValueError("give a search space for a pipeline that is not a catalogued detector")
    if not (isinstance(pipe, Pipeline) and pipe.steps[0][0] == "features"):
        raise TypeError("detector must be a catalogued name or a Pipeline whose first step is 'features'")
    if not space:
        raise ValueError(f"the search space of {name} is empty: give parameters to tune (space=...)")
    features = [p for p in space if p.startswith(("features__", "equalize__"))]
    if features:
        raise ValueError(f"{features[0]!r} is a feature parameter: the features come from the table, extracted "
                         "once; re-extract to change them, and tune the steps after 'features'")
    _check_space(space)
    rest = Pipeline(pipe.steps[1:])
    valid = rest.get_params(deep=True)
    unknown = [p for p in space if p not in valid]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a parameter of the {name} pipeline after 'features' "
                         f"(some are: {', '.join(sorted(k for k in valid if '__' in k)[:6])})")
    table = table.subset(table.ok)
    F, _ = table.features_for(pipe.steps[0][1], detector=detector if isinstance(detector, str) else None)
    y, videos = table.y, table.videos
    if metric is None:
        metric = "video_roc_auc" if videos is not None else "roc_auc"
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    if metric.startswith("video_") and videos is None:
        raise ValueError(f"metric {metric!r} needs a frame-level table (videos)")
    groups = table.groups
    splits = list(make_cv(y, groups, n_splits=cv, shuffle=True, random_state=random_state)
                  .split(np.zeros((len(y), 1)), y, groups))
    others = [m for m in (("roc_auc", "video_roc_auc") if videos is not None else ("roc_auc",)) if m != metric]

    def objective(trial):
        params = {p: _suggest(trial, p, spec) for p, spec in space.items()}
        key = _key(params)
        for seen in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if seen.number != trial.number and _key(seen.params) == key:
                # the folds and the seed are the study's: the same setting gives the same value
                for name, value in seen.user_attrs.items():
                    trial.set_user_attr(name, value)
                trial.set_user_attr("repeat_of", seen.number)
                return float(seen.value)
        est = clone(rest).set_params(**params)
        scores = {m: [] for m in (metric, *others)}
        for step, (train, test) in enumerate(splits):
            model = clone(est).fit(F[train], y[train])
            proba = np.asarray(model.predict_proba(F[test]), dtype=np.float64)[:, list(model.classes_).index(1)]
            for m in scores:
                scores[m].append(_score(m, y[test], proba, None if videos is None else videos[test], aggregate, k))
            running = float(np.nanmean(scores[metric]))
            trial.report(running, step)
            # after the last fold the trial is computed: it completes, whatever the pruner says
            if prune and step < len(splits) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        for m in others:
            trial.set_user_attr(m, float(np.nanmean(scores[m])))
        return float(np.nanmean(scores[metric]))

    if not progress:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    attrs = dict(detector=name, metric=metric, space=json.dumps(space, sort_keys=True, default=repr),
                 cv=int(cv), random_state=int(random_state), n_rows=int(len(y)),
                 table=str(table.path) if table.path is not None else None)
    study = optuna.create_study(study_name=study_name or name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=random_state),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
                                if prune else optuna.pruners.NopPruner(), load_if_exists=True)
    if study.user_attrs:
        for key in ("detector", "metric", "space", "cv", "random_state", "n_rows"):
            if study.user_attrs.get(key) != attrs[key]:
                raise ValueError(f"the study {study.study_name!r} in {storage} was made with {key}="
                                 f"{study.user_attrs.get(key)!r}, this run has {attrs[key]!r}: use another study name "
                                 "or storage to start a new study (a study is resumed, never mixed)")
    else:
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    done = len(study.get_trials(deepcopy=False, states=finished))
    remaining = max(0, int(n_trials) - done)
    grid = _finite_grid(space, int(n_trials))
    if grid is not None:
        # a finite space the budget covers: each setting once (finished or queued ones are not queued again)
        tried = {_key(t.params) for t in study.get_trials(deepcopy=False, states=finished)}
        waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        queued = {_key(t.system_attrs.get("fixed_params", {})) for t in waiting}
        todo = [grid[i] for i in np.random.default_rng(random_state).permutation(len(grid))
                if _key(grid[i]) not in tried | queued]
        for params in todo:
            study.enqueue_trial(params)
        remaining = min(remaining, len(todo) + len(waiting))
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=list(callbacks),
                       show_progress_bar=progress, catch=(ValueError,))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise ValueError(f"no trial of the study {study.study_name!r} completed (all pruned or failed)")
    best = study.best_trial
    model = None
    if refit:
        model = table.fit_detector(clone(pipe).set_params(**best.params), aggregate=aggregate, k=k)
    new = len(study.get_trials(deepcopy=False, states=finished)) - done
    return TuneResult(study=study, best_params=dict(best.params), best_score=float(best.value), metric=metric,
                      trials=study.trials_dataframe(), best_model=model, n_new_trials=new,
                      n_grid=None if grid is None else len(grid))
