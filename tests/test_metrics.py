"""Metrics: hand-computed tiny cases, agreement with scikit-learn over seeds, tables, aggregation."""

import math

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate

from forensics.metrics import (
    EVALUATE_COLUMNS,
    aggregate_labels,
    aggregate_scores,
    average_precision,
    brier_score,
    choose_threshold,
    equal_error_rate,
    evaluate,
    expected_calibration_error,
    log_loss,
    make_scorers,
    roc_auc,
    roc_points,
    threshold_metrics,
)

SEEDS = range(8)

# The 4-item running example. Sorted by score: .9 (fake) .6 (real) .4 (fake) .1 (real).
Y4 = [0, 0, 1, 1]
S4 = [0.1, 0.6, 0.4, 0.9]


def random_case(seed, n=60, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.01, 0.99)
    if ties:
        p = np.round(p, 1).clip(0.01, 0.99)
    return y, p


# -- hand-computed cases --------------------------------------------------------------------------
def test_roc_points_hand():
    fpr, tpr, thr = roc_points(Y4, S4)
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_array_equal(thr, [np.inf, 0.9, 0.6, 0.4, 0.1])


def test_roc_auc_hand():
    # fake-real pairs: (.4,.1) won, (.4,.6) lost, (.9,.1) won, (.9,.6) won -> 3/4
    assert roc_auc(Y4, S4) == 0.75
    # one tie counts one half; (.5 vs .5) tie, (.8 vs .5) won -> (0.5 + 1) / 2
    assert roc_auc([0, 1, 1], [0.5, 0.5, 0.8]) == 0.75
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_average_precision_hand():
    # thresholds: .9 -> R=.5, P=1; .6 -> R=.5, P=1/2; .4 -> R=1, P=2/3; .1 -> R=1, P=1/2
    # AP = .5 * 1 + 0 * 1/2 + .5 * 2/3 + 0 = 5/6
    assert average_precision(Y4, S4) == pytest.approx(5 / 6)
    # tied block of (fake, real) at .5 after a fake at .9: R .5 -> 1 with P = 2/3 -> .5 + .5 * 2/3
    assert average_precision([1, 1, 0], [0.9, 0.5, 0.5]) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([1, 1], [0.2, 0.7]) == 1.0  # fakes only: every call is right


def test_equal_error_rate_exact_vertex():
    # (FPR, FNR) per vertex: (0,1) (0,.5) (.5,.5) (.5,0) (1,0): equal at the vertex of threshold .6
    assert equal_error_rate(Y4, S4) == (0.5, 0.6)
    # perfect separation: (0,1) (0,.5) (0,0) at threshold .8
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (0.0, 0.8)


def test_equal_error_rate_interpolated_segments():
    # Vertical segment: reals .1 .2 .7, fake .5. Vertices (FPR, FNR): (0,1) (1/3,1) at .7,
    # (1/3,0) at .5. FPR stays 1/3 while FNR drops 1 -> 0: they meet at 1/3; the vertex of .5 has
    # |FPR - FNR| = 1/3 < 2/3, so its threshold is returned.
    eer, thr = equal_error_rate([0, 0, 0, 1], [0.1, 0.2, 0.7, 0.5])
    assert eer == pytest.approx(1 / 3) and thr == 0.5
    # Diagonal segment from ties: fakes .9 .5 .2, reals .5 .5 .1.
    # Vertices: (0, 2/3) at .9 (d = -2/3), then (2/3, 1/3) at .5 (d = +1/3).
    # u = (2/3) / (1/3 + 2/3) = 2/3; EER = 0 + 2/3 * 2/3 = 4/9 (= FNR 2/3 + 2/3 * (1/3 - 2/3)).
    eer, thr = equal_error_rate([1, 1, 1, 0, 0, 0], [0.9, 0.5, 0.2, 0.5, 0.5, 0.1])
    assert eer == pytest.approx(4 / 9) and thr == 0.5
    # All scores tied: one segment (0,1) -> (1,0), crossing at its middle
    assert equal_error_rate([0, 1, 1, 0], [0.3] * 4) == (0.5, 0.3)


def dense_eer(y, s):
    """Independent EER: walk sklearn's full ROC polyline densely, take the point nearest FPR = FNR."""
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    t = np.linspace(0, len(fpr) - 1, 200_001)
    f = np.interp(t, np.arange(len(fpr)), fpr)
    fn = 1 - np.interp(t, np.arange(len(tpr)), tpr)
    i = np.argmin(np.abs(f - fn))
    return (f[i] + fn[i]) / 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
def test_equal_error_rate_against_dense_polyline(seed, ties):
    y, s = random_case(seed, ties=ties)
    eer, thr = equal_error_rate(y, s)
    assert eer == pytest.approx(dense_eer(y, s), abs=2e-3)
    # the returned threshold is the vertex closest to FPR = FNR
    m = threshold_metrics(y, s, thr)
    gaps = [abs(threshold_metrics(y, s, t)["fpr"] - threshold_metrics(y, s, t)["fnr"]) for t in np.unique(s)]
    assert abs(m["fpr"] - m["fnr"]) == pytest.approx(min(gaps))


def test_expected_calibration_error_hand():
    # 2 bins: (0, .5] holds p = .2, .4 with y = 0, 1: |mean y - mean p| = |.5 - .3| = .2, weight 2/3;
    # (.5, 1] holds p = .9 with y = 1: |1 - .9| = .1, weight 1/3. ECE = .4/3 + .1/3 = 1/6.
    assert expected_calibration_error([0, 1, 1], [0.2, 0.4, 0.9], n_bins=2) == pytest.approx(1 / 6)
    # With 1 bin it is |mean y - mean p| = |2/3 - 1.5/3| = 1/6 too; with 4 bins every item is alone
    # in its bin: (.2 + .6 + .1) / 3 = .3
    assert expected_calibration_error([0, 1, 1], [0.2, 0.4, 0.9], n_bins=1) == pytest.approx(1 / 6)
    assert expected_calibration_error([0, 1, 1], [0.2, 0.4, 0.9], n_bins=4) == pytest.approx(0.3)
    # Perfectly calibrated: p = .5 for a half-fake bin; p = 0 goes to the first bin
    assert expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0
    assert expected_calibration_error([0, 0], [0.0, 0.0], n_bins=3) == 0.0
    # Bins are closed on the right, as in Guo et al.: p = .5 is in (0, .5], not (.5, 1]:
    # |0 - .5| / 2 + |1 - .9| / 2 = .3 (left-closed bins would give |.5 - .7| = .2)
    assert expected_calibration_error([0, 1], [0.5, 0.9], n_bins=2) == pytest.approx(0.3)


@pytest.mark.parametrize("seed", SEEDS)
def test_expected_calibration_error_against_sklearn_curve(seed):
    y, p = random_case(seed, n=200)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts, _ = np.histogram(p, bins=np.linspace(0, 1, 11))
    expected = np.sum(counts[counts > 0] / len(y) * np.abs(prob_true - prob_pred))
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(expected)


def test_brier_and_log_loss_hand():
    assert brier_score([0, 1], [0.2, 0.6]) == pytest.approx(0.1)  # (.04 + .16) / 2
    assert log_loss([0, 1], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert log_loss([0, 1], [0.2, 0.6]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))  # clipped, finite


@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_and_proper_scores_match_sklearn(seed):
    for ties in (False, True):
        y, p = random_case(seed, ties=ties)
        assert roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p))
        assert average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p))
        assert brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))
        assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p))


@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_metrics_match_sklearn(seed):
    y, s = random_case(seed)
    for t in (0.3, 0.5, float(np.median(s))):
        pred = (s >= t).astype(int)
        m = threshold_metrics(y, s, t)
        assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
        assert m["recall"] == m["tpr"] == pytest.approx(skm.recall_score(y, pred))
        tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
        assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
        assert m["fpr"] == pytest.approx(fp / (fp + tn))


def test_threshold_metrics_hand_and_per_item_threshold():
    # calls at .5: .1 real, .6 fake (wrong), .4 real (wrong), .9 fake
    m = threshold_metrics(Y4, S4, 0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 1, 1)
    assert m["accuracy"] == 0.5 and m["f1"] == 0.5 and m["balanced_accuracy"] == 0.5
    # s >= threshold is fake: a score equal to the threshold is called fake
    assert threshold_metrics([1], [0.4], 0.4)["tp"] == 1
    # per-item thresholds: the real at .6 judged at .7, the fake at .4 judged at .3 -> all right
    m = threshold_metrics(Y4, S4, [0.5, 0.7, 0.3, 0.5])
    assert m["accuracy"] == 1.0
    # undefined ratios are NaN, not errors
    m = threshold_metrics([0, 0], [0.1, 0.2], 0.5)
    assert m["accuracy"] == 1.0 and math.isnan(m["balanced_accuracy"]) and math.isnan(m["precision"])
    assert math.isnan(m["f1"])
    assert threshold_metrics([1, 0], [0.1, 0.2], 0.5)["f1"] == 0.0  # a missed fake: F1 = 0
    with pytest.raises(ValueError, match="shape"):
        threshold_metrics(Y4, S4, [0.5, 0.5])


def test_choose_threshold_rules_hand():
    # reals .1 .2 .45 .7, fakes .4 .6 .8 .9
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.45, 0.7, 0.4, 0.6, 0.8, 0.9]
    # threshold: TP FP ->  J = TPR - FPR,  F1 = 2TP / (2TP + FP + FN),  accuracy
    # .9: 1 0 -> .25,  2/5,  5/8    .8: 2 0 -> .5, 4/6, 6/8     .7: 2 1 -> .25, 4/7, 5/8
    # .6: 3 1 -> .5,   6/8, 6/8     .45: 3 2 -> .25, 6/9, 5/8   .4: 4 2 -> .5, 8/10, 6/8
    # .2: 4 3 -> .25,  8/11, 5/8    .1: 4 4 -> 0, 8/12, 4/8
    assert choose_threshold(y, s, "youden") == 0.8  # J = .5 ties at .8, .6, .4: highest threshold
    assert choose_threshold(y, s, "accuracy") == 0.8  # 6/8 ties likewise
    assert choose_threshold(y, s, "f1") == 0.4  # 8/10
    # EER: (FPR, FNR) at .6 = (.25, .25): an exact vertex
    assert choose_threshold(y, s, "eer") == 0.6
    assert choose_threshold(y, s, 0.37) == 0.37
    with pytest.raises(ValueError, match="rule"):
        choose_threshold(y, s, "median")
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold([0, 0], [0.1, 0.2], "eer")


def test_undefined_metrics_are_nan():
    y, s = [1, 1, 1], [0.2, 0.5, 0.9]
    assert math.isnan(roc_auc(y, s))
    assert all(math.isnan(v) for v in equal_error_rate(y, s))
    assert math.isnan(average_precision([0, 0], [0.2, 0.5]))
    row = evaluate(y, s).loc["all"]
    assert math.isnan(row["roc_auc"]) and math.isnan(row["eer"]) and math.isnan(row["balanced_accuracy"])
    assert row["accuracy"] == pytest.approx(2 / 3) and row["brier"] == pytest.approx((0.64 + 0.25 + 0.01) / 3)


def test_input_validation():
    with pytest.raises(ValueError, match="only 0"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="lengths"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([0, 1], [0.1, 1.2])
    with pytest.raises(ValueError, match="proba"):
        roc_auc([0, 1], np.eye(2))
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0, 1], [0.1, 0.2], n_bins=0)


# -- evaluate -------------------------------------------------------------------------------------
def test_evaluate_per_group_rows():
    # reals .1 .2 .5; method A fakes .9 .8; method B fakes .3 .15
    y = [0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.5, 0.9, 0.8, 0.3, 0.15]
    g = ["real", "real", "real", "A", "A", "B", "B"]
    t = evaluate(y, s, threshold=0.5, groups=g)
    assert list(t.columns) == list(EVALUATE_COLUMNS)
    assert t.index.tolist() == ["all", "A", "B"]
    assert t.loc["A", "n"] == 5 and t.loc["A", "n_fake"] == 2 and t.loc["all", "n"] == 7
    assert t.loc["A", "roc_auc"] == 1.0
    # B: .3 beats .1 and .2, loses to .5; .15 beats .1 only -> 3 of 6 pairs
    assert t.loc["B", "roc_auc"] == pytest.approx(0.5)
    # overall: A wins 6/6, B 3/6 -> 9/12
    assert t.loc["all", "roc_auc"] == pytest.approx(0.75)
    # accuracy at .5 in row B: reals .1 .2 right, .5 wrong (called fake), fakes .3 .15 wrong -> 2/5
    assert t.loc["B", "accuracy"] == pytest.approx(2 / 5)
    assert t.loc["B", "brier"] == pytest.approx(brier_score([0, 0, 0, 1, 1], [0.1, 0.2, 0.5, 0.3, 0.15]))
    assert (t["threshold"] == 0.5).all()
    # reference_label=1: per group of reals against all fakes (only one group of reals here)
    t1 = evaluate(y, s, groups=g, reference_label=1)
    assert t1.index.tolist() == ["all", "real"] and t1.loc["real", "n"] == 7


def test_evaluate_threshold_rule_and_uncalibrated_scores():
    y = [0, 0, 1, 1]
    s = [-2.0, 0.5, 0.2, 3.0]  # decision values, not probabilities
    t = evaluate(y, s, threshold="eer")
    assert t.loc["all", "threshold"] == equal_error_rate(y, s)[1]
    assert t[["log_loss", "brier", "ece"]].isna().all(axis=None)
    assert t.loc["all", "roc_auc"] == 0.75


# -- scorers --------------------------------------------------------------------------------------
def test_make_scorers_match_metrics_on_each_fold():
    X, y = make_classification(n_samples=120, n_informative=3, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    res = cross_validate(LogisticRegression(), X, y, cv=cv, scoring=make_scorers(), return_estimator=True)
    for f, (_, test) in enumerate(cv.split(X, y)):
        p = res["estimator"][f].predict_proba(X[test])[:, 1]
        assert res["test_roc_auc"][f] == pytest.approx(roc_auc(y[test], p))
        assert res["test_average_precision"][f] == pytest.approx(average_precision(y[test], p))
        assert res["test_neg_eer"][f] == pytest.approx(-equal_error_rate(y[test], p)[0])
        assert res["test_neg_ece"][f] == pytest.approx(-expected_calibration_error(y[test], p))
        assert res["test_neg_brier_score"][f] == pytest.approx(-brier_score(y[test], p))
        assert res["test_neg_log_loss"][f] == pytest.approx(-log_loss(y[test], p))


# -- aggregation ----------------------------------------------------------------------------------
SCORES = [0.1, 0.9, 0.5, 0.2, 0.7, 0.3, 0.4]
IDS = ["b", "a", "b", "a", "b", "c", "a"]  # a: .9 .2 .4   b: .1 .5 .7   c: .3


@pytest.mark.parametrize("how, expected", [
    ("mean", [(0.1 + 0.5 + 0.7) / 3, (0.9 + 0.2 + 0.4) / 3, 0.3]),
    ("median", [0.5, 0.4, 0.3]),
    ("max", [0.7, 0.9, 0.3]),
])
def test_aggregate_scores_rules(how, expected):
    out = aggregate_scores(SCORES, IDS, how=how)
    assert out.index.tolist() == ["b", "a", "c"]  # first appearance, not sorted
    np.testing.assert_allclose(out.to_numpy(), expected)


def test_aggregate_scores_topk_mean():
    out = aggregate_scores(SCORES, IDS, how="topk_mean", k=2)
    # b: (.7 + .5) / 2; a: (.9 + .4) / 2; c: one frame only -> .3
    np.testing.assert_allclose(out.to_numpy(), [0.6, 0.65, 0.3])
    # k >= every video's length: the mean
    np.testing.assert_allclose(aggregate_scores(SCORES, IDS, how="topk_mean", k=10).to_numpy(),
                               aggregate_scores(SCORES, IDS).to_numpy())
    # k = 1 is max
    np.testing.assert_allclose(aggregate_scores(SCORES, IDS, how="topk_mean", k=1).to_numpy(), [0.7, 0.9, 0.3])


def test_aggregate_scores_errors():
    with pytest.raises(ValueError, match="how"):
        aggregate_scores(SCORES, IDS, how="min")
    with pytest.raises(ValueError, match="k must"):
        aggregate_scores(SCORES, IDS, how="topk_mean", k=0)
    with pytest.raises(ValueError, match="'a'"):
        aggregate_scores([0.1, np.nan], ["b", "a"])
    with pytest.raises(ValueError, match="lengths"):
        aggregate_scores([0.1, 0.2], ["a"])


def test_aggregate_labels():
    labels = aggregate_labels([0, 1, 0, 1, 0, 1, 1], IDS[:6] + ["a"])
    assert labels.to_dict() == {"b": 0, "a": 1, "c": 1}
    assert labels.index.equals(aggregate_scores(SCORES, IDS).index)
    with pytest.raises(ValueError, match="'a'"):
        aggregate_labels([0, 1, 0, 0, 0, 1, 1], IDS)  # video a has labels 1, 0, 1


def test_video_level_evaluation_end_to_end():
    # frame scores of 2 real and 2 fake videos; one false-positive frame in real video r1
    frames = pd.DataFrame({
        "video": ["r1"] * 4 + ["r2"] * 4 + ["f1"] * 4 + ["f2"] * 4,
        "y": [0] * 8 + [1] * 8,
        "s": [0.1, 0.2, 0.95, 0.1, 0.3, 0.2, 0.3, 0.2, 0.6, 0.7, 0.8, 0.9, 0.5, 0.4, 0.6, 0.7],
    })
    labels = aggregate_labels(frames["y"], frames["video"])
    mean = aggregate_scores(frames["s"], frames["video"], how="mean")   # r1 .3375 r2 .25 f1 .75 f2 .55
    mx = aggregate_scores(frames["s"], frames["video"], how="max")      # r1 .95 beats both fakes
    assert roc_auc(labels, mean) == 1.0
    assert roc_auc(labels, mx) == 0.5


# -- operating points and the ROC-AUC interval ---------------------------------------------------------
def test_tpr_at_fpr_at_just_below_and_above_a_vertex():
    from forensics.metrics import roc_points, tpr_at_fpr

    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.3, 0.9, 0.4, 0.8, 0.85, 0.95]
    # vertices (FPR, TPR): (0,0) (0,.25) (.25,.25) (.25,.5) (.25,.75) (.25,1)...: 0.95 fake, 0.9 real, 0.85, 0.8, 0.4 fakes
    fpr, tpr, _ = roc_points(y, s)
    assert tpr_at_fpr(y, s, 0.25) == 1.0  # at the vertex FPR
    assert tpr_at_fpr(y, s, 0.2499) == 0.25  # just below: only FPR 0 is allowed
    assert tpr_at_fpr(y, s, 0.26) == 1.0
    assert tpr_at_fpr(y, s, 0.0) == 0.25
    assert tpr_at_fpr([0, 0, 1], [0.1, 0.2, 0.3], 0.01) == 1.0
    assert np.isnan(tpr_at_fpr([1, 1], [0.1, 0.2], 0.01))
    for bad in (-0.1, 1.5, True, "x"):
        with pytest.raises(ValueError, match="fpr must be a number"):
            tpr_at_fpr(y, s, bad)
    assert fpr.tolist()[:3] == [0.0, 0.0, 0.25]


def _weighted_reference(y, s, codes, n_boot, seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    n_groups = int(codes.max()) + 1
    out = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[codes]
        k = w > 0
        if len(np.unique(y[k])) < 2:
            continue
        out.append(roc_auc_score(y[k], s[k], sample_weight=w[k]))
    return np.asarray(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_auc_ci_is_the_percentile_interval_of_sklearn_weighted_aucs(seed):
    from sklearn.metrics import roc_auc_score

    from forensics.metrics import roc_auc_ci

    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], 30)
    s = np.round(y + rng.normal(0, 1.2, 60), 1)  # rounded: ties
    groups = np.arange(60) // 3
    auc, low, high = roc_auc_ci(y, s, groups=groups, n_boot=300, level=0.9, random_state=seed)
    ref = _weighted_reference(y, s, groups, 300, seed)
    assert auc == pytest.approx(roc_auc_score(y, s))
    assert (low, high) == pytest.approx(tuple(np.quantile(ref, [0.05, 0.95])), rel=1e-12)
    auc_i, low_i, high_i = roc_auc_ci(y, s, n_boot=300, random_state=seed)  # items resampled
    ref_i = _weighted_reference(y, s, np.arange(60), 300, seed)
    assert (low_i, high_i) == pytest.approx(tuple(np.quantile(ref_i, [0.025, 0.975])), rel=1e-12)


def test_roc_auc_ci_resampling_groups_is_wider_for_duplicated_evidence():
    """Each item five times (frames of one video): resampling items pretends 5x the evidence."""
    from forensics.metrics import roc_auc_ci

    rng = np.random.default_rng(3)
    y0 = np.repeat([0, 1], 20)
    s0 = y0 + rng.normal(0, 1.0, 40)
    y, s, videos = np.repeat(y0, 5), np.repeat(s0, 5), np.repeat(np.arange(40), 5)
    _, lo_g, hi_g = roc_auc_ci(y, s, groups=videos, n_boot=400)
    _, lo_i, hi_i = roc_auc_ci(y, s, n_boot=400)
    _, lo_0, hi_0 = roc_auc_ci(y0, s0, n_boot=400)
    assert hi_g - lo_g > 1.5 * (hi_i - lo_i)
    assert hi_g - lo_g == pytest.approx(hi_0 - lo_0, rel=0.25)  # as wide as the 40 independent videos


def test_roc_auc_ci_undefined_and_invalid():
    from forensics.metrics import roc_auc_ci

    assert all(np.isnan(v) for v in roc_auc_ci([1, 1, 1], [0.1, 0.2, 0.3]))
    for kwargs, match in (({"n_boot": 0}, "n_boot"), ({"level": 1.0}, "level"), ({"level": 0}, "level"),
                          ({"groups": [0, 1]}, "groups must have the shape")):
        with pytest.raises(ValueError, match=match):
            roc_auc_ci([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], **kwargs)
    # two groups, one per class: every resample that holds both classes is a perfect split
    auc, low, high = roc_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], groups=[0, 0, 1, 1], n_boot=50)
    assert (auc, low, high) == (1.0, 1.0, 1.0)


# -- aggregation: boundaries, defaults and refusals with their look-alikes ------------------------
def test_aggregate_scores_defaults_and_keyword_only():
    s = [0.9, 0.1, 0.8, 0.2, 0.7]  # one video: top 3 = .9 .8 .7, mean of all = .54
    ids = ["v"] * 5
    assert aggregate_scores(s, ids).tolist() == pytest.approx([0.54])  # how="mean" by default
    assert aggregate_scores(s, ids, how="topk_mean").tolist() == pytest.approx([0.8])  # k=3 by default
    assert aggregate_scores(s, ids, how="topk_mean", k=4).tolist() == pytest.approx([0.65])
    assert aggregate_scores(s, ids).name == "score" and aggregate_scores(s, ids).index.name == "id"
    with pytest.raises(TypeError):
        aggregate_scores(s, ids, "max")  # how and k are keyword-only


def test_aggregate_scores_refusals_and_look_alikes():
    assert aggregate_scores([0.3], ["a"]).tolist() == [0.3]  # one item is enough
    with pytest.raises(ValueError, match="nothing to aggregate"):
        aggregate_scores([], [])
    for bad_k in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="k must be a positive int"):
            aggregate_scores([0.3, 0.4], ["a", "a"], how="topk_mean", k=bad_k)
    assert aggregate_scores([0.3, 0.4], ["a", "a"], how="topk_mean", k=np.int64(1)).tolist() == [0.4]
    with pytest.raises(ValueError, match=r"scores must be 1-D, got shape \(2, 1\)"):
        aggregate_scores([[0.3], [0.4]], ["a", "b"])
    with pytest.raises(ValueError, match=r"scores must be 1-D, got shape \(\)"):
        aggregate_scores(0.3, ["a"])
    # the first missing id is named, by its position
    with pytest.raises(ValueError, match="item 1 has no id"):
        aggregate_scores([0.1, 0.2, 0.3, 0.4], ["a", None, "b", np.nan])
    # the first non-finite score is named with its id
    with pytest.raises(ValueError, match=r"item 2 \(id 'b'\) has inf"):
        aggregate_scores([0.1, 0.2, np.inf, np.nan], ["a", "a", "b", "c"])
    # lengths are compared by value at any size (300 items: past the small integers Python caches)
    ids = np.repeat(np.arange(100), 3)
    out = aggregate_scores(np.linspace(0, 1, 300), ids, how="max")
    assert len(out) == 100 and out.iloc[-1] == 1.0
    assert aggregate_labels(np.zeros(300, int), ids).sum() == 0
    with pytest.raises(ValueError, match="different lengths: 300 and 299"):
        aggregate_scores(np.zeros(299), ids)
    # ids given as a pandas Series (any index) are read by position
    out = aggregate_scores([0.1, 0.5, 0.3], pd.Series(["x", "y", "x"], index=[10, 5, 7]))
    assert out.to_dict() == pytest.approx({"x": 0.2, "y": 0.5})


def test_aggregate_labels_refusals_and_many_mixed_ids():
    with pytest.raises(ValueError, match=r"y must be 1-D, got shape \(2, 2\)"):
        aggregate_labels([[0, 1], [1, 0]], ["a", "b"])
    with pytest.raises(ValueError, match=r"y must be 1-D, got shape \(\)"):
        aggregate_labels(1, ["a"])  # a scalar is not one label per item
    assert aggregate_labels([1], ["a"]).to_dict() == {"a": 1}
    ids = [f"v{k}" for k in range(7) for _ in range(2)]
    y = [0, 1] * 7  # every video mixed
    with pytest.raises(ValueError, match=r"mixed labels in 'v0', 'v1', 'v2', 'v3', 'v4' and 2 more$"):
        aggregate_labels(y, ids)
    with pytest.raises(ValueError, match=r"mixed labels in 'v0', 'v1', 'v2', 'v3', 'v4'$"):
        aggregate_labels(y[:10], ids[:10])  # exactly 5: no "and more"
    with pytest.raises(ValueError, match=r"mixed labels in 'v0', 'v1', 'v2', 'v3', 'v4' and 1 more$"):
        aggregate_labels(y[:12], ids[:12])  # 6: one more
    many = [f"w{k:02d}" for k in range(12) for _ in range(2)]
    with pytest.raises(ValueError, match=r"mixed labels in 'w00', 'w01', 'w02', 'w03', 'w04' and 7 more$"):
        aggregate_labels([0, 1] * 12, many)
    with pytest.raises(ValueError, match=r"mixed labels in 'v1'$"):
        aggregate_labels([0, 0, 1, np.nan], ["v0", "v0", "v1", "v1"])  # a missing label differs too
    out = aggregate_labels(np.array([1, 1, 0]), ["b", "b", "a"])
    assert out.name == "label" and out.to_dict() == {"b": 1, "a": 0}


# -- input checks, boundaries and parameters away from their defaults ------------------------------
def test_label_and_score_checks_name_the_first_bad_value():
    with pytest.raises(ValueError, match=r"y must be 1-D, got shape \(2, 2\)"):
        roc_auc([[0, 1], [1, 0]], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="y is empty"):
        roc_auc([], [])
    with pytest.raises(ValueError, match="got dtype <U4"):
        roc_auc(["real", "fake"], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"only 0 \(real\) and 1 \(fake\); found (np\.int64\()?2\)? at index 2"):
        roc_auc([0, 1, 2, -1], [0.1, 0.2, 0.3, 0.4])
    assert roc_auc(np.array([False, True, True]), [0.1, 0.9, 0.5]) == 1.0  # booleans are labels
    assert roc_auc(np.array([0.0, 1.0]), [0.1, 0.9]) == 1.0  # float 0/1 too
    with pytest.raises(ValueError, match=r"s must be 1-D, got shape \(2, 3\)"):
        roc_auc([0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"s must be 1-D, got shape \(2, 2, 2\)"):  # not a predict_proba
        roc_auc([0, 1], np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="pass proba"):
        roc_auc([0, 1], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"different lengths: 3 and 2"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"found inf at index 1"):
        roc_auc([0, 1, 1], [0.1, np.inf, np.nan])
    # probabilities: 0 and 1 are accepted, a hair outside is refused, by index
    assert brier_score([0, 1], [0.0, 1.0]) == 0.0
    for bad, where in (([0.5, -1e-9], 1), ([1 + 1e-9, 0.5], 0)):
        for metric in (log_loss, brier_score, expected_calibration_error):
            with pytest.raises(ValueError, match=rf"p must be probabilities in \[0, 1\]; found .* at index {where}"):
                metric([0, 1], bad)
    assert roc_auc([0, 1], [-3.0, 7.5]) == 1.0  # scores (not probabilities) may be any finite number


def test_both_classes_boundary():
    # one fake among reals (and one real among fakes) is enough; none is NaN
    assert roc_auc([0, 0, 1], [0.1, 0.2, 0.3]) == 1.0
    assert roc_auc([1, 1, 0], [0.5, 0.6, 0.1]) == 1.0
    assert math.isnan(roc_auc([0, 0, 0], [0.1, 0.2, 0.3])) and math.isnan(roc_auc([1, 1], [0.1, 0.2]))
    with pytest.raises(ValueError, match="both classes"):
        roc_points([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="both classes"):
        roc_points([1], [0.1])
    fpr, tpr, thr = roc_points([1, 0], [0.4, 0.4])  # all tied: one vertex after the origin
    assert fpr.tolist() == [0.0, 1.0] and tpr.tolist() == [0.0, 1.0] and thr.tolist() == [np.inf, 0.4]


def test_roc_auc_unbalanced_counts_and_ranks():
    # n0 = 3, n1 = 2: the normaliser is n0 * n1 = 6, not n^2/4; fakes win 5 of 6 pairs
    assert roc_auc([0, 0, 0, 1, 1], [0.1, 0.2, 0.6, 0.5, 0.9]) == pytest.approx(5 / 6)
    # n1 = 3: rank offset n1 (n1 + 1) / 2 = 6; fakes .3 .7 .8 vs reals .1 .4: 1 + 2 + 2 = 5 of 6 pairs
    assert roc_auc([1, 0, 1, 0, 1], [0.3, 0.1, 0.7, 0.4, 0.8]) == pytest.approx(5 / 6)


def test_equal_error_rate_threshold_choice_at_a_tie_of_distances():
    # fakes .9 .5 .1, reals .8 .2. d = FPR - FNR per vertex: -1, -2/3 (.9), -1/6 (.8), +1/6 (.5):
    # |d| ties on the crossing segment: the later vertex (.5) is returned; FPR stays .5 while FNR
    # goes 2/3 -> 1/3, so they meet at .5
    eer, thr = equal_error_rate([0, 0, 1, 1, 1], [0.2, 0.8, 0.5, 0.9, 0.1])
    assert eer == pytest.approx(0.5) and thr == 0.5
    # the nearer vertex wins: after the crossing (d: -1, -2/3 at .9, +1/3 at .6) ...
    eer, thr = equal_error_rate([0, 1, 1, 1], [0.6, 0.9, 0.3, 0.2])
    assert eer == pytest.approx(2 / 3) and thr == 0.6
    # ... or before it (d: -1, -3/4, -1/2, -1/4 at .7, +3/4 at .6): u = 1/4, EER = 1/4
    eer, thr = equal_error_rate([1, 1, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.5])
    assert eer == pytest.approx(0.25) and thr == 0.7


def test_expected_calibration_error_bins_parameter():
    y, p = [0, 1, 1, 0], [0.05, 0.3, 0.55, 0.95]
    # 3 bins (0,1/3] (1/3,2/3] (2/3,1]: |1 - .35|/... -> sums: bin0 y=1 p=.35; bin1 y=1 p=.55; bin2 y=0 p=.95
    assert expected_calibration_error(y, p, n_bins=3) == pytest.approx((0.65 + 0.45 + 0.95) / 4)
    # default 15 bins: every item alone -> mean |y - p|
    assert expected_calibration_error(y, p) == pytest.approx(np.mean(np.abs(np.array(y) - p)))
    # an item on an inner edge (.25 with 4 bins) is in the bin on its left: (0, .25] holds .1 and .25
    # (|1 - .35|), (.25, .5] holds .4 (|0 - .4|); on the right it would be |0 - .1| + |1 - .65|
    assert expected_calibration_error([1, 0, 0], [0.25, 0.1, 0.4], n_bins=4) == pytest.approx((0.65 + 0.4) / 3)
    assert expected_calibration_error([0], [1.0], n_bins=1) == 1.0
    for bad in (0, -2, True, 2.5, "15"):
        with pytest.raises(ValueError, match="n_bins must be a positive int"):
            expected_calibration_error(y, p, n_bins=bad)
    assert expected_calibration_error(y, p, n_bins=np.int64(1)) == pytest.approx(abs(0.5 - 0.4625))


def test_log_loss_eps_parameter_and_boundaries():
    assert log_loss([1, 0], [0.0, 1.0], eps=1e-3) == pytest.approx(-math.log(1e-3))  # both clipped
    assert log_loss([0, 1], [0.0, 1.0], eps=0) == 0.0  # eps = 0 allowed: right and certain costs nothing
    assert log_loss([1], [0.0], eps=0) == math.inf  # ... and a certain mistake costs inf
    assert log_loss([1], [0.3], eps=0.4999) == pytest.approx(-math.log(0.4999))
    for bad in (0.5, -1e-9, True, None, "1e-15"):
        with pytest.raises(ValueError, match=r"eps must be a number in \[0, 0.5\)"):
            log_loss([1], [0.3], eps=bad)
    assert brier_score([1, 0, 1], [0.9, 0.3, 0.2]) == pytest.approx((0.01 + 0.09 + 0.64) / 3)


def test_threshold_metrics_every_rate_on_an_asymmetric_case():
    # y: 3 fakes, 5 reals; calls at .5: fakes .9 .6 (TP) .2 (FN); reals .7 (FP), .1 .3 .4 .45 (TN)
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.6, 0.2, 0.7, 0.1, 0.3, 0.4, 0.45]
    m = threshold_metrics(y, s, 0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 4, 1)
    assert m["accuracy"] == 6 / 8 and m["precision"] == 2 / 3 and m["recall"] == m["tpr"] == 2 / 3
    assert m["fpr"] == 1 / 5 and m["tnr"] == 4 / 5 and m["fnr"] == 1 / 3
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2) and m["f1"] == pytest.approx(4 / 6)
    # threshold at a score: that item is called fake; just above: not
    assert threshold_metrics(y, s, 0.45)["fp"] == 2 and threshold_metrics(y, s, 0.4500001)["fp"] == 1
    assert math.isnan(threshold_metrics(y, s, 2.0)["precision"])  # nothing called fake
    with pytest.raises(ValueError, match="threshold is NaN"):
        threshold_metrics(y, s, np.nan)
    with pytest.raises(ValueError, match="threshold is NaN"):
        threshold_metrics(y, s, [0.5] * 7 + [np.nan])
    with pytest.raises(ValueError, match=r"threshold must be a number or have the shape of s \(8,\), got \(1, 8\)"):
        threshold_metrics(y, s, [[0.5] * 8])
    # a 1-D threshold of one value would broadcast silently: refused as well, beside its valid
    # look-alikes (the same value as a number, and one value per item)
    for wrong in ([0.5], [0.5] * 7, [0.5] * 9):
        with pytest.raises(ValueError, match=rf"threshold must be a number or have the shape of s \(8,\), "
                                             rf"got \({len(wrong)},\)"):
            threshold_metrics(y, s, wrong)
    assert threshold_metrics(y, s, [0.5] * 8) == threshold_metrics(y, s, 0.5) == threshold_metrics(y, s, np.float64(0.5))


def test_choose_threshold_rule_refusals_and_look_alikes():
    y, s = [0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9]
    assert choose_threshold(y, s, 1) == 1.0 and isinstance(choose_threshold(y, s, 1), float)
    assert choose_threshold(y, s, np.float32(0.25)) == 0.25
    with pytest.raises(ValueError, match="must not be NaN"):
        choose_threshold(y, s, float("nan"))
    with pytest.raises(ValueError, match="rule must be one of"):
        choose_threshold(y, s, True)  # a bool is not a threshold
    with pytest.raises(ValueError, match="rule 'youden' needs both classes"):
        choose_threshold([1, 1], [0.1, 0.2], "youden")
    # the default rule is the EER
    assert choose_threshold(y, s) == equal_error_rate(y, s)[1] == 0.6
    # accuracy counts true negatives: with many reals it prefers a high threshold, F1 does not
    y = [0] * 6 + [1] * 2
    s = [0.1, 0.2, 0.3, 0.35, 0.5, 0.55, 0.4, 0.9]
    # candidates (TP, FP): .9 (1, 0): acc 7/8, F1 2/3, J 1/2;  .55 (1, 1): 6/8, 1/2, 1/3;
    # .5 (1, 2): 5/8, 2/5, 1/6;  .4 (2, 2): 6/8, 2/3, 2/3;  lower ones are worse on all three
    assert choose_threshold(y, s, "accuracy") == 0.9
    assert choose_threshold(y, s, "f1") == 0.9  # 2/3 at .9 and at .4 (through other divisions): the higher
    assert choose_threshold(y, s, "youden") == 0.4


def test_evaluate_refusals_parameters_and_per_item_thresholds():
    y = [0, 0, 1, 1, 1]
    s = [0.2, 0.6, 0.7, 0.4, 0.9]
    for bad in (2, -1, True, "0"):
        with pytest.raises(ValueError, match="reference_label must be 0 or 1"):
            evaluate(y, s, reference_label=bad)
    with pytest.raises(ValueError, match=r"groups must have the shape of y \(5,\), got \(4,\)"):
        evaluate(y, s, groups=["r", "r", "A", "A"])
    with pytest.raises(ValueError, match="'all' is reserved"):
        evaluate(y, s, groups=["r", "r", "A", "all", "A"])
    assert evaluate(y, s, groups=["all", "all", "A", "A", "B"]).index.tolist() == ["all", "A", "B"]  # reals may say all
    # a threshold away from the default; per-item thresholds follow their items into the group rows
    t = evaluate(y, s, threshold=0.65, groups=["r", "r", "A", "B", "A"])
    assert t.loc["all", "accuracy"] == pytest.approx(4 / 5) and (t["threshold"] == 0.65).all()
    per_item = [0.1, 0.7, 0.8, 0.3, 0.95]  # reals: .2 >= .1 wrong, .6 < .7 right; fakes: .7 wrong, .4 right, .9 wrong
    t = evaluate(y, s, threshold=per_item, groups=["r", "r", "A", "B", "A"])
    assert t.loc["all", "accuracy"] == pytest.approx(2 / 5) and math.isnan(t.loc["all", "threshold"])
    assert t.loc["B", "accuracy"] == pytest.approx(2 / 3)  # reals .2 (wrong) .6 (right), fake .4 (right)
    assert math.isnan(t.loc["B", "threshold"])
    same = evaluate(y, s, threshold=[0.5] * 5)
    assert same.loc["all", "threshold"] == 0.5  # a constant array is reported as its value
    # scores on [0, 1] including both ends are probabilities; a hair outside is not
    assert np.isfinite(evaluate([0, 1], [0.0, 1.0]).loc["all", ["log_loss", "brier", "ece"]]).all()
    assert evaluate([0, 1], [0.0, 1.0 + 1e-9]).loc["all", ["log_loss", "brier", "ece"]].isna().all()
    # unsortable group names keep their first-appearance order
    t = evaluate([0, 1, 1, 1], [0.1, 0.9, 0.8, 0.7], groups=["r", 2, "x", 2])
    assert t.index.tolist() == ["all", 2, "x"]
    t = evaluate([0, 1, 1, 1], [0.1, 0.9, 0.8, 0.7], groups=["r", "b", "a", "b"])
    assert t.index.tolist() == ["all", "a", "b"]  # sortable: sorted
