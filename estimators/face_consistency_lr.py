"""face-consistency-lr: inner face vs surroundings and blending-boundary energy + logistic regression."""

from sklearn.linear_model import LogisticRegression

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="face-consistency-lr",
    summary=("Face-region consistency on face crops (noise, sharpness, spectral slope and colour of the face "
             "ellipse vs its surroundings, blending-boundary energy and radial profiles; 39 columns) + "
             "L2 logistic regression (C=0.1, class-balanced)"),
    input="image",
    reference=("Li & Lyu, 'Exposing DeepFake videos by detecting face warping artifacts', CVPR Workshops 2019, "
               "arXiv:1811.00656; Li et al., 'Face X-ray for more general face forgery detection', CVPR 2020, "
               "doi:10.1109/CVPR42600.2020.00505"),
    parts=dict(features=["faceregion"], head=LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)),
    param_grid={"features__faceregion__margin": [1.3, 1.6, 2.0], "features__faceregion__band": [0.1, 0.15, 0.25],
                "head__C": [0.01, 0.1, 1.0]},
)
