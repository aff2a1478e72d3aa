"""The feature regression fixture: fixed inputs and the values every column had when it was recorded.

The inputs are stored as they are fed to the extractors (encoded bytes, or raw arrays), not as
code that generates them, so an encoder upgrade cannot change them. They are generated once by
:func:`make_inputs` (deterministic: numpy's PCG64 and Pillow/libjpeg at the time of recording) and
cover: several sizes, odd ones and ones not a multiple of 8; grey and RGB; JPEG at qualities 50,
75, 90, 95 (4:2:0, 4:4:4, progressive), a double compression, PNG (8-bit RGB, RGBA, 16-bit grey),
a 2x nearest up-sampling, sharp and blurred edges, arrays (uint8 and float), a constant image and
images below the size limits of several features (NaN columns).

``CONFIGS`` are the extractor settings whose every column is recorded: the default bank, the
opt-in DCT spectrum, and every parameter of every family away from its default.

Recording (only when a column's definition changes on purpose, with a versioned note in
``docs/user-guide/feature-families.md``; never to make a failing regression test pass)::

    PYTHONPATH=$PWD python tests/regression_features.py                       # everything
    PYTHONPATH=$PWD python tests/regression_features.py dct__benford_div ...  # those columns only

The test is ``tests/test_features_regression.py``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parent / "data" / "features_regression.npz"

#: name -> (extractor names, parameters) given to ``make_feature_bank``.
CONFIGS = {
    "bank": (None, {}),
    "dctspec": (["dctspec"], {}),
    "variants": (
        ["spectral", "dct", "noise", "blur", "dctspec"],
        dict(spectral__n_bins=7, spectral__window=None, spectral__cutoff=0.3,
             dct__n_coeffs=20, dct__n_steps=64,
             noise__grid=3, noise__wavelet="sym4", noise__wavelet_level=3,
             blur__grid=3, blur__edge_threshold=8.0, dctspec__n_bands=5),
    ),
    "noise_haar": (["noise"], dict(noise__residuals=("wavelet", "median"), noise__grid=1,
                                   noise__wavelet="haar", noise__wavelet_level=1)),
}


def _field(rng, h, w, channels=3):
    """A natural-looking image: 1/f field per channel plus fine sensor-like noise, 0..255 float."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    r = np.sqrt(fx ** 2 + fy ** 2)
    r[0, 0] = 1.0
    chans = []
    base = None
    for _ in range(channels):
        spec = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / r ** 1.1
        field = np.real(np.fft.ifft2(spec))
        field = (field - field.min()) / (np.ptp(field) + 1e-12)
        # channels share most of their structure, as colour channels of photos do
        base = field if base is None else 0.7 * base + 0.3 * field
        chans.append(base)
    img = np.stack(chans, -1) * 210 + 20 + rng.normal(0, 2.5, (h, w, channels))
    return img


def _u8(img):
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _encode(arr, fmt, **kw):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def _edges(rng, h, w):
    """Vertical and horizontal steps of several contrasts, partly blurred, plus mild noise."""
    import cv2

    img = np.full((h, w), 60.0)
    for k, x in enumerate(range(8, w - 8, 13)):
        img[:, x:] += (-1) ** k * (25 + 10 * k)
    img[h // 2:, :] = 255 - img[h // 2:, :]
    img = np.clip(img, 0, 255)
    img[:, w // 2:] = cv2.GaussianBlur(img, (0, 0), 1.6)[:, w // 2:]
    return img + rng.normal(0, 1.0, (h, w))


def make_inputs():
    """name -> bytes (an encoded file) or ndarray (an in-memory image), deterministic."""
    from PIL import Image

    rng = np.random.default_rng(20240607)
    out = {}
    photo = _u8(_field(rng, 256, 256))
    out["rgb256_q90"] = _encode(photo, "JPEG", quality=90)
    out["rgb97x131_q75"] = _encode(_u8(_field(rng, 97, 131)), "JPEG", quality=75)
    out["grey120x88_q50"] = _encode(_u8(_field(rng, 120, 88, 1)[..., 0]), "JPEG", quality=50)
    once = Image.open(io.BytesIO(_encode(_u8(_field(rng, 160, 168)), "JPEG", quality=60)))
    out["rgb160x168_q60_q90"] = _encode(np.asarray(once.convert("RGB")), "JPEG", quality=90)
    exif = Image.Exif()
    exif[0x010F] = "FixtureCam"
    exif[0x0131] = "fixture 1.0"
    out["rgb75x61_q95_444_prog_exif"] = _encode(_u8(_field(rng, 75, 61)), "JPEG", quality=95, subsampling=0,
                                                progressive=True, exif=exif.tobytes())
    out["rgb67x45_png"] = _encode(_u8(_field(rng, 67, 45)), "PNG")
    rgba = np.concatenate([_u8(_field(rng, 40, 44)), np.full((40, 44, 1), 200, np.uint8)], axis=-1)
    out["rgba40x44_png"] = _encode(rgba, "PNG")
    grey16 = np.clip(np.rint(_field(rng, 50, 70, 1)[..., 0] * 257), 0, 65535).astype(np.uint16)
    out["grey50x70_png16"] = _encode(grey16, "PNG")
    small = _u8(_field(rng, 64, 64))
    out["rgb128_nearest2x_png"] = _encode(np.repeat(np.repeat(small, 2, 0), 2, 1), "PNG")
    out["grey96x100_edges_png"] = _encode(_u8(_edges(rng, 96, 100)), "PNG")
    out["rgb33x29_uint8_array"] = _u8(_field(rng, 33, 29))
    out["grey41x37_float_array"] = np.clip(_field(rng, 41, 37, 1)[..., 0] / 255.0, 0.0, 1.0)
    out["grey32_constant_png"] = _encode(np.full((32, 32), 131, np.uint8), "PNG")
    out["rgb7x5_png"] = _encode(_u8(_field(rng, 7, 5)), "PNG")
    out["rgb3x4_q90"] = _encode(_u8(_field(rng, 3, 4)), "JPEG", quality=90)
    out["grey1x1_png"] = _encode(np.full((1, 1), 9, np.uint8), "PNG")
    return out


def make_bank(config):
    from forensics.features import make_feature_bank

    families, params = CONFIGS[config]
    return make_feature_bank(families, **params).fit()


def compute(inputs, config):
    """(column names, values (n_inputs, n_columns)) of ``config`` over ``inputs`` (a dict)."""
    bank = make_bank(config)
    values = bank.transform(list(inputs.values()))
    return list(bank.get_feature_names_out()), values


def load():
    """(inputs dict, {config: (names, values)}) from the stored fixture."""
    with np.load(FIXTURE, allow_pickle=False) as z:
        names = [str(n) for n in z["input_names"]]
        kinds = [str(k) for k in z["input_kinds"]]
        inputs = {}
        for k, (name, kind) in enumerate(zip(names, kinds)):
            arr = z[f"input_{k}"]
            inputs[name] = arr.tobytes() if kind == "bytes" else arr
        recorded = {c: ([str(n) for n in z[f"{c}__columns"]], z[f"{c}__values"]) for c in CONFIGS}
    return inputs, recorded


def record(columns=None):
    """Compute every config on the inputs with the current code and write the fixture.

    ``columns`` (column-name prefixes): keep the stored inputs and every other recorded value, and
    record only the columns starting with one of them (a versioned change of those columns).
    """
    if columns:
        inputs, recorded = load()
    else:
        inputs = make_inputs()
    payload = {
        "input_names": np.array(list(inputs)),
        "input_kinds": np.array(["bytes" if isinstance(v, bytes) else "array" for v in inputs.values()]),
    }
    for k, value in enumerate(inputs.values()):
        payload[f"input_{k}"] = np.frombuffer(value, np.uint8) if isinstance(value, bytes) else value
    for config in CONFIGS:
        names, values = compute(inputs, config)
        if columns:
            old_names, old = recorded[config]
            if old_names != names:
                raise SystemExit(f"{config}: the columns changed; record the whole fixture instead")
            keep = ~np.array([n.startswith(tuple(columns)) for n in names])
            values = np.where(keep, old, values)
        payload[f"{config}__columns"] = np.array(names)
        payload[f"{config}__values"] = values
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **payload)
    return FIXTURE


if __name__ == "__main__":
    import sys

    path = record(sys.argv[1:] if sys.argv[1:2] != ["--all"] else None) if sys.argv[1:] else record()
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
