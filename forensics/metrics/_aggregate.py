"""Video-level (or photo-level) aggregation of item scores: frames of a video -> one score."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["aggregate_scores", "aggregate_labels", "AGGREGATIONS"]

#: Rules accepted by :func:`aggregate_scores`.
AGGREGATIONS = ("mean", "median", "max", "topk_mean")


def _factorize_ids(ids, n):
    ids = pd.Series(np.asarray(ids, dtype=object) if not isinstance(ids, pd.Series) else ids.to_numpy(object))
    if len(ids) != n:
        raise ValueError(f"ids and the values have different lengths: {len(ids)} and {n}")
    if n == 0:
        raise ValueError("nothing to aggregate: no items")
    missing = ids.isna().to_numpy()
    if missing.any():
        raise ValueError(f"ids must not be missing; item {int(np.flatnonzero(missing)[0])} has no id")
    codes, uniques = pd.factorize(ids, sort=False)  # first-appearance order
    return codes, pd.Index(uniques, name="id")


def aggregate_scores(scores, ids, *, how="mean", k=3):
    """Aggregate item scores (e.g. frames) into one score per id (e.g. video).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Fake-class score of each item; must be finite (drop failed frames explicitly first).
    ids : array-like of shape (n,)
        The id (video, photo) of each item; items of one id need not be contiguous.
    how : {"mean", "median", "max", "topk_mean"}, default="mean"
        - ``"mean"``: the common default of FaceForensics++ / Celeb-DF video-level results; every
          frame counts equally, so a few noisy frames move the score little.
        - ``"median"``: robust to a minority of outlier frames in either direction.
        - ``"max"``: a video is as fake as its most suspicious frame. Right when a manipulation
          touches only some frames, but one false-positive frame (blur, occlusion, a bad face crop)
          makes a real video fake, and more frames per video means more chances of that.
        - ``"topk_mean"``: mean of the ``k`` highest scores (all of them when the id has fewer than
          ``k`` items): the compromise, sensitive to a short manipulated segment, less to one bad
          frame.
    k : int, default=3
        Number of top scores averaged by ``"topk_mean"``.

    Returns
    -------
    pandas.Series
        One score per id, indexed by id in order of first appearance, named ``"score"``.

    See Also
    --------
    aggregate_labels : the matching per-id label.

    Notes
    -----
    Compare video-level results only between methods aggregated with the same rule and the same
    number of frames per video: ``max`` scores rise with the number of frames sampled.

    Examples
    --------
    >>> s = [0.1, 0.9, 0.2, 0.4, 0.6]
    >>> v = ["a", "a", "a", "b", "b"]
    >>> aggregate_scores(s, v, how="mean").round(3).tolist()
    [0.4, 0.5]
    >>> aggregate_scores(s, v, how="topk_mean", k=2).round(3).tolist()  # a: (.9 + .2) / 2
    [0.55, 0.5]
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"how must be one of {list(AGGREGATIONS)}, got {how!r}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    codes, index = _factorize_ids(ids, s.size)
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"scores must be finite; item {i} (id {index[codes[i]]!r}) has {s[i]}")
    frame = pd.DataFrame({"code": codes, "score": s})
    if how == "topk_mean":
        frame = frame.sort_values(["code", "score"], ascending=[True, False], kind="mergesort")
        frame = frame[frame.groupby("code").cumcount() < k]
        how = "mean"
    values = frame.groupby("code", sort=True)["score"].agg(how)
    return pd.Series(values.to_numpy(), index=index, name="score")


def aggregate_labels(y, ids):
    """The label of each id (e.g. video), checking that it is constant over the id's items.

    Parameters
    ----------
    y : array-like of shape (n,)
        Label of each item (fake = 1, real = 0).
    ids : array-like of shape (n,)
        The id of each item, as given to :func:`aggregate_scores`.

    Returns
    -------
    pandas.Series
        One label per id, indexed by id in order of first appearance (the index of
        :func:`aggregate_scores` on the same ``ids``), named ``"label"``.

    Raises
    ------
    ValueError
        If an id has items with different labels; the message names the ids.

    Examples
    --------
    >>> aggregate_labels([1, 1, 0, 0], ["v1", "v1", "v2", "v2"]).to_dict()
    {'v1': 1, 'v2': 0}
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    codes, index = _factorize_ids(ids, y.size)
    frame = pd.DataFrame({"code": codes, "y": y})
    n_labels = frame.groupby("code", sort=True)["y"].nunique(dropna=False)
    mixed = n_labels.index[n_labels.to_numpy() > 1]
    if len(mixed):
        names = ", ".join(repr(index[c]) for c in mixed[:5])
        more = f" and {len(mixed) - 5} more" if len(mixed) > 5 else ""
        raise ValueError(f"labels must be constant within an id; mixed labels in {names}{more}")
    first = frame.groupby("code", sort=True)["y"].first()
    return pd.Series(first.to_numpy(), index=index, name="label")
