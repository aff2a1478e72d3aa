"""Class activation maps of the deep detectors (forensics.inspection._cam) and the planted-artefact task."""

import numpy as np
import pytest

from forensics.datasets import make_planted_artifact_images
from forensics.inspection._cam import (CAM_METHODS, cam_gallery_figure, cam_mass, cam_target_layer, explain_deep_item,
                                       gallery_indices, grad_cam, overlay_heatmap)

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_grad_cam")

SIZE, PATCH = 96, 32


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: on a shared CPU, two threads contend and run a small CNN about twice slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted(one_thread):
    """cnn-small trained on 32 + 32 images of 96 px whose only evidence is a 32 px checkerboard at a random
    place; 16 + 16 held-out images with their masks."""
    from forensics.deep import BackboneClassifier

    X, y, _ = make_planted_artifact_images(32, size=SIZE, patch=PATCH, amplitude=40, seed=0)
    Xt, yt, mt = make_planted_artifact_images(16, size=SIZE, patch=PATCH, amplitude=40, seed=1)
    clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=SIZE, epochs=12, frozen_epochs=0,
                             batch_size=16, lr_head=5e-3, lr_backbone=5e-3, label_smoothing=0.0, augment=False,
                             validation_fraction=None, random_state=0).fit(list(X), y)
    return clf, Xt, yt, mt


def _masses(results, masks):
    return np.array([cam_mass(r.heatmap, m) for r, m in zip(results, masks)])


# -- the planted task -------------------------------------------------------------------------------------

def test_planted_task_masks_labels_and_where_the_artefact_is():
    X, y, masks = make_planted_artifact_images(5, size=40, patch=12, amplitude=30, noise=0.0, seed=3)
    assert X.shape == (10, 40, 40, 3) and X.dtype == np.uint8
    assert y.tolist() == [0] * 5 + [1] * 5
    assert not masks[:5].any()
    assert all(int(m.sum()) == 144 for m in masks[5:])
    for img, m in zip(X[5:], masks[5:]):
        g = img.astype(float).mean(axis=2)
        # the checkerboard is the only period-2 pattern: the 2x2 alternating filter fires inside the mask
        resp = np.abs(g[:-1, :-1] - g[1:, :-1] - g[:-1, 1:] + g[1:, 1:])
        inside = resp[m[:-1, :-1] & m[1:, 1:]].mean()
        outside = resp[~(m[:-1, :-1] | m[1:, 1:])].mean()
        assert inside > 60 > 5 > outside
    a, _, ma = make_planted_artifact_images(2, size=40, patch=12, seed=3)
    b, _, mb = make_planted_artifact_images(2, size=40, patch=12, seed=3)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(a, make_planted_artifact_images(2, size=40, patch=12, seed=4)[0])


@pytest.mark.parametrize("bad, good, match", [
    (dict(patch=41), dict(patch=40), "patch must be at most size"),
    (dict(patch=1), dict(patch=2), "patch must be an int >= 2"),
    (dict(size=7, patch=2), dict(size=8, patch=2), "size must be an int >= 8"),
    (dict(amplitude=0), dict(amplitude=0.1), "amplitude"),
    (dict(noise=-0.1), dict(noise=0), "noise"),
])
def test_planted_task_refuses_bad_parameters(bad, good, match):
    make_planted_artifact_images(1, **{"size": 40, **good})  # the valid look-alike
    with pytest.raises(ValueError, match=match):
        make_planted_artifact_images(1, **{"size": 40, **bad})


# -- the proof: the maps fall on the planted artefact -----------------------------------------------------

def test_maps_fall_on_the_planted_artefact_of_held_out_fakes(planted):
    clf, Xt, yt, mt = planted
    fakes = np.flatnonzero(yt == 1)
    area = PATCH * PATCH / SIZE**2  # what a uniform map would score: 0.11
    assert cam_target_layer(clf) == "backbone.14"  # the last ReLU of the last conv stage
    by_method = {}
    for method in ("gradcam", "layercam", "hirescam"):
        res = grad_cam(clf, [Xt[i] for i in fakes], method=method, batch_size=16)
        by_method[method] = _masses(res, mt[fakes])
        # the same maps against another fake's square: the map follows the artefact, not a place
        shifted = _masses(res, np.roll(mt[fakes], 1, axis=0))
        assert np.nanmean(shifted) < 0.3, (method, np.nanmean(shifted))
    # measured over 3 seeds in benchmarks/bench_cam.py: 0.67, 0.73, 0.73 (a uniform map: 0.11)
    assert all(np.nanmean(m) >= 0.6 for m in by_method.values()), by_method
    assert np.nanmin(by_method["gradcam"]) > 2 * area
    # one stage earlier the grid is twice as fine and the map tighter
    earlier = grad_cam(clf, [Xt[i] for i in fakes], target_layer="backbone.10", batch_size=16)
    assert np.nanmean(_masses(earlier, mt[fakes])) > np.nanmean(by_method["gradcam"])
    assert earlier[0].target_layer == "backbone.10"


def test_gradcam_equals_a_hand_computed_reference(planted):
    """Grad-CAM by hooks and autograd (Selvaraju et al.): weights = mean gradient, map = ReLU(sum w A)."""
    import cv2

    clf, Xt, yt, _ = planted
    net = clf.model_
    x = torch.from_numpy(((Xt[yt == 1][:3].astype(np.float32) / 255 - 0.5) / 0.5).transpose(0, 3, 1, 2).copy())
    store = {}
    handle = net.backbone[14].register_forward_hook(lambda m, i, o: store.setdefault("a", o))
    try:
        logit = net(x).sum()
        grads = torch.autograd.grad(logit, store["a"])[0]
    finally:
        handle.remove()
    a, g = store["a"].detach().numpy(), grads.numpy()
    expected = []
    for k in range(3):
        cam = np.maximum((g[k].mean(axis=(1, 2))[:, None, None] * a[k]).sum(0), 0)
        cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-7)
        cam = cv2.resize(cam.astype(np.float32), (SIZE, SIZE))
        cam = (cam - cam.min()) / (cam.max() + 1e-7 - cam.min())
        expected.append(cam)
    got = grad_cam(clf, list(Xt[yt == 1][:3]))
    assert np.allclose(np.stack([r.heatmap for r in got]), np.clip(expected, 0, 1), atol=1e-4)
    assert all(p.grad is None for p in net.parameters())  # the gradients were cleared


# -- what a result holds ------------------------------------------------------------------------------------

def test_result_is_at_the_items_own_resolution_with_score_and_overlay(planted):
    clf, Xt, yt, _ = planted
    big = np.ascontiguousarray(np.repeat(np.repeat(Xt[2], 2, axis=0), 3, axis=1)[:100, :150])  # 100 x 150
    res = explain_deep_item(clf, big, target="predicted")
    assert res.heatmap.shape == (100, 150) and res.heatmap.dtype == np.float32
    assert 0.0 <= res.heatmap.min() and res.heatmap.max() <= 1.0 and res.heatmap.max() > 0.99
    assert res.overlay.shape == (100, 150, 3) and res.overlay.dtype == np.uint8
    assert np.array_equal(res.image, big)
    assert res.score == pytest.approx(clf.predict_proba([big])[0, 1], abs=1e-6)
    assert res.method == "gradcam" and res.target == ("fake" if res.score > 0.5 else "real")
    assert res.frame_weights is None


def test_targets_and_a_pipeline_around_the_network(planted):
    from sklearn.pipeline import Pipeline

    clf, Xt, yt, mt = planted
    fakes = list(np.flatnonzero(yt == 1)[:6])
    fake_maps = grad_cam(clf, [Xt[i] for i in fakes], target="fake")
    real_maps = grad_cam(clf, [Xt[i] for i in fakes], target="real")
    assert np.nanmean(_masses(fake_maps, mt[fakes])) > np.nanmean(_masses(real_maps, mt[fakes])) + 0.2
    predicted = grad_cam(clf, [Xt[i] for i in fakes], target="predicted")
    calls = clf.predict(Xt[fakes])
    assert [r.target for r in predicted] == ["fake" if c == 1 else "real" for c in calls]
    piped = grad_cam(Pipeline([("head", clf)]), [Xt[fakes[0]]])[0]
    assert np.allclose(piped.heatmap, fake_maps[0].heatmap)


def test_target_layer_and_reshape_overrides(planted):
    clf, Xt, _, _ = planted
    by_module = grad_cam(clf, [Xt[0]], target_layer=clf.model_.backbone[10])[0]
    by_name = grad_cam(clf, [Xt[0]], target_layer="backbone.10")[0]
    assert by_module.target_layer == "backbone.10" and np.allclose(by_module.heatmap, by_name.heatmap)
    seen = []

    def flip(x):  # a reshape_transform is applied to the layer's activations and gradients
        seen.append(tuple(x.shape))
        return torch.flip(x, dims=[3])

    flipped = grad_cam(clf, [Xt[0]], reshape_transform=flip)[0]
    plain = grad_cam(clf, [Xt[0]])[0]
    assert seen and seen[0] == (1, 256, SIZE // 8, SIZE // 8)
    assert np.allclose(flipped.heatmap, plain.heatmap[:, ::-1], atol=0.2)
    with pytest.raises(ValueError, match="not a module of model_"):
        grad_cam(clf, [Xt[0]], target_layer="backbone.99")


def test_batches_give_the_same_maps(planted):
    clf, Xt, _, _ = planted
    a = grad_cam(clf, list(Xt[:5]), batch_size=2)  # batches 2, 2, 1
    b = grad_cam(clf, list(Xt[:5]), batch_size=5)
    assert [r.index for r in a] == list(range(5))
    assert all(np.allclose(p.heatmap, q.heatmap, atol=1e-5) for p, q in zip(a, b))


@pytest.mark.parametrize("kwargs, error", [
    (dict(method="gradcam+"), "method must be one of"), (dict(target="both"), "target must be one of"),
    (dict(batch_size=0), "batch_size"), (dict(alpha=1.5), "alpha"), (dict(colormap="nope"), "colormap"),
])
def test_refuses_bad_options(planted, kwargs, error):
    clf, Xt, _, _ = planted
    with pytest.raises(ValueError, match=error):
        grad_cam(clf, [Xt[0]], **kwargs)


def test_refuses_a_handcrafted_detector_and_names_a_bad_item(planted):
    from sklearn.linear_model import LogisticRegression

    from forensics.media import ItemError

    with pytest.raises(TypeError, match="explain_item"):
        grad_cam(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), [np.zeros((8, 8, 3), np.uint8)])
    clf, Xt, _, _ = planted
    with pytest.raises(ItemError, match="item 1"):
        grad_cam(clf, [Xt[0], b"not an image"])


def test_every_method_gives_a_map_in_unit_range(planted):
    clf, Xt, yt, _ = planted
    x = Xt[np.flatnonzero(yt == 1)[0]]
    for method in CAM_METHODS:
        res = grad_cam(clf, [x], method=method, batch_size=64)[0]
        assert res.heatmap.shape == (SIZE, SIZE) and res.method == method
        assert 0 <= res.heatmap.min() <= res.heatmap.max() <= 1


# -- clips ----------------------------------------------------------------------------------------------------

def test_clip_maps_per_frame_for_a_frame_backbone(one_thread):
    pytest.importorskip("timm")
    from forensics.deep import VideoClassifier, make_motion_clips

    X, y = make_motion_clips(8, n_frames=4, size=32)
    clf = VideoClassifier(model_name="test_efficientnet", temporal="gru", temporal_hidden=8, n_frames=4,
                          input_size=32, epochs=1, batch_size=8, validation_fraction=None).fit(X, y)
    clip = np.ascontiguousarray(np.repeat(X[0], 2, axis=0))  # 8 frames: resampled to the network's 4
    res = grad_cam(clf, [clip], method="gradcam")[0]
    assert res.heatmap.shape == (4, 32, 32) and res.overlay.shape == (4, 32, 32, 3)
    assert res.frame_weights.shape == (4,) and np.isclose(np.nansum(res.frame_weights), 1.0)
    assert res.score == pytest.approx(clf.predict_proba([clip])[0, 1], abs=1e-5)
    assert res.target_layer.startswith("backbone.")
    eig = grad_cam(clf, [clip], method="eigencam")[0]
    assert eig.heatmap.shape == (4, 32, 32)
    with pytest.raises(ValueError, match="images only"):
        grad_cam(clf, [clip], method="scorecam")


def test_clip_maps_for_a_3d_cnn_use_its_last_stage(one_thread):
    pytest.importorskip("torchvision")
    from forensics.deep import VideoClassifier, make_motion_clips

    X, y = make_motion_clips(4, n_frames=4, size=32)
    clf = VideoClassifier(model_name="r3d_18", n_frames=4, input_size=32, epochs=1, batch_size=8,
                          validation_fraction=None).fit(X, y)
    assert cam_target_layer(clf) == "backbone.layer4"
    res = grad_cam(clf, [X[0]])[0]
    assert res.heatmap.shape == (4, 32, 32) and 0 <= res.heatmap.min() <= res.heatmap.max() <= 1


# -- overlays, masses, galleries (no torch needed) ------------------------------------------------------------

def test_overlay_blends_with_the_colour_map():
    img = np.full((2, 3, 3), 200, np.uint8)
    heat = np.array([[0.0, 0.5, 1.0], [1.0, 0.0, np.nan]])
    assert np.array_equal(overlay_heatmap(img, heat, alpha=0.0), img)
    pure = overlay_heatmap(img, heat, alpha=1.0)
    assert pure[0, 0].tolist() == [0, 0, 128] and pure[0, 2].tolist() == [128, 0, 0]  # jet ends
    assert pure[1, 2].tolist() == pure[0, 0].tolist()  # NaN counts as 0
    half = overlay_heatmap(img, heat, alpha=0.5)
    assert half[0, 2].tolist() == [164, 100, 100]  # 0.5 * (128, 0, 0) + 0.5 * 200
    frames = overlay_heatmap(np.stack([img, img]), np.stack([heat, heat]), colormap="turbo")
    assert frames.shape == (2, 2, 3, 3)
    with pytest.raises(ValueError, match="does not match"):
        overlay_heatmap(img, heat[:, :2])
    with pytest.raises(ValueError, match="uint8 RGB"):
        overlay_heatmap(img.astype(float), heat)


def test_cam_mass_by_hand_and_its_refusals():
    h = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 4.0]])
    mask = np.array([[True, True, False], [False, False, True]])
    assert cam_mass(h, mask) == pytest.approx(5 / 10)
    assert cam_mass(np.ones((4, 4)), np.eye(4, dtype=bool)) == pytest.approx(0.25)
    assert np.isnan(cam_mass(np.zeros((2, 2)), np.ones((2, 2), bool)))
    with pytest.raises(ValueError, match=">= 0"):
        cam_mass(-h, mask)
    with pytest.raises(ValueError, match="differ"):
        cam_mass(h, mask[:, :2])


def test_gallery_indices_orders_groups_and_drops_nan():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    s = np.array([0.9, 0.95, 0.3, 0.1, 0.8, 0.5, np.nan, 0.49])
    g = gallery_indices(y, s, n=2, threshold=0.5)
    assert g["confident_fakes"].tolist() == [1, 0]
    assert g["confident_reals"].tolist() == [3, 7]
    assert g["false_positives"].tolist() == [4, 5]  # 0.5 is at the threshold: called fake
    assert g["false_negatives"].tolist() == [2]
    assert gallery_indices(y, s, n=1, threshold=0.51)["false_positives"].tolist() == [4]
    with pytest.raises(ValueError, match="n must be"):
        gallery_indices(y, s, n=0)


def test_gallery_figure_has_one_row_per_non_empty_group(planted):
    import matplotlib.pyplot as plt

    clf, Xt, yt, _ = planted
    idx = np.r_[0:3, 16:19]
    scores = np.array([0.1, 0.2, 0.7, 0.9, 0.8, 0.3])  # 2 confident reals, 1 FP, 2 confident fakes, 1 FN
    fig = cam_gallery_figure(clf, [Xt[i] for i in idx], yt[idx], scores=scores, n=3)
    try:
        shown = [ax for ax in fig.axes if ax.images]
        assert len(shown) == 6
        assert {k: v.tolist() for k, v in fig.gallery.items()} == {
            "confident_fakes": [3, 4], "confident_reals": [0, 1], "false_positives": [2], "false_negatives": [5]}
        assert shown[0].images[0].get_array().shape == (SIZE, SIZE, 3)
    finally:
        plt.close(fig)


def test_gallery_indices_with_a_threshold_per_item():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.4, 0.4, 0.6, 0.6])
    g = gallery_indices(y, s, n=2, threshold=np.array([0.3, 0.5, 0.7, 0.5]))  # each item its fold's threshold
    assert g["false_positives"].tolist() == [0] and g["confident_reals"].tolist() == [1]
    assert g["false_negatives"].tolist() == [2] and g["confident_fakes"].tolist() == [3]
    assert gallery_indices(y, s, threshold=0.5)["false_positives"].size == 0  # the scalar look-alike
    with pytest.raises(ValueError, match="threshold must be a number or an array of shape"):
        gallery_indices(y, s, threshold=np.array([0.5, 0.5]))


def test_gallery_with_one_model_per_fold_maps_each_item_with_its_own_model(planted):
    """Two 'fold models' (the trained one, and a copy whose last layer is flipped): each item's map and score come
    from the model its fold names, for the class the gallery says that model decided."""
    import copy

    import matplotlib.pyplot as plt

    clf, Xt, yt, _ = planted
    flipped = copy.deepcopy(clf)
    last = [m for m in flipped.model_.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.neg_()
        last.bias.neg_()
    models = [clf, flipped]
    idx = np.r_[0:4, 16:20]
    X, y = [Xt[i] for i in idx], yt[idx]
    fold = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    scores = np.array([models[f].predict_proba([x])[0, 1] for f, x in zip(fold, X)])
    thr = np.where(fold == 0, 0.5, 0.4)
    fig = cam_gallery_figure(models, X, y, scores=scores, threshold=thr, fold=fold, n=4)
    try:
        said = {"confident_fakes": "fake", "false_positives": "fake", "confident_reals": "real",
                "false_negatives": "real"}
        seen = 0
        for group, members in fig.gallery.items():
            for i in members:
                res = fig.cams[int(i)]
                assert res.index == i and res.target == said[group]
                assert res.score == pytest.approx(scores[i], abs=1e-4)  # the fold's model, not the other one
                seen += 1
        assert seen == len(y) and len({fig.cams[i].score > 0.5 for i in range(8)}) == 2
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="pass fold="):
        cam_gallery_figure(models, X, y, scores=scores)
    with pytest.raises(ValueError, match="index of one of the 2 models"):
        cam_gallery_figure(models, X, y, scores=scores, fold=np.full(8, 2))
    with pytest.raises(ValueError, match="goes with a list of models"):
        cam_gallery_figure(clf, X, y, scores=scores, fold=fold)
