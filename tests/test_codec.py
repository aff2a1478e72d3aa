"""Tests of the codec family: container / compression metadata read from the bytes."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from param_contract import COMMON, check_bounds, check_defaults
from forensics.features import CodecFeatures, codec_features
from forensics.features._codec import (
    ANNEX_K_CHROMA, ANNEX_K_LUMA, codec_vector, estimate_jpeg_quality, ijg_quant_table,
)
from forensics.media import Item, ItemError, load_item
from reference_codec import KERNEL_CASES, ijg_table_python, parse_jpeg, reference_quality, zigzag_order

NAMES = [
    "codec__format__jpeg", "codec__format__png", "codec__format__webp", "codec__format__other",
    "codec__bytes_per_pixel__file", "codec__bit_depth__container", "codec__channels__container",
    "codec__exif__present", "codec__exif_make__present", "codec__exif_software__present",
    "codec__icc_profile__present",
    "codec__jpeg_quality__luma", "codec__jpeg_quality__chroma", "codec__standard_tables__ijg",
    "codec__qtable_mean__luma", "codec__qtable_mean__chroma",
    "codec__chroma_subsampling__h", "codec__chroma_subsampling__v", "codec__progressive__flag",
]
JPEG_ONLY = NAMES[11:]


def _rgb(h=16, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encode(arr_or_im, fmt, **kw):
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _cv2(arr, params):
    ok, buf = cv2.imencode(".jpg", arr, params)
    assert ok
    return buf.tobytes()


def _row(data):
    return codec_features(data)


# -- structure -----------------------------------------------------------------------------------

def test_no_kernels_in_this_family():
    assert KERNEL_CASES == []


def test_feature_names_are_stable_and_documented():
    ext = CodecFeatures().fit()
    assert list(ext.get_feature_names_out()) == NAMES
    prefixes = {d.prefix for d in CodecFeatures.feature_docs}
    assert all(any(n.startswith(p) for p in prefixes) for n in NAMES)
    assert all(any(n.startswith(p) for n in NAMES) for p in prefixes)
    assert all(len(n.split("__")) == 3 and n == n.lower() for n in NAMES)


# -- JPEG quality from the quantization tables ---------------------------------------------------

def test_annex_k_tables_are_pillow_quality_50():
    # at Q = 50 the IJG scale is 100, so libjpeg writes the Annex K tables themselves
    q = Image.open(io.BytesIO(_encode(_rgb(), "JPEG", quality=50))).quantization
    assert q[0] == ANNEX_K_LUMA.tolist()
    assert q[1] == ANNEX_K_CHROMA.tolist()


def test_ijg_scaling_matches_plain_python_transcription():
    for q in (1, 2, 3, 10, 49, 50, 51, 75, 99, 100):
        for base in (ANNEX_K_LUMA, ANNEX_K_CHROMA):
            assert ijg_quant_table(base, q).tolist() == ijg_table_python(base.tolist(), q)
            assert ijg_quant_table(base, q, 32767).tolist() == ijg_table_python(base.tolist(), q, False)


def test_pillow_every_quality_recovered_exactly():
    arr = _rgb(8, 8)
    for q in range(1, 101):
        row = _row(_encode(arr, "JPEG", quality=q))
        assert row["codec__jpeg_quality__luma"] == q
        assert row["codec__jpeg_quality__chroma"] == q  # Q = 1..3 chroma tables tie: luma decides
        assert row["codec__standard_tables__ijg"] == 1.0
        assert row["codec__qtable_mean__luma"] == pytest.approx(np.mean(ijg_table_python(ANNEX_K_LUMA.tolist(), q)))
        assert row["codec__qtable_mean__chroma"] == pytest.approx(np.mean(ijg_table_python(ANNEX_K_CHROMA.tolist(), q)))


def test_chroma_tie_break_without_luma_prefers_highest_quality():
    all255 = [255] * 64
    assert estimate_jpeg_quality(all255, "chroma") == (3, True)
    assert estimate_jpeg_quality(all255, "chroma", prefer=1) == (1, True)
    assert estimate_jpeg_quality(all255, "chroma", prefer=2) == (2, True)
    assert estimate_jpeg_quality(all255, "chroma", prefer=90) == (3, True)


@pytest.mark.parametrize("q", [1, 5, 23, 37, 50, 64, 81, 95, 100])
def test_opencv_quality_recovered(q):
    row = _row(_cv2(_rgb(), [cv2.IMWRITE_JPEG_QUALITY, q]))
    assert row["codec__jpeg_quality__luma"] == q
    assert row["codec__jpeg_quality__chroma"] == q
    assert row["codec__standard_tables__ijg"] == 1.0


@pytest.mark.parametrize(("luma", "chroma"), [(80, 30), (95, 60), (40, 90)])
def test_opencv_separate_luma_and_chroma_quality(luma, chroma):
    row = _row(_cv2(_rgb(), [cv2.IMWRITE_JPEG_LUMA_QUALITY, luma, cv2.IMWRITE_JPEG_CHROMA_QUALITY, chroma]))
    assert (row["codec__jpeg_quality__luma"], row["codec__jpeg_quality__chroma"]) == (luma, chroma)
    assert row["codec__standard_tables__ijg"] == 1.0  # each table is a standard one at its own Q


def test_custom_tables_are_not_standard_but_get_the_nearest_quality():
    luma = ijg_quant_table(ANNEX_K_LUMA, 70).copy()
    chroma = ijg_quant_table(ANNEX_K_CHROMA, 70).copy()
    luma[5] += 1  # one step off the standard table
    data = _encode(_rgb(), "JPEG", qtables=[luma.tolist(), chroma.tolist()])
    row = _row(data)
    assert row["codec__standard_tables__ijg"] == 0.0
    assert (row["codec__jpeg_quality__luma"], row["codec__jpeg_quality__chroma"]) == (70, 70)
    flat = _row(_encode(_rgb(), "JPEG", qtables=[[3] * 64, [5] * 64]))
    assert flat["codec__standard_tables__ijg"] == 0.0
    assert flat["codec__qtable_mean__luma"] == 3.0 and flat["codec__qtable_mean__chroma"] == 5.0
    # the nearest standard table in L1, found by brute force in plain Python
    assert flat["codec__jpeg_quality__luma"] == reference_quality([3] * 64, ANNEX_K_LUMA.tolist())[0]


def test_one_shared_table_gives_nan_chroma_quality():
    row = _row(_encode(_rgb(), "JPEG", qtables=[[4] * 64]))
    assert row["codec__qtable_mean__luma"] == 4.0
    assert np.isnan(row["codec__jpeg_quality__chroma"]) and np.isnan(row["codec__qtable_mean__chroma"])
    assert row["codec__standard_tables__ijg"] == 0.0


def test_a_third_table_is_not_ijg():
    # libjpeg writes at most two tables; a separate Cr table marks another encoder
    luma, chroma = ijg_quant_table(ANNEX_K_LUMA, 80).tolist(), ijg_quant_table(ANNEX_K_CHROMA, 80).tolist()
    data = _encode(_rgb(), "JPEG", qtables=[luma, chroma, chroma])
    assert sorted(parse_jpeg(data)["tables"]) == [0, 1, 2]
    row = _row(data)
    assert (row["codec__jpeg_quality__luma"], row["codec__jpeg_quality__chroma"]) == (80, 80)
    assert row["codec__standard_tables__ijg"] == 0.0


def test_sixteen_bit_tables():
    data = _encode(_rgb(), "JPEG", qtables=[ijg_quant_table(ANNEX_K_LUMA, 3, 32767).tolist(),
                                             ijg_quant_table(ANNEX_K_CHROMA, 3, 32767).tolist()])
    assert max(parse_jpeg(data)["tables"][0]) > 255
    row = _row(data)
    assert (row["codec__jpeg_quality__luma"], row["codec__jpeg_quality__chroma"]) == (3, 3)
    assert row["codec__standard_tables__ijg"] == 1.0


# -- subsampling, progressive, grey and CMYK -----------------------------------------------------

@pytest.mark.parametrize(("subsampling", "hv"), [(0, (1, 1)), (1, (2, 1)), (2, (2, 2))])
def test_pillow_subsampling(subsampling, hv):
    row = _row(_encode(_rgb(), "JPEG", quality=90, subsampling=subsampling))
    assert (row["codec__chroma_subsampling__h"], row["codec__chroma_subsampling__v"]) == hv


@pytest.mark.parametrize(("flag", "hv"), [("SAMPLING_FACTOR_444", (1, 1)), ("SAMPLING_FACTOR_422", (2, 1)),
                                          ("SAMPLING_FACTOR_420", (2, 2)), ("SAMPLING_FACTOR_411", (4, 1))])
def test_opencv_subsampling(flag, hv):
    value = getattr(cv2, f"IMWRITE_JPEG_{flag}", None)
    if value is None:
        pytest.skip(f"this OpenCV has no IMWRITE_JPEG_{flag}")
    row = _row(_cv2(_rgb(), [cv2.IMWRITE_JPEG_QUALITY, 77, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, value]))
    assert (row["codec__chroma_subsampling__h"], row["codec__chroma_subsampling__v"]) == hv
    assert row["codec__jpeg_quality__luma"] == 77


def test_progressive_flag():
    assert _row(_encode(_rgb(), "JPEG", progressive=True))["codec__progressive__flag"] == 1.0
    assert _row(_encode(_rgb(), "JPEG"))["codec__progressive__flag"] == 0.0
    assert _row(_cv2(_rgb(), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]))["codec__progressive__flag"] == 1.0


def test_grey_jpeg():
    row = _row(_encode(_rgb()[:, :, 0], "JPEG", quality=61))
    assert row["codec__jpeg_quality__luma"] == 61 and row["codec__standard_tables__ijg"] == 1.0
    assert row["codec__channels__container"] == 1 and row["codec__bit_depth__container"] == 8
    for name in ("codec__jpeg_quality__chroma", "codec__qtable_mean__chroma",
                 "codec__chroma_subsampling__h", "codec__chroma_subsampling__v"):
        assert np.isnan(row[name])


def test_cmyk_jpeg():
    data = _encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (8, 8, 4), dtype=np.uint8), "CMYK"),
                   "JPEG", quality=42)
    row = _row(data)
    assert row["codec__format__jpeg"] == 1.0 and row["codec__channels__container"] == 4
    assert row["codec__jpeg_quality__luma"] == 42 and row["codec__standard_tables__ijg"] == 1.0
    assert np.isnan(row["codec__jpeg_quality__chroma"]) and np.isnan(row["codec__chroma_subsampling__h"])


def test_mpo_counts_as_jpeg():
    im = Image.fromarray(_rgb())
    data = _encode(im, "MPO", save_all=True, append_images=[im], quality=66)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    row = _row(data)
    assert row["codec__format__jpeg"] == 1.0 and row["codec__format__other"] == 0.0
    assert row["codec__jpeg_quality__luma"] == 66


# -- metadata ------------------------------------------------------------------------------------

def _exif(make=None, software=None, other=True):
    exif = Image.Exif()
    if make is not None:
        exif[0x010F] = make
    if software is not None:
        exif[0x0131] = software
    if other:
        exif[0x0132] = "2024:01:01 00:00:00"  # DateTime
    return exif.tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize(("make", "software", "expected"), [
    ("Canon", "GIMP 2.10", (1.0, 1.0)), ("NIKON", None, (1.0, 0.0)), (None, "Adobe", (0.0, 1.0)),
    (None, None, (0.0, 0.0)), ("  ", "\x00", (0.0, 0.0)),
])
def test_exif_make_and_software(fmt, make, software, expected):
    row = _row(_encode(_rgb(), fmt, exif=_exif(make, software)))
    assert row["codec__exif__present"] == 1.0
    assert (row["codec__exif_make__present"], row["codec__exif_software__present"]) == expected


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_no_metadata(fmt):
    row = _row(_encode(_rgb(), fmt))
    for name in ("codec__exif__present", "codec__exif_make__present", "codec__exif_software__present",
                 "codec__icc_profile__present"):
        assert row[name] == 0.0


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_icc_profile(fmt):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    row = _row(_encode(_rgb(), fmt, icc_profile=icc))
    assert row["codec__icc_profile__present"] == 1.0 and row["codec__exif__present"] == 0.0


def test_tiff_make_tag():
    ifd = Image.Exif()
    ifd[0x010F] = "Sony"
    row = _row(_encode(_rgb(), "TIFF", exif=ifd))
    assert row["codec__format__other"] == 1.0
    assert row["codec__exif_make__present"] == 1.0 and row["codec__exif_software__present"] == 0.0


# -- other containers ----------------------------------------------------------------------------

def test_png_has_nan_jpeg_columns_and_header_depth():
    row = _row(_encode(_rgb(), "PNG"))
    assert [row[n] for n in NAMES[:4]] == [0.0, 1.0, 0.0, 0.0]
    assert all(np.isnan(row[n]) for n in JPEG_ONLY)
    assert (row["codec__bit_depth__container"], row["codec__channels__container"]) == (8, 3)


@pytest.mark.parametrize(("arr", "depth", "channels"), [
    (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000, 16, 1),
    (np.arange(144, dtype=np.uint16).reshape(6, 8, 3) * 400, 16, 3),
    (np.zeros((6, 8, 4), np.uint8), 8, 4),
    (np.zeros((6, 8), np.uint8), 8, 1),
])
def test_png_depth_and_channels_from_ihdr(arr, depth, channels):
    ok, buf = cv2.imencode(".png", arr)
    row = _row(buf.tobytes())
    assert (row["codec__bit_depth__container"], row["codec__channels__container"]) == (depth, channels)
    assert row["codec__format__png"] == 1.0


def test_palette_png_and_other_formats():
    pal = Image.fromarray(_rgb()).convert("P")
    assert _row(_encode(pal, "PNG"))["codec__channels__container"] == 1
    for fmt in ("GIF", "BMP", "TIFF"):
        row = _row(_encode(pal if fmt == "GIF" else Image.fromarray(_rgb()), fmt))
        assert [row[n] for n in NAMES[:4]] == [0.0, 0.0, 0.0, 1.0], fmt
        assert all(np.isnan(row[n]) for n in JPEG_ONLY)


def test_webp_format():
    row = _row(_encode(_rgb(), "WEBP", quality=80))
    assert [row[n] for n in NAMES[:4]] == [0.0, 0.0, 1.0, 0.0]
    assert all(np.isnan(row[n]) for n in JPEG_ONLY)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_bytes_per_pixel_exact(fmt):
    data = _encode(_rgb(13, 17), fmt)
    assert _row(data)["codec__bytes_per_pixel__file"] == len(data) / (13 * 17)
    if fmt == "BMP":  # 54-byte header + rows padded to 4 bytes: 13 * (17 * 3 + 1)
        assert len(data) == 54 + 13 * 52


# -- arrays, paths, errors, laziness -------------------------------------------------------------

@pytest.mark.parametrize("image", [np.zeros((5, 7), np.uint8), np.ones((4, 4, 3), np.float32),
                                   Image.new("RGB", (6, 6))])
def test_in_memory_images_have_no_container(image):
    row = _row(image)
    assert [row[n] for n in NAMES[:4]] == [0.0, 0.0, 0.0, 0.0]
    assert all(np.isnan(row[n]) for n in NAMES[4:])


def test_path_and_bytes_give_identical_rows(tmp_path):
    data = _encode(_rgb(), "JPEG", quality=88, exif=_exif("Canon", None))
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    ext = CodecFeatures().fit()
    by_path, by_bytes = ext.transform([str(path), data])
    np.testing.assert_array_equal(by_path, by_bytes)
    assert codec_features(path) == codec_features(data)


def test_pixels_are_never_decoded(tmp_path):
    for fmt in ("JPEG", "PNG", "WEBP"):
        path = tmp_path / f"x.{fmt.lower()}"
        path.write_bytes(_encode(_rgb(), fmt))
        item = load_item(str(path))
        row = CodecFeatures()._compute(item)
        assert row.shape == (len(NAMES),)
        assert item._pixels is None
        header = item.header
        assert (header._im if hasattr(header, "_im") else header.im) is None  # nor did PIL


def test_codec_vector_matches_extractor():
    data = _encode(_rgb(), "JPEG", quality=33, subsampling=1)
    np.testing.assert_array_equal(codec_vector(data), CodecFeatures().fit().transform([data])[0])
    assert np.isnan(codec_vector(None)[4:]).all() and (codec_vector(None)[:4] == 0).all()


def test_garbage_bytes_raise_or_nan():
    ext = CodecFeatures().fit()
    with pytest.raises(ItemError, match="item 1"):
        ext.transform([_encode(_rgb(), "PNG"), b"not an image"])
    ext = CodecFeatures(on_error="nan").fit()
    with pytest.warns(RuntimeWarning):
        out = ext.transform([b"garbage!"])
    assert np.isnan(out).all()


def test_item_with_prebuilt_header():
    data = _encode(_rgb(), "JPEG", quality=12)
    item = Item(0, None, data)
    assert CodecFeatures()._compute(item)[NAMES.index("codec__jpeg_quality__luma")] == 12


# -- agreement with an independent marker parser --------------------------------------------------

def test_zigzag_order_is_the_t81_order():
    zz = zigzag_order()
    assert zz[:10] == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24] and zz[-4:] == [47, 55, 62, 63]
    assert sorted(zz) == list(range(64))


@pytest.mark.parametrize(("data", "q"), [
    (_encode(_rgb(), "JPEG", quality=7), 7),
    (_encode(_rgb(), "JPEG", quality=73, subsampling=1, progressive=True), 73),
    (_cv2(_rgb(), [cv2.IMWRITE_JPEG_QUALITY, 91]), 91),
    (_encode(_rgb()[:, :, 1], "JPEG", quality=55), 55),
    (_encode(_rgb(), "JPEG", quality=99, exif=_exif("Canon", "x"),
             icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()), 99),
])
def test_marker_parser_agrees(data, q):
    ref = parse_jpeg(data)
    row = _row(data)
    pil = Image.open(io.BytesIO(data))
    assert ref["tables"] == {k: list(v) for k, v in pil.quantization.items()}
    base = {0: ANNEX_K_LUMA.tolist(), 1: ANNEX_K_CHROMA.tolist()}
    for tid, kind in ((0, "luma"), (1, "chroma")):
        if tid in ref["tables"]:
            assert ref["tables"][tid] == ijg_table_python(base[tid], q)
            assert reference_quality(ref["tables"][tid], base[tid]) == (q, True)
            assert row[f"codec__jpeg_quality__{kind}"] == q
            assert row[f"codec__qtable_mean__{kind}"] == pytest.approx(np.mean(ref["tables"][tid]))
        else:
            assert np.isnan(row[f"codec__jpeg_quality__{kind}"])
    comps = ref["components"]
    assert row["codec__channels__container"] == len(comps)
    assert row["codec__bit_depth__container"] == ref["precision"]
    if len(comps) == 3:
        assert row["codec__chroma_subsampling__h"] == comps[0][1] / comps[1][1]
        assert row["codec__chroma_subsampling__v"] == comps[0][2] / comps[1][2]
    assert row["codec__progressive__flag"] == float(ref["progressive"])
    assert row["codec__exif__present"] == float(ref["exif"])
    assert row["codec__icc_profile__present"] == float(ref["icc"])
    assert row["codec__bytes_per_pixel__file"] == len(data) / (ref["width"] * ref["height"])


# -- the parameter contract (documented defaults, keyword-only, bounds at and beyond their edges) --


def test_documented_defaults_and_keyword_only_parameters():
    check_defaults(CodecFeatures, dict(**COMMON), functions=[])


def test_grey_alpha_png_has_two_channels():
    la = Image.fromarray(_rgb()).convert("LA")
    row = _row(_encode(la, "PNG"))
    assert (row["codec__bit_depth__container"], row["codec__channels__container"]) == (8, 2)


@pytest.mark.parametrize(("mode", "depth", "channels"), [
    ("1", 1, 1), ("L", 8, 1), ("I;16", 16, 1), ("I;16B", 16, 1), ("I", 32, 1), ("F", 32, 1), ("RGB", 8, 3),
    ("CMYK", 8, 4),
])
def test_tiff_depth_and_channels_from_the_pil_mode(mode, depth, channels):
    im = Image.fromarray(_rgb()).convert("L").convert(mode) if mode not in ("I;16", "I;16B") else \
        Image.fromarray((np.arange(16 * 24).reshape(16, 24) * 150).astype(np.uint16)).convert(mode)
    data = _encode(im, "TIFF")
    assert Image.open(io.BytesIO(data)).mode == mode  # the container keeps the mode under test
    row = _row(data)
    assert (row["codec__bit_depth__container"], row["codec__channels__container"]) == (depth, channels)
    assert row["codec__format__other"] == 1.0
