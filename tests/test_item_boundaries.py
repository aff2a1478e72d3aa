"""The item layer (``media/_item.py``) by kind (issue 16): every threshold at, just below and
just above it; every parameter away from its default; every refusal with the refused input and
its valid look-alike; formulas with several terms on inputs where each term matters."""

import io
import os
import pickle
import re
import struct
import zlib

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import encode, natural_image
from forensics.media import Item, ItemError, as_item_sequence, load_item, to_display
from forensics.media._item import _check_png_chunks, _scan_jpeg, _to_255, _valid_orientation, path_text


def _png_chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png(arr, chunks=None):
    """An RGB 8-bit PNG written chunk by chunk (``chunks`` replaces the IHDR/IDAT/IEND list)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + r.tobytes() for r in arr)
    parts = chunks if chunks is not None else [
        (b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(_png_chunk(t, b) for t, b in parts)


# -- max_pixels: at, below, above, for each way an image arrives -----------------------------------

def test_max_pixels_boundary_for_encoded_arrays_pil_and_files(tmp_path):
    img = natural_image(0, (10, 12))  # 120 pixels
    data = encode(img, "PNG")
    for make in (lambda mp: load_item(data, 3, max_pixels=mp),
                 lambda mp: load_item(img, 3, max_pixels=mp),
                 lambda mp: load_item(Image.fromarray(img), 3, max_pixels=mp)):
        np.testing.assert_array_equal(make(120).rgb, img.astype(np.float32))  # at the limit: accepted
        np.testing.assert_array_equal(make(121).rgb, img.astype(np.float32))
        with pytest.raises(ItemError, match=r"item 3: image .*above max_pixels=119") as err:
            make(119).rgb
        assert err.value.index == 3
    with pytest.raises(ItemError, match=r"image is 12x10 \(0 megapixels\), above max_pixels=119; raise max_pixels"):
        load_item(data, max_pixels=119).pixels
    with pytest.raises(ItemError, match=r"image of shape \(10, 12, 3\) is above max_pixels=119"):
        load_item(img, max_pixels=119).rgb
    with pytest.raises(ItemError, match=r"image is 12x10, above max_pixels=119$"):
        load_item(Image.fromarray(img), max_pixels=119)


def test_file_size_limit_follows_max_pixels(tmp_path):
    limit = 8 * 1000 + (1 << 26)
    over = tmp_path / "over.png"
    with open(over, "wb") as f:  # sparse: no disk used
        f.truncate(limit + 1)
    with pytest.raises(ItemError, match=rf"file of {limit + 1} bytes is larger than any image within max_pixels=1000"):
        load_item(str(over), 1, max_pixels=1000)
    load_item(str(over), 1, max_pixels=1001)  # 8 bytes more allowed: read (and only refused when decoded)
    with open(over, "r+b") as f:
        f.truncate(limit)
    item = load_item(str(over), 1, max_pixels=1000)  # at the limit: read
    assert len(item.data) == limit and item.source == str(over)


# -- float range and other value checks ----------------------------------------------------------

def test_float_range_tolerance_at_below_and_above():
    base = np.full((4, 4), 0.5)
    for ok in (-1e-6, 1 + 1e-6, 0.0, 1.0):
        a = base.copy()
        a[0, 0] = ok
        load_item(a).rgb
    for bad in (-1.1e-6, 1 + 1.1e-6):
        a = base.copy()
        a[1, 2] = bad
        with pytest.raises(ItemError, match=r"float images must lie in \[0, 1\] \(found .*\); divide 8-bit"):
            load_item(a).rgb
    for bad in (np.nan, np.inf, -np.inf):
        a = base.copy()
        a[3, 3] = bad
        with pytest.raises(ItemError, match="NaN or infinite"):
            load_item(a).rgb
    np.testing.assert_array_equal(load_item(np.array([[-1e-6, 1 + 1e-6]])).rgb[0, :, 0], [0, 255])  # clipped


def test_shapes_channels_and_dtypes():
    base = natural_image(1, (6, 5))
    assert load_item(base[:, :, :1]).shape == (6, 5) and load_item(base[:, :, :1]).is_gray
    ga = np.dstack([base[:, :, 0], np.full((6, 5), 9, np.uint8)])
    item = load_item(ga)
    assert item.is_gray and item.has_alpha
    np.testing.assert_array_equal(item.rgb, np.repeat(base[:, :, :1], 3, axis=2).astype(np.float32))
    np.testing.assert_array_equal(item.luma, base[:, :, 0].astype(np.float32))
    rgb = load_item(base)
    assert not rgb.has_alpha and not rgb.is_gray
    rgba = load_item(np.dstack([base, base[:, :, :1]]))
    assert rgba.has_alpha and not rgba.is_gray
    assert not load_item(base[:, :, 0]).has_alpha
    for bad in (np.zeros((4, 4, 5), np.uint8), np.zeros((2, 4, 4, 3), np.uint8), np.zeros(7, np.uint8)):
        with pytest.raises(ItemError, match="expected an image of shape"):
            load_item(bad).rgb
    for bad in (np.zeros((4, 0), np.uint8), np.zeros((0, 4, 3), np.uint8)):
        with pytest.raises(ItemError, match="zero size"):
            load_item(bad).rgb
    for dtype in (np.int8, np.int32, np.float16, np.complex64, np.uint32):
        with pytest.raises(ItemError, match=f"unsupported dtype {np.dtype(dtype)}"):
            load_item(np.zeros((4, 4), dtype)).rgb
    b = np.zeros((3, 3), bool)
    b[1, 1] = True
    item = load_item(b)
    assert item.white == 1 and item.bit_depth == 1
    np.testing.assert_array_equal(item.luma, b * np.float32(255))
    np.testing.assert_array_equal(item.display_rgb[:, :, 2], b.astype(np.uint8) * 255)
    with pytest.raises(ItemError, match="pixels must be a numpy array, got list"):
        Item(0, pixels=[[1, 2]]).rgb


def test_bit_depth_and_white_of_each_dtype():
    for arr, white, bits in ((np.zeros((2, 2), np.uint8), 255, 8), (np.zeros((2, 2), np.uint16), 65535, 16),
                             (np.zeros((2, 2), np.float32), 1, 32), (np.zeros((2, 2), np.float64), 1, 64)):
        item = load_item(arr)
        assert (item.white, item.bit_depth) == (white, bits), arr.dtype
    twelve = Item(0, pixels=np.array([[0, 4095]], np.uint16))
    twelve._white = 4095
    assert twelve.bit_depth == 12
    np.testing.assert_allclose(twelve.rgb[0, :, 0], [0, 255])
    np.testing.assert_array_equal(twelve.display_rgb[0, :, 0], [0, 255])


def test_to_255_formula_for_each_dtype():
    np.testing.assert_array_equal(_to_255(np.array([0, 128, 255], np.uint8), 255), [0, 128, 255])
    np.testing.assert_allclose(_to_255(np.array([0, 257, 65535], np.uint16), 65535), [0, 1, 255], rtol=1e-6)
    np.testing.assert_allclose(_to_255(np.array([0, 1023], np.uint16), 1023), [0, 255], rtol=1e-6)
    np.testing.assert_allclose(_to_255(np.array([0, 100], np.uint8), 100), [0, 255], rtol=1e-6)
    np.testing.assert_allclose(_to_255(np.array([0.0, 0.5, 1.2, -0.2]), 1), [0, 127.5, 255, 0])
    assert _to_255(np.array([0.5]), 1).dtype == np.float32


def test_luma_and_rgb_of_colour_uint16_and_float():
    arr = np.array([[[65535, 0, 0], [0, 65535, 0], [0, 0, 65535], [2570, 5140, 7710]]], np.uint16)
    y = load_item(arr).luma
    np.testing.assert_allclose(y[0], [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30],
                               rtol=1e-5)
    f = arr.astype(np.float64) / 65535
    np.testing.assert_allclose(load_item(f).luma, y, rtol=1e-5)
    np.testing.assert_allclose(load_item(f).rgb, load_item(arr).rgb, rtol=1e-5)


def test_display_rgb_scaling_rounding_and_read_only_view():
    u16 = np.array([[[0, 257 * 100, 65535]]], np.uint16)
    np.testing.assert_array_equal(load_item(u16).display_rgb[0, 0], [0, 100, 255])
    f = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    np.testing.assert_array_equal(load_item(f).display_rgb[0, 0], [0, 128, 255])
    img = natural_image(2, (4, 6))
    item = load_item(img)
    view = item.display_rgb
    assert not view.flags.writeable and np.shares_memory(view, item.pixels)
    np.testing.assert_array_equal(view, img)
    turned = Item(0, pixels=img, orientation=6).display_rgb
    assert turned.flags.writeable and turned.shape == (6, 4, 3)
    np.testing.assert_array_equal(turned, np.rot90(img, -1))
    grey = load_item(img[:, :, 1]).display_rgb
    assert grey.shape == (4, 6, 3) and grey.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(grey[:, :, 0], img[:, :, 1])


# -- EXIF orientation ---------------------------------------------------------------------------

def test_valid_orientation_range_and_types():
    assert [_valid_orientation(v) for v in (0, 1, 2, 7, 8, 9, -1, "6", 6.0, None, "x", [])] == [
        1, 1, 2, 7, 8, 1, 1, 6, 6, 1, 1, 1]


def test_to_display_matches_pil_for_every_orientation_and_refuses_others():
    a = np.arange(6).reshape(2, 3)
    from PIL import ImageOps

    for o in range(1, 9):
        im = Image.fromarray(a.astype(np.uint8))
        exif = im.getexif()
        exif[0x0112] = o
        im.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(im))
        np.testing.assert_array_equal(to_display(a, o), expected, err_msg=str(o))
        assert np.shares_memory(to_display(a, o), a)
        assert Item(0, pixels=a.astype(np.uint8), orientation=o).orientation == o
    for bad in (0, 9, -1):
        with pytest.raises(ValueError, match=f"EXIF orientation must be an int in 1..8, got {bad}"):
            to_display(a, bad)
    assert Item(0, pixels=a.astype(np.uint8), orientation=9).orientation == 1


def test_orientation_of_encoded_files_pil_images_and_broken_exif():
    img = natural_image(3, (8, 12))
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = 8
    buf = io.BytesIO()
    pil.save(buf, "PNG", exif=exif.tobytes())
    item = load_item(buf.getvalue())
    assert item.orientation == 8
    np.testing.assert_array_equal(item.display_pixels, np.rot90(img, 1))
    np.testing.assert_array_equal(item.pixels, img)
    reopened = Image.open(io.BytesIO(buf.getvalue()))
    assert load_item(reopened).orientation == 8
    exif[0x0112] = 12
    buf = io.BytesIO()
    pil.save(buf, "PNG", exif=exif.tobytes())
    assert load_item(buf.getvalue()).orientation == 1  # out of range: as stored
    assert load_item(encode(img, "PNG")).orientation == 1


# -- containers: the format's own integrity checks, refused and look-alike -----------------------

def test_png_chunk_structure_refusals():
    img = natural_image(4, (6, 7))
    h, w = img.shape[:2]
    ihdr = (b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    idat = (b"IDAT", zlib.compress(b"".join(b"\x00" + r.tobytes() for r in img)))
    iend = (b"IEND", b"")
    text = (b"tEXt", b"a\x00b")
    np.testing.assert_array_equal(load_item(_png(img, [ihdr, text, idat, iend])).pixels, img)
    cases = {
        "the first chunk is not IHDR": [text, ihdr, idat, iend],
        "no IDAT chunk": [ihdr, text, iend],
        "the file ends before the IEND chunk": [ihdr, idat],
    }
    for message, chunks in cases.items():
        with pytest.raises(ItemError, match=message):
            load_item(_png(img, chunks), 2).pixels
    good = _png(img)
    long = good[:8 + 12 + 13] + struct.pack(">I", 0x80000000) + good[8 + 12 + 13 + 4:]
    with pytest.raises(ItemError, match=r"chunk b'IDAT' declares 2147483648 bytes past the end"):
        load_item(long).pixels
    end_exact = good[:-12]  # IEND missing, the file ends right after IDAT
    with pytest.raises(ItemError, match="ends before the IEND"):
        load_item(end_exact).pixels
    with pytest.raises(ItemError, match=r"CRC mismatch in chunk b'IEND' at byte"):
        load_item(good[:-1] + bytes([good[-1] ^ 1])).pixels


def _jpeg(img=None, **kw):
    return encode(natural_image(5, (16, 16)) if img is None else img, "JPEG", quality=90, **kw)


def test_jpeg_marker_walk_refusals_and_look_alikes():
    good = _jpeg()
    info = _scan_jpeg(Item(0, None, good))
    assert info["precision"] == 8 and not info["progressive"] and not info["lossless"]
    assert info["components"] == (1, 2, 3)
    assert _scan_jpeg(Item(0, None, _jpeg(progressive=True)))["progressive"]
    grey = _scan_jpeg(Item(0, None, _jpeg(natural_image(5, (16, 16))[:, :, 0])))
    assert grey["components"] == (1,)
    # fill bytes before a marker are allowed
    filled = good[:2] + b"\xff\xff" + good[2:]
    np.testing.assert_array_equal(load_item(filled).pixels, load_item(good).pixels)
    with pytest.raises(ItemError, match="no marker at byte 2"):
        load_item(good[:2] + b"\x00" + good[2:]).pixels
    sof = good.find(b"\xff\xc0")
    sos = good.find(b"\xff\xda")
    with pytest.raises(ItemError, match="no image data"):
        load_item(good[:sos] + b"\xff\xd9").pixels
    with pytest.raises(ItemError, match="no image data"):
        load_item(good[:sos]).pixels
    with pytest.raises(ItemError, match="end-of-image marker is missing"):
        load_item(good[:-2]).pixels
    seg_len = int.from_bytes(good[sof + 2:sof + 4], "big")
    no_frame = good[:sof] + good[sof + 2 + seg_len:]
    with pytest.raises(ItemError, match="a scan comes before the frame header"):
        load_item(no_frame).pixels
    with pytest.raises(ItemError, match="marker segment runs past the end"):
        load_item(good[:sof + 10]).pixels
    short_sos = good[:sos + 2] + b"\x00\x03\x00" + good[sos + 2 + int.from_bytes(good[sos + 2:sos + 4], "big"):]
    with pytest.raises(ItemError, match="short start-of-scan header"):
        load_item(short_sos).pixels


def test_jpeg_quantization_tables_cut_and_sixteen_bit():
    good = bytearray(_jpeg())
    dqt = good.find(b"\xff\xdb")
    n = int.from_bytes(good[dqt + 2:dqt + 4], "big")
    table = bytes(good[dqt + 5:dqt + 5 + 64])
    cut = bytes(good[:dqt]) + b"\xff\xdb" + (2 + 1 + 63).to_bytes(2, "big") + b"\x00" + table[:63] + bytes(
        good[dqt + 2 + n:])
    with pytest.raises(ItemError, match="quantization table is cut short"):
        load_item(cut).pixels
    wide = np.frombuffer(table, np.uint8).astype(">u2").tobytes()
    sixteen = bytes(good[:dqt]) + b"\xff\xdb" + (2 + 1 + 128).to_bytes(2, "big") + b"\x10" + wide + bytes(
        good[dqt + 5 + 64:])
    assert _scan_jpeg(Item(0, None, sixteen))["precision"] == 8  # a whole 16-bit table: accepted
    zero = bytearray(wide)
    zero[21] = 0  # low byte of one step; the high byte is already 0
    with pytest.raises(ItemError, match="zero step"):
        _scan_jpeg(Item(0, None, bytes(good[:dqt]) + b"\xff\xdb" + (131).to_bytes(2, "big") + b"\x10" + bytes(zero)
                        + bytes(good[dqt + 5 + 64:])))


def _corrupt_scan(data):
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    eoi = data.rfind(b"\xff\xd9")
    return data[:start + (eoi - start) // 2] + b"\xff\xd9"


def test_cmyk_and_grey_jpegs_are_decoded_strictly():
    img = natural_image(6, (64, 64))
    buf = io.BytesIO()
    Image.fromarray(img).convert("CMYK").save(buf, "JPEG", quality=90)
    cmyk = buf.getvalue()
    expected = np.asarray(Image.open(io.BytesIO(cmyk)).convert("RGB"))
    item = load_item(cmyk)
    np.testing.assert_array_equal(item.pixels, expected)  # look-alike: the whole file
    assert item.white == 255
    np.testing.assert_array_equal(item.rgb, expected.astype(np.float32))
    grey = _jpeg(img[:, :, 0])
    np.testing.assert_array_equal(load_item(grey).pixels, np.asarray(Image.open(io.BytesIO(grey))))
    for data in (cmyk, grey):
        with pytest.raises(ItemError, match=r"item 4: corrupt JPEG data \(.*premature end"):
            load_item(_corrupt_scan(data), 4).pixels


def test_unreadable_bytes_name_the_accepted_formats():
    with pytest.raises(ItemError, match=r"item 1: not a readable image file \(UnidentifiedImageError: cannot "
                                        r"identify image file\); accepted formats: JPEG, MPO, PNG"):
        load_item(b"not an image", 1).pixels
    with pytest.raises(ItemError, match="bad signature|CRC|truncated PNG"):
        load_item(b"\x89PNG\r\n\x1a\n" + b"\x00" * 5).pixels


# -- PNM and TIFF sample scales -------------------------------------------------------------------

def _pgm(maxval, values, comment=b""):
    w = len(values)
    body = np.asarray(values, ">u2" if maxval > 255 else np.uint8).tobytes()
    return b"P5\n" + comment + f"{w} 1\n{maxval}\n".encode() + body


def test_pnm_maxval_scales_samples():
    item = load_item(_pgm(4095, [0, 4095, 1000], comment=b"# a comment\n"))
    assert item.white == 4095 and item.bit_depth == 12
    np.testing.assert_allclose(item.luma[0], [0, 255, 1000 * 255 / 4095], rtol=1e-5)
    assert load_item(_pgm(255, [0, 255])).white == 255
    item = load_item(_pgm(100, [0, 100]))
    assert item.white == 100
    np.testing.assert_allclose(item.luma[0], [0, 255], rtol=1e-6)
    with pytest.raises(ItemError, match="sample values up to 200 exceed the file's declared maximum 100"):
        load_item(_pgm(100, [0, 200])).pixels
    assert load_item(_pgm(65535, [0, 65535])).white == 65535


def _tiff(arr, tags=None):
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, extratags=[(k, "H", 1, v, False) for k, v in (tags or {}).items()])
    return buf.getvalue()


def test_tiff_max_sample_value_at_and_around_the_container_width():
    arr = np.array([[0, 1000, 4095]], np.uint16)
    item = load_item(_tiff(arr, tags={281: 4095}))
    assert item.white == 4095
    np.testing.assert_allclose(item.luma[0], [0, 1000 * 255 / 4095, 255], rtol=1e-5)
    assert load_item(_tiff(arr)).white == 65535  # no tag: the container's scale
    assert load_item(_tiff(arr, tags={281: 65535})).white == 65535
    eight_in_sixteen = load_item(_tiff(np.array([[0, 128, 255]], np.uint16), tags={281: 255}))
    assert eight_in_sixteen.pixels.dtype == np.uint16 and eight_in_sixteen.white == 255
    shown = eight_in_sixteen.display_rgb  # 16-bit container, 8-bit scale: still a uint8 picture
    assert shown.dtype == np.uint8
    np.testing.assert_array_equal(shown[0, :, 1], [0, 128, 255])
    zero = load_item(_tiff(arr, tags={281: 0}))  # 0 says nothing: the container's scale
    assert zero.white == 65535
    np.testing.assert_allclose(zero.luma[0], arr[0] / 257, rtol=1e-5)
    with pytest.raises(ItemError, match="MaxSampleValue 4000 is not 2\\*\\*k - 1"):
        load_item(_tiff(arr, tags={281: 4000})).pixels
    with pytest.raises(ItemError, match="exceed the file's declared maximum 1023"):
        load_item(_tiff(arr, tags={281: 1023})).pixels
    assert load_item(_tiff(np.array([[0, 255]], np.uint8), tags={281: 255})).white == 255
    twelve = _set_tag(_tiff(arr), 258, 12)  # samples a 16-bit container would hold, declared 12-bit
    with pytest.raises(ItemError, match="12-bit TIFF samples are not supported"):
        load_item(twelve).pixels


def test_tiff_strip_table_refusals_and_look_alike():
    import tifffile

    arr = natural_image(7, (8, 6))
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, rowsperstrip=2)  # four strips of 2 rows
    good = buf.getvalue()
    np.testing.assert_array_equal(load_item(good).pixels, arr)
    with pytest.raises(ItemError, match="truncated TIFF"):
        load_item(good[:len(good) - 40]).pixels
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, rowsperstrip=3)  # 3 + 3 + 2 rows: the last strip is shorter
    np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, arr)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, tile=(16, 16))
    np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, arr)


# -- loading: every kind of input, its refusal and its look-alike ---------------------------------

class _PathObj(os.PathLike):
    def __init__(self, value):
        self.value = value

    def __fspath__(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_path_inputs(tmp_path):
    img = natural_image(8, (6, 6))
    png = tmp_path / "p.png"
    png.write_bytes(encode(img, "PNG"))
    for obj in (str(png), png, _PathObj(str(png)), _PathObj(os.fsencode(str(png)))):
        item = load_item(obj, 2)
        assert item.source == str(png) and item.index == 2
        np.testing.assert_array_equal(item.pixels, img)
    with pytest.raises(ItemError, match=r"item 1: invalid path object \(OSError: nope\)"):
        load_item(_PathObj(OSError("nope")), 1)
    with pytest.raises(ItemError, match="is a directory"):
        load_item(str(tmp_path), 1)
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(ItemError, match=r"file is empty \(0 bytes\)"):
        load_item(empty)
    with pytest.raises(ItemError, match=r"item 3 \(.*nothing\.png\): file not found"):
        load_item(tmp_path / "nothing.png", 3)
    with pytest.raises(ItemError, match="path contains a NUL byte") as err:
        load_item("a\x00b.png", 4)
    assert err.value.source == "a\\x00b.png"
    assert path_text("a\udcffb") == "a\\udcffb" and path_text("plain") == "plain"


def test_buffer_inputs_and_items():
    data = encode(natural_image(9, (5, 7)), "PNG")
    for obj in (data, bytearray(data), memoryview(data)):
        item = load_item(obj, 6)
        assert item.data == data and item.source is None and item.index == 6
    for empty in (b"", bytearray(), memoryview(b"")):
        with pytest.raises(ItemError, match="item 2: empty bytes"):
            load_item(empty, 2)
    item = Item(0, None, data)
    assert load_item(item, 5) is item
    assert repr(Item(3, "a.jpg", b"123")) == "Item(3 'a.jpg', 3 bytes)"
    assert repr(Item(4, pixels=np.zeros((1, 1)))) == "Item(4, array)"


def test_pil_inputs_of_each_mode():
    g16 = Image.fromarray(np.array([[0, 1000, 65535]], np.uint16))
    item = load_item(g16)
    assert item.pixels.dtype == np.uint16 and item.white == 65535
    np.testing.assert_allclose(item.luma[0], [0, 1000 / 257, 255], rtol=1e-5)
    f = load_item(Image.fromarray(np.array([[0.0, 0.25]], np.float32)))
    np.testing.assert_allclose(f.luma[0], [0, 63.75])
    one = load_item(Image.fromarray(np.array([[True, False]])))
    np.testing.assert_array_equal(one.luma[0], [255, 0])
    pal = Image.fromarray(natural_image(1, (4, 4))).convert("P")
    assert load_item(pal).pixels.shape == (4, 4, 3)
    pal.info["transparency"] = 0
    assert load_item(pal).pixels.shape == (4, 4, 4)
    la = Image.fromarray(np.dstack([natural_image(1, (4, 4))[:, :, 0]] * 2), "LA")
    assert load_item(la).has_alpha and load_item(la).is_gray
    with pytest.raises(ItemError, match="mode 'I'"):
        load_item(Image.fromarray(np.zeros((2, 2), np.int32)), 1)
    cmyk = Image.fromarray(natural_image(1, (4, 4))).convert("CMYK")
    assert load_item(cmyk).pixels.shape == (4, 4, 3)


def test_as_item_sequence_forms():
    imgs = [np.zeros((2, 2), np.uint8)] * 3
    assert as_item_sequence(imgs) is imgs
    assert len(as_item_sequence(tuple(imgs))) == 3
    obj = np.empty(3, dtype=object)
    obj[:] = ["a", "b", "c"]
    assert as_item_sequence(obj) == ["a", "b", "c"]
    assert len(as_item_sequence(np.zeros((2, 4, 4, 3)))) == 2
    assert as_item_sequence(pd.DataFrame({"image": ["a", "b"]})) == ["a", "b"]
    with pytest.raises(TypeError, match="exactly one column"):
        as_item_sequence(pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(TypeError, match="single PosixPath|single WindowsPath"):
        from pathlib import Path

        as_item_sequence(Path("x.png"))
    with pytest.raises(TypeError, match=r"got shape \(2, 2, 2, 2, 2\)"):
        as_item_sequence(np.zeros((2,) * 5))
    with pytest.raises(TypeError, match="got shape"):
        as_item_sequence(np.empty((2, 2), dtype=object))


def test_item_error_message_with_and_without_source_and_pickle():
    assert str(ItemError(0, None, "bad")) == "item 0: bad"
    assert str(ItemError(7, "", "bad")) == "item 7: bad"
    err = pickle.loads(pickle.dumps(ItemError(2, "b.png", "why")))
    assert (err.index, err.source, err.reason) == (2, "b.png", "why")
    item = load_item(encode(natural_image(1, (6, 6)), "PNG"), 3)
    item.rgb, item.luma, item.orientation
    twin = pickle.loads(pickle.dumps(item))
    assert "header" not in twin.__dict__ and "rgb" not in twin.__dict__
    np.testing.assert_array_equal(twin.rgb, item.rgb)


def test_decoded_size_must_match_the_header():
    img = natural_image(2, (6, 8))
    data = encode(img, "PNG")
    item = load_item(data)
    assert item.shape == (6, 8)
    np.testing.assert_array_equal(item.pixels, img)
    bmp = encode(img, "BMP")
    np.testing.assert_array_equal(load_item(bmp).pixels, img)
    webp = encode(img, "WEBP", lossless=True)
    np.testing.assert_array_equal(load_item(webp).pixels, img)
    gif = load_item(encode(img, "GIF"))
    assert gif.pixels.shape[:2] == (6, 8) and gif.format == "gif"
    assert load_item(cv2.imencode(".png", img[:, :, ::-1])[1].tobytes()).format == "png"


def test_opencv_failure_in_luma_is_the_items_error():
    item = load_item(natural_image(3, (4, 4)), 6)
    item.__dict__["rgb"] = item.rgb.astype(np.float64)  # a depth cvtColor refuses: the cv2.error path
    with pytest.raises(ItemError, match=r"^item 6: out of memory while computing luma a 4x4 image \(0 megapixels\); "
                                        r"lower max_pixels or free memory \(OpenCV.*\)$"):
        item.luma
    grey = load_item(natural_image(3, (4, 4))[:, :, 0])
    grey.__dict__["rgb"] = None  # grey luma never goes through rgb
    np.testing.assert_array_equal(grey.luma, natural_image(3, (4, 4))[:, :, 0].astype(np.float32))


def test_sixteen_bit_colour_and_planar_tiffs_keep_their_samples():
    import tifffile

    arr = (np.arange(4 * 5 * 3, dtype=np.uint16).reshape(4, 5, 3) * 1111)
    for kw in ({}, {"rowsperstrip": 1}):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, photometric="rgb", **kw)
        item = load_item(buf.getvalue())
        assert item.pixels.dtype == np.uint16 and item.white == 65535 and item.bit_depth == 16, kw
        np.testing.assert_array_equal(item.pixels, arr)
    rgba = np.dstack([arr, np.full((4, 5), 65535, np.uint16)])
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgba, photometric="rgb", extrasamples=[2])
    item = load_item(buf.getvalue())
    assert item.has_alpha
    np.testing.assert_array_equal(item.pixels, rgba)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr[:, :, 0])
    np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, arr[:, :, 0])  # 16-bit grey: Pillow's path
    eight = (arr // 257).astype(np.uint8)
    buf = io.BytesIO()
    tifffile.imwrite(buf, eight.transpose(2, 0, 1), photometric="rgb", planarconfig="separate", rowsperstrip=2)
    np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, eight)  # a strip per plane and row pair
    for samples in (arr, rgba):  # 16-bit planar: tifffile gives (S, H, W), the item (H, W, S)
        for compression in (None, "zlib"):
            buf = io.BytesIO()
            tifffile.imwrite(buf, samples.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                             compression=compression, rowsperstrip=3,
                             extrasamples=[2] if samples.shape[2] == 4 else None)
            item = load_item(buf.getvalue())
            assert item.white == 65535 and item.has_alpha == (samples.shape[2] == 4), compression
            np.testing.assert_array_equal(item.pixels, samples)


def test_tiff_colour_spaces_are_converted_or_refused_by_name():
    """16-bit CMYK and 8-bit YCbCr TIFFs become RGB by their formulas; CIELab and the YCbCr
    variants JFIF's rule would misread are refused, each beside its accepted look-alike."""
    import tifffile

    rng = np.random.default_rng(5)
    ink = rng.integers(0, 65536, (6, 7, 4), dtype=np.uint16)
    ink[0, 0] = (0, 65535, 30000, 0)
    for planar in ("contig", "separate"):
        buf = io.BytesIO()
        tifffile.imwrite(buf, ink if planar == "contig" else ink.transpose(2, 0, 1),
                         photometric="separated", planarconfig=planar)
        item = load_item(buf.getvalue())
        c, m, y, k = (ink[..., i].astype(np.int64) for i in range(4))
        expected = np.dstack([((65535 - v) * (65535 - k) + 32767) // 65535 for v in (c, m, y)])
        assert item.pixels.dtype == np.uint16 and not item.has_alpha, planar
        np.testing.assert_array_equal(item.pixels, expected)  # not the inks read as RGBA
        assert item.pixels[0, 0].tolist() == [65535, 0, 35535]
    eight = load_item(encode(ink[..., :3].astype(np.uint8), "TIFF"))  # 8-bit look-alike: Pillow's path
    assert eight.pixels.dtype == np.uint8

    ycc = rng.integers(16, 240, (6, 7, 3), dtype=np.uint8)
    yy, cb, cr = (ycc[..., i].astype(float) for i in range(3))
    jfif = np.dstack([yy + 1.402 * (cr - 128), yy - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                      yy + 1.772 * (cb - 128)])
    buf = io.BytesIO()
    tifffile.imwrite(buf, ycc, photometric="ycbcr", subsampling=(1, 1))
    rgb = load_item(buf.getvalue()).pixels
    assert rgb.shape == (6, 7, 3) and np.abs(rgb - np.clip(np.rint(jfif), 0, 255)).max() <= 1
    studio = io.BytesIO()  # the same samples in studio range (16-235): JFIF's rule would misread them
    tifffile.imwrite(studio, ycc, photometric="ycbcr", subsampling=(1, 1),
                     extratags=[(532, 5, 6, (16, 1, 235, 1, 128, 1, 240, 1, 128, 1, 240, 1), True)])
    with pytest.raises(ItemError, match=r"item 0: YCbCr TIFF with reference black/white \(16\.0, 235\.0"):
        load_item(studio.getvalue()).pixels
    for coefficients, scale, refused in (((299, 587, 114), 1000, False), ((2126, 7152, 722), 10000, True)):
        buf = io.BytesIO()  # BT.601's coefficients stated in the file (accepted); BT.709's (refused)
        tifffile.imwrite(buf, ycc, photometric="ycbcr", subsampling=(1, 1),
                         extratags=[(529, 5, 3, sum(((c, scale) for c in coefficients), ()), True)])
        if refused:
            with pytest.raises(ItemError, match=r"item 0: YCbCr TIFF with coefficients \(0\.2126, 0\.7152, 0\.0722\)"):
                load_item(buf.getvalue()).pixels
        else:
            np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, rgb)
    lab = io.BytesIO()
    tifffile.imwrite(lab, ycc, photometric="cielab")
    with pytest.raises(ItemError, match=r"item 0: unsupported TIFF samples: uint8 \(6, 7, 3\) "
                                        r"\(Pillow mode LAB, photometric interpretation 8, CIELab\)"):
        load_item(lab.getvalue()).pixels


def test_jpeg_compressed_tiff_strips_are_decoded_strictly():
    """libtiff only warns about corrupt JPEG data in a strip and returns the picture with filler;
    each strip is checked by strict libjpeg, with the shared JPEGTables (Pillow's files) or
    without (tifffile's subsampled YCbCr). The intact look-alikes decode to tifffile's pixels."""
    import tifffile

    yy, xx = np.mgrid[0:48, 0:40]
    arr = np.dstack([yy * 4 + xx, xx * 5, 200 - yy * 3]).astype(np.uint8)
    pil = io.BytesIO()
    Image.fromarray(arr).save(pil, "TIFF", compression="jpeg")  # JPEGTables + abbreviated strips
    ycc = io.BytesIO()
    tifffile.imwrite(ycc, arr, photometric="ycbcr", subsampling=(2, 2), compression="jpeg", rowsperstrip=16)
    tiled = io.BytesIO()
    tifffile.imwrite(tiled, arr, photometric="rgb", compression="jpeg", tile=(16, 16))
    cases = ((pil, True, "strip", bytes(24)), (ycc, False, "strip", bytes(24)),
             (tiled, False, "tile", b"\xff" * 24))  # a 16 px tile's short scan: zeros can be valid codes
    for buf, has_tables, what, fill in cases:
        data = buf.getvalue()
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages[0]
            assert (347 in page.tags) == has_tables and page.compression == 7
            offsets, counts, expected = page.dataoffsets, page.databytecounts, page.asarray()
        np.testing.assert_array_equal(load_item(data).pixels, expected)
        k = len(offsets) - 1  # the last strip: its number is named
        sos = data.index(b"\xff\xda", offsets[k])  # damage the scan data, halfway to the strip's end
        mid = (sos + offsets[k] + counts[k]) // 2
        damaged = bytearray(data)
        damaged[mid:mid + 24] = fill
        if what == "strip":  # libtiff (through Pillow) alone returns a picture for it
            Image.open(io.BytesIO(bytes(damaged))).load()
        with pytest.raises(ItemError, match=rf"item 0: corrupt JPEG data in TIFF {what} {k} \(Corrupt JPEG data"):
            load_item(bytes(damaged)).pixels
    data = ycc.getvalue()
    assert _ifd_entries(data)[259][3] == 7
    with pytest.raises(ItemError, match=r"item 0: old-style JPEG-compressed TIFF \(compression 6\) is not supported"):
        load_item(_set_tag(data, 259, 6)).pixels


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow, opening the junk look-alikes
def test_tiffs_pillow_cannot_open_are_refused_by_what_they_hold():
    """16-bit CIELab and float TIFFs are named as such, not as unreadable files; bytes that only
    start like a TIFF keep the generic message, and the 16-bit RGB look-alike is read."""
    import tifffile

    rng = np.random.default_rng(9)
    arr = rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    cases = [(dict(data=arr, photometric="cielab"), r"16-bit unsigned integer samples, 3 per pixel, "
              r"photometric interpretation 8, CIELab; supported: "),
             (dict(data=arr.astype(np.float32) / 65535, photometric="rgb"),
              r"32-bit floating-point samples, 3 per pixel, photometric interpretation 2, RGB; supported: "),
             (dict(data=arr.astype(np.float32) / 65535, photometric="rgb", byteorder=">"),
              r"32-bit floating-point samples, 3 per pixel, photometric interpretation 2, RGB; supported: ")]
    for kw, reason in cases:
        buf = io.BytesIO()
        tifffile.imwrite(buf, **kw)
        with pytest.raises(ItemError, match=r"^item 0: unsupported TIFF: " + reason):
            load_item(buf.getvalue()).pixels
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="rgb")
    np.testing.assert_array_equal(load_item(buf.getvalue()).pixels, arr)
    with pytest.raises(ItemError, match=r"^item 0: not a readable image file \(UnidentifiedImageError"):
        load_item(b"II*\x00" + bytes(60)).pixels  # no usable directory (its offset 0 is inside the header)
    with pytest.raises(ItemError, match=r"^item 0: corrupt TIFF: its first image directory \(at byte 8\) holds no "
                                        r"entries"):
        load_item(b"MM\x00*\x00\x00\x00\x08" + bytes(4)).pixels  # a directory of zero entries


def test_files_of_a_known_other_kind_are_named_in_the_refusal():
    """HEIC, JPEG XL, video containers and macOS '._' files are refused as any unreadable file,
    with what they are added to the reason. Look-alikes: an ISO base media file of an image brand
    (AVIF) is read; bytes of no known kind keep the plain message."""
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(40)
    mp4 = b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41" + bytes(40)
    cases = [(heic, "a HEIF (HEIC) image (brand 'heic'), for which no decoder is installed"),
             (b"\x00\x00\x00\x18ftypmif1" + bytes(40), "a HEIF (HEIC) image (brand 'mif1')"),
             (mp4, "an ISO base media (MP4, MOV, 3GP) file (brand 'isom'), a video, not an image"),
             (b"\xff\x0a" + bytes(40), "a JPEG XL image, for which no decoder is installed"),
             (b"\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a" + bytes(40), "a JPEG XL image"),
             (b"\x1a\x45\xdf\xa3" + bytes(40), "a Matroska or WebM file, a video, not an image"),
             (b"RIFF\x00\x01\x00\x00AVI LIST" + bytes(40), "an AVI file, a video, not an image"),
             (b"\x00\x05\x16\x07\x00\x02\x00\x00" + bytes(40), "a macOS AppleDouble file")]
    for data, kind in cases:
        with pytest.raises(ItemError, match=r"^item 0: not a readable image file \(UnidentifiedImageError: "
                                            r"cannot identify image file; it is " + re.escape(kind)):
            load_item(data).pixels
    damaged_avif = b"\x00\x00\x00\x18ftypavif" + bytes(40)  # an image brand Pillow cannot open: not "a video"
    for data in (b"RIFF\x00\x01\x00\x00WAVEfmt " + bytes(40), b"\x00\x00\x00\x18ftyp" + bytes(44), damaged_avif):
        with pytest.raises(ItemError) as err:
            load_item(data).pixels
        assert "; it is" not in err.value.reason and err.value.reason.startswith("not a readable image file")
    avif = encode(natural_image(1, (16, 16)), "AVIF")
    assert avif[4:12] == b"ftypavif"
    assert load_item(avif).pixels.shape == (16, 16, 3)


def test_damaged_sixteen_bit_compressed_tiff_strips_are_refused():
    """16-bit colour TIFF strips (LZW, deflate, PackBits) that decode short or fail are refused;
    the intact files are read exactly (OpenCV's libtiff would have returned the picture)."""
    import tifffile

    yy, xx = np.mgrid[0:32, 0:24]
    arr = np.dstack([yy * 900 + xx * 300, xx * 1000, yy * 700]).astype(np.uint16)
    for compression in ("lzw", "zlib", "packbits"):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, photometric="rgb", compression=compression, rowsperstrip=8)
        data = buf.getvalue()
        np.testing.assert_array_equal(load_item(data).pixels, arr)
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            offset, count = tif.pages[0].dataoffsets[1], tif.pages[0].databytecounts[1]
        damaged = bytearray(data)
        damaged[offset + count // 2:offset + count] = bytes(count - count // 2)
        with pytest.raises(ItemError, match=r"item 0: cannot decode TIFF image"):
            load_item(bytes(damaged)).pixels


def test_damaged_eight_bit_compressed_tiff_names_the_compression_libtiff_refused():
    """Pillow reports a strip libtiff cannot decode as "decoder error -2"; the reason names the
    compression. Look-alike: the intact file reads."""
    import tifffile

    yy, xx = np.mgrid[0:32, 0:24]
    arr = (yy * 5 + xx).astype(np.uint8)
    for compression, name in (("lzw", "LZW"), ("zlib", "deflate")):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, compression=compression, rowsperstrip=8)
        data = buf.getvalue()
        np.testing.assert_array_equal(load_item(data).pixels, arr)
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            offset, count = tif.pages[0].dataoffsets[2], tif.pages[0].databytecounts[2]
        damaged = bytearray(data)
        damaged[offset + count // 2:offset + count // 2 + 8] = b"\xff" * 8
        with pytest.raises(ItemError, match=rf"^item 0: cannot decode TIFF image \(OSError: .*; libtiff could not "
                                            rf"decode its {name} strips or tiles\)$"):
            load_item(bytes(damaged)).pixels


def test_truncated_image_loading_flag_is_refused(monkeypatch):
    from PIL import ImageFile

    tif = io.BytesIO()
    Image.fromarray(natural_image(1, (4, 4))).save(tif, "TIFF")
    gif = encode(natural_image(1, (4, 4)), "GIF")
    from forensics.media._item import _cv2_reads

    for data in (tif.getvalue(), gif):
        load_item(data).pixels  # look-alike: the flag off
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ItemError, match="LOAD_TRUNCATED_IMAGES is True"):
        load_item(tif.getvalue()).pixels
    if not _cv2_reads("GIF"):
        with pytest.raises(ItemError, match="LOAD_TRUNCATED_IMAGES is True"):
            load_item(gif).pixels


def test_bitmaps_and_binary_pnm():
    bits = np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1]], np.uint8)  # 9 wide: a padded second byte
    packed = np.packbits(bits, axis=1).tobytes()
    item = load_item(b"P4\n9 1\n" + packed)
    assert item.white == 255
    np.testing.assert_array_equal(item.luma[0], np.where(bits[0] == 1, 0, 255))  # PBM: 1 is black
    with pytest.raises(ItemError):
        load_item(b"P5\n2 1\n0\n\x00\x00").pixels


def _ifd_entries(data):
    """{tag: (entry offset, type, count, value or offset)} of a little-endian TIFF's first IFD."""
    assert data[:2] == b"II"
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    out = {}
    for k in range(n):
        pos = ifd + 2 + 12 * k
        tag, typ, count, value = struct.unpack_from("<HHII", data, pos)
        out[tag] = (pos, typ, count, value)
    return out


def _set_tag(data, tag, value):
    pos, typ, count, _ = _ifd_entries(data)[tag]
    assert count == 1
    data = bytearray(data)
    struct.pack_into("<H" if typ == 3 else "<I", data, pos + 8, value)
    return bytes(data)


def test_tiff_strip_bookkeeping_at_its_limits():
    import tifffile

    arr = natural_image(7, (8, 6))
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, rowsperstrip=2)
    good = buf.getvalue()
    entries = _ifd_entries(good)
    assert entries[273][2] == 4  # four strips of two rows
    np.testing.assert_array_equal(load_item(good).pixels, arr)
    with pytest.raises(ItemError, match="truncated TIFF: 4 strips for an image that needs 8"):
        load_item(_set_tag(good, 278, 1)).pixels
    # the byte count of the first strip, one short of its rows (2 x 6 x 3 = 36 bytes)
    pos, typ, count, offset = entries[279]
    size = 2 if typ == 3 else 4
    assert struct.unpack_from("<H" if size == 2 else "<I", good, offset)[0] == 36
    short = bytearray(good)
    struct.pack_into("<H" if size == 2 else "<I", short, offset, 35)
    with pytest.raises(ItemError, match="truncated TIFF: strip 0 holds 35 bytes of the 36 its rows need"):
        load_item(bytes(short)).pixels
    longer = bytearray(good)
    struct.pack_into("<H" if size == 2 else "<I", longer, offset + 3 * size, 36)  # the last strip: exactly enough
    load_item(bytes(longer)).pixels
    last = struct.unpack_from("<I", good, entries[273][3] + 12)[0]
    assert last + 36 == len(good)  # the last strip ends the file
    with pytest.raises(ItemError, match=rf"truncated TIFF: a strip of 36 bytes at offset {last} runs past the end "
                                        rf"\({last + 35} bytes\)"):
        load_item(good[:last + 35]).pixels


def test_tiff_tiles_are_checked_like_strips():
    import tifffile

    arr = natural_image(8, (20, 20))
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, tile=(16, 16))  # 2 x 2 tiles, the outer ones padded
    good = buf.getvalue()
    np.testing.assert_array_equal(load_item(good).pixels, arr)
    assert _ifd_entries(good)[324][2] == 4
    with pytest.raises(ItemError, match="truncated TIFF: 4 strips for an image that needs 6"):
        load_item(_set_tag(good, 256, 40)).pixels  # 40 wide: 3 x 2 tiles of 16
    with pytest.raises(ItemError, match="zero tile size"):
        load_item(_set_tag(good, 322, 0)).pixels


def test_opencv_allocation_failure_while_decoding_is_the_items_memory_error():
    """OpenCV raises cv2.error (not MemoryError) when it cannot allocate the decoded picture."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent("""
        import resource, numpy as np, cv2
        cv2.setNumThreads(1)
        from forensics.media import load_item, ItemError
        data = cv2.imencode('.png', np.zeros((4000, 7000), np.uint8))[1].tobytes()  # 28 MB decoded
        assert load_item(np.zeros((4, 4), np.uint8)).luma.shape == (4, 4)
        vm = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 20_000_000, vm + 20_000_000))
        try:
            load_item(data, 3).pixels
            print('NO ERROR')
        except ItemError as exc:
            print('ITEMERROR', exc)
    """)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert ("ITEMERROR item 3: out of memory while decoding a 7000x4000 image (28 megapixels); lower max_pixels "
            "or free memory") in res.stdout  # width x height


# -- seed-22 survivors, by kind -------------------------------------------------------------------

def test_jpeg_stand_alone_markers_are_skipped_not_the_end_of_the_walk():
    """SOI, TEM and RST0..RST7 carry no length (T.81 B.1.1.3): the walk steps over the two bytes
    and goes on to the frame header; a length-carrying marker in the same place does not."""
    good = _jpeg()
    sof = good.find(b"\xff\xc0")
    expected = load_item(good).pixels
    info = _scan_jpeg(Item(0, None, good))
    for marker in (0x01, 0xD8, 0xD0, 0xD3, 0xD7):
        data = good[:sof] + bytes([0xFF, marker]) + good[sof:]
        assert _scan_jpeg(Item(0, None, data)) == info
    for marker in (0xD0, 0xD7):  # PIL's marker table reads RSTn outside a scan too (not TEM)
        data = good[:sof] + bytes([0xFF, marker]) + good[sof:]
        np.testing.assert_array_equal(load_item(data).pixels, expected)
    # two in a row, then a fill byte: each step is two bytes (the fill byte one)
    data = good[:sof] + b"\xff\xd0\xff\x01\xff" + good[sof:]
    assert _scan_jpeg(Item(0, None, data)) == info
    # look-alikes just outside the stand-alone range are segments with a length
    for marker in (0xCF, 0xD9):
        data = good[:sof] + bytes([0xFF, marker]) + good[sof:]
        with pytest.raises(ItemError, match="no image data|before the frame header|runs past the end"):
            _scan_jpeg(Item(0, None, data))


@pytest.mark.parametrize("marker, progressive, lossless", [
    (0xC0, False, False), (0xC1, False, False), (0xC2, True, False), (0xC3, False, True),
    (0xC5, False, False), (0xC6, True, False), (0xC7, False, True),
    (0xC9, False, False), (0xCA, True, False), (0xCB, False, True),
    (0xCD, False, False), (0xCE, True, False), (0xCF, False, True),
])
def test_every_start_of_frame_code_gives_its_mode(marker, progressive, lossless):
    """The thirteen SOF codes of T.81 table B.1: baseline/extended, progressive and lossless, each
    with Huffman or arithmetic coding, non-differential or differential (hierarchical)."""
    good = _jpeg()
    sof = good.find(b"\xff\xc0")
    data = good[:sof + 1] + bytes([marker]) + good[sof + 2:]
    info = _scan_jpeg(Item(0, None, data))
    assert (info["progressive"], info["lossless"]) == (progressive, lossless)
    assert info["precision"] == 8 and info["components"] == (1, 2, 3)


@pytest.mark.parametrize("marker", [0xC4, 0xC8, 0xCC])
def test_dht_jpg_and_dac_codes_are_not_frame_headers(marker):
    good = _jpeg()
    sof = good.find(b"\xff\xc0")
    data = good[:sof + 1] + bytes([marker]) + good[sof + 2:]
    with pytest.raises(ItemError, match="a scan comes before the frame header"):
        _scan_jpeg(Item(0, None, data))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_pil_image_whose_exif_cannot_be_parsed_is_read_as_stored(fmt):
    """A file whose Exif block is not TIFF data: PIL's ``getexif`` raises; the opened image is read
    with orientation 1 (as stored), like the same file given as bytes. Look-alike: a valid block."""
    img = natural_image(9, (8, 12))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, lossless=True, exif=b"Exif\x00\x00not a tiff header")
    with pytest.raises(SyntaxError):
        Image.open(io.BytesIO(buf.getvalue())).getexif()
    with pytest.warns(UserWarning, match=r"^item 2: damaged EXIF block \(SyntaxError: .*read as 1, the stored one$"):
        item = load_item(Image.open(io.BytesIO(buf.getvalue())), 2)
        assert item.orientation == 1 and item.index == 2
    np.testing.assert_array_equal(item.pixels, img)
    with pytest.warns(UserWarning, match=r"^item 0: damaged EXIF block"):
        assert load_item(buf.getvalue()).orientation == 1
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, lossless=True, exif=exif.tobytes())
    assert load_item(Image.open(io.BytesIO(buf.getvalue()))).orientation == 6


def test_unreadable_path_gives_the_system_reason(tmp_path):
    """OS errors other than a missing file: the message is the error's text (strerror), not its
    repr with the errno and path."""
    f = tmp_path / "f.png"
    f.write_bytes(encode(natural_image(1, (4, 4)), "PNG"))
    with pytest.raises(ItemError, match=r"item 5 \(.*f\.png/x\.png\): cannot read file \(Not a directory\)$"):
        load_item(str(f / "x.png"), 5)
    long = tmp_path / ("n" * 300 + ".png")
    with pytest.raises(ItemError, match=r"item 6 \(.*\.png\): cannot read file \(File name too long\)$"):
        load_item(str(long), 6)
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)  # a link to itself (and links to each other) is said to be a loop
    for path in (loop, tmp_path / "loop.png" / "x.png"):
        with pytest.raises(ItemError, match=r"\(.*loop\.png.*\): symbolic link loop \(a link that points to itself, or "
                                            r"links that point to each other\): no file at its end$"):
            load_item(path)
    (tmp_path / "one.png").symlink_to("two.png")
    (tmp_path / "two.png").symlink_to("one.png")
    with pytest.raises(ItemError, match=r"one\.png\): symbolic link loop"):
        load_item(tmp_path / "one.png")
    from forensics.media import video_info

    with pytest.raises(ItemError, match=r"loop\.png\): symbolic link loop"):
        video_info(loop)
    np.testing.assert_array_equal(load_item(f).pixels, natural_image(1, (4, 4)))  # look-alike


# -- seed-23/24 survivors, by kind ----------------------------------------------------------------

def _drop_tag(data, tag):
    """A little-endian TIFF without ``tag`` in its first IFD (entries stay sorted)."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    entries = [data[ifd + 2 + 12 * k:ifd + 14 + 12 * k] for k in range(n)]
    kept = [e for e in entries if struct.unpack_from("<H", e)[0] != tag]
    assert len(kept) == n - 1
    next_ifd = data[ifd + 2 + 12 * n:ifd + 6 + 12 * n]
    out = bytearray(data)
    out[ifd:ifd + 6 + 12 * n] = struct.pack("<H", n - 1) + b"".join(kept) + next_ifd + bytes(12)
    return bytes(out)


def test_tiff_without_bits_per_sample_is_bilevel():
    """TIFF 6.0: BitsPerSample defaults to 1, and Pillow writes bilevel TIFFs without the tag. Such
    a file was refused as truncated (its strips checked at 8 bits a sample). Look-alikes: the same
    file with its strip one byte short (refused), and an 8-bit file, whose tag is written."""
    bits = np.random.default_rng(0).random((6, 20)) > 0.5
    buf = io.BytesIO()
    Image.fromarray(bits).save(buf, "TIFF")
    data = buf.getvalue()
    entries = _ifd_entries(data)
    assert 258 not in entries and entries[279][3] == 6 * 3  # 20 bits a row: 3 bytes
    item = load_item(data)
    np.testing.assert_array_equal(item.pixels, np.asarray(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(item.luma, np.where(bits, 255.0, 0.0))
    with pytest.raises(ItemError, match="truncated TIFF: strip 0 holds 17 bytes of the 18 its rows need"):
        load_item(_set_tag(data, 279, 17)).pixels
    grey = _tiff(natural_image(1, (6, 20))[:, :, 0])
    assert _ifd_entries(grey)[258][3] == 8
    with pytest.raises(ItemError, match="strip 0 holds 119 bytes of the 120"):
        load_item(_set_tag(grey, 279, 119)).pixels


def test_tiff_tile_width_or_offsets_alone_make_it_tiled():
    """TIFF 6.0: a file with TileWidth is tiled and needs TileOffsets (libtiff reads it so). Pillow
    would read a file with TileWidth beside strip offsets as stripped; it is refused. Look-alike:
    the same strips without TileWidth. TileOffsets without TileWidth: refused too."""
    import tifffile

    grey = natural_image(1, (6, 20))[:, :, 0]
    stripped = _tiff(grey)
    np.testing.assert_array_equal(load_item(stripped).pixels, grey)
    renamed = bytearray(stripped)
    struct.pack_into("<H", renamed, _ifd_entries(stripped)[278][0], 322)  # RowsPerStrip -> TileWidth
    assert Image.open(io.BytesIO(bytes(renamed))).size == (20, 6)
    with pytest.raises(ItemError, match="corrupt TIFF: strip offsets and byte counts missing"):
        load_item(bytes(renamed)).pixels
    buf = io.BytesIO()
    tifffile.imwrite(buf, natural_image(8, (20, 20)), tile=(16, 16))
    with pytest.raises(ItemError, match="Invalid tile dimensions|zero tile size"):
        load_item(_drop_tag(buf.getvalue(), 322)).pixels


def test_jpeg_cut_inside_a_marker_header():
    """Two bytes of marker then the two-byte length: a file ending before the length is whole has
    no segment to read; one ending after it has a segment running past the end."""
    good = _jpeg()
    sof = good.find(b"\xff\xc0")
    for cut in (sof + 2, sof + 3):
        with pytest.raises(ItemError, match="no image data"):
            _scan_jpeg(Item(0, None, good[:cut]))
    with pytest.raises(ItemError, match="marker segment runs past the end"):
        _scan_jpeg(Item(0, None, good[:sof + 4]))


def test_progressive_jpeg_cut_at_a_segment_boundary_between_scans():
    """Cut right after a table segment that follows the first scan: the walk runs out of bytes
    with scans already read, so the end-of-image marker is what is missing (not the image data)."""
    data = _jpeg(natural_image(5, (32, 32)), progressive=True)
    first_sos = data.find(b"\xff\xda")
    dht = data.find(b"\xff\xc4", first_sos)
    assert dht > 0 and data.find(b"\xff\xda", first_sos + 2) > dht  # a table before the second scan
    end = dht + 2 + int.from_bytes(data[dht + 2:dht + 4], "big")
    with pytest.raises(ItemError, match="the end-of-image marker is missing"):
        _scan_jpeg(Item(0, None, data[:end]))
    with pytest.raises(ItemError, match="no image data"):
        _scan_jpeg(Item(0, None, data[:first_sos]))  # look-alike: cut before any scan


@pytest.mark.parametrize("pil_mode", ["P", "L", "RGBA", "RGB"])
def test_pil_fallback_decoder_keeps_grey_and_alpha_and_expands_palettes(pil_mode):
    """The decoder for GIF and AVIF where OpenCV lacks them (this OpenCV reads both, so it is
    called directly, on files of each PIL mode): grey stays 2-D, alpha stays, a palette is
    expanded to its colours."""
    img = natural_image(2, (8, 10))
    im = Image.fromarray(img)
    im = {"P": im.convert("P"), "L": im.convert("L"), "RGBA": im.convert("RGBA"), "RGB": im}[pil_mode]
    if pil_mode == "RGBA":
        alpha = np.arange(80, dtype=np.uint8).reshape(8, 10) * 3
        im.putalpha(Image.fromarray(alpha))
    buf = io.BytesIO()
    im.save(buf, {"P": "GIF", "L": "PNG"}.get(pil_mode, "WEBP"), lossless=True)
    arr = Item(0, None, buf.getvalue())._decode_pil()
    ref = Image.open(io.BytesIO(buf.getvalue()))
    expected = {"P": ref.convert("RGB"), "L": ref, "RGBA": ref, "RGB": ref}[pil_mode]
    assert ref.mode == pil_mode
    np.testing.assert_array_equal(arr, np.asarray(expected))
    assert arr.ndim == (2 if pil_mode == "L" else 3)


# -- seed-25 survivors, by kind -------------------------------------------------------------------

def test_display_rgb_of_float_samples_on_a_grid_that_tells_the_scale_apart():
    """Float samples are scaled by 255 and rounded (half to even, like OpenCV's saturate_cast):
    on j / 64 the products 255 j / 64 are exact in float32 and fall on every side of .5, so a
    scale of 256 or a truncation shows (0, 0.5 and 1 alone do not tell them apart)."""
    x = (np.arange(65, dtype=np.float32) / 64).reshape(5, 13)
    rgb = np.dstack([x, x[::-1, ::-1], np.full_like(x, 0.75)])
    expected = np.rint(rgb.astype(np.float64) * 255).astype(np.uint8)
    assert expected[0, 0, 2] == 191 and expected[2, 6, 0] == 128  # 191.25 down; 127.5 to even
    np.testing.assert_array_equal(load_item(rgb).display_rgb, expected)
    np.testing.assert_array_equal(load_item(x.astype(np.float64)).display_rgb[:, :, 1], expected[:, :, 0])


def test_size_refusal_rounds_the_megapixels():
    """The header-size refusal gives the size in whole megapixels, rounded: 1300 x 1300 is 1.69 MP."""
    ihdr = (b"IHDR", struct.pack(">IIBBBBB", 1300, 1300, 8, 2, 0, 0, 0))
    data = _png(np.zeros((1, 1, 3), np.uint8), [ihdr, (b"IDAT", zlib.compress(b"")), (b"IEND", b"")])
    with pytest.raises(ItemError, match=r"image is 1300x1300 \(2 megapixels\), above max_pixels=1689999;"):
        load_item(data, max_pixels=1_689_999).pixels
    with pytest.raises(ItemError, match=r"image is 1300x1000 \(1 megapixels\), above max_pixels=1000000;"):
        load_item(_png(np.zeros((1, 1, 3), np.uint8), [(b"IHDR", struct.pack(">IIBBBBB", 1300, 1000, 8, 2, 0, 0, 0)),
                                                      (b"IDAT", zlib.compress(b"")), (b"IEND", b"")]),
                  max_pixels=10**6).pixels


def test_pil_image_opened_from_a_file_is_named_by_its_path(tmp_path):
    """An opened PIL image carries its file name: errors name it. Look-alikes: one opened from a
    buffer (filename '') and one made in memory (no filename) are named by index only."""
    img = natural_image(3, (10, 12))
    path = tmp_path / "p.png"
    path.write_bytes(encode(img, "PNG"))
    with Image.open(path) as im:
        with pytest.raises(ItemError, match=r"^item 4 \(.*p\.png\): image is 12x10, above max_pixels=119$") as err:
            load_item(im, 4, max_pixels=119)
        assert err.value.source == str(path)
        assert load_item(im, 4).source == str(path)
    for im in (Image.open(io.BytesIO(encode(img, "PNG"))), Image.fromarray(img)):
        with pytest.raises(ItemError, match=r"^item 4: image is 12x10, above max_pixels=119$") as err:
            load_item(im, 4, max_pixels=119)
        assert err.value.source is None


# -- seed-26 survivors, by kind -------------------------------------------------------------------

def _progressive_markers(scans, components=1):
    """The marker skeleton of a progressive JPEG (SOF2, then each scan's header over a few bytes
    of entropy-coded data, then EOI): what _scan_jpeg reads. ``scans``: (Ss, Se, Ah << 4 | Al)."""
    sof = bytes([8, 0, 8, 0, 8, components]) + b"".join(bytes([c + 1, 0x11, 0]) for c in range(components))
    out = b"\xff\xd8" + b"\xff\xc2" + (2 + len(sof)).to_bytes(2, "big") + sof
    for ss, se, ahal in scans:
        sos = bytes([components]) + b"".join(bytes([c + 1, 0]) for c in range(components)) + bytes([ss, se, ahal])
        out += b"\xff\xda" + (2 + len(sos)).to_bytes(2, "big") + sos + b"\x12\x34\x56"
    return out + b"\xff\xd9"


@pytest.mark.parametrize("ahal, complete", [(0x00, True), (0x10, True), (0x20, True),
                                            (0x01, False), (0x11, False), (0x02, False), (0x08, False), (0x0D, False)])
def test_progressive_scan_is_final_only_when_its_low_bit_position_is_zero(ahal, complete):
    """A progressive scan finishes its coefficients only when its successive-approximation low
    bit Al (the low nibble; Ah is the high one) is 0: a file whose last pass over a band has
    Al > 0 is incomplete, whatever Ah."""
    data = _progressive_markers([(0, 0, 0x00), (1, 63, ahal)])
    if complete:
        assert _scan_jpeg(Item(0, None, data))["progressive"]
    else:
        with pytest.raises(ItemError, match=r"incomplete JPEG: the scans leave coefficients of component\(s\) \[1\]"):
            _scan_jpeg(Item(0, None, data))
    # the same band finished by a later pass
    assert _scan_jpeg(Item(0, None, _progressive_markers([(0, 0, 0), (1, 63, ahal), (1, 63, 0x10)])))


@pytest.mark.parametrize("maxval", [254, 255, 256])
def test_pnm_maxval_at_and_around_the_byte_scale(maxval):
    """A maxval of 254 still fits a byte but is not its scale: samples are scaled by 255 / 254;
    255 is the byte's own scale; 256 needs two bytes."""
    item = load_item(_pgm(maxval, [0, maxval // 2, maxval]))
    assert item.white == maxval and item.pixels.dtype == (np.uint8 if maxval < 256 else np.uint16)
    np.testing.assert_allclose(item.luma[0], [0, (maxval // 2) * 255 / maxval, 255], rtol=1e-6)
    np.testing.assert_array_equal(item.display_rgb[0, :, 0], np.rint(np.array([0, maxval // 2, maxval]) * 255 / maxval))


# -- seed-27 survivors, by kind -------------------------------------------------------------------

def test_png_first_chunk_must_be_ihdr_whatever_its_name_sorts_to():
    """A first chunk named before IHDR in byte order (IDAT, IEND, Apple's CgBI) is refused like
    one named after it (tEXt); look-alike: IHDR first."""
    img = natural_image(4, (6, 7))
    h, w = img.shape[:2]
    ihdr = (b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    idat = (b"IDAT", zlib.compress(b"".join(b"\x00" + r.tobytes() for r in img)))
    iend = (b"IEND", b"")
    np.testing.assert_array_equal(load_item(_png(img, [ihdr, idat, iend])).pixels, img)
    for first in (idat, iend, (b"CgBI", b"\x50\x00\x20\x02"), (b"tEXt", b"a\x00b")):
        assert (first[0] < b"IHDR") == (first[0] != b"tEXt")
        with pytest.raises(ItemError, match="corrupt PNG data: the first chunk is not IHDR"):
            _check_png_chunks(Item(0, None, _png(img, [first, ihdr, idat, iend])))


@pytest.mark.parametrize("length, refused", [(0, True), (1, True), (2, False), (3, False)])
def test_jpeg_segment_length_counts_its_own_two_bytes(length, refused):
    """A marker segment's length includes its two length bytes, so it is at least 2 (an empty
    COM segment); 0 and 1 are refused, 2 and 3 are read and stepped over."""
    good = _jpeg()
    info = _scan_jpeg(Item(0, None, good))
    data = good[:2] + b"\xff\xfe" + length.to_bytes(2, "big") + b"x" * max(length - 2, 0) + good[2:]
    if refused:
        with pytest.raises(ItemError, match="a marker segment runs past the end"):
            _scan_jpeg(Item(0, None, data))
    else:
        assert _scan_jpeg(Item(0, None, data)) == info
        np.testing.assert_array_equal(load_item(data).pixels, load_item(good).pixels)


@pytest.mark.parametrize("extra, refused", [(-1, True), (0, False), (1, False)])
def test_start_of_scan_tail_of_three_bytes_or_more(extra, refused):
    """After the component list a scan header holds Ss, Se and Ah/Al: fewer than three bytes are
    refused; more are left to the decoder (libjpeg checks the exact length), the walk reads the
    first three."""
    scans = [(0, 63, 0x00)]
    data = _progressive_markers(scans)
    sos = data.find(b"\xff\xda")
    n = int.from_bytes(data[sos + 2:sos + 4], "big")
    head, tail, rest = data[:sos + 4], data[sos + 4:sos + 2 + n], data[sos + 2 + n:]
    tail = tail[:len(tail) + extra] if extra < 0 else tail + b"\x00" * extra
    patched = head[:-2] + (2 + len(tail)).to_bytes(2, "big") + tail + rest
    if refused:
        with pytest.raises(ItemError, match="short start-of-scan header"):
            _scan_jpeg(Item(0, None, patched))
    else:
        assert _scan_jpeg(Item(0, None, patched))["progressive"]


# -- seed-30 survivors, by kind -------------------------------------------------------------------

def test_tiff_without_a_compression_tag_is_uncompressed_and_its_strips_are_checked():
    """TIFF 6.0: Compression defaults to 1 (none), so a file without the tag has raw strips whose
    byte counts must cover their rows. Refused: such a file with its strip one byte short;
    look-alike: the whole strip."""
    grey = natural_image(1, (6, 20))[:, :, 0]
    data = _drop_tag(_tiff(grey), 259)
    assert 259 not in _ifd_entries(data) and _ifd_entries(data)[279][3] == 120
    np.testing.assert_array_equal(load_item(data).pixels, grey)
    with pytest.raises(ItemError, match="truncated TIFF: strip 0 holds 119 bytes of the 120 its rows need"):
        load_item(_set_tag(data, 279, 119)).pixels


@pytest.mark.parametrize("msv, white", [(127, 127), (255, 255), (256, 255), (511, 255), (4095, 255)])
def test_tiff_max_sample_value_above_an_eight_bit_container_is_ignored(msv, white):
    """MaxSampleValue sets the scale only below the container's full scale (255 for 8-bit samples);
    at it and above it (a 16-bit value in an 8-bit file) the samples keep the 8-bit scale."""
    arr = np.array([[0, 100, 127]], np.uint8)
    item = load_item(_tiff(arr, tags={281: msv}))
    assert item.white == white
    np.testing.assert_allclose(item.luma[0], arr[0] * 255.0 / white, rtol=1e-6)


def test_released_memoryview_is_an_unreadable_buffer_of_its_item():
    data = encode(natural_image(9, (5, 7)), "PNG")
    view = memoryview(data)
    assert load_item(view, 3).data == data  # look-alike: a live view
    view.release()
    with pytest.raises(ItemError, match=r"^item 3: unreadable buffer \(ValueError: operation forbidden on released"):
        load_item(view, 3)


# -- seed-31 survivors, by kind -------------------------------------------------------------------

def test_item_defaults_name_item_zero():
    item = Item(data=b"not an image")
    assert (item.index, item.source, item.max_pixels) == (0, None, 1 << 28)
    assert Item(pixels=np.zeros((2, 2))).orientation == 1
    with pytest.raises(ItemError, match=r"^item 0: not a readable image file") as err:
        item.header
    assert err.value.index == 0 and err.value.source is None
    assert str(Item(7, "x.png", b"junk").error("bad")) == "item 7 (x.png): bad"  # look-alike: given ones


# -- the seed-31 survivors left without a test ---------------------------------------------------

def test_memory_message_without_a_size_when_the_header_cannot_be_read():
    """The out-of-memory message never gives way to a second error while it computes the size.

    No item from ``load_item`` reaches this (its header is read before any pixels exist, and an
    array item has no header); an ``Item`` built with both bytes and pixels does, when the
    bytes are no image. The cv2.error path of ``luma`` is forced as in the luma test above."""
    arr = natural_image(3, (4, 4))
    item = Item(6, "x.png", data=b"not an image", pixels=arr)
    item.__dict__["rgb"] = item.rgb.astype(np.float64)  # a depth cvtColor refuses
    with pytest.raises(ItemError, match=r"^item 6 \(x\.png\): out of memory while computing luma; "
                                        r"lower max_pixels or free memory \(OpenCV.*\)$"):
        item.luma
    # look-alike: readable bytes give the size
    good = Item(6, "x.png", data=encode(arr, "PNG"), pixels=arr)
    good.__dict__["rgb"] = good.rgb.astype(np.float64)
    with pytest.raises(ItemError, match=r"^item 6 \(x\.png\): out of memory while computing luma a 4x4 image "):
        good.luma


# -- seed-32 survivors, by kind -------------------------------------------------------------------

@pytest.mark.parametrize("short", [1, 7, 40])
def test_png_cut_inside_a_chunk_is_reported_as_that_chunk_running_past_the_end(short):
    """A chunk whose declared length runs past the end of the file is named as such (not as a CRC
    mismatch read from whatever bytes are left), at one byte past the end and further; the
    look-alike that ends exactly after the chunk is a file without IEND."""
    img = natural_image(4, (9, 11))
    good = _png(img)
    idat_end = len(good) - 12  # the IEND chunk is the last 12 bytes
    idat_len = int.from_bytes(good[8 + 25:8 + 29], "big")  # IDAT's length, after the 25-byte IHDR chunk
    assert good[8 + 29:8 + 33] == b"IDAT"
    with pytest.raises(ItemError, match=rf"^item 2: truncated PNG: chunk b'IDAT' declares {idat_len} bytes past "
                                        r"the end of the file$"):
        load_item(good[:idat_end - short], 2).pixels
    with pytest.raises(ItemError, match=r"^item 2: truncated PNG: the file ends before the IEND chunk$"):
        load_item(good[:idat_end], 2).pixels


# -- seed-33 survivors, by kind -------------------------------------------------------------------

def test_scan_data_starts_right_after_the_scan_header():
    """The marker searches after a start-of-scan header begin at its last byte + 1: a header
    ending in 0xFF (a malformed Ah/Al byte) followed by data is never read as a marker, in the
    end-of-image search after one complete baseline scan and in the search for the next marker
    between progressive scans."""
    good = bytearray(_jpeg())
    sos = good.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(good[sos + 2:sos + 4], "big")  # first byte of scan data
    assert good[start - 1] == 0x00 and good.count(b"\xff\xd9") == 1 and good.endswith(b"\xff\xd9")
    straddle = bytearray(good[:-2])  # no EOI
    straddle[start - 1], straddle[start] = 0xFF, 0xD9
    with pytest.raises(ItemError, match="^item 0: truncated JPEG: the end-of-image marker is missing$"):
        _scan_jpeg(Item(0, None, bytes(straddle)))
    assert not _scan_jpeg(Item(0, None, bytes(straddle) + b"\xff\xd9"))["progressive"]  # look-alike: with EOI
    # progressive: the data after a header ending in 0xFF starts with 0x12, which would be a marker
    # (0xFF12) if the search began inside the header; it reaches the EOI and reports the scan unfinished
    prog = _progressive_markers([(0, 63, 0xFF)])
    assert prog.count(b"\xff\x12") == 1
    with pytest.raises(ItemError, match=r"^item 0: incomplete JPEG: the scans leave coefficients of component\(s\) "
                                        r"\[1\] unfinished"):
        _scan_jpeg(Item(0, None, prog))
    assert _scan_jpeg(Item(0, None, _progressive_markers([(0, 63, 0x00)])))["progressive"]  # look-alike: Al = 0


# -- final fresh sample (seed 34) survivors, by kind ------------------------------------------------

@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_cv2_decoder_keeps_alpha_and_channel_order_of_four_channel_files(fmt):
    """OpenCV decodes a file with alpha to BGRA: it becomes RGBA with its alpha intact (the 3-channel
    conversion would drop the alpha: OpenCV's BGR2RGB takes 4-channel input too). Look-alike: the
    same picture without alpha, BGR to RGB."""
    img = natural_image(3, (8, 10))
    alpha = (np.arange(80, dtype=np.uint8).reshape(8, 10) * 3)
    for rgba in (np.dstack([img, alpha]), img):
        buf = io.BytesIO()
        Image.fromarray(rgba).save(buf, fmt, lossless=True)
        arr = Item(0, None, buf.getvalue())._decode_cv2(fmt)
        np.testing.assert_array_equal(arr, np.asarray(Image.open(io.BytesIO(buf.getvalue()))))
        assert arr.shape == rgba.shape


# -- seed-35 survivors, by kind -------------------------------------------------------------------

def _with_planar_configuration(data, value):
    """The TIFF ``data`` with the value of its PlanarConfiguration entry (tag 284, one SHORT) set to ``value``."""
    b = bytearray(data)
    order = "<" if b[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", b[4:8])[0]
    for k in range(struct.unpack(order + "H", b[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * k
        if struct.unpack(order + "H", b[entry:entry + 2])[0] == 284:
            b[entry + 8:entry + 10] = struct.pack(order + "H", value)
            return bytes(b)
    raise AssertionError("no PlanarConfiguration entry")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])  # Pillow's path and tifffile's
@pytest.mark.parametrize("planar", ["contig", "separate"])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_tiff_planar_configuration_outside_one_and_two_is_refused_by_name(dtype, planar, compression):
    """TIFF 6.0 knows PlanarConfiguration 1 (chunky) and 2 (planar); readers disagree on any other value
    (Pillow reads chunky, libtiff refuses, tifffile reads planar: 16-bit chunky samples then came out as
    (S, H, W), and read as planar they would be scrambled). 0, 3 and 65535 are refused by name; the file's
    own value, the look-alike, reads its samples."""
    import tifffile

    arr = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * (1111 if dtype == np.uint16 else 4)).astype(dtype)
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr if planar == "contig" else arr.transpose(2, 0, 1), photometric="rgb",
                     planarconfig=planar, compression=compression, rowsperstrip=2)
    good = buf.getvalue()
    own = 1 if planar == "contig" else 2
    np.testing.assert_array_equal(load_item(_with_planar_configuration(good, own)).pixels, arr)
    for value in (0, 3, 65535):
        with pytest.raises(ItemError, match=rf"^item 2: corrupt TIFF: PlanarConfiguration {value} \(TIFF 6.0 allows "
                                            r"1, chunky, and 2, planar\)$"):
            load_item(_with_planar_configuration(good, value), 2).pixels


def _cmyk_jpeg(progressive):
    buf = io.BytesIO()
    Image.fromarray(natural_image(7, (16, 16))).convert("CMYK").save(buf, "JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


def test_a_four_component_jpeg_tracks_its_fourth_component():
    """libjpeg's CMYK frame header lists four components, ids 'C', 'M', 'Y', 'K' (67, 77, 89, 75), 3 bytes
    each from byte 6 of the segment: the walk tracks all four, K included. A progressive file cut before
    its last scan (K's final AC refinement, Ah 1 Al 0) with an EOI appended leaves only K unfinished and is
    refused naming it; cut before the last two scans, Y and K. Look-alike: the whole file."""
    for progressive in (False, True):
        assert _scan_jpeg(Item(0, None, _cmyk_jpeg(progressive)))["components"] == (67, 77, 89, 75)
    data = _cmyk_jpeg(True)
    starts = [k for k in range(len(data) - 1) if data[k:k + 2] == b"\xff\xda"]
    assert len(starts) == 18 and data[starts[-1] + 4:starts[-1] + 10] == bytes([1, 75, 0, 1, 63, 0x10])
    for cut, missing in ((starts[-1], "75"), (starts[-2], "89, 75")):
        with pytest.raises(ItemError, match=rf"^item 0: incomplete JPEG: the scans leave coefficients of "
                                            rf"component\(s\) \[{missing}\] unfinished"):
            _scan_jpeg(Item(0, None, data[:cut] + b"\xff\xd9"))
    np.testing.assert_array_equal(load_item(data).pixels,
                                  np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.mark.parametrize("size, components", [(15, (1, 2, 3)), (16, (1, 2, 3, 4)), (17, (1, 2, 3, 4)),
                                              (18, (1, 2, 3, 4))])
def test_frame_header_lists_a_component_whose_id_byte_is_in_the_segment(size, components):
    """A frame header that declares 4 components but is cut short: a component is listed when its id
    byte, at 6 + 3 i, lies inside the segment: 15 bytes hold three ids, 16 the fourth id (without its
    sampling and table bytes), 18 the whole header."""
    sof = (bytes([8, 0, 8, 0, 8, 4]) + b"".join(bytes([c, 0x11, 0]) for c in (1, 2, 3, 4)))[:size]
    sos = bytes([4]) + b"".join(bytes([c, 0]) for c in (1, 2, 3, 4)) + bytes([0, 63, 0])
    data = (b"\xff\xd8\xff\xc0" + (2 + len(sof)).to_bytes(2, "big") + sof
            + b"\xff\xda" + (2 + len(sos)).to_bytes(2, "big") + sos + b"\x12\x34\xff\xd9")
    assert _scan_jpeg(Item(0, None, data))["components"] == components


def test_pil_images_of_other_modes_and_a_broken_one():
    """A PIL image in a mode without transparency (YCbCr, CMYK, HSV) becomes 3 channels, no alpha; a
    palette image with a transparent index becomes RGBA; a PIL object without a size (built without
    its constructor) is an ItemError naming item 0, not an AttributeError."""
    from PIL import Image

    rgb = natural_image(4, (6, 7))
    for mode in ("YCbCr", "CMYK", "HSV"):
        item = load_item(Image.fromarray(rgb).convert(mode))
        assert item.pixels.shape == (6, 7, 3) and not item.has_alpha, mode
    pal = Image.fromarray(rgb).quantize(8)
    pal.info["transparency"] = 0
    assert load_item(pal).pixels.shape == (6, 7, 4) and load_item(pal).has_alpha
    with pytest.raises(ItemError, match=r"^item 0: cannot read the PIL image \(AttributeError: "):
        load_item(Image.Image.__new__(Image.Image))


# -- round 6 fuzz (seed 3 at 3x scale): an imaging tag of the first IFD that cannot be read ------

def _ifd_entry(data, tag):
    """Offset of ``tag``'s 12-byte entry in the first IFD of a classic little-endian TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        if struct.unpack_from("<H", data, ifd + 2 + 12 * k)[0] == tag:
            return ifd + 2 + 12 * k
    raise AssertionError(f"no tag {tag}")


def test_tiff_imaging_tag_that_cannot_be_read_is_refused():
    """A 16-bit LZW TIFF whose PlanarConfiguration count was overwritten (its values 'past the end
    of the file') next to a Predictor whose tag number was overwritten: every reader skipped both,
    and the picture came back without its predictor, status ok (fuzz seed 3, byte runs). An
    imaging tag with an unknown field type, a zero count or values past the end is refused, for
    8-bit (Pillow) and 16-bit (tifffile) files alike. Look-alikes: the same damage to a tag that
    does not touch the pixels (Software) is read, the pixels intact; and a lost Predictor alone (a
    tag number damaged: an unknown tag, skipped as TIFF 6.0 says) is another valid TIFF, read."""
    import warnings

    import tifffile

    rgb16 = natural_image(3, (12, 16)).astype(np.uint16) * 257
    rgb8 = natural_image(4, (12, 16))
    for arr, kw in ((rgb16, dict(compression="lzw", predictor=True)), (rgb8, {})):
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, photometric="rgb", software="forensics test", **kw)
        good = buf.getvalue()
        np.testing.assert_array_equal(load_item(good).pixels, arr)
        for tag, at, value, said in [(284, 4, 0x7FFF0001, r"PlanarConfiguration tag's 2147418113 values run past "
                                                          r"the end of the file"),
                                     (284, 2, 99, r"PlanarConfiguration tag has field type 99, which no reader reads"),
                                     (284, 4, 0, r"PlanarConfiguration tag holds no value")]:
            bad = bytearray(good)
            e = _ifd_entry(good, tag)
            struct.pack_into("<I" if at == 4 else "<H", bad, e + at, value)
            with warnings.catch_warnings(record=True) as caught:  # Pillow's, on opening: asserted below
                warnings.simplefilter("always")
                with pytest.raises(ItemError, match=r"^item 0: corrupt TIFF: its " + said):
                    load_item(bytes(bad)).pixels
            said_skip = [str(w.message).endswith("Tag data larger than file. Skipping tag 284") for w in caught]
            assert any(said_skip) == (at == 4 and value > 0)  # Pillow skips the tag, and goes on
        # threshold: StripByteCounts' values (3 strips of 4 rows) moved to the very end of the file
        # are read; one byte further, they run past it
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, photometric="rgb", rowsperstrip=4, **kw)
        strips = buf.getvalue()
        e = _ifd_entry(strips, 279)
        kind, count, offset = struct.unpack_from("<HII", strips, e + 2)
        size = {3: 2, 4: 4}[kind] * count
        assert count == 3 and size > 4  # stored away from the entry
        moved = bytearray(strips) + strips[offset:offset + size]
        struct.pack_into("<I", moved, e + 8, len(strips))
        np.testing.assert_array_equal(load_item(bytes(moved)).pixels, arr)
        struct.pack_into("<I", moved, e + 8, len(strips) + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's, on opening (asserted above)
            with pytest.raises(ItemError, match=r"StripByteCounts tag's 3 values run past the end of the file"):
                load_item(bytes(moved)).pixels
        soft = bytearray(good)  # Software (305), a description: its values past the end are skipped, harmlessly
        struct.pack_into("<I", soft, _ifd_entry(good, 305) + 8, len(good) + 100)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(load_item(bytes(soft)).pixels, arr)
        said = {str(w.message) for w in caught}  # Pillow's, each naming the item
        assert "item 0: Pillow warned opening it (header and EXIF): Truncated File Read" in said
        assert all(m.startswith("item 0: Pillow warned ") for m in said), said
    good16 = _tiff16_lzw(rgb16)
    lost = bytearray(good16)  # Predictor's number damaged: an unknown private tag
    struct.pack_into("<H", lost, _ifd_entry(good16, 317), 64368)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not np.array_equal(load_item(bytes(lost)).pixels, rgb16)  # read, undetectable by format


def _tiff16_lzw(arr):
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="rgb", compression="lzw", predictor=True)
    return buf.getvalue()


def _sos_headers(data):
    """(offset of each start-of-scan segment's component list, Ns, Ah) of a JPEG, in file order."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xD9:
            break
        if marker == 0xDA:
            ns = data[pos + 4]
            out.append((pos + 5, ns, data[pos + 4 + 1 + 2 * ns + 2] >> 4))
            pos = re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, pos + 2 + length).start()
            continue
        pos += 2 + length
    return out


def test_jpeg_scan_naming_a_huffman_table_above_3_is_refused():
    """A progressive JPEG whose DC refinement scan names DC table 4 (a flipped bit in its header)
    decoded without a warning, libjpeg never looking the table up in that scan; with an entropy
    bit flipped elsewhere it was a wrong picture, status ok (fuzz seed 3; FFmpeg: 'ac/dc index out
    of range'). Selectors are 0-3 (T.81 B.2.3): 4 and 15 are refused, DC or AC; 3, the edge, is
    read (unused in that scan: the pixels are the intact file's)."""
    rgb = natural_image(5, (24, 32))
    good = encode(rgb, "JPEG", quality=85, progressive=True)
    intact = load_item(good).pixels
    at, ns, _ = next(h for h in _sos_headers(good) if h[2] > 0 and h[1] == 3)  # the DC refinement scan
    for selector, refused in [(0x40, True), (0xF0, True), (0x04, True), (0x30, False), (0x03, False)]:
        bad = bytearray(good)
        bad[at + 1] = selector  # the first component's table selectors
        if refused:
            with pytest.raises(ItemError, match=rf"^item 0: corrupt JPEG data: a start-of-scan header names Huffman "
                                                rf"tables {selector >> 4} \(DC\) and {selector & 15} \(AC\); a scan "
                                                rf"may name tables 0-3$"):
                load_item(bytes(bad)).pixels
        else:
            np.testing.assert_array_equal(load_item(bytes(bad)).pixels, intact)
