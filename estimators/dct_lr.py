"""dct-lr: whole-image log-DCT spectrum + linear classifier (Frank et al. 2020 style)."""

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="dct-lr",
    summary="Log-magnitude whole-image DCT pooled on a 16x16 normalized-frequency grid + logistic regression",
    input="image",
    reference=("Frank et al., 'Leveraging Frequency Analysis for Deep Fake Image Recognition', ICML 2020, "
               "PMLR 119:3247-3258, arXiv:2003.08685"),
    parts=dict(features=["dctspec"], head="logistic"),
    param_grid={"features__dctspec__n_bands": [8, 16, 24], "head__C": [0.001, 0.01, 0.1, 1.0]},
)
