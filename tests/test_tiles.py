import pickle

import numpy as np
import pytest
from sklearn.base import clone

from conftest import encode, natural_image
from param_contract import check_bounds, check_defaults
from forensics.features import (
    BlurFeatures, ForensicFeatures, NoiseFeatures, TiledFeatures, make_feature_bank, tile_boxes,
)
from forensics.media import ItemError, load_item


def test_tile_boxes_hand_cases():
    assert tile_boxes((512, 512)) == [(0, 0, 256, 256), (0, 256, 256, 256), (256, 0, 256, 256), (256, 256, 256, 256)]
    # 700 = 2 * 256 + 188: the grid is centred, its origin rounded down to the 8-pixel lattice (94 -> 88)
    assert tile_boxes((256, 700)) == [(0, 88, 256, 256), (0, 344, 256, 256)]
    assert tile_boxes((255, 255)) == [(0, 0, 255, 255)]  # just under one tile: the whole image
    assert tile_boxes((257, 100)) == [(0, 0, 256, 100)]  # just over: one tile, the odd row left out
    assert len(tile_boxes((1024, 1024))) == 16
    # 5 x 5 = 25 tiles, 16 kept evenly in raster order: the first and the last are always kept
    boxes = tile_boxes((1280, 1280))
    assert len(boxes) == 16 and boxes[0] == (0, 0, 256, 256) and boxes[-1] == (1024, 1024, 256, 256)
    assert len(tile_boxes((1280, 1280), max_tiles=25)) == 25 and len(tile_boxes((1280, 1280), max_tiles=1)) == 1
    for y0, x0, _, _ in tile_boxes((999, 1501), tile_size=96):
        assert y0 % 8 == 0 and x0 % 8 == 0
    assert tile_boxes((999, 1501), tile_size=100)[0][:2] == (48, 0)  # (999 - 900) // 2 = 49 -> 48; 1501 - 1500 -> 0


def _large(seed=0):
    img = natural_image(seed, (192, 256))
    rng = np.random.default_rng(seed)
    img[64:128, 192:256] = np.clip(img[64:128, 192:256] + rng.normal(0, 25, (64, 64, 3)), 0, 255)  # one noisy tile
    return img


def test_rows_are_the_aggregates_of_the_tile_rows():
    img = _large()
    inner = NoiseFeatures(residuals="median").fit()
    tiled = TiledFeatures(inner, tile_size=64, aggregate=("mean", "max", "std", "min", "median")).fit([img])
    row = tiled.transform([img])[0]
    tiles = np.vstack([inner.transform([np.ascontiguousarray(img[y:y + h, x:x + w])])[0]
                       for y, x, h, w in tile_boxes(img.shape, 64, 16)])
    assert row[-1] == 12 == len(tiles)
    got = row[:-1].reshape(-1, 5)
    np.testing.assert_allclose(got[:, 0], tiles.mean(0), rtol=1e-12)
    np.testing.assert_array_equal(got[:, 1], tiles.max(0))
    np.testing.assert_allclose(got[:, 2], tiles.std(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got[:, 3], tiles.min(0))
    np.testing.assert_allclose(got[:, 4], np.median(tiles, 0), rtol=1e-12)
    names = list(tiled.get_feature_names_out())
    assert names[:2] == ["noise__median_var__r__tile_mean", "noise__median_var__r__tile_max"]
    assert names[-1] == "tiles__n_tiles__used" and len(names) == len(row)


def test_a_local_change_shows_in_max_and_spread_not_only_in_the_mean():
    img = _large()
    clean = natural_image(0, (192, 256))
    tiled = TiledFeatures(BlurFeatures(), tile_size=64).fit()
    a = dict(zip(tiled.get_feature_names_out(), tiled.transform([clean])[0]))
    b = dict(zip(tiled.get_feature_names_out(), tiled.transform([img])[0]))
    key = "blur__laplacian_var__log"
    assert b[f"{key}__tile_max"] - a[f"{key}__tile_max"] > 3 * (b[f"{key}__tile_mean"] - a[f"{key}__tile_mean"])
    assert b[f"{key}__tile_std"] > a[f"{key}__tile_std"] + 0.5


def test_nan_tiles_are_skipped_and_all_nan_stays_nan():
    # a 128x64 image in 64-pixel tiles: a flat tile (no edge: edge_width NaN) and a tile with a step edge
    img = np.zeros((128, 64), np.uint8)
    img[64:, 32:] = 255
    tiled = TiledFeatures(BlurFeatures(), tile_size=64).fit()
    row = dict(zip(tiled.get_feature_names_out(), tiled.transform([img])[0]))
    single = BlurFeatures().fit().transform([np.ascontiguousarray(img[64:])])[0]
    assert row["blur__edge_width__mean__tile_mean"] == single[4]  # the flat tile's NaN is left out
    assert row["blur__edge_width__mean__tile_std"] == 0.0
    flat = dict(zip(tiled.get_feature_names_out(), tiled.transform([np.zeros((128, 64), np.uint8)])[0]))
    assert np.isnan(flat["blur__edge_width__mean__tile_mean"]) and np.isnan(flat["blur__edge_width__mean__tile_max"])


def test_default_extractor_is_the_pixels_bank_and_batched_path_matches_extract_one():
    X = [encode(natural_image(s, (80, 100)), "JPEG", quality=85) for s in range(3)]
    tiled = TiledFeatures(tile_size=48).fit(X)
    assert isinstance(tiled.extractor_, ForensicFeatures) and tiled.extractor_.preset == "pixels"
    out = tiled.transform(X)
    assert not any(str(n).startswith("codec__") for n in tiled.get_feature_names_out())
    row = tiled.extract_one(X[1])
    np.testing.assert_array_equal(np.array(list(row.values())), out[1])
    assert out[0, -1] == 2  # 80 // 48 = 1 row, 100 // 48 = 2 columns


def test_estimator_contract(tmp_path):
    X = [natural_image(s, (70, 90)) for s in range(3)]
    est = TiledFeatures(make_feature_bank(["blur", "spectral"]), tile_size=32, max_tiles=4, aggregate=("max",))
    twin = clone(est)
    assert twin.get_params()["extractor__blur__grid"] == 4
    twin.set_params(extractor__blur__grid=2, max_tiles=2)
    assert twin.get_params()["extractor__blur__grid"] == 2 and est.get_params()["extractor__blur__grid"] == 4
    fitted = est.fit(X)
    out = fitted.transform(X)
    assert out.shape == (3, fitted.n_features_out_) and (out[:, -1] == 4).all()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X), out)
    np.testing.assert_array_equal(clone(est).set_params(n_jobs=2).fit(X).transform(X), out)
    X_bad = X[:1] + [str(tmp_path / "missing.png")] + X[1:]
    with pytest.raises(ItemError, match=r"item 1 .*missing\.png"):
        fitted.transform(X_bad)
    with pytest.warns(RuntimeWarning, match="1 of 4"):
        rows = clone(est).set_params(on_error="nan").fit(X).transform(X_bad)
    assert np.isnan(rows[1]).all()
    np.testing.assert_array_equal(rows[[0, 2, 3]], out)


def test_invalid_parameters():
    for name, value in (("tile_size", 15), ("tile_size", 8193), ("max_tiles", 0), ("aggregate", ("mean", "mean")),
                        ("aggregate", ("p90",)), ("aggregate", ())):
        with pytest.raises((ValueError, TypeError), match=name):
            TiledFeatures(**{name: value}).fit()
    with pytest.raises(TypeError, match="extractor"):
        TiledFeatures(extractor="spectral").fit()
    TiledFeatures(tile_size=16, max_tiles=1, aggregate="mean").fit()  # the valid look-alikes


# -- the parameter contract and the batched path (issue 16) ---------------------------------------

def test_documented_defaults_and_bounds():
    check_defaults(TiledFeatures, dict(extractor=None, tile_size=256, max_tiles=16, aggregate=("mean", "max", "std"),
                                       n_jobs=None, on_error="raise", progress=False), positional=("extractor",))
    check_bounds(TiledFeatures, dict(tile_size=(16, 8192), max_tiles=(1, 4096)), extractor=BlurFeatures())


@pytest.mark.parametrize(("value", "error"), [(3, TypeError), (None, TypeError), ("p90", ValueError),
                                              (["mean", "max", "mean"], ValueError)])
def test_aggregate_refused_beside_its_look_alikes(value, error):
    with pytest.raises(error, match="aggregate"):
        TiledFeatures(BlurFeatures(), aggregate=value).fit()
    for ok in ("median", ["min"], ("mean", "max", "std", "min", "median")):
        names = TiledFeatures(BlurFeatures(), aggregate=ok).fit().get_feature_names_out()
        assert names[0] == "blur__laplacian_var__log__tile_" + ((ok,) if isinstance(ok, str) else tuple(ok))[0]


class _BatchedBlur(BlurFeatures):
    """A blur extractor that asks for 40 items per batch (as a neural network does)."""

    @property
    def _batch_size_hint(self):
        return 40


@pytest.mark.parametrize(("inner", "max_tiles", "hint"), [
    (_BatchedBlur(), 16, 2), (_BatchedBlur(), 40, 1), (_BatchedBlur(), 64, 1), (_BatchedBlur(), 3, 13),
    (BlurFeatures(), 16, None),
])
def test_batch_size_hint_counts_images_not_tiles(inner, max_tiles, hint):
    assert TiledFeatures(inner, max_tiles=max_tiles)._batch_size_hint is None  # not fitted yet
    assert TiledFeatures(inner, max_tiles=max_tiles).fit()._batch_size_hint == hint


def test_images_with_different_tile_counts_in_one_batch():
    X = [natural_image(0, (80, 100)), natural_image(1, (100, 150)), natural_image(2, (40, 40)),
         natural_image(3, (96, 64))]
    for inner in (BlurFeatures(grid=2), _BatchedBlur(grid=2)):
        params = dict(tile_size=40, max_tiles=5, aggregate=("mean", "max"))
        out = TiledFeatures(inner, **params).fit().transform(X)
        assert out[:, -1].tolist() == [4, 5, 1, 2]  # 2x2, 2x3 (6 > 5: 5 kept), 1x1, 2x1
        for row, img in zip(out, X):
            one = TiledFeatures(inner, **params).extract_one(img)  # unfitted: extract_one fits it
            np.testing.assert_array_equal(row, np.array(list(one.values())))


def test_batched_hook_splits_the_tiles_of_several_images():
    """``_compute_batch`` itself (the extraction reruns a failed batch item by item, which would
    hide a wrong split): rows of several prepared images at once equal their rows one by one."""
    X = [natural_image(0, (80, 100)), natural_image(1, (100, 150)), natural_image(2, (40, 40))]
    tiled = TiledFeatures(BlurFeatures(grid=2), tile_size=40, max_tiles=5, aggregate=("mean", "max")).fit()
    prepared = [tiled._prepare(load_item(img, i)) for i, img in enumerate(X)]
    assert [len(p) for p in prepared] == [4, 5, 1]
    together = tiled._compute_batch(prepared)
    np.testing.assert_array_equal(together, np.vstack([tiled._compute_batch([p]) for p in prepared]))
    assert together[:, -1].tolist() == [4, 5, 1]

