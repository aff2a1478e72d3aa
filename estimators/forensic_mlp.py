"""forensic-mlp: every handcrafted family, impute/scale/decorrelate, MLP head."""

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="forensic-mlp",
    summary="All handcrafted families (spectral, dct, noise, blur, codec), decorrelated at |r| > 0.95, MLP head",
    input="image",
    reference=("Feature families as in docs/features.md; MLP with batch norm and dropout (Ioffe & Szegedy, "
               "ICML 2015, arXiv:1502.03167; Srivastava et al., JMLR 2014) when torch is installed"),
    parts=dict(features="full", decorrelate=0.95, head="mlp"),
    param_grid={"head__hidden_layer_sizes": [(64,), (128, 64)], "head__alpha": [1e-4, 1e-3],
                "decorrelate__threshold": [0.9, 0.95]},
)
