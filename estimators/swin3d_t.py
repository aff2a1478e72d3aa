"""swin3d-t: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("swin3d-t").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='swin3d-t',
    summary='Video Swin-T (torchvision): shifted-window transformer over 16 frames at 224 px; random init, lr 3e-4 after one epoch of warm-up',
    input="video",
    reference='Z. Liu et al., Video Swin Transformer, CVPR 2022, arXiv:2106.13230',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='swin3d_t', input_size=224, lr_head=3e-4, lr_backbone=3e-4, warmup_epochs=1.0)),
    param_grid={"head__lr_backbone": [3e-4, 1e-4], "head__n_frames": [8, 16]},
    requires=('torch', 'torchvision'),
)
