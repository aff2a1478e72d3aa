"""What float32 would buy in the two float64 stages of the bank, and what it would cost in accuracy.

Not adopted (issue 10: a column whose definition changes is a documented, versioned change): this
script measures the two candidates so that the decision rests on figures.

- ``spectral``: the windowed luma and its ``rfft2`` in float32 (pocketfft's single precision)
  instead of float64; the power sums stay float64.
- ``noise`` wavelet residual: the DWT / inverse DWT planes in float32 instead of float64 (the
  same numba kernels, called on float32 planes; the filters and sums stay float64).

For each, on 256x256 JPEGs (as ``bench_features.py``) and on the regression fixture's inputs: the
family's time per image, float64 against float32 interleaved on the CPU clock (medians), and per
column the largest ``|f32 - f64| / max(|f64|, 1e-12)`` over the images, with the columns that
break the regression tolerance (``1e-6`` relative) counted.

    python benchmarks/float32_cost.py [--n-images 32] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_features import _faces, interleaved, jpegs  # noqa: E402


@contextmanager
def spectral_f32():
    """``_windowed`` returns the float32 windowed luma, so ``rfft2`` runs in single precision."""
    from forensics.features import _spectral

    orig = _spectral._windowed

    def windowed(luma, window):
        x, energy = orig(luma, window)
        return x.astype(np.float32), energy

    _spectral._windowed = windowed
    try:
        yield
    finally:
        _spectral._windowed = orig


@contextmanager
def wavelet_f32():
    """The wavelet residual's planes and bands in float32 (its scratch arrays made float32)."""
    from forensics.features import _noise

    orig = _noise.scratch

    def scratch(name, shape, dtype=np.float64):
        if name.startswith("noise.wavelet.") and name != "noise.wavelet.abs" and dtype == np.float64:
            dtype = np.float32
        return orig(name + ".f32" if dtype == np.float32 else name, shape, dtype)

    _noise.scratch = scratch
    try:
        yield
    finally:
        _noise.scratch = orig


def rel_error(a, b):
    """Per column max |a - b| / max(|b|, 1e-12) over rows; inf where NaN differs."""
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.abs(b), 1e-12)
    err = np.where(np.isnan(a) & np.isnan(b), 0.0, err)
    err = np.where(np.isnan(a) != np.isnan(b), np.inf, err)
    return err.max(axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    import regression_features as fixture

    import forensics.features as F
    from forensics.media import load_item

    faces, source = _faces(args.n_images)
    data = jpegs(faces, 256)
    items = [load_item(b) for b in data]
    for it in items:
        it.rgb, it.luma
    fixture_inputs, _ = fixture.load()
    fixture_items = []
    for x in fixture_inputs.values():
        try:
            it = load_item(x)
            it.rgb, it.luma
            fixture_items.append(it)
        except Exception:  # inputs the fixture records as refusals
            pass
    print(f"{len(items)} x 256x256 JPEG q90 ({source}) + {len(fixture_items)} regression-fixture inputs")
    for family, cls, variant in (("spectral", F.SpectralFeatures, spectral_f32),
                                 ("noise (wavelet residual)", F.NoiseFeatures, wavelet_f32)):
        ext = cls().fit()
        names = ext.get_feature_names_out()

        def rows(its):
            return np.array([ext._compute(it) for it in its], dtype=np.float64)

        ref = rows(items), rows(fixture_items)
        with variant():
            got = rows(items), rows(fixture_items)
            rows(items[:2])  # compile any new signature before timing

        def f32():
            with variant():
                rows(items)

        t = interleaved({"float64": lambda: rows(items), "float32": f32}, args.repeats)
        err = np.maximum(rel_error(got[0], ref[0]), rel_error(got[1], ref[1]))
        changed = err > 0
        print(f"\n## {family}: float64 {t['float64'] / len(items) * 1e3:.3f} ms, float32 "
              f"{t['float32'] / len(items) * 1e3:.3f} ms per image (x{t['float32'] / t['float64']:.2f}); "
              f"{int((err > 1e-6).sum())} of {int(changed.sum())} changed columns beyond 1e-6 relative")
        order = np.argsort(-err)
        for k in order[:12]:
            if err[k] > 0:
                print(f"  {names[k]}: {err[k]:.2e}")
        print(f"  median over changed columns: {np.median(err[changed]) if changed.any() else 0:.2e}")


if __name__ == "__main__":
    main()
