"""The kernels' NumPy tier (``forensics/features/_kernels/_tier.py``): a fresh install runs the
twins until they have cost the kernels' compile time, then compiles; the values do not depend on
which ran. Each scenario runs in a fresh interpreter with its own numba cache folder (an empty one
is a fresh install)."""

import importlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import encode, natural_image
from forensics.features import compile_kernels, make_feature_bank
from forensics.features._kernels._config import DECLARED
from forensics.features._kernels._tier import ENV_BUDGET, TieredKernel, _budget

ROOT = Path(__file__).resolve().parents[1]

_RUN = """
import json, os, sys
import numpy as np
from test_kernel_tier import _inputs  # the same inputs as the test process (imports conftest)
os.environ.pop("FORENSICS_UNCOMPILED_SECONDS")  # conftest's setting for the suite: this run chooses its own
if sys.argv[2]:
    os.environ["FORENSICS_UNCOMPILED_SECONDS"] = sys.argv[2]
from forensics.features import make_feature_bank
from forensics.features._kernels._config import DECLARED
from forensics.features._kernels._tier import twin_seconds
families = json.loads(sys.argv[1])
X = _inputs()
out = make_feature_bank(families).fit(X).transform(X)
compiled = sorted(name for (_, name), (disp, sig) in DECLARED.items() if tuple(sig) in disp.overloads)
spent, budget = twin_seconds()
print(json.dumps({"values": np.where(np.isnan(out), None, out).tolist(), "compiled": compiled,
                  "spent": spent, "budget": budget}))
"""


def _run(families=None, cache=None, budget=""):
    """A fresh interpreter's bank on the inputs: its values, the kernels it compiled, its twin seconds.
    ``cache``: numba's cache folder (None: the suite's); ``budget``: FORENSICS_UNCOMPILED_SECONDS ("": unset)."""
    full = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}", FORENSICS_COMPILE_JOBS="1")
    if cache is not None:
        full["NUMBA_CACHE_DIR"] = str(cache)
    res = subprocess.run([sys.executable, "-c", _RUN, json.dumps(families), budget], capture_output=True, text=True,
                         cwd=ROOT / "tests", env=full, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["values"] = np.array(out["values"], dtype=float)
    return out


def _inputs():
    """Three colour JPEGs and a grey PNG (integer-valued luma: the DCT's exact half-integers)."""
    X = [encode(natural_image(s, (96, 128)), "JPEG", quality=85) for s in range(3)]
    return X + [encode(natural_image(9, (64, 72))[:, :, 0], "PNG")]


def _assert_same(got, want):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-9, atol=1e-9)


def test_every_declared_kernel_has_a_twin():
    for family in ("_noise", "_dct", "_blur", "_spectral"):  # the kernel modules declare at import
        importlib.import_module(f"forensics.features.{family}")
    missing = [f"{m}.{n}" for (m, n), (disp, _) in DECLARED.items() if TieredKernel(disp).twin is None]
    assert not missing
    assert len(DECLARED) == 12


def test_a_fresh_install_runs_the_twins_and_gives_the_kernels_values(tmp_path):
    X = _inputs()
    compile_kernels(n_jobs=1)  # this process: the kernels (compiled or loaded), and numba's cache filled
    want = make_feature_bank().fit(X).transform(X)
    fresh = _run(cache=tmp_path / "empty")
    assert fresh["compiled"] == []  # nothing compiled: one short job stays under the budget
    assert 0 < fresh["spent"] < fresh["budget"]
    assert fresh["budget"] > 1.0  # the estimated compile time of the 12 kernels (~8 CPU s)
    _assert_same(fresh["values"], want)
    # the kernels in numba's cache (filled above, the default folder): loaded, no twin runs
    warm = _run()
    assert len(warm["compiled"]) == 12 and warm["spent"] == 0.0
    _assert_same(warm["values"], want)
    # also under a set budget, which the twins have not spent: a cached kernel beats its twin
    warm = _run(budget="100")
    assert len(warm["compiled"]) == 12 and warm["spent"] == 0.0


def test_the_kernels_compile_once_the_twins_have_cost_the_budget(tmp_path):
    X = _inputs()
    want = make_feature_bank(["spectral", "blur"]).fit(X).transform(X)
    # a budget the first twin call exceeds: the next call compiles the families whose twins ran
    out = _run(["spectral", "blur"], cache=tmp_path / "c", budget="1e-9")
    assert out["compiled"] == ["haar_detail_energies", "sharpness_edges", "weighted_sums"]
    assert out["spent"] > 0
    _assert_same(out["values"], want)
    # a zero budget: no twin at all, the kernels compile at their first call, as numba's own
    out = _run(["spectral"], cache=tmp_path / "d", budget="0")
    assert out["compiled"] == ["weighted_sums"] and out["spent"] == 0.0
    _assert_same(out["values"], want[:, :out["values"].shape[1]])


@pytest.mark.parametrize("value", ["-1", "nan", "ten"])
def test_a_bad_budget_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(ENV_BUDGET, value)
    with pytest.raises(ValueError, match=ENV_BUDGET):
        _budget()


def test_a_budget_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_BUDGET, " 2.5 ")
    assert _budget() == 2.5


def test_only_declared_kernels_are_tiered():
    from forensics.features._kernels._noise import kth_smallest  # a helper: no declared signature

    with pytest.raises(ValueError, match="declares no signature"):
        TieredKernel(kth_smallest)


def _triple(x):
    return 3.0 * x


def test_kernels_work_uncached_where_numba_has_no_writable_cache_folder(monkeypatch):
    """A read-only package folder with NUMBA_CACHE_DIR unset and no writable user cache folder (a
    container user without a home): numba refuses ``cache=True`` at decoration, which made
    ``import forensics.features`` fail. The kernels then run uncached, with one warning saying so."""
    from numba.core import caching

    from forensics.features._kernels import _config
    from forensics.features._kernels._warm import _has_disk_cache

    monkeypatch.delenv("NUMBA_CACHE_LOCATOR_CLASSES", raising=False)
    monkeypatch.setattr(_config, "_NO_CACHE_WARNED", [])
    plain = _config.kernel(_triple)  # the look-alike: a folder numba can write, no warning
    assert _has_disk_cache(plain) and plain(2.0) == 6.0
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # no folder numba can write
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        uncached = _config.kernel(_triple)
    assert not _has_disk_cache(uncached) and uncached(2.0) == 6.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, not once per kernel
        assert _config.kernel(_triple)(1.5) == 4.5


_CHUNKED = """
import json, os
import numpy as np, pandas as pd
os.environ.pop("FORENSICS_UNCOMPILED_SECONDS")  # the default budget: a short job runs the twins
from forensics._tables import extract_table
from forensics.features._kernels._config import DECLARED
from forensics.features._kernels._tier import twin_seconds
rng = np.random.default_rng(0)
out = {}
for n in (511, 512):
    images = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(n)]
    table = extract_table(pd.DataFrame({"path": [None] * n, "item": images}), features=["spectral"], chunk_size=64)
    assert table.X.shape[0] == n and not np.isnan(table.X).all(axis=1).any()
    out[n] = [sorted(name for (_, name), (disp, sig) in DECLARED.items() if tuple(sig) in disp.overloads),
              twin_seconds()[0]]
print(json.dumps(out))
"""


def test_a_long_extraction_in_chunks_compiles_before_its_first_chunk(tmp_path):
    """``extract_table`` (``forensics extract``) extracts 64 items per call: the up-front rule must
    count the whole job (512 items), not the chunk, or a long job never compiles ahead."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "cache"), FORENSICS_COMPILE_JOBS="1")
    res = subprocess.run([sys.executable, "-c", _CHUNKED], capture_output=True, text=True, env=env,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["511"][0] == [] and out["511"][1] > 0  # one below the rule: the twins, no compile
    assert out["512"] == [["weighted_sums"], out["511"][1]]  # at the rule: compiled first, no twin ran


@pytest.mark.parametrize(("n_items", "job", "per_item", "n_workers", "compiles"), [
    (511, 0, 1, 1, False), (512, 0, 1, 1, True), (513, 0, 1, 1, True),
    (64, 511, 1, 1, False), (64, 512, 1, 1, True),  # a chunk of a job (forensics extract, predict)
    (127, 0, 4, 1, False), (128, 0, 4, 1, True),  # videos of 4 sampled frames: 512 images
    (16, 120, 4, 1, False), (16, 128, 4, 1, True),
    (1, 0, 1, 2, True), (0, 0, 1, 2, False),  # workers load the kernels: compiled first, unless no item
])
def test_the_up_front_rule_counts_the_job_and_its_frames(monkeypatch, n_items, job, per_item, n_workers, compiles):
    from forensics.features import SpectralFeatures
    from forensics.features._base import compile_ahead, expecting
    from forensics.features._kernels import _warm

    calls = []
    monkeypatch.setattr(_warm, "compile_kernels", lambda families, load: calls.append((families, load)))
    extractor = SpectralFeatures().fit()
    if job:
        with expecting(job):
            compile_ahead([extractor], n_items, n_workers, images_per_item=per_item)
        compile_ahead([extractor], n_items, 1, images_per_item=per_item)  # outside the block: the call alone
        assert len(calls) <= 1
    else:
        compile_ahead([extractor], n_items, n_workers, images_per_item=per_item)
    assert calls == ([(["spectral"], n_workers == 1)] if compiles else [])


def test_video_features_compile_ahead_for_workers_and_long_jobs(monkeypatch, tmp_path):
    """VideoFeatures ran no up-front compile at all: its workers each ran the twins, then compiled."""
    import av

    from forensics.features import BlurFeatures, VideoFeatures
    from forensics.features._kernels import _warm

    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as box:
        stream = box.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        for k in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * k, np.uint8), format="rgb24")
            box.mux(stream.encode(frame))
        box.mux(stream.encode())
    calls = []
    monkeypatch.setattr(_warm, "compile_kernels", lambda families, load: calls.append((families, load)))
    VideoFeatures(BlurFeatures(), faces=False, n_frames=4).fit().transform([str(path)])
    assert calls == []  # one video of 4 frames, serial: the twins' budget decides
    VideoFeatures(BlurFeatures(), faces=False, n_frames=4, n_jobs=2).fit().transform([str(path)])
    assert calls == [(["blur"], False)]  # workers: compiled first, into the cache they load from
    calls.clear()
    with __import__("forensics.features._base", fromlist=["expecting"]).expecting(128):
        VideoFeatures(BlurFeatures(), faces=False, n_frames=4).fit().transform([str(path)])
    assert calls == [(["blur"], True)]  # a chunk of 128 videos of 4 frames: 512 images


def test_the_budget_counts_only_the_families_whose_twins_ran(tmp_path):
    """The budget is what the twins' families would cost to compile: a blur-only job weighs its twins
    against the blur kernels' compile time (~1 s), not the whole bank's (~8 s), or it would pay
    several times what compiling at once costs (the rule's bound is about twice)."""
    from forensics.features._kernels._warm import _COMPILE_SECONDS

    blur = _run(["blur"], cache=tmp_path / "e")
    assert blur["compiled"] == [] and blur["spent"] > 0
    assert blur["budget"] == pytest.approx(_COMPILE_SECONDS["sharpness_edges"] + _COMPILE_SECONDS["haar_detail_energies"])
    both = _run(["blur", "spectral"], cache=tmp_path / "f")  # a second family's first twin adds its own
    assert both["budget"] == pytest.approx(blur["budget"] + _COMPILE_SECONDS["weighted_sums"])
    full = _run(cache=tmp_path / "g")
    assert full["budget"] == pytest.approx(sum(_COMPILE_SECONDS.values()))


@pytest.mark.parametrize(("value", "refused"), [("ten", True), ("-0.5", True), (" 2.5 ", False), ("0", False)])
def test_a_bad_budget_stops_the_extraction_before_any_item(monkeypatch, value, refused):
    """A bad FORENSICS_UNCOMPILED_SECONDS was raised by the first twin call inside each item: with
    on_error="nan" (forensics extract, predict) every item became an error row with that message,
    and a resumed extract returned the same table after the variable was fixed."""
    X = _inputs()[:2]
    bank = make_feature_bank(["spectral"], on_error="nan").fit(X)
    monkeypatch.setenv(ENV_BUDGET, value)
    if refused:
        with pytest.raises(ValueError, match=ENV_BUDGET):
            bank.transform(X)
    else:
        assert not np.isnan(bank.transform(X)).all(axis=1).any() and (bank.status_["status"] == "ok").all()


_FAMILIES = """
import json, os, sys
import numpy as np
from forensics.features import blur_features, spectral_features
from forensics.features._kernels import _tier
from forensics.features._kernels._config import DECLARED
rng = np.random.default_rng(0)
image = rng.integers(0, 256, (128, 128), dtype=np.uint8)
spectral_features(image)  # one spectral twin call: far below the spectral kernel's compile time
calls = 0
while not DECLARED[("forensics.features._kernels._blur", "sharpness_edges")][0].signatures and calls < 5000:
    blur_features(image)
    calls += 1
compiled = sorted(name for (_, name), (disp, sig) in DECLARED.items() if tuple(sig) in disp.overloads)
print(json.dumps({"compiled": compiled, "calls": calls, "spent_by": {k.rsplit(".", 1)[1]: v for k, v in
                  _tier._Rent.spent_by.items()}, "costs": {k.rsplit(".", 1)[1]: v for k, v in _tier._Rent.costs.items()}}))
"""


def test_each_family_compiles_when_its_own_twins_have_cost_its_compile_time(tmp_path):
    """blur called in a loop, spectral once: blur's kernels compile once blur's twins have cost their
    compile time (not the two families' together, which a family called often would exceed), and
    spectral's twin stays, as it cost far less than its kernel's compile."""
    env = {k: v for k, v in os.environ.items() if k != ENV_BUDGET}
    env.update(PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "cache"), FORENSICS_COMPILE_JOBS="1")
    res = subprocess.run([sys.executable, "-c", _FAMILIES], capture_output=True, text=True, env=env,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["compiled"] == ["haar_detail_energies", "sharpness_edges"], out
    blur, spectral = out["spent_by"]["_blur"], out["spent_by"]["_spectral"]
    # spent its own budget, then compiled: at most one call (~2 ms at 128 px) past it, where one budget
    # pooled with spectral's would have let it run on by spectral's unspent ~0.12 s
    assert out["costs"]["_blur"] <= blur < out["costs"]["_blur"] + 0.06
    assert out["costs"]["_spectral"] > 0.1 and 0 < spectral < out["costs"]["_spectral"]
