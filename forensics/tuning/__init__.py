"""Tuning a detector's parameters with Optuna on a feature table (grouped folds, pruning, resumable studies).

:func:`tune_detector` searches the steps after ``features`` (the features are read from a table
extracted once), on the grouped, stratified folds the evaluation uses, prunes trials that fall
behind, keeps to a trial and time budget, persists the study (SQLite) so that the same call
resumes it, and refits the best pipeline. ``forensics tune`` runs it from the command line.
"""

from ._optuna import METRICS, TuneResult, default_space, tune_detector

__all__ = ["METRICS", "TuneResult", "default_space", "tune_detector"]
