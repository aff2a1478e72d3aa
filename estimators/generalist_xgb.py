"""generalist-xgb: every handcrafted family plus co-occurrences, up-sampling and face-region cues."""

from forensics.features import ALL_EXTRACTORS, FAMILIES, ForensicFeatures

from ._catalogue import DetectorSpec

#: The default bank's families, then the opt-in families that target generalization.
GENERALIST_FAMILIES = (*FAMILIES, "cooc", "upsampling", "faceregion")

SPEC = DetectorSpec(
    name="generalist-xgb",
    summary=("All handcrafted families + residual co-occurrences, up-sampling residuals and face-region "
             "consistency in one bank (one decode per image), decorrelated at |r| > 0.95, gradient-boosted trees "
             "(class-balanced)"),
    input="image",
    reference=("Early fusion of complementary handcrafted cues: rich-model co-occurrences (Fridrich & Kodovsky, "
               "IEEE TIFS 2012, doi:10.1109/TIFS.2012.2190402), up-sampling traces (Tan et al., 'NPR', CVPR 2024, "
               "doi:10.1109/CVPR52733.2024.02715), blending boundaries (Li et al., 'Face X-ray', CVPR 2020, "
               "doi:10.1109/CVPR42600.2020.00505); head: Chen & Guestrin, KDD 2016, doi:10.1145/2939672.2939785"),
    parts=dict(features=ForensicFeatures([(name, ALL_EXTRACTORS[name]()) for name in GENERALIST_FAMILIES]),
               decorrelate=0.95, head="xgboost"),
    param_grid={"head__max_depth": [3, 4, 6], "head__n_estimators": [200, 400], "head__learning_rate": [0.03, 0.1]},
    requires=("xgboost",),
)
