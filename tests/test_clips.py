"""Clip models, the clip dataset, and the shared training loop (checkpoints, resume, history, options)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import forensics
from forensics import make_pipeline
from forensics.deep import (VIDEO_MODELS, Clip, ClipDataset, TemporalHead, VideoClassifier, clip_positions,
                            load_checkpoint, make_motion_clips, plot_history)
from forensics.media import ItemError

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _tiny(**kw):
    """A frame backbone + GRU small enough for CI: timm's test_efficientnet, 4-frame 24 px clips."""
    params = dict(model_name="test_efficientnet", temporal="gru", temporal_hidden=8, n_frames=4, input_size=24,
                  epochs=2, batch_size=8, validation_fraction=None, lr_head=3e-3, lr_backbone=3e-3)
    params.update(kw)
    return VideoClassifier(**params)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    return all(torch.equal(sa[k], sb[k]) for k in sa)


# -- the motion-only task ------------------------------------------------------------------------------

def test_motion_clips_carry_the_label_only_in_frame_order():
    X, y = make_motion_clips(40, n_frames=6, size=16, seed=3)
    assert X.shape == (40, 6, 16, 16, 3) and y.tolist() == [0, 1] * 20
    # any order-free summary is at chance: the mean frame and the frame-wise histograms
    mean_level = X.reshape(40, -1).mean(1)
    assert abs(roc_auc_score(y, mean_level) - 0.5) < 0.2
    # the temporal difference separates the classes (fakes are shuffled: they jump)
    jump = np.abs(np.diff(X.astype(float), axis=1)).mean(axis=(1, 2, 3, 4))
    assert roc_auc_score(y, jump) > 0.95


@pytest.fixture(scope="module")
def motion_task():
    """512 training clips and 128 held-out clips of 8 frames of 16 px.

    The held-out clips come from another seed: each is a video the models never saw (a generated clip
    is a video of its own), so the AUCs below are over held-out videos.
    """
    X, y = make_motion_clips(512, n_frames=8, size=16, seed=0)
    X_test, y_test = make_motion_clips(128, n_frames=8, size=16, seed=1000)
    return X, y, X_test, y_test


def _motion_fit(X, y, **kw):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        params = dict(n_frames=8, input_size=16, epochs=4, batch_size=16, validation_fraction=None, random_state=0)
        params.update(kw)
        return VideoClassifier(**params).fit(X, y)
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def frame_gru(motion_task):
    """A frame backbone (timm's test_efficientnet) + GRU fitted on the motion task, shared by the tests."""
    X, y, _, _ = motion_task
    return _motion_fit(X, y, model_name="test_efficientnet", temporal="gru", temporal_hidden=32, lr_head=3e-3,
                       lr_backbone=3e-3)


def test_a_frame_model_with_a_temporal_head_learns_motion_that_a_frame_level_model_cannot(motion_task, frame_gru):
    """Frame backbone + GRU vs the same backbone averaging its frame features (order-free), same data and budget.

    Measured over the seeds 0..4 of data and initialisation: GRU 0.983-0.999, frame mean 0.48-0.58.
    """
    X, y, X_test, y_test = motion_task
    auc_gru = roc_auc_score(y_test, frame_gru.decision_function(X_test))
    mean = _motion_fit(X, y, model_name="test_efficientnet", temporal="mean", lr_head=3e-3, lr_backbone=3e-3)
    auc_mean = roc_auc_score(y_test, mean.decision_function(X_test))
    assert auc_gru >= 0.95, auc_gru
    assert abs(auc_mean - 0.5) <= 0.15, auc_mean
    # grouped into held-out videos of 4 clips each (one label per video), the video scores separate too
    videos = np.empty(len(y_test), dtype=object)
    for label, prefix in ((0, "real"), (1, "fake")):
        where = np.flatnonzero(y_test == label)
        videos[where] = [f"{prefix}{k // 4}" for k in range(where.size)]
    scores = frame_gru.predict_videos(X_test, videos=videos)
    assert len(scores) == 32
    assert roc_auc_score(scores.index.str.startswith("fake"), scores.to_numpy()) >= 0.95


def test_a_3d_cnn_learns_motion(motion_task):
    """torchvision's mc3_18 (3-D convolutions in its first stage), random init, 96 of the training clips.

    Measured over the seeds 0..2 of data and initialisation: AUC 0.988-0.997 (3 epochs, lr 1e-3).
    """
    X, y, X_test, y_test = motion_task
    clf = _motion_fit(X[:96], y[:96], model_name="mc3_18", epochs=3, lr_head=1e-3, lr_backbone=1e-3)
    auc = roc_auc_score(y_test, clf.decision_function(X_test))
    assert auc >= 0.95, auc


def test_the_transformer_head_starts_with_sinusoidal_frame_positions():
    """Vaswani et al. (2017) by hand: row t is sin(t * r_i), cos(t * r_i), r_i = 10000^(-2i/d), odd d too."""
    from forensics.deep._video import _build, _sinusoids

    for d in (6, 5):
        table = _sinusoids(torch, 4, d).numpy()
        rate = 10000.0 ** (-np.arange(0, d, 2) / d)
        t = np.arange(4)[:, None]
        np.testing.assert_allclose(table[:, 0::2], np.sin(t * rate), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(table[:, 1::2], np.cos(t * rate)[:, :d // 2], rtol=1e-6, atol=1e-6)
    net, _ = _build(torch, dict(_tiny().get_params(), temporal="transformer", temporal_hidden=8), 4, (24, 24))
    assert tuple(net.temporal.pos.shape) == (1, 5, 8)  # the CLS token and 4 frames
    np.testing.assert_array_equal(net.temporal.pos.detach().numpy()[0], _sinusoids(torch, 5, 8).numpy())


# -- VideoClassifier ----------------------------------------------------------------------------------------

def test_every_torchvision_video_network_builds_and_runs():
    from forensics.deep._video import _build

    base = dict(_tiny().get_params(), weights=None, backbone_kwargs=None)
    for name in VIDEO_MODELS:
        net, cfg = _build(torch, dict(base, model_name=name), 8, (32, 32))  # s3d needs >= 8 frames of 32 px
        with torch.no_grad():
            out = net.eval()(torch.zeros(2, 8, 3, 32, 32))
        assert out.shape == (2,), name
        assert cfg["input_size"] == (8, 3, 32, 32) and cfg["mean"][0] == pytest.approx(0.43216)


def test_mvit_v2_s_at_another_size_is_torchvisions_network_with_its_position_tables_resized(tmp_path):
    """torchvision builds MViTv2-S for 16 frames of 224 px only; random init takes any size with the
    same blocks: at 16 x 224 the same modules and parameters as torchvision's, at 8 x 32 only
    the position tables differ. Weights (sized for 16 x 224) are refused at another size, accepted at it."""
    from torchvision.models.video import mvit_v2_s

    from forensics.deep._video import _build, _mvit_v2_s

    torchvision_net, our_net = mvit_v2_s(), _mvit_v2_s(16, (224, 224), {})
    reference = {k: tuple(v.shape) for k, v in torchvision_net.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in our_net.state_dict().items()}
    assert ours == reference
    # what shapes do not show: strides, kernels, stochastic depth, the attention's residual options
    assert repr(our_net) == repr(torchvision_net)
    assert [(b.attn.residual_pool, b.attn.residual_with_cls_embed) for b in our_net.blocks] == \
        [(b.attn.residual_pool, b.attn.residual_with_cls_embed) for b in torchvision_net.blocks]
    small = {k: tuple(v.shape) for k, v in _mvit_v2_s(8, (32, 32), {}).state_dict().items()}
    assert small.keys() == reference.keys()
    differ = {k for k in small if small[k] != reference[k]}
    assert differ and all("rel_pos" in k or "pos_encoding" in k for k in differ)
    base = dict(_tiny().get_params(), model_name="mvit_v2_s", backbone_kwargs=None, weights=None)
    for n_frames, size in ((5, (32, 32)), (8, (24, 24)), (1, (32, 32))):  # odd frames; a side under 32 px
        with pytest.raises(ValueError, match=rf"cannot take {n_frames} frames of \({size[0]}, {size[1]}\): it needs an even"):
            _build(torch, base, n_frames, size)
    for n_frames, size in ((2, (32, 32)), (8, (24, 40))):  # look-alikes: two frames; one side under 32 px
        net, _ = _build(torch, base, n_frames, size)
        assert net.training and net.backbone.training  # the trial forward left it in training mode
    weights = tmp_path / "mvit.pth"
    torch.save(mvit_v2_s().state_dict(), weights)
    with pytest.raises(ValueError, match="weights of mvit_v2_s are for 16 frames of 224"):
        _build(torch, dict(base, weights=str(weights)), 8, (32, 32))
    net, _ = _build(torch, dict(base, weights=str(weights)), 16, (224, 224))
    assert isinstance(net.backbone.head, torch.nn.Identity)


def test_s3d_batchnorm_running_statistics_follow_training():
    """torchvision's S3D has BatchNorm momentum 0.001: its running statistics stay near their init for
    hundreds of steps and the network in eval mode is another function (on the motion task, 6 epochs: the
    training clips at 1.000 AUC in training mode, 0.728 in eval mode). Built here with momentum 0.1."""
    from functools import partial

    from forensics.deep._video import _build

    base = dict(_tiny().get_params(), model_name="s3d", weights=None, backbone_kwargs=None)
    net, _ = _build(torch, base, 8, (32, 32))
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert len(bns) > 50 and {(m.momentum, m.eps) for m in bns} == {(0.1, 0.001)}
    # after 20 training-mode passes the running mean of the first BatchNorm is the batch mean (0.9^20 = 0.12
    # of the init left); with torchvision's 0.001 it would still be 98 % init
    x = torch.randn(2, 8, 3, 32, 32) + 1.0
    seen = {}

    def keep_input_mean(module, inputs, output):
        seen.setdefault("mean", inputs[0].mean((0, 2, 3, 4)).detach())

    hook = bns[0].register_forward_hook(keep_input_mean)
    net.train()
    with torch.no_grad():
        for _ in range(20):
            net(x)
    hook.remove()
    np.testing.assert_allclose(bns[0].running_mean.numpy(), seen["mean"].numpy() * (1 - 0.9 ** 20), rtol=1e-4,
                               atol=1e-6)
    # a norm_layer given in backbone_kwargs is kept
    net, _ = _build(torch, dict(base, backbone_kwargs=dict(norm_layer=partial(torch.nn.BatchNorm3d, momentum=0.5))),
                    8, (32, 32))
    assert {m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm3d)} == {0.5}


def test_swin3d_clipped_windows_get_the_biases_of_their_own_offsets():
    """A window clipped to a small token grid takes the biases of its own token pairs: the sub-block of the
    full window's biases at the clipped tokens' coordinates (torchvision takes those of its first tokens)."""
    from torchvision.models.video.swin_transformer import ShiftedWindowAttention3d

    from forensics.deep._video import _build, _exact_swin_windows

    torch.manual_seed(0)
    attn = ShiftedWindowAttention3d(8, [4, 3, 3], [2, 1, 1], 2)
    wrapper = torch.nn.Sequential(attn)
    torchvision_clipped = attn.get_relative_position_bias([2, 2, 3])
    full = attn.get_relative_position_bias([4, 3, 3])
    _exact_swin_windows(torch, wrapper)
    assert torch.equal(attn.get_relative_position_bias([4, 3, 3]), full)  # the full window: unchanged
    for window in ([2, 2, 3], [4, 1, 1], [1, 3, 2], [3, 3, 3]):
        sub = [t * 9 + h * 3 + w for t in range(window[0]) for h in range(window[1]) for w in range(window[2])]
        expected = full[:, :, sub][:, :, :, sub]
        got = attn.get_relative_position_bias(window)
        assert torch.equal(got, expected), window
    assert not torch.equal(torchvision_clipped, full[:, :, [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14]][
        :, :, :, [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14]])  # the defect this corrects
    # the classifier's swin3d_t gets the corrected attention in every block, and runs at 8 frames of 16 px
    base = dict(_tiny().get_params(), model_name="swin3d_t", weights=None, backbone_kwargs=None)
    net, _ = _build(torch, base, 8, (16, 16))
    kinds = {type(m).__name__ for m in net.modules() if isinstance(m, ShiftedWindowAttention3d)}
    assert kinds == {"ExactWindowAttention3d"}
    with torch.no_grad():
        assert net.eval()(torch.zeros(2, 8, 3, 16, 16)).shape == (2,)


def test_random_init_timesformer_starts_with_sinusoidal_time_embeddings():
    """With zero time embeddings (transformers' and the original's init) a random-init TimeSformer is exactly blind
    to frame order; from the sinusoidal table its output changes when the frames are reordered."""
    pytest.importorskip("transformers")
    from forensics.deep._video import _build, _sinusoids

    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, patch_size=8)
    params = dict(_tiny().get_params(), model_name="timesformer", weights=None, backbone_kwargs=small)
    torch.manual_seed(0)
    net, _ = _build(torch, params, 4, (16, 16))
    emb = net.backbone.embeddings.time_embeddings
    np.testing.assert_array_equal(emb.detach().numpy()[0], _sinusoids(torch, 4, 16).numpy())
    x = torch.randn(2, 4, 3, 16, 16)
    reordered = x[:, [2, 0, 3, 1]]
    net.eval()
    with torch.no_grad():
        assert not torch.allclose(net(x), net(reordered), atol=1e-4)
        emb.zero_()  # transformers' own init: the same output for any frame order
        torch.testing.assert_close(net(x), net(reordered), rtol=1e-5, atol=1e-5)


def test_transformers_video_models_fit_and_pickle(tmp_path):
    pytest.importorskip("transformers")
    X, y = make_motion_clips(8, n_frames=4, size=16, seed=2)
    small = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    for name, extra in (("timesformer", dict(patch_size=8)), ("vivit", dict(tubelet_size=[2, 8, 8]))):
        clf = VideoClassifier(model_name=name, backbone_kwargs={**small, **extra}, n_frames=4, input_size=16,
                              epochs=1, batch_size=4, validation_fraction=None).fit(X, y)
        z = clf.decision_function(X)
        assert z.shape == (8,) and np.all(np.isfinite(z))
        again = pickle.loads(pickle.dumps(clf))
        np.testing.assert_allclose(again.decision_function(X), z, rtol=1e-5, atol=1e-6)
        assert again.backbone_config_["hidden_size"] == 16
    # a local save_pretrained folder is loaded, nothing fetched
    from transformers import TimesformerConfig, TimesformerModel

    folder = tmp_path / "tsf"
    TimesformerModel(TimesformerConfig(image_size=16, num_frames=4, patch_size=8, **small)).save_pretrained(folder)
    clf = VideoClassifier(model_name="timesformer", weights=str(folder), n_frames=4, input_size=16, epochs=1,
                          batch_size=4, validation_fraction=None).fit(X, y)
    assert clf.model_.backbone.config.hidden_size == 16
    # the folder's time embeddings (zeros, as saved) are loaded, not replaced by the sinusoids of a random init
    from forensics.deep._video import _build

    net, _ = _build(torch, dict(clf.get_params(), weights=str(folder)), 4, (16, 16))
    assert net.backbone.embeddings.time_embeddings.abs().sum().item() == 0.0
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        VideoClassifier(model_name="vivit", weights=str(tmp_path / "none"), epochs=1).fit(X, y)


def test_video_classifier_api_pickle_and_video_scores():
    X, y = make_motion_clips(12, n_frames=4, size=24, seed=4)
    videos = np.repeat(["a", "b", "c", "d", "e", "f"], 2)
    yv = np.repeat([0, 1, 0, 1, 0, 1], 2)
    clf = _tiny(validation_fraction=0.3, epochs=1).fit(X, yv, videos=videos)
    proba = clf.predict_proba(X)
    assert proba.shape == (12, 2) and np.allclose(proba.sum(1), 1)
    # the validation split keeps the clips of a video together
    assert clf.n_epochs_ == 1 and np.isfinite(clf.history_[0]["val_auc"])
    scores = clf.predict_videos(X, videos=videos)
    assert list(scores.index) == ["a", "b", "c", "d", "e", "f"]
    np.testing.assert_allclose(scores.to_numpy(), proba[:, 1].reshape(6, 2).mean(1))
    clf.set_params(aggregate="max")
    np.testing.assert_allclose(clf.predict_videos(X, videos=videos).to_numpy(), proba[:, 1].reshape(6, 2).max(1))
    restored = pickle.loads(pickle.dumps(clf))
    assert "_net" not in restored.__dict__
    np.testing.assert_array_equal(restored.predict_proba(X), proba)
    # clips of other lengths are resampled to n_frames; grey clips are repeated to RGB
    assert clf.decision_function([X[0][:3, ..., 0], X[1]]).shape == (2,)
    assert clf.train_clips_per_s_ > 0


def test_video_classifier_refusals():
    X, y = make_motion_clips(8, n_frames=4, size=24, seed=5)
    with pytest.raises(ValueError, match="temporal"):
        _tiny(temporal="rnn").fit(X, y)
    with pytest.raises(ValueError, match="input_size"):
        _tiny(input_size=4).fit(X, y)
    with pytest.raises(ItemError, match="item 2: a clip must be an array"):
        _tiny().fit([X[0], X[1], "x" and 3.5] + list(X[3:]), y)
    with pytest.raises(ValueError, match="one label per clip"):
        _tiny().fit(X, y[:-1])
    with pytest.raises(ValueError, match="both labels"):
        _tiny(validation_fraction=0.3).fit(X, y, videos=["v"] * 8)
    with pytest.raises(ValueError, match="backbone_kwargs change the architecture"):
        _tiny(weights="imagenet", backbone_kwargs={"drop_rate": 0.1}).fit(X, y)
    with pytest.raises(FileNotFoundError, match="FORENSICS_MODEL_DIR"):
        VideoClassifier(model_name="r3d_18", weights="kinetics", n_frames=4, input_size=32).fit(X, y)
    with pytest.raises(ValueError, match="augment has unknown keys"):
        _tiny(augment={"blur": 1}).fit(X, y)
    bad = X.astype(float)
    bad[3, 0, 0, 0, 0] = np.nan
    with pytest.raises(ItemError, match="item 3: the clip has NaN"):
        _tiny().fit(bad, y)


# -- clips from the face-crop cache ---------------------------------------------------------------------------

class _CentreFace:
    """A detector for generated frames: the face is the frame's centre square."""

    def detect(self, rgb):
        from forensics.media import Face

        h, w = rgb.shape[:2]
        return [Face((w / 4, h / 4, w / 2, h / 2), 1.0)]


class _NoFace:
    def detect(self, rgb):
        return []


def test_clip_dataset_from_the_face_crop_cache(tmp_path):
    from video_fixtures import write_video

    from forensics.datasets import extract_faces

    paths = []
    for k in range(3):
        frames = [np.full((48, 48, 3), 10 * t + 30 * k, np.uint8) for t in range(10)]
        paths.append(str(write_video(tmp_path / f"v{k}.mp4", frames)))
    manifest = pd.DataFrame({"path": paths, "label": [0, 1, 1], "method": ["real", "swap", "swap"],
                             "group": [0, 1, 1]})
    out = tmp_path / "cache"
    extract_faces(manifest, out, detector=_CentreFace(), n_frames=8, size=32, progress=False)
    ds = ClipDataset.from_crops(out, n_frames=4, clips_per_video=2)
    assert len(ds) == 6 and ds.labels.tolist() == [0, 0, 1, 1, 1, 1] and ds.groups.tolist() == [0, 0, 1, 1, 1, 1]
    assert ds.videos.tolist() == [paths[0]] * 2 + [paths[1]] * 2 + [paths[2]] * 2
    first, second = ds[0], ds[1]
    assert first.clip_index == 0 and second.clip_index == 1
    assert max(first.frame_indices) < min(second.frame_indices)  # consecutive segments, in time order
    frames = first.load()
    assert frames.shape == (4, 32, 32, 3) and frames.dtype == np.uint8
    # crops are the decoded frames' centres: grey levels rise with time as written
    assert np.all(np.diff(frames.reshape(4, -1).mean(1)) > 0)
    item = ds.as_torch(size=(16, 16))[1]
    assert tuple(item[0].shape) == (4, 3, 16, 16) and item[1] == 0
    # GroupKFold on the groups keeps each video's clips on one side
    from sklearn.model_selection import GroupKFold

    for train, test in GroupKFold(n_splits=2).split(np.zeros(len(ds)), ds.labels, ds.groups):
        assert not set(ds.videos[train]) & set(ds.videos[test])
    sub = ds[[0, 5]]
    assert isinstance(sub, ClipDataset) and len(sub) == 2
    # a video with no face is listed, not silently dropped
    frames = [np.zeros((48, 48, 3), np.uint8)] * 4
    blank = str(write_video(tmp_path / "blank.mp4", frames))
    manifest2 = pd.concat([manifest, pd.DataFrame({"path": [blank], "label": [0], "method": ["real"], "group": [2]})])
    out2 = tmp_path / "cache2"

    class Some:
        def detect(self, rgb):
            return _CentreFace().detect(rgb) if rgb.mean() > 0 else []

    extract_faces(manifest2, out2, detector=Some(), n_frames=4, size=32, progress=False)
    ds2 = ClipDataset.from_crops(out2, n_frames=4)
    assert len(ds2) == 3 and ds2.skipped["path"].tolist() == [blank]
    assert "no face" in ds2.skipped["reason"].iloc[0]
    # a missing crop file names the clip and the file
    os.remove(ds2[0].frames[0])
    with pytest.raises(ItemError, match=r"item 7 \(.*v0\.mp4\): crop .*: file not found"):
        ds2[0].load(7)
    with pytest.raises(FileNotFoundError, match="crops.csv"):
        ClipDataset.from_crops(tmp_path / "nothing")


def test_face_crop_cache_keeps_names_pandas_reads_as_missing(tmp_path):
    # kind: the crop cache's tables (records, crops.csv) were read back with pandas' default NA
    # strings, so a method named 'None' or 'NA' came back missing: gone from crops' method column
    # and from the report's per-method face rates. Look-alike: a plain method name.
    from video_fixtures import write_video

    from forensics.datasets import extract_faces

    paths = [str(write_video(tmp_path / f"v{k}.mp4", [np.full((48, 48, 3), 40 + 30 * k, np.uint8)] * 4))
             for k in range(3)]
    manifest = pd.DataFrame({"path": paths, "label": [0, 1, 1], "method": ["real", "None", "NA"],
                             "group": [0, 1, 2]})
    result = extract_faces(manifest, tmp_path / "cache", detector=_CentreFace(), n_frames=2, size=16,
                           progress=False)
    assert result.crops["method"].tolist() == ["real"] * 2 + ["None"] * 2 + ["NA"] * 2
    assert result.records["method"].tolist() == ["real"] * 2 + ["None"] * 2 + ["NA"] * 2
    assert [i for i in result.report.face_rate.index if i.startswith("method=")] == ["method=NA", "method=None",
                                                                                    "method=real"]
    ds = ClipDataset.from_crops(tmp_path / "cache", n_frames=2)
    assert ds.videos.tolist() == paths and ds.labels.tolist() == [0, 1, 1]


def test_clip_positions_edges():
    assert [p.tolist() for p in clip_positions(16, 16)] == [list(range(16))]
    assert [p.tolist() for p in clip_positions(3, 2, clips_per_video=5)] == [[0, 0], [1, 1], [2, 2]]
    assert [p.tolist() for p in clip_positions(9, 3, clips_per_video=3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="n_frames"):
        clip_positions(5, 0)


def test_video_classifier_takes_clips_and_video_paths(tmp_path):
    from video_fixtures import write_video

    X, y = make_motion_clips(4, n_frames=6, size=24, seed=6)
    paths = [str(write_video(tmp_path / f"m{i}.mp4", list(x), crf=10)) for i, x in enumerate(X)]
    clf = _tiny(epochs=1).fit(paths, y)
    assert clf.predict_videos(paths).index.tolist() == paths
    with pytest.raises(ItemError, match=r"item 1 \(.*gone\.mp4\)"):
        clf.predict([paths[0], str(tmp_path / "gone.mp4")])


# -- the training loop: checkpoints, resume, history ------------------------------------------------------

class _Stop(Exception):
    pass


def _raise_at(k):
    def callback(est, row):
        if row["epoch"] == k:
            raise _Stop(k)
    return callback


def test_interrupted_and_resumed_fit_ends_with_the_same_weights(tmp_path):
    X, y = make_motion_clips(24, n_frames=4, size=24, seed=7)
    kw = dict(frozen_epochs=1, epochs=4, validation_fraction=0.25, augment=True, head="mlp", head_dropout=0.3,
              head_hidden=8, patience=10, warmup_epochs=1.5)  # 3 steps an epoch: phase 2 resumes in its warm-up
    full = _tiny(**kw).fit(X, y)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(_Stop):
        _tiny(checkpoint_dir=str(ckpt), callbacks=[_raise_at(1)], **kw).fit(X, y)  # dies in phase 2's first epoch
    state = load_checkpoint(ckpt / "last.pt")
    assert state["epoch"] == 1 and state["phase_index"] == 1 and len(state["history"]) == 2
    assert {"model", "optimizer", "scheduler", "rng", "best"} <= set(state)
    resumed = _tiny(checkpoint_dir=str(ckpt), resume="auto", **kw).fit(X, y)
    assert resumed.resumed_from_ == str(ckpt / "last.pt")
    assert _same_weights(full.model_, resumed.model_)
    drop = ("time_s", "train_s")
    assert [{k: v for k, v in r.items() if k not in drop} for r in full.history_] == \
           [{k: v for k, v in r.items() if k not in drop} for r in resumed.history_]
    assert (ckpt / "best.pt").is_file() and load_checkpoint(ckpt / "best.pt")["epoch"] == full.best_epoch_
    # a checkpoint of another fit is refused, naming what differs
    with pytest.raises(ValueError, match=r"parameters \['lr_head'\] differ"):
        _tiny(checkpoint_dir=str(ckpt), resume="auto", **{**kw, "lr_head": 1e-2}).fit(X, y)
    with pytest.raises(ValueError, match="data"):
        _tiny(checkpoint_dir=str(ckpt), resume="auto", **kw).fit(X, 1 - y)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        _tiny(resume=str(tmp_path / "none.pt"), **kw).fit(X, y)
    with pytest.raises(ValueError, match="resume='auto' looks for checkpoint_dir"):
        _tiny(resume="auto").fit(X, y)
    # resume="auto" with an empty folder starts afresh
    fresh = _tiny(checkpoint_dir=str(tmp_path / "empty"), resume="auto", **kw).fit(X, y)
    assert fresh.resumed_from_ is None and _same_weights(full.model_, fresh.model_)


_KILLED_FIT = """
import os, sys, numpy as np, torch
torch.set_num_threads(1)
from forensics.deep import TemporalHead
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 6, 3)); y = np.arange(40) % 2; X[y == 1, :, 0] += 0.5
def die(est, row):
    if row["epoch"] == int(sys.argv[2]):
        os._exit(3)  # as a killed process: no cleanup, no exception handling
head = TemporalHead(hidden_size=6, epochs=5, lr=1e-2, scheduler="cosine", checkpoint_dir=sys.argv[1],
                    resume="auto", callbacks=[die] if sys.argv[2] != "-1" else None)
head.fit(X, y)
torch.save(head.model_.state_dict(), os.path.join(sys.argv[1], "final.pt"))
"""


def test_killed_process_resumes_to_the_same_weights(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    killed = subprocess.run([sys.executable, "-c", _KILLED_FIT, str(tmp_path / "a"), "2"], capture_output=True,
                            text=True, env=env)
    assert killed.returncode == 3, killed.stderr[-1500:]
    assert load_checkpoint(tmp_path / "a" / "last.pt")["epoch"] == 2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 3))
    y = np.arange(40) % 2
    X[y == 1, :, 0] += 0.5
    kw = dict(hidden_size=6, epochs=5, lr=1e-2, scheduler="cosine")
    resumed = TemporalHead(checkpoint_dir=str(tmp_path / "a"), resume="auto", **kw).fit(X, y)
    straight = TemporalHead(**kw).fit(X, y)
    assert resumed.resumed_from_ is not None and _same_weights(resumed.model_, straight.model_)


def test_history_has_every_metric_and_plots():
    X, y = make_motion_clips(16, n_frames=4, size=24, seed=8)
    clf = _tiny(validation_fraction=0.25, epochs=2).fit(X, y)
    row = clf.history_[0]
    for split in ("train", "val"):
        for metric in ("loss", "accuracy", "precision", "recall", "f1", "auc"):
            assert np.isfinite(row[f"{split}_{metric}"]), (split, metric)
    assert {"lr", "lr_head", "lr_backbone", "epoch", "phase", "time_s", "best"} <= set(row)
    # the training metrics are those of the logits seen: accuracy is in [0, 1] and the F1 follows P and R
    p, r = row["train_precision"], row["train_recall"]
    assert row["train_f1"] == pytest.approx(0 if p + r == 0 else 2 * p * r / (p + r))
    fig = plot_history(clf)
    assert [a.get_title() for a in fig.axes] == ["loss", "ROC-AUC", "F1", "learning rate"]
    assert len(fig.axes[0].lines) == 2 + 1 * any(h["best"] for h in clf.history_)
    with pytest.raises(ValueError, match="empty"):
        plot_history([])


# -- training options -------------------------------------------------------------------------------------------

def _seq_toy(n=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5, 3))
    y = np.arange(n) % 2
    X[y == 1, :, 0] += 0.8
    return X, y


def test_focal_loss_with_gamma_zero_is_bce_and_differs_otherwise():
    X, y = _seq_toy()
    kw = dict(hidden_size=4, epochs=2, dropout=0.0, validation_fraction=None)
    bce = TemporalHead(**kw).fit(X, y)
    focal0 = TemporalHead(loss="focal", focal_gamma=0.0, **kw).fit(X, y)
    focal2 = TemporalHead(loss="focal", focal_gamma=2.0, **kw).fit(X, y)
    np.testing.assert_allclose(focal0.decision_function(X), bce.decision_function(X), rtol=1e-6, atol=1e-7)
    assert not np.allclose(focal2.decision_function(X), bce.decision_function(X))
    assert focal2.history_[0]["train_loss"] < bce.history_[0]["train_loss"]  # easy items weigh less


def test_gradient_accumulation_equals_the_larger_batch():
    X, y = _seq_toy(32)
    kw = dict(hidden_size=4, epochs=2, dropout=0.0, validation_fraction=None, scheduler="cosine")
    big = TemporalHead(batch_size=8, **kw).fit(X, y)
    acc = TemporalHead(batch_size=4, accumulate=2, **kw).fit(X, y)
    one = TemporalHead(batch_size=4, **kw).fit(X, y)
    np.testing.assert_allclose(acc.decision_function(X), big.decision_function(X), rtol=1e-4, atol=1e-5)
    assert not np.allclose(one.decision_function(X), big.decision_function(X), rtol=1e-3)


def test_balanced_sampler_balances_every_batch():
    from forensics.deep._training import epoch_batches

    y = np.array([0] * 30 + [1] * 6)
    idx = np.arange(36)
    rng = np.random.default_rng(0)
    out = epoch_batches(rng, idx, y, 8, "balanced")
    assert len(out) == len(epoch_batches(np.random.default_rng(0), idx, y, 8, "random")) == 5
    for b in out:
        assert abs(int(y[b].sum()) - (b.size - int(y[b].sum()))) <= 1 and b.size == 8
    ones = np.concatenate([b[y[b] == 1] for b in out])
    assert set(ones.tolist()) == set(range(30, 36))  # the minority repeats, every one is seen
    X, yy = _seq_toy(20)
    keep = np.r_[np.flatnonzero(yy == 0), np.flatnonzero(yy == 1)[:4]]
    head = TemporalHead(hidden_size=4, epochs=1, sampler="balanced", class_weight=None,
                        validation_fraction=None).fit(X[keep], yy[keep])
    assert head.history_[0]["train_accuracy"] >= 0  # ran through the loop


def test_plateau_scheduler_halves_the_rate_when_validation_stalls(monkeypatch):
    import forensics.deep._training as module

    real = module.binary_auc
    monkeypatch.setattr(module, "binary_auc", lambda y, s: 0.6 if len(y) == 6 else real(y, s))  # a flat val AUC
    X, y = _seq_toy(40)
    head = TemporalHead(hidden_size=4, epochs=6, lr=1e-2, scheduler="plateau", patience=10).fit(X, y)
    lrs = [h["lr"] for h in head.history_]
    assert lrs[:2] == [1e-2, 1e-2] and lrs[-1] < 1e-2 and sorted(lrs, reverse=True) == lrs
    cosine = TemporalHead(hidden_size=4, epochs=3, lr=1e-2, scheduler="cosine", validation_fraction=None).fit(X, y)
    assert cosine.history_[0]["lr"] == 1e-2 and cosine.history_[2]["lr"] < 0.6e-2


def test_warmup_scales_the_first_steps_of_each_phase():
    """Linear warm-up over ceil(warmup_epochs * steps) optimiser steps: step k (0-based) at (k + 1) / n of the
    scheduled rate, then all of it; AdamW's step is linear in the rate, so a warmed step equals a step at the
    lower rate."""
    from forensics.deep._training import warmup_factor

    assert [warmup_factor(k, 3) for k in range(5)] == [1 / 3, 2 / 3, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0 and warmup_factor(0, 1) == 1.0
    X, y = _seq_toy(16)
    one = dict(hidden_size=4, epochs=1, batch_size=16, validation_fraction=None)  # one step per epoch
    warmed = TemporalHead(lr=1e-2, warmup_epochs=2, **one).fit(X, y)  # step 0 of 2: half the rate
    half = TemporalHead(lr=5e-3, **one).fit(X, y)
    full = TemporalHead(lr=1e-2, **one).fit(X, y)
    assert _same_weights(warmed.model_, half.model_) and not _same_weights(warmed.model_, full.model_)
    assert _same_weights(TemporalHead(lr=1e-2, warmup_epochs=1, **one).fit(X, y).model_, full.model_)  # n = 1: none
    # 2 steps per epoch, warmup_epochs=1.25: ceil(2.5) = 3 steps, at 1/3, 2/3, then the schedule; the history's lr
    # is the rate applied at the epoch's first step
    kw = dict(hidden_size=4, epochs=3, batch_size=8, validation_fraction=None, lr=1e-2)
    lrs = [h["lr"] for h in TemporalHead(warmup_epochs=1.25, **kw).fit(X, y).history_]
    np.testing.assert_allclose(lrs, [1e-2 / 3, 1e-2, 1e-2])
    cos = [h["lr"] for h in TemporalHead(scheduler="cosine", **kw).fit(X, y).history_]
    lrs = [h["lr"] for h in TemporalHead(scheduler="cosine", warmup_epochs=1.25, **kw).fit(X, y).history_]
    np.testing.assert_allclose(lrs, [cos[0] / 3, cos[1], cos[2]])  # the cosine itself is not disturbed
    with pytest.raises(ValueError, match="warmup_epochs"):
        TemporalHead(warmup_epochs=-0.1).fit(X, y)


def test_amp_and_compile_are_cuda_only_and_compile_falls_back(monkeypatch):
    X, y = _seq_toy(16)
    head = TemporalHead(hidden_size=4, epochs=1, amp=True, compile=True, validation_fraction=None).fit(X, y)
    rt = head.runtime_
    assert rt["device"] == "cpu" and rt["amp"] is False and rt["compile"] is False
    assert any("amp=True ignored" in n for n in rt["notes"]) and any("compile=True ignored" in n for n in rt["notes"])
    # on CUDA, a compile that fails at the first call falls back to eager with a warning
    from forensics.deep._training import CompiledForward, Runtime

    def broken_compile(module):
        def call(*args):
            raise RuntimeError("backend exploded")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    net = torch.nn.Linear(3, 1)
    rt = Runtime("cuda", amp=False, compile=True)
    fwd = CompiledForward(torch, net, rt)
    with pytest.warns(RuntimeWarning, match="torch.compile failed"):
        out = fwd(torch.ones(2, 3))
    assert torch.equal(out, net(torch.ones(2, 3))) and rt.compile is False and fwd.compiled is None


def test_mlp_head_and_augment_clip_options():
    X, y = make_motion_clips(8, n_frames=4, size=24, seed=9)
    clf = _tiny(head="mlp", head_hidden=6, head_dropout=0.2, epochs=1,
                augment=dict(color_jitter=0.2, rotation=5.0, jpeg_probability=0.0)).fit(X, y)
    layers = [type(m).__name__ for m in clf.model_.head]
    assert layers == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"] and clf.model_.head[0].out_features == 6
    with pytest.raises(ValueError, match="rotation"):
        _tiny(augment=dict(rotation=90)).fit(X, y)


def test_augment_clip_applies_one_draw_to_every_frame():
    from forensics.deep import augment_clip, color_jitter, rotate

    clip = np.repeat(np.random.default_rng(0).integers(0, 256, (1, 20, 20, 3), dtype=np.uint8), 3, axis=0)
    out = augment_clip(clip, np.random.default_rng(1), color_jitter=0.3, rotation=10.0, jpeg_probability=1.0)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])  # same frames stay the same
    assert not np.array_equal(out[0], clip[0][:out.shape[1], :out.shape[2]])
    img = np.full((4, 4, 3), 100, np.uint8)
    assert color_jitter(img, contrast=0.5)[0, 0].tolist() == [100, 100, 100]  # a flat image has no contrast
    assert color_jitter(img, brightness=-0.5)[0, 0].tolist() == [50, 50, 50]
    sat = color_jitter(np.array([[[200, 100, 100]]], np.uint8), saturation=-1 + 1e-9)
    assert len(set(sat[0, 0].tolist())) == 1  # no saturation left: grey at the pixel's luma
    assert sat[0, 0, 0] == round(0.299 * 200 + 0.587 * 100 + 0.114 * 100)
    np.testing.assert_array_equal(rotate(img, 0), img)


# -- catalogue ----------------------------------------------------------------------------------------------------

CLIP_ENTRIES = ("r3d-18", "mc3-18", "r2plus1d-18", "s3d", "mvit-v2-s", "swin3d-t", "vit-gru", "vit-transformer",
                "efficientnet-bilstm", "timesformer", "vivit")


@pytest.mark.parametrize("name", CLIP_ENTRIES)
def test_catalogue_lists_the_clip_models(name):
    spec = forensics.estimators.get(name)
    assert spec.input == "video" and "torch" in spec.requires and spec.reference
    pipe = make_pipeline(name)
    assert [n for n, _ in pipe.steps] == ["head"] and isinstance(pipe[-1], VideoClassifier)


def test_catalogue_clip_entry_fits_through_the_pipeline():
    X, y = make_motion_clips(8, n_frames=8, size=32, seed=10)
    pipe = make_pipeline("s3d", head__n_frames=8, head__input_size=32, head__epochs=1,
                         head__validation_fraction=None)
    assert pipe.fit(X, y).predict_proba(X[:2]).shape == (2, 2)


def _one_step_delta(**kw):
    """Each trained parameter after one optimiser step minus its initial value (one batch holds every clip)."""
    from forensics.deep._torch import seeded
    from forensics.deep._video import _build

    X, y = make_motion_clips(8, n_frames=4, size=24, seed=6)
    params = dict(epochs=1, batch_size=8, weight_decay=0.0, scheduler="constant", **kw)
    clf = _tiny(**params).fit(X, y)
    # the initial weights: the network built as fit builds it (same seed), before any step
    rng = np.random.default_rng(clf.random_state)
    with seeded(torch, rng, torch.device("cpu")):
        net, _ = _build(torch, clf.get_params(deep=False), clf.n_frames, clf._size())
    before = dict(net.named_parameters())
    after = dict(clf.model_.named_parameters())
    return {k: after[k].detach().double() - before[k].detach().double() for k in before}


def test_video_classifier_max_grad_norm_clips_the_update_and_defaults_to_off(clip_calls):
    base = _one_step_delta()
    assert max(float(d.abs().max()) for d in base.values()) > 1e-4  # one Adam step moves the weights
    # a bound above every gradient norm: the very same weights as no clipping (the default)
    assert _tiny().max_grad_norm is None
    loose = _one_step_delta(max_grad_norm=1e9)
    assert all(torch.equal(loose[k], base[k]) for k in base)
    # a bound far below the gradient norm: the clipped gradient is below Adam's eps, the step shrinks
    calls = clip_calls
    calls.clear()  # the runs above called it with the loose bound
    tight = _one_step_delta(max_grad_norm=1e-12)
    assert len(calls) == 1 and calls[0][0] == 1e-12
    assert calls[0][1] > 1e-6 and calls[0][2] <= 1e-12 * 1.0001  # the global norm brought down to the bound
    ratio = max(float(tight[k].abs().max()) for k in base) / max(float(base[k].abs().max()) for k in base)
    assert ratio < 0.01
    # no bound: clip_grad_norm_ is not called at all
    calls.clear()
    _one_step_delta()
    assert calls == []


@pytest.mark.parametrize("bad, error", [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError),
                                        ("1", TypeError), (True, TypeError)])
def test_video_classifier_max_grad_norm_refusals(bad, error):
    X, y = make_motion_clips(8, n_frames=4, size=24, seed=5)
    with pytest.raises(error, match="max_grad_norm"):
        _tiny(max_grad_norm=bad).fit(X, y)
