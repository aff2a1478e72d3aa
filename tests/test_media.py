import io

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import encode, natural_image
from forensics.media import Item, ItemError, as_item_sequence, load_item


def test_path_bytes_and_array_give_the_same_pixels(tmp_path):
    arr = natural_image(0, (20, 30))
    data = encode(arr, "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    a = load_item(str(path), 0)
    b = load_item(data, 1)
    c = load_item(arr, 2)
    np.testing.assert_array_equal(a.pixels, arr)
    np.testing.assert_array_equal(b.pixels, arr)
    np.testing.assert_array_equal(c.rgb, arr.astype(np.float32))
    assert a.format == b.format == "png" and c.format == "array"
    assert a.source == str(path) and b.source is None


def test_luma_is_bt601():
    arr = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    y = load_item(arr).luma
    np.testing.assert_allclose(y[0], [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30],
                               rtol=1e-6)


def test_grey_rgba_16bit_and_float_inputs():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    item = load_item(g)
    assert item.is_gray and item.rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(item.luma, g.astype(np.float32))
    rgba = np.dstack([natural_image(1, (5, 6)), np.full((5, 6), 7, np.uint8)])
    it = load_item(rgba)
    assert it.has_alpha and it.rgb.shape == (5, 6, 3)
    np.testing.assert_array_equal(it.rgb, rgba[:, :, :3].astype(np.float32))
    sixteen = (g.astype(np.uint16) * 257)
    np.testing.assert_allclose(load_item(sixteen).luma, g.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(load_item(g / 255.0).luma, g.astype(np.float32), rtol=1e-5)
    with pytest.raises(ItemError, match=r"item 4: float images must lie in \[0, 1\]"):
        load_item(g.astype(float), 4).luma


def test_16bit_png_file_keeps_16_bits():
    arr = (np.arange(48, dtype=np.uint16).reshape(4, 4, 3) * 1000)
    ok, buf = cv2.imencode(".png", arr[:, :, ::-1])
    item = load_item(buf.tobytes())
    assert item.pixels.dtype == np.uint16
    np.testing.assert_array_equal(item.pixels, arr)


def test_cmyk_jpeg_decodes_to_rgb():
    arr = natural_image(2, (32, 32))
    buf = io.BytesIO()
    Image.fromarray(arr).convert("CMYK").save(buf, "JPEG", quality=95)
    rgb = load_item(buf.getvalue()).rgb
    assert rgb.shape == (32, 32, 3)
    assert np.abs(rgb - arr).mean() < 6  # lossy, but the right colours (not inverted)


def test_grey_jpeg_and_palette_gif():
    g = natural_image(3, (16, 16))[:, :, 0]
    assert load_item(encode(g, "JPEG")).is_gray
    pal = Image.fromarray(natural_image(3, (16, 16))).convert("P")
    buf = io.BytesIO()
    pal.save(buf, "GIF")
    assert load_item(buf.getvalue()).rgb.shape == (16, 16, 3)


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.jpg", "file not found"),
        (lambda p: _write(p / "empty.jpg", b""), "file is empty"),
        (lambda p: _write(p / "text.jpg", b"hello world, not an image"), "not a readable image file"),
        (lambda p: p, "is a directory"),
    ],
)
def test_bad_files_name_the_item(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ItemError) as err:
        load_item(str(path), 7).luma
    assert str(err.value).startswith(f"item 7 ({path})")
    assert message in str(err.value)
    assert err.value.index == 7 and err.value.source == str(path)


def test_truncated_jpeg_is_an_error():
    data = encode(natural_image(4, (64, 64)), "JPEG", quality=90)
    for cut in (len(data) // 2, len(data) - 2, 200):
        with pytest.raises(ItemError, match="item 3: .*(truncated|cannot decode|not a readable)"):
            load_item(data[:cut], 3).luma


def test_truncated_png_is_an_error():
    data = encode(natural_image(4, (64, 64)), "PNG")
    with pytest.raises(ItemError, match="item 0"):
        load_item(data[: len(data) // 2], 0).luma


def test_zero_size_and_wrong_shapes():
    with pytest.raises(ItemError, match="zero size"):
        load_item(np.zeros((0, 5), np.uint8)).luma
    with pytest.raises(ItemError, match="expected an image of shape"):
        load_item(np.zeros((4, 4, 5), np.uint8)).luma
    with pytest.raises(ItemError, match="unsupported dtype"):
        load_item(np.zeros((4, 4), np.int32)).luma
    with pytest.raises(ItemError, match="NaN"):
        load_item(np.full((4, 4), np.nan)).luma
    with pytest.raises(ItemError, match="unsupported item type int"):
        load_item(5, 2)


def test_huge_image_refused_before_decoding():
    data = encode(np.zeros((100, 100), np.uint8), "PNG")
    item = load_item(data, 1, max_pixels=5000)
    with pytest.raises(ItemError, match="above max_pixels"):
        item.luma
    assert item._pixels is None  # refused from the header, nothing decoded


def test_pixels_decoded_once():
    item = load_item(encode(natural_image(0, (16, 16)), "PNG"))
    calls = []
    original = item._decode
    item._decode = lambda: calls.append(1) or original()
    item.luma, item.rgb, item.pixels, item.luma
    assert calls == [1]


def test_as_item_sequence_rejects_ambiguous_x():
    with pytest.raises(TypeError, match="single str"):
        as_item_sequence("image.jpg")
    with pytest.raises(TypeError, match="single bytes"):
        as_item_sequence(b"\xff\xd8")
    with pytest.raises(TypeError, match="stack of images"):
        as_item_sequence(np.zeros((8, 8)))
    with pytest.raises(TypeError, match="sequence of images"):
        as_item_sequence(42)
    stack = np.zeros((3, 8, 8), np.uint8)
    assert len(as_item_sequence(stack)) == 3
    import pandas as pd

    assert as_item_sequence(pd.Series(["a", "b"], index=[5, 9])) == ["a", "b"]


def test_item_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(ItemError(3, "x.jpg", "bad")))
    assert (err.index, err.source, err.reason, str(err)) == (3, "x.jpg", "bad", "item 3 (x.jpg): bad")


def test_item_repr():
    assert "bytes" in repr(Item(0, "a.jpg", b"123"))


def test_equalize_jpeg_follows_the_shared_protocol_literally():
    from forensics.media import equalize_jpeg

    data = encode(natural_image(5, (300, 270)), "JPEG", quality=75)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = min(256, h, w)
    crop = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    expected = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    assert equalize_jpeg(data) == expected
    small = equalize_jpeg(natural_image(1, (40, 60)), size=256, quality=50)
    assert load_item(small).shape == (40, 40)
    with pytest.raises(ItemError, match="item 9"):
        equalize_jpeg(b"junk", index=9)
