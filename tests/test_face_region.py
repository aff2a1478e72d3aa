import math
import warnings

import cv2
import numpy as np
import pytest

from conftest import natural_image
from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import FaceRegionFeatures, faceregion_features
from forensics.features._face_region import (
    box_geometry, crop_geometry, ellipse_rho, face_geometry, faceregion_vector, mask_rho,
)
from forensics.media import Face, crop_face, square_box
from reference_face_region import ellipse_rho_ref, faceregion_ref

NAMES = FaceRegionFeatures().fit()._feature_names()


def _row(img, **kw):
    return dict(zip(NAMES if "n_bins" not in kw else FaceRegionFeatures(**kw).fit()._feature_names(),
                    FaceRegionFeatures(**kw).fit().transform([img])[0]))


def _noisy(seed, shape, sigma=3.0):
    rng = np.random.default_rng(seed)
    return np.clip(natural_image(seed, shape).astype(float) + rng.normal(0, sigma, shape + (3,)), 0, 255)


@pytest.mark.parametrize("shape", [(64, 64), (57, 83), (40, 31)])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("geometry", [dict(), dict(band=0.25, n_bins=5), dict(angle=0.4)])
def test_vector_matches_reference(shape, seed, geometry):
    rgb = _noisy(seed, shape).astype(np.uint8).astype(np.float32)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    geometry = dict(geometry)
    center, axes = crop_geometry(shape, margin=1.6)
    rho = ellipse_rho(shape, center, axes, geometry.pop("angle", 0.0))
    got = faceregion_vector(rgb, luma, rho, **geometry)
    want = faceregion_ref(rgb, luma, rho, **geometry)
    assert got.shape == want.shape == (23 + 2 * geometry.get("n_bins", 8),)
    # float32 filtering against float64 (the chroma gains 0.5 / 0.886 and 0.5 / 0.701 are those of the
    # JFIF matrix to 6 digits)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-4)


def test_ellipse_rho_matches_the_definition():
    for center, axes, angle in [((10.0, 7.5), (6.0, 4.0), 0.0), ((3.2, 9.0), (2.5, 7.0), 1.1)]:
        np.testing.assert_allclose(ellipse_rho((15, 21), center, axes, angle),
                                   ellipse_rho_ref((15, 21), center, axes, angle), rtol=1e-12)
    with pytest.raises(ValueError, match="semi-axes"):
        ellipse_rho((5, 5), (2, 2), (0.0, 1.0))


def test_mask_rho_of_a_disc_is_its_normalized_radius():
    yy, xx = np.mgrid[:101, :101]
    r = np.hypot(xx - 50, yy - 50)
    disc = r <= 30
    rho = mask_rho(disc)
    assert np.all(rho[disc] < 1) and np.all(rho[~disc] >= 1)
    # inside the disc 1 - d_in / R reads r / R; the equal-area radius makes R within half a pixel of 30
    np.testing.assert_allclose(rho[(r > 5) & (r < 70)], (r / 30.0)[(r > 5) & (r < 70)], atol=0.04)
    for bad in (np.zeros((8, 8)), np.ones((8, 8)), np.ones((2, 2, 2))):
        with pytest.raises(ValueError, match="mask"):
            mask_rho(bad)


def test_crop_geometry_is_the_face_box_of_crop_face():
    frame = np.zeros((400, 600, 3), np.uint8)
    bbox = (250.0, 120.0, 100.0, 130.0)  # taller than wide by 1.3
    crop, box = crop_face(frame, bbox, margin=1.3, size=square_box(bbox, margin=1.3, frame_shape=frame.shape)[2])
    center, axes = crop_geometry(crop.shape, margin=1.3, aspect=1.3)
    x0, y0, side, _ = box
    # the face box seen from the crop: centre and semi-axes within the one-pixel rounding of the box
    assert center[0] == pytest.approx(bbox[0] + bbox[2] / 2 - x0 - 0.5, abs=1.0)
    assert center[1] == pytest.approx(bbox[1] + bbox[3] / 2 - y0 - 0.5, abs=1.0)
    assert axes[1] == pytest.approx(bbox[3] / 2, abs=0.5)
    assert axes[0] == pytest.approx(bbox[2] / 2, abs=0.5)


def test_box_and_detected_face_geometry():
    center, axes = box_geometry((64, 80), (0.25, 0.5, 0.5, 0.25))
    assert center == (39.5, 39.5) and axes == (20.0, 8.0)
    face = Face((10.0, 20.0, 30.0, 40.0), 0.9, np.array([[18.0, 30.0], [32.0, 44.0], [25, 40], [20, 50], [30, 50]]))
    center, axes, angle = face_geometry(face, (100, 100))
    assert center == (24.5, 39.5) and axes == (15.0, 20.0)
    assert angle == pytest.approx(math.pi / 4)  # the eye line goes down-right at 45 degrees
    assert face_geometry(Face((0, 0, 10, 10), 1.0), (20, 20))[2] == 0.0


def _pasted(seed=0, size=96, **change):
    """A natural image and a copy whose inner ellipse (crop geometry, margin 1.6) was changed."""
    img = cv2.GaussianBlur(natural_image(seed, (size, size)).astype(float), (0, 0), 2.0)  # smooth content
    img += np.random.default_rng(seed).normal(0, 2.0, img.shape)  # camera-like noise
    center, axes = crop_geometry((size, size), margin=1.6)
    face = ellipse_rho((size, size), center, axes) < 1
    out = img.copy()
    rng = np.random.default_rng(seed + 100)
    if "noise" in change:
        out[face] += rng.normal(0, change["noise"], (face.sum(), 3))
    if "blur" in change:
        out[face] = cv2.GaussianBlur(img, (0, 0), change["blur"])[face]
    if "shift" in change:
        out[face] += np.array(change["shift"], float)
    return np.clip(img, 0, 255).astype(np.uint8), np.clip(out, 0, 255).astype(np.uint8)


def test_a_noisier_face_raises_the_noise_contrast():
    real, fake = _pasted(noise=8.0)
    a, b = _row(real, margin=1.6), _row(fake, margin=1.6)
    assert b["faceregion__noise__contrast"] > a["faceregion__noise__contrast"] + 1.0
    assert b["faceregion__noise__ring_contrast"] > a["faceregion__noise__ring_contrast"] + 1.0
    assert b["faceregion__noise__outer"] == a["faceregion__noise__outer"]  # the surroundings are untouched


def test_a_blurred_face_lowers_sharpness_and_steepens_the_slope():
    real, fake = _pasted(blur=1.5)
    a, b = _row(real, margin=1.6), _row(fake, margin=1.6)
    assert b["faceregion__sharpness__contrast"] < a["faceregion__sharpness__contrast"] - 0.3
    assert b["faceregion__slope__contrast"] < a["faceregion__slope__contrast"] - 0.8  # less high frequency
    assert b["faceregion__noise__contrast"] < a["faceregion__noise__contrast"] - 1.5


def test_a_colour_shift_shows_across_the_ring():
    real, fake = _pasted(shift=(25.0, 0.0, -10.0))
    a, b = _row(real, margin=1.6), _row(fake, margin=1.6)
    # R + 25, B - 10: Y + 6.3, Cr = 0.713 (R - Y) + 13.3, Cb = 0.564 (B - Y) - 9.2 inside the face
    assert b["faceregion__colour_mean__ring_Cr"] == pytest.approx(a["faceregion__colour_mean__ring_Cr"] + 13.3, abs=1)
    assert b["faceregion__colour_mean__contrast_Cb"] == pytest.approx(a["faceregion__colour_mean__contrast_Cb"] - 9.2,
                                                                      abs=1)
    assert b["faceregion__colour_mean__contrast_Y"] == pytest.approx(a["faceregion__colour_mean__contrast_Y"] + 6.3,
                                                                     abs=1)
    assert b["faceregion__noise__contrast"] == pytest.approx(a["faceregion__noise__contrast"], abs=0.05)


def test_a_seam_raises_the_boundary_energy_at_the_boundary():
    real, fake = _pasted(shift=(40.0, 40.0, 40.0))
    a, b = _row(real, margin=1.6), _row(fake, margin=1.6)
    assert b["faceregion__boundary_energy__gradient"] > a["faceregion__boundary_energy__gradient"] + 0.3
    prof = [b[f"faceregion__gradient_profile__b{k}"] for k in range(8)]
    assert int(np.argmax(prof)) in (3, 4)  # rho bins [0.85, 1.0) and [1.0, 1.15): the seam


def test_band_and_bins_parameters():
    img = _pasted()[0]
    row = _row(img, n_bins=4, band=0.3)
    assert len(row) == 23 + 8 and "faceregion__noise_profile__b3" in row
    assert row["faceregion__noise__inner"] != _row(img)["faceregion__noise__inner"]  # band changes the regions
    assert sum(row[f"faceregion__noise_profile__b{k}"] for k in range(4)) == pytest.approx(0.0, abs=1e-9)


def test_mask_form_equals_the_ellipse_when_the_mask_is_that_ellipse():
    img = _pasted(noise=5.0)[1]
    yy, xx = np.mgrid[:96, :96]
    mask = ((xx - 47.5) / 25) ** 2 + ((yy - 47.5) / 25) ** 2 < 1
    by_mask = faceregion_features(img, mask=mask)
    by_box = faceregion_features(img, box=(22.5 / 96, 22.5 / 96, 50 / 96, 50 / 96))
    assert list(by_mask) == list(by_box)
    assert by_mask["faceregion__noise__contrast"] == pytest.approx(by_box["faceregion__noise__contrast"], abs=0.05)
    with pytest.raises(ValueError, match="mask has shape"):
        faceregion_features(img, mask=mask[:-1])


def test_small_and_flat_images():
    row = faceregion_features(np.full((2, 2, 3), 100, np.uint8))
    # the four pixels of a 2x2 crop lie at rho 1.07, just outside the face ellipse
    assert np.isnan(row["faceregion__noise__inner"]) and np.isnan(row["faceregion__noise__outer"])
    assert np.isnan(row["faceregion__colour_mean__ring_Y"])
    flat = faceregion_features(np.full((64, 64), 0.3))
    assert flat["faceregion__colour_mean__ring_Y"] == 0.0 and flat["faceregion__sharpness__contrast"] == 0.0


def test_invalid_parameters():
    for bad in (dict(box=(0.1, 0.1, 0.5)), dict(box=(0.1, 0.1, 0.0, 0.5)), dict(box="face"),
                dict(box=(0, 0, float("nan"), 1))):
        with pytest.raises((ValueError, TypeError), match="box"):
            FaceRegionFeatures(**bad).fit()
    with pytest.raises(TypeError, match="detector"):
        FaceRegionFeatures(detector="yunet").fit()
    FaceRegionFeatures(box=(0.1, 0.1, 0.5, 0.5)).fit()  # the valid look-alike
    for name, value in (("margin", 0.99), ("aspect", 0.2), ("band", 0.0), ("n_bins", 1)):
        with pytest.raises(ValueError, match=name):
            FaceRegionFeatures(**{name: value}).fit()


def test_with_a_real_detector(shared_dir):
    from skimage import data

    from forensics.media import YuNetDetector

    model = shared_dir / "models" / "face_detection_yunet_2023mar.onnx"
    if not model.is_file():
        pytest.skip(f"needs {model}")
    ext = FaceRegionFeatures(detector=YuNetDetector(str(model))).fit()
    names = list(ext.get_feature_names_out())
    assert names[-1] == "faceregion__detected__flag" and len(names) == 40
    astronaut = data.astronaut()
    blank = np.full((128, 128, 3), 90, np.uint8)
    rows = ext.transform([astronaut, blank])
    assert rows[0, -1] == 1.0 and rows[1, -1] == 0.0
    # without a face the crop geometry is used: the same row as without a detector
    np.testing.assert_array_equal(rows[1, :-1], FaceRegionFeatures().fit().transform([blank])[0])
    # with one, the face box drives the geometry: not the crop geometry's row
    assert not np.allclose(rows[0, :-1], FaceRegionFeatures().fit().transform([astronaut])[0], equal_nan=True)


def test_region_layout_boundaries_and_kernel_sums():
    from forensics.features._face_region import region_layout
    from forensics.features._kernels._face_region import region_sums

    band = 0.25  # exact in binary: 1 - band and 1 + band are representable
    rho = np.array([[0.0, 0.75 - 1e-9, 0.75, 1.0 - 1e-9, 1.0, 1.25 - 1e-9, 1.25, 3.0]])
    labels, index, bins = region_layout(rho, band=band, n_bins=4, lo=0.5, hi=1.5)
    # inner 0, outer 1, ring inside 2, ring outside 3: each threshold belongs to the side above it
    np.testing.assert_array_equal(labels, [0, 0, 2, 2, 3, 3, 1, 1])
    np.testing.assert_array_equal(bins, [4, 0, 1, 1, 2, 2, 3, 4])  # bins of width 0.25 from 0.5; 4 = outside
    assert [ix.tolist() for ix in index] == [[0, 1], [6, 7], [2, 3], [4, 5]]
    rng = np.random.default_rng(0)
    planes = [rng.normal(size=8).astype(np.float32) for _ in range(8)]
    rgb = rng.uniform(0, 255, (8, 3)).astype(np.float32)
    out, out_bins = np.zeros((4, 14)), np.zeros((5, 3))
    region_sums(labels, bins, *planes, rgb, 0.5, 0.25, out, out_bins)
    res, gx, gy, y, b1, b2, b3, b4 = (p.astype(np.float64) for p in planes)
    cb, cr = 0.5 * (rgb[:, 2] - y), 0.25 * (rgb[:, 0] - y)
    maps = [np.ones(8), res ** 2, gx ** 2 + gy ** 2, (y - b1) ** 2, (b1 - b2) ** 2, (b2 - b3) ** 2, (b3 - b4) ** 2,
            y, cb, cr, y ** 2, cb ** 2, cr ** 2]
    want = np.stack([np.bincount(labels, weights=m, minlength=4) for m in maps], axis=1)
    np.testing.assert_allclose(out[:, :13], want, rtol=1e-12)
    np.testing.assert_allclose(out_bins, np.stack([np.bincount(bins, weights=m, minlength=5) for m in maps[:3]], 1),
                               rtol=1e-12)


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(FaceRegionFeatures,
                   dict(margin=1.3, aspect=1.3, box=None, detector=None, band=0.15, n_bins=8, **COMMON),
                   functions=[faceregion_features, faceregion_vector])


def test_parameter_bounds_accepted_at_the_edge_and_refused_beyond():
    check_bounds(FaceRegionFeatures, dict(margin=(1.0, 10.0), aspect=(0.25, 4.0), band=(0.01, 0.5), n_bins=(2, 32)))


@pytest.mark.parametrize(("shape", "center"), [
    ((40, 60), (29.5, 19.5)), ((60, 40), (19.5, 29.5)), ((40, 40), (19.5, 19.5)),
])
def test_crop_geometry_on_non_square_shapes(shape, center):
    """The side is min(H, W); the centre is the image centre on each axis, away from the defaults."""
    assert crop_geometry(shape, margin=2.0, aspect=1.25) == (center, (8.0, 10.0))
    assert crop_geometry(shape) == (center, (40 / 2.6 / 1.3, 40 / 2.6))


def test_box_geometry_on_a_non_square_image():
    # box (x, y, w, h) in fractions of (W, H) = (100, 50): pixels x 10..40, y 30..50 -> centre (24.5, 39.5)
    center, axes = box_geometry((50, 100), (0.1, 0.6, 0.3, 0.4))
    np.testing.assert_allclose([*center, *axes], [24.5, 39.5, 15.0, 10.0], rtol=1e-12)


def test_the_cached_layout_is_read_only():
    """A geometry's layout is cached and shared by every image of that shape: its arrays refuse writes (no
    caller can move the next image's pixels to another region); a copy, the valid look-alike, is writable."""
    from forensics.features._face_region import _ellipse_layout, region_layout

    rho = ellipse_rho((24, 30), (14.5, 11.5), (0.3, 0.3))
    assert region_layout(rho)[1][0].size == 0  # no inner pixel: an empty index array too
    for layout in (region_layout(rho), _ellipse_layout((24, 30), (14.5, 11.5), (10.0, 10.0), 0.0, 0.15, 8)):
        labels, index, bins = layout
        for a in (labels, bins, *index):
            with pytest.raises(ValueError, match="read-only"):
                a[...] = 0
            copy = a.copy()
            copy[...] = 0
            assert not copy.any()


# centre (14.5, 11.5) of a 24 x 30 image: the corners lie 18.5 pixels away, the nearest pixels 0.71
@pytest.mark.parametrize(("axes", "empty"), [
    ((17.0, 17.0), "outer"),  # rho <= 1.09 everywhere: no pixel at rho >= 1.15
    ((0.8, 0.8), "inner"),  # the nearest pixels sit at rho 0.88, in the ring
    ((0.3, 0.3), "inner and both rings"),  # every pixel outside: only the surroundings
    ((10.0, 10.0), "none"),  # the valid look-alike: all four regions filled
])
def test_an_empty_region_leaves_the_other_regions_statistics(axes, empty):
    """An empty region is NaN in its own statistics only: the slope of each region is fitted on that region's
    band energies alone (a least-squares slope per column), never pooled with another region's."""
    shape = (24, 30)
    rgb = _noisy(3, shape).astype(np.uint8).astype(np.float32)
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rho = ellipse_rho(shape, (14.5, 11.5), axes)
    got = faceregion_vector(rgb, luma, rho)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the reference's means of empty regions
        want = faceregion_ref(rgb, luma, rho)
    np.testing.assert_allclose(got[:23], want[:23], rtol=1e-4, atol=2e-4, equal_nan=True)
    row = dict(zip(NAMES, got))
    slope = {r: row[f"faceregion__slope__{r}"] for r in ("inner", "outer")}
    assert np.isnan(slope["outer"]) == (empty == "outer")
    assert np.isnan(slope["inner"]) == empty.startswith("inner")
    assert np.isfinite(slope["inner"]) or np.isfinite(slope["outer"])
    # the radial profiles are centred over their filled bins (none when every pixel lies at rho >= 1.6)
    for name in ("noise_profile", "gradient_profile"):
        prof = np.array([row[f"faceregion__{name}__b{k}"] for k in range(8)])
        assert np.isfinite(prof).any() == (axes != (0.3, 0.3))
        assert np.nansum(prof) == pytest.approx(0.0, abs=1e-9)


def test_ellipse_rho_is_read_only_as_documented():
    """ellipse_rho is cached per geometry: the array refuses writes, so the next call of that geometry cannot
    return a caller's edits; a copy, the valid look-alike, is writable."""
    rho = ellipse_rho((15, 21), (10.0, 7.5), (6.0, 4.0), 0.3)
    with pytest.raises(ValueError, match="read-only"):
        rho[0, 0] = 0.0
    copy = rho.copy()
    copy[0, 0] = 0.0
    again = ellipse_rho((15, 21), (10.0, 7.5), (6.0, 4.0), 0.3)
    assert again[0, 0] == rho[0, 0] > 0 and not again.flags.writeable
    np.testing.assert_allclose(again, ellipse_rho_ref((15, 21), (10.0, 7.5), (6.0, 4.0), 0.3), rtol=1e-12)


def test_region_layout_defaults_at_their_thresholds():
    """region_layout's own defaults are the family's (band 0.15; 8 radial bins on [0.4, 1.6)): each edge,
    1 - band, 1, 1 + band, lo and hi, at, just below and just above it; each edge belongs to the side above."""
    from forensics.features._face_region import region_layout

    below, above = (lambda e: np.nextafter(e, 0.0)), (lambda e: np.nextafter(e, 2.0))
    rho = [below(0.4), 0.4, above(0.4),
           below(1.0 - 0.15), 1.0 - 0.15, above(1.0 - 0.15),
           below(1.0), 1.0, above(1.0),
           below(1.0 + 0.15), 1.0 + 0.15, above(1.0 + 0.15),
           below(1.6), 1.6, above(1.6)]
    labels, index, bins = region_layout(np.array([rho]))
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, 2, 2, 2, 3, 3, 3, 1, 1, 1, 1, 1])
    # bins of width 0.15 from 0.4, 8 = outside [0.4, 1.6): lo and hi, the edges of the profile
    np.testing.assert_array_equal(bins[[0, 1, 2, 12, 13, 14]], [8, 0, 0, 7, 8, 8])
    # the inner edges are not exact in binary ((1.0 - 0.4) / (1.6 - 0.4) * 8 is just below 4): the formula
    np.testing.assert_array_equal(bins, np.where((np.array(rho) >= 0.4) & (np.array(rho) < 1.6),
                                                 np.floor((np.array(rho) - 0.4) / (1.6 - 0.4) * 8), 8))
    assert [ix.tolist() for ix in index] == [[0, 1, 2, 3], [10, 11, 12, 13, 14], [4, 5, 6], [7, 8, 9]]


@pytest.mark.parametrize("with_mask", [True, False])
def test_the_function_form_names_the_item_it_refuses(tmp_path, with_mask):
    """The single-image function is item 0 in its errors, with the mask (which loads the item itself) and
    without: a missing file and a file that is no image are refused naming item 0 and the path; the same
    pixels saved as a PNG, the valid look-alike, give the array's row."""
    from PIL import Image

    from forensics.media import ItemError

    img = _pasted(noise=5.0)[1]
    mask = ellipse_rho((96, 96), (47.5, 47.5), (25.0, 25.0)) < 1
    kw = dict(mask=mask) if with_mask else dict(box=(0.25, 0.25, 0.5, 0.5))
    missing, junk, good = tmp_path / "missing.png", tmp_path / "junk.png", tmp_path / "good.png"
    junk.write_bytes(b"not an image at all" * 8)
    Image.fromarray(img).save(good)
    for bad in (missing, junk):
        with pytest.raises(ItemError, match=r"^item 0 \(") as err:
            faceregion_features(str(bad), **kw)
        assert err.value.index == 0 and err.value.source == str(bad)
    assert faceregion_features(str(good), **kw) == faceregion_features(img, **kw)
