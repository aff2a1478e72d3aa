"""cnn-scratch: a small four-block CNN trained from scratch on the images (MesoNet-sized)."""

from forensics.deep import BackboneClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="cnn-scratch",
    summary=("Small CNN from scratch: 4 conv-BN-ReLU-maxpool blocks (32-64-128-256), global pooling, dropout, "
             "linear; 128x128 input, no pretrained weights"),
    input="image",
    reference=("D. Afchar, V. Nozick, J. Yamagishi and I. Echizen, MesoNet: a Compact Facial Video Forgery "
               "Detection Network, WIFS 2018, arXiv:1809.00888"),
    parts=dict(features=None, impute=None, scale=False,
               head=BackboneClassifier(model_name="cnn-small", weights=None, frozen_epochs=0, epochs=30,
                                       lr_head=1e-3, lr_backbone=1e-3, patience=5)),
    param_grid={"head__lr_backbone": [1e-3, 3e-4], "head__input_size": [128, 256]},
    requires=("torch",),
)
