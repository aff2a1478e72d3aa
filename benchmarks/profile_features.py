"""Where the time of the handcrafted bank goes on a 256x256 JPEG: a per-stage profile (issue 10).

Every stage runs over the same 256x256 RGB JPEGs (q90) as ``bench_features.py``, one core, and is
timed on the process CPU clock (median over interleaved repeats, per image):

- the item: reading the file, the container header (Pillow), the JPEG marker scan, simplejpeg's
  header, the strict decode, the checks of the decoded array, the float RGB conversion and the
  luma, against a bare ``cv2.imdecode``; then ``load_item`` + ``luma`` + ``rgb`` + ``header`` as
  the bank does them, from bytes and from a path;
- each family on a decoded item (``_compute``) and its sub-steps;
- the whole bank (``transform``) against every stage by hand; then, in the state the profile left
  the process in, the bank's minor page faults per image, and (``--before``) an older commit's bank
  interleaved with it.

    python benchmarks/profile_features.py [--n-images 32] [--repeats 15] [--size 256] [--before COMMIT]
                                          [--out results/profile_features.md]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("FORENSICS_UNCOMPILED_SECONDS", "0")  # timings of the compiled kernels, never their NumPy twins

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_features import _faces, interleaved, jpegs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def stages(data, paths):
    """{group: {stage: callable over every image}} of the profile."""
    import scipy.fft
    import simplejpeg
    from PIL import Image as PILImage

    import forensics.features as F
    from forensics.features import _blur, _dct, _noise, _spectral
    from forensics.media import load_item
    from forensics.media._item import _OPEN_IDS, _scan_jpeg, _to_255

    items = [load_item(b) for b in data]
    for it in items:
        it.luma, it.rgb, it.header
    rgbs = [it.rgb for it in items]
    lumas = [it.luma for it in items]
    raw = [simplejpeg.decode_jpeg(b, colorspace="RGB", strict=True) for b in data]

    def drop(fn, inputs):  # one result alive at a time: memory is reused, as in the bank
        def run():
            for x in inputs:
                fn(x)
        return run

    def fresh_items(keep):
        def run():
            alive = []
            for b in data:
                it = load_item(b)
                it.header, it.luma, it.rgb
                if keep:
                    alive = alive[-15:] + [it]  # a chunk of 16 decoded items alive
        return run

    def from_paths():
        for p in paths:
            it = load_item(p)
            it.luma, it.rgb, it.header

    def imdecode(b):
        return cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)

    item = {
        "bare `cv2.imdecode` (BGR uint8; the bank's yardstick)": drop(imdecode, data),
        "read the file (`Path.read_bytes`)": drop(lambda p: Path(p).read_bytes(), paths),
        "`load_item(bytes)`": drop(load_item, data),
        "header: `PIL.Image.open` on the bytes": drop(lambda b: PILImage.open(io.BytesIO(b), formats=_OPEN_IDS), data),
        "JPEG marker scan (`_scan_jpeg`)": drop(_scan_jpeg, items),
        "`simplejpeg.decode_jpeg_header`": drop(simplejpeg.decode_jpeg_header, data),
        "decode: `simplejpeg.decode_jpeg` strict RGB": drop(
            lambda b: simplejpeg.decode_jpeg(b, colorspace="RGB", strict=True), data),
        "RGB float32 conversion (`_to_255`)": drop(lambda a: _to_255(a, 255), raw),
        "luma: `cv2.cvtColor` of the float RGB": drop(lambda r: cv2.cvtColor(r, cv2.COLOR_RGB2GRAY), rgbs),
        "item as the bank builds it: `load_item` + header + decode + luma + rgb": fresh_items(False),
        "the same from a path (file read included)": from_paths,
        "the same from bytes with 16 items alive in fresh memory (page faults)": fresh_items(True),
        "bare `cv2.imdecode`, 32 results alive in fresh memory (page faults)": lambda: [imdecode(b) for b in data],
    }

    spectral = F.SpectralFeatures().fit()
    geo = _spectral._geometry(256, 256, 32, 0.5)
    xs = [_spectral._windowed(y, "hann")[0].copy() for y in lumas]

    def power(x):
        spec = scipy.fft.rfft2(x)
        return (spec.real ** 2 + spec.imag ** 2).ravel()

    ps = [power(x) for x in xs]
    floors = [1e-12 * float(np.square(x).sum()) for x in xs]
    fam_spectral = {
        "spectral: whole family (`_compute`)": drop(spectral._compute, items),
        "spectral: mean removal + Hann window + energy": lambda: [_spectral._windowed(y, "hann") for y in lumas],
        "spectral: `scipy.fft.rfft2` float64": drop(scipy.fft.rfft2, xs),
        "spectral: weighted sums (log + kernel)": lambda: [_spectral.spectrum_sums(p, geo, f) for p, f in zip(ps, floors)],
        "spectral: up-sampling peaks (4 factors)": lambda: [[_spectral._upsampling_peak(p, 256, 256, k, f)
                                                            for k in _spectral._FACTORS] for p, f in zip(ps, floors)],
    }

    dct = F.DCTFeatures().fit()
    hists = [_dct._block_stats(np.ascontiguousarray(y, np.float32))[1].copy() for y in lumas]
    fam_dct = {
        "dct: whole family": lambda: [dct._compute(it) for it in items],
        "dct: block DCT + moments + histograms (kernel)": lambda: [_dct._block_stats(y) for y in lumas],
        "dct: lattice step estimation (kernel)": lambda: [_dct.estimate_steps(h) for h in hists],
    }

    noise = F.NoiseFeatures().fit()
    planes = [_noise._planes(r, y).copy() for r, y in zip(rgbs, lumas)]
    fam_noise = {
        "noise: whole family": lambda: [noise._compute(it) for it in items],
        "noise: de-interleave r, g, b, y planes": lambda: [_noise._planes(r, y) for r, y in zip(rgbs, lumas)],
        "noise: 3x3 median residual moments, 4 planes (kernel)": lambda: [_noise.median_stats(p, 4) for p in planes],
        "noise: wavelet residual + moments, luma (db4, 2 levels)": lambda: [_noise.wavelet_stats(p[3], 4) for p in planes],
        "noise: SRM residual moments (kernel)": lambda: [_noise.srm_stats(p, 4) for p in planes],
        "noise: Haar MAD sigma, 4 planes": lambda: [_noise.haar_sigma(p) for p in planes],
    }

    blur = F.BlurFeatures().fit()
    fam_blur = {
        "blur: whole family": lambda: [blur._compute(it) for it in items],
        "blur: sharpness + edge widths (kernel)": lambda: [_blur.sharpness_sums(y) for y in lumas],
        "blur: Haar detail energies (kernel)": lambda: [_blur.haar_detail_energies(y, 3, np.zeros(3)) for y in lumas],
    }

    codec = F.CodecFeatures().fit()
    fam_codec = {"codec: whole family": lambda: [codec._compute(it) for it in items]}

    bank = F.make_feature_bank().fit()
    families = [spectral, dct, noise, blur, codec]

    def by_hand():  # the item and every family, without the extraction loop
        for b in data:
            it = load_item(b)
            it.header, it.luma, it.rgb
            for f in families:
                f._compute(it)

    whole = {"the bank's `transform` (read, decode, every family)": lambda: bank.transform(data),
             "item + every family's `_compute`, one image at a time, no extraction loop": by_hand,
             "bare `cv2.imdecode` (again, same run)": drop(imdecode, data)}
    return {"item": item, "spectral": fam_spectral, "dct": fam_dct, "noise": fam_noise, "blur": fam_blur,
            "codec": fam_codec, "bank": whole}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--before", default=None, help="also run the bank of this commit at the end, same state")
    parser.add_argument("--out", default=str(ROOT / "results" / "profile_features.md"))
    args = parser.parse_args(argv)
    faces, source = _faces(args.n_images)
    data = jpegs(faces, args.size)
    n = len(data)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, b in enumerate(data):
            p = Path(tmp) / f"{k:03d}.jpg"
            p.write_bytes(b)
            paths.append(str(p))
        groups = stages(data, paths)
        results = {g: interleaved(fns, args.repeats) for g, fns in groups.items()}
    decode = results["item"]["bare `cv2.imdecode` (BGR uint8; the bank's yardstick)"] / n
    lines = [f"# Profile of the bank on {n} x {args.size}x{args.size} JPEG (q90), {source}",
             "", f"One core, process CPU clock, medians of {args.repeats} interleaved repeats per group; "
             f"load average {os.getloadavg()[0]:.1f}.", "",
             "| stage | ms per image | x decode |", "|---|---|---|"]
    for g, res in results.items():
        for stage, t in res.items():
            lines.append(f"| {stage} | {t / n * 1e3:.3f} | {t / n / decode:.2f} |")
    # the bank's steady state: page faults per image, and the reference commit in the same state
    import resource

    import forensics.features as F

    banks = {"this tree": F.make_feature_bank().fit()}
    if args.before:
        from bench_features import before_package

        sys.path.insert(0, before_package(args.before)[0])
        import forensics_before.features as B

        banks[f"`{args.before}`"] = B.make_feature_bank().fit()
    times, faults = {k: [] for k in banks}, {k: 0 for k in banks}
    dec = []
    for bank in banks.values():
        bank.transform(data)
    for _ in range(args.repeats):
        t = time.process_time()
        for b in data:
            cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
        dec.append(time.process_time() - t)
        for k, bank in banks.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t = time.process_time()
            bank.transform(data)
            times[k].append(time.process_time() - t)
            faults[k] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    d = float(np.median(dec))
    lines += ["", "The bank at the end of the same run (interleaved with a bare decode; the process's "
              "heap as the profile left it):", "", "| bank | ms per image | x decode | minor page faults per image |",
              "|---|---|---|---|"]
    for k in banks:
        m = float(np.median(times[k]))
        lines.append(f"| {k} | {m / n * 1e3:.3f} | {m / d:.2f} | {faults[k] / (args.repeats * n):.1f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)


if __name__ == "__main__":
    main()
