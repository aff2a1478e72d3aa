"""timesformer: a clip-level video detector trained end to end (forensics.deep.VideoClassifier).

``X`` is a sequence of clips: a :class:`forensics.deep.ClipDataset` of face crops (from the
face-crop cache), arrays (T, H, W, 3), or video paths; ``y`` one label per clip (fake = 1)::

    from forensics import make_pipeline
    from forensics.deep import ClipDataset

    clips = ClipDataset.from_crops("faces/", n_frames=16)      # the output folder of extract_faces
    detector = make_pipeline("timesformer").fit(clips, clips.labels)
    detector[-1].predict_videos(clips)                          # one score per video

Pass ``clips.groups`` to a group-aware splitter: the clips of a video never straddle folds.
"""

from forensics.deep import VideoClassifier

from ._catalogue import DetectorSpec

SPEC = DetectorSpec(
    name='timesformer',
    summary='TimeSformer (Hugging Face transformers): divided space-time attention over 8 frames at 224 px; random init or a local save_pretrained folder',
    input="video",
    reference='G. Bertasius, H. Wang and L. Torresani, Is Space-Time Attention All You Need for Video Understanding?, ICML 2021, arXiv:2102.05095',
    parts=dict(features=None, impute=None, scale=False, head=VideoClassifier(model_name='timesformer', input_size=224, n_frames=8)),
    param_grid={"head__lr_backbone": [1e-3, 3e-4], "head__n_frames": [8, 16]},
    requires=('torch', 'transformers'),
)
