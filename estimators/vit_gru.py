"""vit-gru: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("vit-gru").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='vit-gru',
    summary='ViT-S/16 (timm, ImageNet) on every frame, a GRU over the 16 frame embeddings, trained end to end',
    input="video",
    reference='A. Dosovitskiy et al., An Image is Worth 16x16 Words, ICLR 2021, arXiv:2010.11929; K. Cho et al., EMNLP 2014, arXiv:1406.1078 (GRU)',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='vit_small_patch16_224', weights='imagenet', temporal='gru', input_size=224, lr_backbone=0.0001, frozen_epochs=1)),
    param_grid={"head__lr_backbone": [1e-4, 3e-5], "head__frozen_epochs": [0, 1]},
    requires=('torch', 'timm'),
)
