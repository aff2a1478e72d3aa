"""Scratch arrays reused between images: same name and shape give the same memory, nothing leaks
between images, threads do not share, and large arrays are not kept; items the extraction loop
creates reuse the memory of their position in the previous chunk."""

import threading

import numpy as np
import pytest

from conftest import encode, natural_image
from forensics.features import make_feature_bank
from forensics.features import _workspace
from forensics.features._workspace import scratch
from forensics.media import load_item


def test_same_name_shape_dtype_reuses_the_array():
    a = scratch("test.a", (3, 4))
    b = scratch("test.a", (3, 4))
    assert a is b and a.dtype == np.float64 and a.flags.c_contiguous
    assert scratch("test.a", (4, 3)) is not a          # another shape: a new array...
    assert scratch("test.a", (4, 3)).shape == (4, 3)   # ...which is then kept
    c = scratch("test.a", (4, 3), np.float32)
    assert c.dtype == np.float32 and scratch("test.a", (4, 3), np.float32) is c
    assert scratch("test.b", (4, 3), np.float32) is not c  # names do not share


def test_arrays_above_the_limit_are_not_kept(monkeypatch):
    monkeypatch.setattr(_workspace, "MAX_BYTES", 100)
    small = scratch("test.limit", (12,))        # 96 bytes: kept
    assert scratch("test.limit", (12,)) is small
    big = scratch("test.big", (13,))            # 104 bytes: fresh every time
    assert scratch("test.big", (13,)) is not big


def test_threads_get_their_own_arrays():
    mine = scratch("test.thread", (5,))
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(scratch("test.thread", (5,))))
    t.start()
    t.join()
    assert theirs[0] is not mine


def test_rows_do_not_depend_on_the_images_before():
    """Scratch reuse leaves no state behind: an image gives the same row whatever came before it,
    across sizes, colour and grey."""
    a = encode(natural_image(1, (64, 80)), "JPEG", quality=85)
    b = encode(natural_image(2, (48, 40))[:, :, 0], "PNG")
    c = natural_image(3, (64, 80))
    bank = make_feature_bank().fit()
    alone = [bank.transform([x])[0] for x in (a, b, c)]
    mixed = bank.transform([a, b, a, c, b, c, a])
    for row, k in zip(mixed, [0, 1, 0, 2, 1, 2, 0]):
        np.testing.assert_array_equal(row, alone[k])


# -- the items the extraction loop creates reuse their chunk position's memory ---------------------

def _decoded(item):
    return item.pixels.copy(), item.rgb.copy(), item.luma.copy()


@pytest.mark.parametrize("source", ["jpeg", "jpeg_grey", "png", "png16", "array"])
def test_item_buffers_give_the_same_arrays(source):
    """An item with a buffer provider decodes to exactly what a plain item holds, for every path
    through the decoders (8-bit RGB JPEG, grey JPEG, PNG, 16-bit PNG, in-memory array)."""
    from forensics.features._base import _slot_buffers

    rgb = natural_image(4, (37, 53))
    obj = {"jpeg": encode(rgb, "JPEG", quality=90), "jpeg_grey": encode(rgb[:, :, 0], "JPEG"),
           "png": encode(rgb, "PNG"), "png16": encode((rgb[:, :, 1].astype(np.uint16) * 257), "PNG"),
           "array": rgb}[source]
    plain = load_item(obj)
    pooled = load_item(obj)
    pooled._buffers = _slot_buffers(0)
    for a, b in zip(_decoded(plain), _decoded(pooled)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_slot_buffers_reuse_up_to_the_limit_only():
    from forensics.features._base import _REUSE_PIXELS, _slot_buffers

    side = int(np.sqrt(_REUSE_PIXELS))
    assert side * side == _REUSE_PIXELS
    first, again, other = _slot_buffers(3), _slot_buffers(3), _slot_buffers(4)
    at = first("rgb", (side, side, 3), np.float32)
    assert again("rgb", (side, side, 3), np.float32) is at  # the same slot: the same memory
    assert not np.shares_memory(other("rgb", (side, side, 3), np.float32), at)  # another slot
    assert not np.shares_memory(first("luma", (side, side), np.float32), at)  # another array
    above = first("rgb", (side, side + 1, 3), np.float32)
    assert above.shape == (side, side + 1, 3)
    assert first("rgb", (side, side + 1, 3), np.float32) is not above  # just above: fresh each time


@pytest.mark.parametrize("n", [15, 16, 17, 33])
def test_reused_item_memory_keeps_every_row(n):
    """Rows of chunks that reuse the previous chunk's item memory equal the rows computed alone, for
    counts around the chunk size (16), sizes that change between images and one above the limit."""
    shapes = [(64, 80), (64, 80), (48, 40), (40, 48)]  # equal neighbours, then a change of size
    images = [encode(natural_image(k, shapes[k % 4]), "JPEG", quality=80 + k % 15) for k in range(n)]
    images[n // 2] = encode(natural_image(99, (330, 320)), "JPEG")  # 105600 pixels: above the limit
    bank = make_feature_bank(["noise", "spectral", "blur"]).fit()
    together = bank.transform(images)
    for k in range(n):
        np.testing.assert_array_equal(together[k], bank.transform([images[k]])[0])


def test_items_of_the_caller_keep_their_own_memory():
    from forensics.features._workspace import _local

    items = [load_item(encode(natural_image(k, (32, 40)), "JPEG")) for k in range(3)]
    make_feature_bank(["noise"]).fit().transform(items)
    kept = list(getattr(_local, "arrays", {}).values())
    for it in items:
        assert it._buffers is None
        assert not any(np.shares_memory(it.rgb, a) or np.shares_memory(it.luma, a) for a in kept)


def test_an_item_with_buffers_pickles_without_them():
    import pickle

    from forensics.features._base import _slot_buffers

    item = load_item(encode(natural_image(5, (24, 32)), "JPEG"))
    item._buffers = _slot_buffers(0)
    rgb = item.rgb.copy()
    back = pickle.loads(pickle.dumps(item))
    assert back._buffers is None
    np.testing.assert_array_equal(back.rgb, rgb)


def test_only_the_first_chunk_positions_reuse_memory():
    """A chunk longer than _REUSE_SLOTS (parallel runs use up to 64) takes fresh memory beyond it,
    so the memory kept per worker stays bounded; the caller's Item objects never get buffers."""
    from forensics.features._base import _REUSE_SLOTS, BaseExtractor, _extract_chunk
    from forensics.media import DEFAULT_MAX_PIXELS

    class Pooled(BaseExtractor):
        family = "pooled"

        def _feature_names(self):
            return ["pooled__reuses__memory"]

        def _compute(self, item):
            item.luma
            return [float(item._buffers is not None)]

    jpeg = encode(natural_image(6, (24, 32)), "JPEG")
    n = _REUSE_SLOTS + 3
    rows, records, error = _extract_chunk([Pooled().fit()], [jpeg] * n, 0, 1, "raise", DEFAULT_MAX_PIXELS)
    assert error is None
    np.testing.assert_array_equal(rows[:, 0], [1.0] * _REUSE_SLOTS + [0.0] * 3)
    own = load_item(jpeg)
    rows, _, _ = _extract_chunk([Pooled().fit()], [own], 0, 1, "raise", DEFAULT_MAX_PIXELS)
    assert rows[0, 0] == 0.0
