"""vit-transformer: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("vit-transformer").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='vit-transformer',
    summary='ViT-S/16 (timm, ImageNet) on every frame, a Transformer encoder (position embedding, CLS token) over the frames',
    input="video",
    reference='A. Dosovitskiy et al., ICLR 2021, arXiv:2010.11929; A. Vaswani et al., Attention Is All You Need, NeurIPS 2017, arXiv:1706.03762',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='vit_small_patch16_224', weights='imagenet', temporal='transformer', input_size=224, lr_backbone=0.0001, frozen_epochs=1)),
    param_grid={"head__lr_backbone": [1e-4, 3e-5], "head__frozen_epochs": [0, 1]},
    requires=('torch', 'timm'),
)
