"""Scratch arrays reused between images: same name and shape give the same memory, nothing leaks
between images, threads do not share, and large arrays are not kept."""

import threading

import numpy as np

from conftest import encode, natural_image
from forensics.features import make_feature_bank
from forensics.features import _workspace
from forensics.features._workspace import scratch


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
