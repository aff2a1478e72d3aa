"""local-lr: spatial inconsistency of noise level, sharpness and detail ratio over blocks + logistic regression."""

from sklearn.linear_model import LogisticRegression

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="local-lr",
    summary=("Local inconsistency of the luma over 32 px blocks (block noise deviation, normalized sharpness and "
             "fine-to-coarse detail ratio; spread, extremes, kurtosis, Moran's I and the best two-group split of "
             "each map; 24 columns) + L2 logistic regression (C=0.1, class-balanced). A negative result, measured: "
             "weak alone (5-fold CV ROC-AUC 0.50-0.81 on the demo, CASIA v1 and LFW face-swap sets) and no gain "
             "when added to generalist-xgb; see the results page"),
    input="image",
    reference=("Mahdian & Saic, 'Using noise inconsistencies for blind image forensics', Image and Vision Computing "
               "2009, doi:10.1016/j.imavis.2009.02.001; Lyu, Pan & Zhang, 'Exposing region splicing forgeries "
               "with blind local noise estimation', IJCV 2014, doi:10.1007/s11263-013-0688-y"),
    parts=dict(features=["local"], head=LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)),
    param_grid={"features__local__block": [16, 32, 64], "features__local__overlap": [0.0, 0.5],
                "head__C": [0.01, 0.1, 1.0]},
)
