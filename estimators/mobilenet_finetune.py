"""mobilenet-finetune: MobileNetV2 (ImageNet) fine-tuned end to end on the images, two-phase."""

from forensics.deep import BackboneClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="mobilenet-finetune",
    summary=("MobileNetV2 fine-tuned on the images (head only for 2 epochs, then all layers at a lower backbone "
             "rate); offline, pass head__weights='/path/mobilenetv2_100.safetensors'"),
    input="image",
    reference=("M. Sandler, A. Howard, M. Zhu, A. Zhmoginov and L.-C. Chen, MobileNetV2: Inverted Residuals and "
               "Linear Bottlenecks, CVPR 2018, arXiv:1801.04381"),
    parts=dict(features=None, impute=None, scale=False,
               head=BackboneClassifier(model_name="mobilenetv2_100", weights="imagenet", frozen_epochs=2, epochs=10)),
    param_grid={"head__lr_backbone": [1e-4, 3e-5], "head__frozen_epochs": [1, 2]},
    requires=("torch", "timm"),
)
