"""forensic-xgb: every handcrafted family, impute/scale/decorrelate, XGBoost head."""

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="forensic-xgb",
    summary="All handcrafted families, decorrelated at |r| > 0.95, gradient-boosted trees (class-balanced)",
    input="image",
    reference="Chen & Guestrin, 'XGBoost: A Scalable Tree Boosting System', KDD 2016, doi:10.1145/2939672.2939785",
    parts=dict(features="full", decorrelate=0.95, head="xgboost"),
    param_grid={"head__max_depth": [3, 4, 6], "head__n_estimators": [200, 400], "head__learning_rate": [0.03, 0.1]},
    requires=("xgboost",),
)
