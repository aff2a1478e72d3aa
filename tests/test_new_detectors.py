"""The catalogue entries built on the opt-in families learn what they are for (small synthetic data)."""

import cv2
import numpy as np
import pytest

from conftest import natural_image
from forensics import make_pipeline
from forensics.features import ForensicFeatures
from forensics.metrics import roc_auc


def _split_auc(name, X, y):
    train = np.arange(len(y)) % 3 != 0
    pipe = make_pipeline(name).fit([x for x, t in zip(X, train) if t], y[train])
    score = pipe.predict_proba([x for x, t in zip(X, train) if not t])[:, 1]
    return roc_auc(y[~train], score)


def test_face_consistency_lr_separates_pasted_faces():
    X, y = [], []
    for s in range(36):
        img = cv2.GaussianBlur(natural_image(s, (96, 96)).astype(np.float32), (0, 0), 1.5)
        img += np.random.default_rng(s).normal(0, 2, img.shape)
        if s % 2:  # a pasted face: the inner ellipse of the crop geometry gets its own noise level
            yy, xx = np.mgrid[:96, :96]
            face = ((xx - 47.5) / 28) ** 2 + ((yy - 47.5) / 37) ** 2 < 1
            img[face] += np.random.default_rng(100 + s).normal(0, 5, (face.sum(), 3))
        X.append(np.clip(img, 0, 255).astype(np.uint8))
        y.append(s % 2)
    assert _split_auc("face-consistency-lr", X, np.array(y)) > 0.95


def test_cooc_lr_separates_upsampled_images():
    X, y = [], []
    for s in range(36):
        img = natural_image(s, (96, 96)).astype(np.float32) + np.random.default_rng(s).normal(0, 3, (96, 96, 3))
        if s % 2:  # generator-like: half resolution, bilinear up-sampling
            img = cv2.resize(cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA), (96, 96),
                             interpolation=cv2.INTER_LINEAR)
        X.append(np.clip(img, 0, 255).astype(np.uint8))
        y.append(s % 2)
    assert _split_auc("cooc-lr", X, np.array(y)) > 0.95


def test_generalist_bank_holds_every_family_once():
    pytest.importorskip("xgboost")
    features = make_pipeline("generalist-xgb").steps[0][1]
    assert isinstance(features, ForensicFeatures)
    names = [n for n, _ in features.extractors]
    assert names == ["spectral", "dct", "noise", "blur", "codec", "cooc", "upsampling", "faceregion"]
    fitted = features.fit()
    assert len(fitted.get_feature_names_out()) == 168 + 234 + 30 + 39


def _spliced(s, corner):
    """A smooth natural image with noise; odd seeds get a 48 px square of another noise level at ``corner``."""
    rng = np.random.default_rng(s)
    img = cv2.GaussianBlur(natural_image(s, (128, 128)).astype(np.float32), (0, 0), 1.5)
    img += rng.normal(0, 2, img.shape)
    if s % 2:
        r, c = corner
        img[r:r + 48, c:c + 48] += rng.normal(0, 5, (48, 48, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_local_lr_finds_a_region_of_another_noise_level_wherever_it_lies():
    y = np.arange(48) % 2
    train = [_spliced(s, (8, 8)) for s in range(48)]  # regions top-left in training
    test = [_spliced(100 + s, (72, 72)) for s in range(48)]  # bottom-right at test: position cannot help
    pipe = make_pipeline("local-lr").fit(train, y)
    assert roc_auc(y, pipe.predict_proba(test)[:, 1]) > 0.95
