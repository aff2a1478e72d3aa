"""Catch a codec shortcut with the audit, then remove it by equalizing the codec (offline).

Here the fakes were saved at JPEG quality 95 and the reals at 90, as in many public sets: the
quantization table alone gives the label away. The audit says so before any detector is trained;
after CodecEqualizer (centre crop + identical re-encoding) no metadata property predicts it.
With ``../shared/data`` beside the repository, pass a folder: python examples/shortcut_audit.py DIR
"""

import io
import sys
import warnings

import numpy as np
from PIL import Image

import forensics
from forensics.media import CodecEqualizer


def synthetic(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(2 * n):
        img = np.clip(rng.normal(128, 40, (64, 64, 3)).cumsum(0) / 8 + 64, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=95 if i % 2 else 90)
        X.append(buf.getvalue())
        y.append(i % 2)
    return X, np.array(y)


if len(sys.argv) > 1:
    from forensics.datasets import IMAGE_SUFFIXES, load_folder

    manifest = load_folder(sys.argv[1], suffixes=IMAGE_SUFFIXES)
    X, y = list(manifest["path"]), manifest["label"].to_numpy()
else:
    X, y = synthetic()

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    report = forensics.audit(X, y)
print(report)
print(f"warnings raised: {[w.category.__name__ for w in caught]}")

equalized = CodecEqualizer().fit(X).transform(X)
print(forensics.audit(equalized, y, warn=False))
