"""fusion-xgb: every handcrafted family plus a pretrained EfficientNet-Lite0 embedding, one decode per image."""

from forensics.embeddings import EmbeddingTransformer
from forensics.features import FAMILIES, ForensicFeatures

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="fusion-xgb",
    summary=("Handcrafted families + pooled EfficientNet-Lite0 embedding in one bank, decorrelated at |r| > 0.95, "
             "gradient-boosted trees (class-balanced)"),
    input="image",
    reference=("Early fusion of handcrafted forensic features with a pretrained CNN embedding; CNN baselines: "
               "Rossler et al., 'FaceForensics++: Learning to Detect Manipulated Facial Images', ICCV 2019, "
               "arXiv:1901.08971; backbone: Tan & Le, 'EfficientNet', ICML 2019, arXiv:1905.11946"),
    parts=dict(
        features=ForensicFeatures(
            [(name, cls()) for name, cls in FAMILIES.items()]
            + [("emb", EmbeddingTransformer(model_name="tf_efficientnet_lite0", weights="imagenet"))]),
        decorrelate=0.95,
        head="xgboost",
    ),
    param_grid={"head__max_depth": [3, 4, 6], "head__n_estimators": [200, 400], "head__learning_rate": [0.03, 0.1]},
    requires=("torch", "timm", "xgboost"),
)
