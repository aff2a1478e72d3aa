"""spectrum-lr: azimuthally averaged power spectrum + logistic regression (Durall et al.)."""

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="spectrum-lr",
    summary="Azimuthal average of the FFT log-power spectrum (32 normalized-radius bins) + logistic regression",
    input="image",
    reference=("Durall et al., 'Unmasking DeepFakes with simple Features', arXiv:1911.00686 (2019); "
               "Durall et al., 'Watch your up-convolution', CVPR 2020, doi:10.1109/CVPR42600.2020.00791"),
    parts=dict(features=dict(families=["spectral"], select=["spectral__azimuthal__"]), head="logistic"),
    param_grid={"features__spectral__n_bins": [16, 32, 64], "head__C": [0.01, 0.1, 1.0, 10.0]},
)
