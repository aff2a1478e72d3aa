"""efficientnet-bilstm: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("efficientnet-bilstm").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='efficientnet-bilstm',
    summary='EfficientNet-Lite0 (timm, ImageNet) on every frame, a bidirectional LSTM over 16 frames, trained end to end (efficientnet-lstm trains the LSTM on frozen embeddings instead)',
    input="video",
    reference='D. Güera and E. J. Delp, Deepfake Video Detection Using Recurrent Neural Networks, AVSS 2018, doi:10.1109/AVSS.2018.8639163; M. Tan and Q. V. Le, ICML 2019, arXiv:1905.11946',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='tf_efficientnet_lite0', weights='imagenet', temporal='bilstm', input_size=224, lr_backbone=0.0001, frozen_epochs=1)),
    param_grid={"head__lr_backbone": [1e-4, 3e-5], "head__frozen_epochs": [0, 1]},
    requires=('torch', 'timm'),
)
