"""cooc-lr: residual co-occurrences (the large SPAM / spatial rich model subset) + L2 logistic regression."""

from sklearn.linear_model import LogisticRegression

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="cooc-lr",
    summary=("SRM-like co-occurrences of 4 quantized residuals of the luma (1st/2nd/3rd order, SQUARE 3x3; "
             "order 4, 1183 symmetrized bins: the cooc_large preset) + L2 logistic regression (C=0.1, "
             "class-balanced)"),
    input="image",
    reference=("Pevny, Bas & Fridrich, 'Steganalysis by subtractive pixel adjacency matrix', IEEE TIFS 2010, "
               "doi:10.1109/TIFS.2010.2045842; Fridrich & Kodovsky, 'Rich models for steganalysis of digital "
               "images', IEEE TIFS 2012, doi:10.1109/TIFS.2012.2190402; for synthetic images: Marra et al., "
               "IEEE MIPR 2018, doi:10.1109/MIPR.2018.00084"),
    parts=dict(features=["cooc_large"], head=LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)),
    param_grid={"features__cooc_large__q": [1.0, 2.0], "features__cooc_large__truncation": [1, 2],
                "head__C": [0.01, 0.1, 1.0]},
)
