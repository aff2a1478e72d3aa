"""Shared by bench_robustness.py and bench_cross_dataset.py: data sets, perturbations, one feature pass.

Not part of the package. Features are extracted once per (data set, perturbation) by a single bank
holding every family the detectors use (each image decoded once), cached under ``results/cache``,
and each detector reads its own columns (checked equal to its own feature step on a few items).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

#: Handcrafted detectors of the catalogue (deep ones need weights or training: name them explicitly).
DEFAULT_DETECTORS = ("spectrum-lr", "dct-lr", "forensic-mlp", "forensic-xgb", "cooc-lr", "face-consistency-lr",
                     "local-lr", "generalist-xgb")
#: Perturbations of the robustness benchmark, in table order.
PERTURBATIONS = ("clean", "jpeg90", "jpeg75", "jpeg50", "blur1", "down0.5", "combined")


def _encode(rgb, quality):
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, cv2.IMWRITE_JPEG_OPTIMIZE, 0, cv2.IMWRITE_JPEG_PROGRESSIVE, 0]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def perturb(data, name):
    """One perturbation of an (equalized) JPEG item, re-encoded as JPEG by OpenCV (4:2:0).

    ``jpeg<q>``: re-compression at quality q; ``blur1``: Gaussian blur of sigma 1; ``down0.5``:
    area down-scaling by 2; ``combined``: blur, then down-scaling, then quality 75. Blurred and
    down-scaled images are stored at quality 90 (the clean items' own encoder), so they keep a
    JPEG container: a format change would be a shortcut of its own.
    """
    if name == "clean":
        return data
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if name.startswith("jpeg"):
        return _encode(rgb, int(name[4:]))
    if name in ("blur1", "combined"):
        rgb = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    if name in ("down0.5", "combined"):
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    if name in ("blur1", "down0.5"):
        return _encode(rgb, 90)
    if name == "combined":
        return _encode(rgb, 75)
    raise ValueError(f"unknown perturbation {name!r}; choose from {PERTURBATIONS}")


def load_set(name, per_class, seed=0):
    """Items (equalized JPEG bytes), labels, methods and groups of one data set.

    ``lfw_faceswap`` / ``casia_v1``: ``per_class`` images per class drawn with ``seed`` from
    ``../shared/data``, equalized (centre crop min(256, h, w), OpenCV JPEG q90). ``demo``: the
    embedded demo set of ``forensics demo`` (``per_class`` per class, 256 px, seed), already encoded
    alike, grouped by source photo.
    """
    from forensics.datasets import IMAGE_SUFFIXES, load_folder, make_demo_dataset
    from forensics.media import equalize_jpeg

    if name == "demo":
        demo = make_demo_dataset(n_per_class=per_class, size=256, seed=seed)
        return dict(items=list(demo["item"]), y=demo["label"].to_numpy(), methods=demo["method"].to_numpy(),
                    groups=demo["group"].to_numpy(), paths=None)
    folder = DATA / name
    if not folder.is_dir():
        raise SystemExit(f"needs {folder} (the shared data folder beside the repository)")
    manifest = load_folder(folder, suffixes=IMAGE_SUFFIXES)
    rng = np.random.default_rng(seed)
    keep = []
    for label in (0, 1):
        idx = np.flatnonzero(manifest["label"].to_numpy() == label)
        keep.extend(sorted(rng.choice(idx, min(per_class, len(idx)), replace=False)))
    manifest = manifest.iloc[sorted(keep)].reset_index(drop=True)
    items = [equalize_jpeg(Path(p).read_bytes(), index=i) for i, p in enumerate(manifest["path"])]
    return dict(items=items, y=manifest["label"].to_numpy(), methods=manifest["method"].to_numpy(), groups=None,
                paths=list(manifest["path"]))


def build_detector(name, random_state=None):
    """The pipeline of a catalogued detector, or of a variant ``<detector>+<family>[+<family>...]``.

    A variant is the catalogued detector with the named opt-in families (default parameters) added
    to its feature bank, e.g. ``generalist-xgb+local``: how a family's worth to a detector is
    measured before it is added to the catalogue entry. The base must have a named bank.
    """
    from forensics import make_pipeline
    from forensics.features import ALL_EXTRACTORS, ForensicFeatures

    base, *extra = name.split("+")
    pipe = make_pipeline(base, random_state=random_state)
    if not extra:
        return pipe
    features = pipe.steps[0][1]
    inner = features.extractors if isinstance(features, ForensicFeatures) else None
    if not inner:
        raise ValueError(f"{name}: {base} has no named feature bank to extend")
    names = [n for n, _ in inner]
    added = [(f, ALL_EXTRACTORS[f]()) for f in extra if f not in names]
    pipe.steps[0] = (pipe.steps[0][0], ForensicFeatures([*inner, *added]))
    return pipe


def union_bank(detectors):
    """One bank with every extractor the detectors' feature steps use (default parameters)."""
    from forensics.features import ALL_EXTRACTORS, ForensicFeatures

    families = []
    for name in detectors:
        features = build_detector(name).steps[0][1]
        inner = features.extractors if isinstance(features, ForensicFeatures) and features.extractors else None
        if inner is None:  # a preset bank: every family of the default bank
            from forensics.features import FAMILIES

            fams = list(FAMILIES)
        else:
            fams = [n for n, _ in inner]
        families += [f for f in fams if f not in families]
    return ForensicFeatures([(f, ALL_EXTRACTORS[f]()) for f in families])


def _package_digest():
    """SHA-1 of every source file of the installed ``forensics`` package (names and bytes), so that a
    cached feature matrix is never reused after the code that computed it changed."""
    import forensics

    root = Path(forensics.__file__).resolve().parent
    h = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def extract(bank, items, *, cache_key, n_jobs, progress=True):
    """Features of ``items`` by ``bank``, cached in results/cache.

    The cache key holds ``cache_key``, the bank's column names, the items' bytes and the package's
    source (:func:`_package_digest`): other data, another bank or changed feature code compute anew.
    """
    fitted = bank.fit(items[:1])
    names = np.asarray(fitted.get_feature_names_out()).astype(str)
    h = hashlib.sha1(("|".join(names) + repr(cache_key) + _package_digest()).encode())
    for data in items:
        h.update(hashlib.sha1(data if isinstance(data, bytes) else repr(data).encode()).digest())
    digest = h.hexdigest()[:16]
    path = ROOT / "results" / "cache" / f"{digest}.npz"
    if path.is_file():
        return np.load(path)["F"], names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        F = fitted.set_params(n_jobs=n_jobs, progress=progress).transform(items)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, F=F)
    return F, names


def detector_columns(name, union_names, probe_items, union_F_probe):
    """(columns of the union matrix that form the detector's features, the rest of its pipeline).

    The detector's own feature step is run on ``probe_items`` and must equal the union's columns
    (same names, same values): otherwise the union would not stand for it, and this raises.
    """
    from sklearn.pipeline import Pipeline

    pipe = build_detector(name, random_state=0)
    features = pipe.steps[0][1].fit(probe_items)
    own = np.asarray(features.get_feature_names_out()).astype(str)
    index = {n: k for k, n in enumerate(union_names)}
    missing = [n for n in own if n not in index]
    if missing:
        raise RuntimeError(f"{name}: the union bank lacks {missing[:3]}...")
    cols = np.array([index[n] for n in own])
    np.testing.assert_allclose(features.transform(probe_items), union_F_probe[:, cols], rtol=1e-9, atol=1e-12,
                               equal_nan=True, err_msg=f"{name}: its features differ from the union bank's")
    return cols, Pipeline(pipe.steps[1:])


def fake_probability(model, F):
    return model.predict_proba(F)[:, 1]
