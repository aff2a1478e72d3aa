"""efficientnet-finetune: EfficientNet-Lite0 (ImageNet) fine-tuned end to end on the images, two-phase."""

from forensics.deep import BackboneClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="efficientnet-finetune",
    summary=("EfficientNet-Lite0 fine-tuned on the images (head only for 2 epochs, then all layers at a lower "
             "backbone rate); offline, pass head__weights='/path/tf_efficientnet_lite0.safetensors'"),
    input="image",
    reference=("M. Tan and Q. V. Le, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, "
               "ICML 2019, arXiv:1905.11946"),
    parts=dict(features=None, impute=None, scale=False,
               head=BackboneClassifier(model_name="tf_efficientnet_lite0", weights="imagenet", frozen_epochs=2,
                                       epochs=10)),
    param_grid={"head__lr_backbone": [1e-4, 3e-5], "head__frozen_epochs": [1, 2]},
    requires=("torch", "timm"),
)
