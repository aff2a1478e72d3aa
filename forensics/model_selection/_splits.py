"""Leakage-safe splitting: groups from a manifest, grouped stratified folds, and a leakage check."""

from __future__ import annotations

import numbers
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

__all__ = ["make_cv", "groups_from_manifest", "groups_from_names", "check_group_leakage"]


def _check_n_splits(n_splits):
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}")


def make_cv(y, groups=None, *, n_splits=5, shuffle=True, random_state=0):
    """Stratified K-fold splitter that keeps every group on one side of each split.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels (fake = 1, real = 0); folds keep their proportions.
    groups : array-like of shape (n,), optional
        Group of each item (video, identity, source photo; see :func:`groups_from_manifest`).
        When given, the splitter is :class:`~sklearn.model_selection.StratifiedGroupKFold`;
        otherwise :class:`~sklearn.model_selection.StratifiedKFold`.
    n_splits : int, default=5
        Number of folds.
    shuffle : bool, default=True
        Shuffle before splitting (groups are shuffled, not items, when grouped).
    random_state : int or None, default=0
        Seed of the shuffle; ignored when ``shuffle=False``.

    Returns
    -------
    splitter
        Call ``splitter.split(X, y, groups)`` with the same ``y`` and ``groups``.

    Raises
    ------
    ValueError
        If a class has fewer items (or, grouped, fewer distinct groups) than ``n_splits``: some
        test fold would then miss that class.

    Notes
    -----
    ``StratifiedGroupKFold`` balances the class proportions as well as the grouping allows; with a
    few large groups the folds are uneven. Check them with :func:`check_group_leakage`, whose
    report lists the size and fake count of each test fold.

    Examples
    --------
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> g = [0, 0, 1, 1, 2, 2, 3, 3]
    >>> cv = make_cv(y, g, n_splits=2)
    >>> type(cv).__name__
    'StratifiedGroupKFold'
    >>> all(set(np.take(g, tr)).isdisjoint(np.take(g, te)) for tr, te in cv.split(y, y, g))
    True
    """
    _check_n_splits(n_splits)
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array, got shape {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"y holds one class only ({classes.tolist()[0]!r}); stratified folds need two")
    for c, n_c in zip(classes.tolist(), counts.tolist()):
        if n_c < n_splits:
            raise ValueError(f"class {c!r} has {n_c} items, fewer than n_splits={n_splits}: some test "
                             "folds would miss it; lower n_splits")
    random_state = random_state if shuffle else None
    if groups is None:
        return StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
    # missing values are looked for before NumPy can turn a NaN among strings into the string "nan"
    missing = pd.isna(pd.Series(np.asarray(groups, dtype=object).ravel(), dtype=object)).any()
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have the shape of y {y.shape}, got {groups.shape}")
    if missing:
        raise ValueError("groups must not contain missing values")
    n_groups = pd.Series(groups).groupby(y).nunique()
    for c, g_c in zip(n_groups.index.tolist(), n_groups.tolist()):
        if g_c < n_splits:
            raise ValueError(f"class {c!r} is spread over {g_c} groups, fewer than n_splits={n_splits}: "
                             "some test folds would miss it; lower n_splits")
    return StratifiedGroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=random_state)


def groups_from_manifest(manifest, by, *, shared_ids=True):
    """Integer CV groups from manifest columns: items linked by any shared id end up together.

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per item.
    by : str or list of str
        Column(s) naming what must not straddle a split: ``"video"`` (frames of a video),
        ``"identity"``, ``"source"`` (crops of one photo), ``"generator"``... With several columns,
        two items are in the same group when they share a value in any of them, transitively
        (connected components). For FaceForensics++ pass the target and source identity columns:
        a face swap of 000 onto 003 and one of 003 onto 010 then share one group with the real
        videos 000, 003 and 010.
    shared_ids : bool, default=True
        Whether the columns of ``by`` share one id space: an id in one column links to the same id
        in another (FF++ target / source). With False, the values of each column are only compared
        within that column.

    Returns
    -------
    ndarray of shape (n_items,), int64
        Group labels ``0..G-1``, numbered in order of first appearance. An item whose ids are all
        missing is a group of its own.

    Examples
    --------
    >>> m = pd.DataFrame({"target": ["000", "003", "010", "020", "003"],
    ...                   "source": [None, "010", None, None, "000"]})
    >>> groups_from_manifest(m, "target").tolist()
    [0, 1, 2, 3, 1]
    >>> groups_from_manifest(m, ["target", "source"]).tolist()  # 000-003-010 linked
    [0, 0, 0, 1, 0]
    """
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise ValueError("by must name at least one column")
    missing = [c for c in columns if c not in manifest.columns]
    if missing:
        raise KeyError(f"manifest has no column {missing[0]!r}; columns are {list(manifest.columns)}")
    n = len(manifest)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Bipartite graph: items 0..n-1, ids n..n+m-1; an edge per (item, non-missing id).
    values = []
    for c in columns:
        col = manifest[c].to_numpy(dtype=object)
        if not shared_ids:  # tag each id with its column: ("identity", 3) != ("source", 3)
            tagged = np.empty(n, dtype=object)
            tagged[:] = [v if pd.isna(v) else (c, v) for v in col]
            col = tagged
        values.append(col)
    codes, _ = pd.factorize(pd.Series(np.concatenate(values), dtype=object))
    m = int(codes.max()) + 1 if codes.size else 0
    items = np.tile(np.arange(n), len(columns))
    keep = codes >= 0
    rows, cols = items[keep], n + codes[keep]
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n + m, n + m))
    _, labels = connected_components(graph, directed=False)
    groups, _ = pd.factorize(labels[:n])
    return groups.astype(np.int64)


GROUP_SEPARATOR = "/"  # never part of a file name: joined keys of different parts cannot coincide


def groups_from_names(pattern, paths):
    r"""Group keys read off file names by a regular expression.

    Parameters
    ----------
    pattern : str
        Searched (``re.search``) in each file name (the last part of the path). With one capture
        group, the group is the key; with several (positional or named ``(?P<actor>...)``), their
        values in the pattern's order joined by ``"/"``; a group that took no part in the match
        counts as ``""``; without a capture group, the whole match. Use ``(?:...)`` for a group
        that should not be part of the key.
    paths : sequence of str or Path
        One per item.

    Returns
    -------
    list of str
        One key per path, in order.

    Raises
    ------
    ValueError
        ``pattern`` is not a regular expression, or does not match a file name (naming it).

    See Also
    --------
    groups_from_manifest : groups joined over several id columns of a manifest.

    Notes
    -----
    A file name holds no ``/``, so keys joined from different values never coincide: items share
    a key only when every captured part is equal.

    Examples
    --------
    >>> groups_from_names(r"^(?P<actor>id\d+)_(?P<source>\w+?)_\d+\.mp4$",
    ...                   ["a/id01_talk_0.mp4", "b/id01_talk_1.mp4", "id01_walk_0.mp4"])
    ['id01/talk', 'id01/talk', 'id01/walk']
    >>> groups_from_names(r"^(\w+?)_", ["id01_talk_0.mp4"])
    ['id01']
    """
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--group-pattern {pattern!r} is not a regular expression: {exc}") from None
    keys = []
    for p in paths:
        match = regex.search(Path(str(p)).name)
        if match is None:
            raise ValueError(f"--group-pattern {pattern!r} does not match the file name of {p}")
        if regex.groups:
            keys.append(GROUP_SEPARATOR.join("" if g is None else g for g in match.groups()))
        else:
            keys.append(match.group(0))
    return keys


def check_group_leakage(cv, y, groups, *, on_leak="raise"):
    """Check that no group has items in both the training and the test part of any split.

    Parameters
    ----------
    cv : int or splitter
        A splitter with ``split(X, y, groups)`` (it is given ``groups``, so splitters that ignore
        them, such as ``StratifiedKFold``, are caught), or an int: :func:`make_cv` with
        ``n_splits=cv``.
    y : array-like of shape (n,)
        Labels.
    groups : array-like of shape (n,)
        Group of each item.
    on_leak : {"raise", "report"}, default="raise"
        Raise ``ValueError`` naming the split and the shared groups, or only report them.

    Returns
    -------
    pandas.DataFrame
        One row per split (index ``fold``): ``n_train``, ``n_test``, ``n_test_fake``,
        ``n_shared_groups`` (groups on both sides) and ``shared_groups`` (up to 10 of them).

    Examples
    --------
    >>> from sklearn.model_selection import KFold
    >>> y, g = [0, 1, 0, 1, 0, 1, 0, 1], ["a", "b", "c", "d", "a", "b", "c", "d"]
    >>> check_group_leakage(KFold(2), y, g, on_leak="report")["n_shared_groups"].tolist()
    [4, 4]
    >>> check_group_leakage(2, y, g)["n_shared_groups"].tolist()
    [0, 0]
    """
    if on_leak not in ("raise", "report"):
        raise ValueError(f"on_leak must be 'raise' or 'report', got {on_leak!r}")
    y = np.asarray(y)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have the shape of y {y.shape}, got {groups.shape}")
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = make_cv(y, groups, n_splits=int(cv))
    with warnings.catch_warnings():  # "groups ignored by KFold": exactly what this check reports
        warnings.filterwarnings("ignore", message="The groups parameter is ignored", category=UserWarning)
        splits = list(cv.split(np.zeros((y.size, 1)), y, groups))
    rows = []
    for train, test in splits:
        shared = np.intersect1d(groups[train], groups[test])
        rows.append({
            "n_train": int(len(train)), "n_test": int(len(test)),
            "n_test_fake": int(np.sum(y[test] == 1)),
            "n_shared_groups": int(shared.size), "shared_groups": shared[:10].tolist(),
        })
    report = pd.DataFrame(rows)
    report.index.name = "fold"
    leaky = report.index[report["n_shared_groups"] > 0]
    if len(leaky) and on_leak == "raise":
        f = leaky[0]
        raise ValueError(f"group leakage: split {f} has {report.at[f, 'n_shared_groups']} group(s) in both "
                         f"train and test, e.g. {report.at[f, 'shared_groups']}; {len(leaky)} of "
                         f"{len(report)} splits leak. Use a grouped splitter (make_cv(y, groups)).")
    return report
