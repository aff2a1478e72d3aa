import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.impute import SimpleImputer

from conftest import encode, natural_image
from forensics.features import (
    FAMILIES, BlurFeatures, ForensicFeatures, SpectralFeatures, list_features, make_feature_bank,
)
from forensics.media import ItemError
from forensics.features._registry import catalogue_markdown, preset_prefixes
from forensics.media import Item


def test_bank_equals_concatenated_families():
    X = [encode(natural_image(s, (40, 56)), "JPEG", quality=80) for s in range(3)]
    bank = make_feature_bank().fit(X)
    parts = [cls().fit(X) for cls in FAMILIES.values()]
    np.testing.assert_array_equal(bank.transform(X), np.hstack([p.transform(X) for p in parts]))
    assert list(bank.get_feature_names_out()) == [n for p in parts for n in p.get_feature_names_out()]


def test_default_bank_is_all_families():
    X = [natural_image(0, (32, 32))]
    assert list(ForensicFeatures().fit(X).get_feature_names_out()) == list(make_feature_bank().fit(X).get_feature_names_out())


def test_bank_decodes_each_item_once(monkeypatch):
    calls = []
    original = Item._decode

    def counting(self):
        calls.append(self.index)
        return original(self)

    monkeypatch.setattr(Item, "_decode", counting)
    X = [encode(natural_image(s, (24, 24)), "PNG") for s in range(4)]
    make_feature_bank().fit(X).transform(X)
    assert sorted(calls) == [0, 1, 2, 3]


def test_presets_select_registry_features():
    X = [natural_image(0, (32, 32))]
    full = make_feature_bank().fit(X)
    for preset in ("minimal", "pixels", "full"):
        bank = make_feature_bank(preset=preset).fit(X)
        prefixes = tuple(p for ps in preset_prefixes(preset).values() for p in ps)
        expected = [n for n in full.get_feature_names_out() if n.startswith(prefixes)]
        assert list(bank.get_feature_names_out()) == expected
        np.testing.assert_array_equal(bank.transform(X), full.transform(X)[:, [list(full.get_feature_names_out()).index(n) for n in expected]])
    assert not any(n.startswith("codec__") for n in make_feature_bank(preset="pixels").fit(X).get_feature_names_out())
    with pytest.raises(ValueError, match="preset"):
        make_feature_bank(preset="tiny").fit(X)


def test_nested_params_reach_the_families_in_a_grid_search():
    rng = np.random.default_rng(0)
    X, y = [], []
    for s in range(16):
        img = natural_image(s, (48, 48))
        if s % 2:
            img = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)  # noisier fakes
        X.append(img)
        y.append(s % 2)
    pipe = Pipeline([
        ("features", make_feature_bank(["blur"])),
        ("impute", SimpleImputer()), ("scale", StandardScaler()), ("head", LogisticRegression()),
    ])
    search = GridSearchCV(pipe, {"features__blur__grid": [2, 4]}, cv=StratifiedKFold(4), scoring="roc_auc")
    search.fit(X, np.array(y))
    assert search.best_params_["features__blur__grid"] in (2, 4)
    assert search.best_score_ > 0.9  # added noise is obvious to the sharpness measures


def test_set_params_replaces_and_drops_extractors():
    bank = make_feature_bank(["blur", "spectral"])
    bank.set_params(blur=BlurFeatures(grid=2))
    assert bank.get_params()["blur__grid"] == 2
    with pytest.raises(ValueError, match="invalid parameter"):
        bank.set_params(nope__x=1)
    with pytest.raises(ValueError, match="unknown families"):
        make_feature_bank(["colour"])


def test_bad_extractor_list_is_reported_at_fit():
    with pytest.raises(TypeError, match="pairs"):
        ForensicFeatures([BlurFeatures()]).fit()
    with pytest.raises(ValueError, match="unique"):
        ForensicFeatures([("a", BlurFeatures()), ("a", BlurFeatures(grid=2))]).fit()
    with pytest.raises(ValueError, match="duplicate feature names"):
        ForensicFeatures([("a", BlurFeatures()), ("b", BlurFeatures())]).fit()


def test_registry_covers_every_column():
    X = [natural_image(0, (32, 32))]
    names = make_feature_bank().fit(X).get_feature_names_out()
    table = list_features()
    prefixes = tuple(f"{n}__" for n in table["name"])
    uncovered = [n for n in names if not n.startswith(prefixes)]
    assert not uncovered
    assert table["name"].is_unique
    assert (table["reference"].str.len() > 10).all() and (table["formula"].str.len() > 5).all()
    for family in FAMILIES:  # every pixel family has a minimal subset; "minimal" has no codec metadata
        assert bool(preset_prefixes("minimal").get(family)) == (family != "codec"), family


def test_docs_catalogue_is_generated_from_the_registry():
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "features.md"
    assert page.read_text() == catalogue_markdown(), (
        "docs/features.md is stale: run python docs/build_catalogue.py")


class _FailsOnWidth(BlurFeatures):
    """A row-wise family that fails on images 33 pixels wide (to test failures in deferred chunks)."""

    def _compute(self, item):
        if item.shape[1] == 33:
            raise ValueError("width 33 is not supported")
        return super()._compute(item)


@pytest.mark.parametrize("defer_pixels", [0, 320 * 320])
def test_chunk_family_major_rows_and_failures_stay_with_their_items(monkeypatch, defer_pixels):
    """Small images are computed family by family over the chunk (deferred), large ones at once:
    the rows are the same either way, and a family failing on one item names that item."""
    import forensics.features._bank as bank_module

    monkeypatch.setattr(bank_module, "_DEFER_PIXELS", defer_pixels)
    X = [natural_image(0, (40, 48)), natural_image(1, (40, 33)), encode(natural_image(2, (56, 40)), "PNG")]
    bank = ForensicFeatures([("spectral", SpectralFeatures()), ("blur", _FailsOnWidth())], on_error="nan").fit(X)
    with pytest.warns(RuntimeWarning, match="1 of 3 items could not be processed"):
        out = bank.transform(X)
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).any(axis=1).all()
    assert list(bank.status_["status"]) == ["ok", "error", "ok"]
    assert "width 33" in bank.status_["error"][1]
    for k in (0, 2):  # the same row as the item alone
        np.testing.assert_array_equal(out[k], bank.transform([X[k]])[0])
    strict = ForensicFeatures([("spectral", SpectralFeatures()), ("blur", _FailsOnWidth())]).fit(X)
    with pytest.raises(ItemError, match="item 1: ValueError: width 33"):
        strict.transform(X)


def test_deferred_and_immediate_rows_agree(monkeypatch):
    import forensics.features._bank as bank_module

    X = [encode(natural_image(s, (48 + s, 40)), "JPEG", quality=80) for s in range(3)] + [natural_image(5, (30, 30))]
    deferred = make_feature_bank().fit(X).transform(X)
    monkeypatch.setattr(bank_module, "_DEFER_PIXELS", 0)
    np.testing.assert_array_equal(make_feature_bank().fit(X).transform(X), deferred)


def test_each_kernel_is_compiled_for_one_signature():
    """Whatever the input (8/16-bit, float, grey, alpha, odd and tiny sizes, every parameter), the
    bank calls each numba kernel with one set of argument types: a cold start compiles each once."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = textwrap.dedent("""
        import numpy as np
        from numba.core.registry import CPUDispatcher
        from conftest import encode, natural_image
        from forensics.features import make_feature_bank
        from forensics.features._kernels import _blur, _dct, _noise, _spectral
        rgb = natural_image(0, (70, 90))
        X = [encode(rgb, "JPEG", quality=70), encode(rgb[:, :, 0], "PNG"), encode(rgb[:33, :41], "PNG"),
             (rgb.astype(np.uint16) * 257), rgb[:20, :30] / 255.0, np.dstack([rgb, rgb[:, :, :1]]),
             rgb[:3, :3], rgb[:7, :5], rgb[:1, :1]]
        make_feature_bank().fit(X).transform(X)
        make_feature_bank(["spectral", "dct", "noise", "blur"], spectral__n_bins=7, spectral__window=None,
                          dct__n_coeffs=20, noise__wavelet="haar", noise__wavelet_level=1, noise__grid=3,
                          blur__grid=2).fit(X).transform(X)
        for mod in (_blur, _dct, _noise, _spectral):
            for name, fn in vars(mod).items():
                if isinstance(fn, CPUDispatcher) and len(fn.signatures) > 1:
                    print(mod.__name__, name, fn.signatures)
        from forensics.features._kernels._config import DECLARED
        for (module, name), (fn, sig) in DECLARED.items():  # compile_kernels compiles what the code calls
            if fn.signatures != [tuple(sig)]:
                print("declared", module, name, sig, fn.signatures)
        print(len(DECLARED), "done")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root / "tests",
                         env={"PYTHONPATH": f"{root}:{root / 'tests'}", "PATH": "",
                              "FORENSICS_UNCOMPILED_SECONDS": "0"})  # compile at once, no NumPy twin
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "12 done", res.stdout


def test_a_codec_only_bank_decodes_no_pixels(monkeypatch):
    calls = []
    original = Item._decode

    def counting(self):
        calls.append(self.index)
        return original(self)

    monkeypatch.setattr(Item, "_decode", counting)
    X = [encode(natural_image(s, (24, 24)), "JPEG", quality=90) for s in range(3)]
    out = make_feature_bank(["codec"]).fit(X).transform(X)
    assert calls == [] and (out[:, 0] == 1.0).all()  # format__jpeg, read from the header alone
    make_feature_bank(["codec", "blur"]).fit(X).transform(X)
    assert sorted(calls) == [0, 1, 2]  # with a pixel family: one decode per item


_COMPILE = """
import json, sys
import numpy as np
if sys.argv[1] == "broken":
    sys.executable = "/bin/false"  # every compiling child fails: the kernels must compile here
from forensics.features import blur_features, compile_kernels, spectral_features
report = compile_kernels(["spectral", "blur", "codec"], n_jobs=None if sys.argv[1] == "auto" else int(sys.argv[1])
                         if sys.argv[1] != "broken" else 2)
rng = np.random.default_rng(3)
image = rng.integers(0, 256, (61, 47), dtype=np.uint8)
values = np.array([*blur_features(image).values(), *spectral_features(image).values()], dtype=float)
print(json.dumps({"report": report, "values": values.tolist()}))
"""


@pytest.mark.parametrize("env_jobs", ["2"])
def test_compile_kernels_in_children_then_from_the_cache(tmp_path, env_jobs):
    """Kernels compiled in child interpreters load here and in a later process from the cache, with
    the same values as kernels compiled in this process; a failing child falls back to compiling here."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def run(mode, cache, **env):
        res = subprocess.run([sys.executable, "-c", _COMPILE, mode], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache), **env))
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout.strip().splitlines()[-1])

    children = run("2", tmp_path / "a")
    assert children["report"]["compiled"] == 3 and children["report"]["loaded"] == 0
    assert children["report"]["processes"] == 2 and len(children["report"]["child_cpu_seconds"]) == 2
    later = run("auto", tmp_path / "a", FORENSICS_COMPILE_JOBS=env_jobs)  # a new process, same cache
    assert later["report"]["compiled"] == 0 and later["report"]["loaded"] == 3
    assert later["report"]["processes"] == 0
    here = run("1", tmp_path / "b")  # compiled in this process (n_jobs=1), another cache
    assert here["report"]["compiled"] == 3 and here["report"]["processes"] == 0
    broken = run("broken", tmp_path / "c")
    assert broken["report"]["compiled"] == 3 and broken["report"]["processes"] == 0
    for other in (later, here, broken):
        np.testing.assert_allclose(other["values"], children["values"], rtol=1e-12, atol=0)
    assert np.isfinite(children["values"]).sum() > 10


def test_compile_kernels_counts_only_missing_kernels():
    from forensics.features import compile_kernels, spectral_features

    spectral_features(np.random.default_rng(0).random((16, 16)))  # compiled (or loaded) by a first call
    report = compile_kernels(["spectral", "no-such-family"], n_jobs=1)
    assert report["compiled"] == 0 and report["loaded"] == 0 and report["processes"] == 0


def test_failed_items_warning_points_at_the_callers_line():
    """The NaN-row warning names the line that called transform, not scikit-learn's set_output wrapper."""
    import warnings

    from forensics.features import SpectralFeatures

    X = [np.zeros((32, 32, 3), np.uint8), b"not an image"]
    for extractor in (make_feature_bank(["spectral", "blur"], on_error="nan"), SpectralFeatures(on_error="nan")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            extractor.fit(X).transform(X)
        (w,) = [w for w in caught if "could not be processed" in str(w.message)]
        assert w.filename == __file__, w.filename


def test_compile_processes_count_idle_cpus_only(monkeypatch):
    """Children only for CPUs that are not busy: at most the idle CPUs, the missing kernels and 8; an
    explicit n_jobs or FORENSICS_COMPILE_JOBS wins."""
    import os

    from forensics.features._kernels import _warm

    monkeypatch.delenv("FORENSICS_COMPILE_JOBS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(12)), raising=False)
    for load, missing, expected in [(0.0, 14, 8), (0.0, 3, 3), (6.4, 14, 6), (6.6, 14, 5), (11.6, 14, 1),
                                    (30.0, 14, 1)]:
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert _warm._n_processes(None, missing) == expected, (load, missing)
    assert _warm._n_processes(3, 14) == 3 and _warm._n_processes(1, 14) == 1
    monkeypatch.setenv("FORENSICS_COMPILE_JOBS", "2")
    assert _warm._n_processes(None, 14) == 2
