"""efficientnet-lstm: per-frame CNN embeddings of a video, then a bidirectional LSTM over 16 frames.

Frame embeddings change the number of samples (one row per frame), so this detector is used in
two steps rather than as one Pipeline over video paths::

    from forensics import make_pipeline
    from forensics.deep import sequences_from_frames
    from forensics.embeddings import EmbeddingTransformer
    from forensics.features import VideoFeatures

    embedder = EmbeddingTransformer(model_name="tf_efficientnet_lite0", weights="imagenet")
    frames = VideoFeatures(embedder, n_frames=16).fit()                   # EfficientNet-Lite0 pooled
    F, meta = frames.transform_frames(paths)                              # features, one row per frame
    X = sequences_from_frames(F, meta, n_frames=16, videos=range(len(paths)))
    detector = make_pipeline("efficientnet-lstm").fit(X, y)      # y: one label per video (fake = 1)

``videos=range(len(paths))`` keeps the sequences aligned with ``y`` (a video without frames
raises instead of shifting the labels); group cross-validation folds by video or identity.
"""

from forensics.deep import TemporalHead

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name="efficientnet-lstm",
    summary=("Bidirectional LSTM over 16 per-frame EfficientNet-Lite0 embeddings per video; two steps: "
             "VideoFeatures(embedder).transform_frames -> forensics.deep.sequences_from_frames -> this pipeline"),
    input="video",
    reference=("D. Güera and E. J. Delp, Deepfake Video Detection Using Recurrent Neural Networks, AVSS 2018, "
               "doi:10.1109/AVSS.2018.8639163; embeddings: Tan and Le, EfficientNet, ICML 2019, arXiv:1905.11946"),
    parts=dict(features=None, impute=None, scale=False,
               head=TemporalHead(cell="lstm", hidden_size=128, bidirectional=True, epochs=30)),
    param_grid={"head__hidden_size": [64, 128], "head__dropout": [0.2, 0.5]},
    requires=("torch",),
)
