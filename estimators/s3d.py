"""s3d: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("s3d").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='s3d',
    summary='S3D (torchvision): separable 3-D Inception network, final pooling made adaptive; clips of 16 frames at 112 px',
    input="video",
    reference='S. Xie et al., Rethinking Spatiotemporal Feature Learning, ECCV 2018, arXiv:1712.04851',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='s3d')),
    param_grid={"head__lr_backbone": [1e-3, 3e-4], "head__n_frames": [8, 16]},
    requires=('torch', 'torchvision'),
)
