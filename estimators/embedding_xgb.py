"""embedding-xgb: pooled ImageNet embedding of a pretrained EfficientNet-Lite0, XGBoost head."""

from forensics.embeddings import EmbeddingTransformer

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="embedding-xgb",
    summary="Pooled 1280-d ImageNet embedding of EfficientNet-Lite0 (timm), gradient-boosted trees (class-balanced)",
    input="image",
    reference=("Tan & Le, 'EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', ICML 2019, "
               "arXiv:1905.11946; frozen-backbone + classifier baseline as in Rossler et al., "
               "'FaceForensics++', ICCV 2019, arXiv:1901.08971"),
    # the network loads on first transform, not here: building the detector costs nothing
    parts=dict(features=EmbeddingTransformer(model_name="tf_efficientnet_lite0", weights="imagenet"),
               head="xgboost"),
    param_grid={"head__max_depth": [3, 4, 6], "head__n_estimators": [200, 400], "head__learning_rate": [0.03, 0.1]},
    requires=("torch", "timm", "xgboost"),
)
