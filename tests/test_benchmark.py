import numpy as np
import pytest

from forensics.datasets import make_demo_dataset
from forensics.model_selection import benchmark_detectors


@pytest.fixture(scope="module")
def demo():
    return make_demo_dataset(n_per_class=30, size=64, seed=1)


def test_benchmark_table_covers_detectors_and_protocols(demo):
    res = benchmark_detectors(list(demo["item"]), demo["label"].to_numpy(), groups=demo["group"].to_numpy(),
                              methods=demo["method"].to_numpy(), detectors=["spectrum-lr", "dct-lr"], cv=3)
    table = res.table
    assert list(zip(table["detector"], table["protocol"])) == [
        ("spectrum-lr", "as-is"), ("dct-lr", "as-is"), ("spectrum-lr", "equalized"), ("dct-lr", "equalized")]
    assert (table["status"] == "ok").all()
    for col in ("roc_auc_mean", "roc_auc_std", "eer_mean", "ece_mean", "average_precision_mean"):
        assert table[col].between(0, 1).all(), col
    assert (table["features_items_per_s"] > 0).all() and (table["fit_items_per_s"] > 0).all()
    assert table.loc[0, "n_features"] == 32 and table.loc[1, "n_features"] == 256
    # the reported mean is the mean of the per-fold AUCs of the CV result it came from
    res0 = res.results[("spectrum-lr", "as-is")]
    assert table.loc[0, "roc_auc_mean"] == pytest.approx(res0.folds["roc_auc"].mean())
    assert set(res.per_method.columns) >= {"detector", "protocol", "self_blend", "resample", "splice"}
    md = res.to_markdown()
    assert md.count("\n") == 5 and "spectrum-lr | equalized" in md


def test_unknown_protocol_is_refused(demo):
    with pytest.raises(ValueError, match="protocols"):
        benchmark_detectors(list(demo["item"]), demo["label"], protocols=("raw",))


@pytest.mark.parametrize(("upfront", "compiles"), [(121, False), (120, True)])
def test_a_long_benchmark_compiles_the_kernels_before_timing_its_features(demo, monkeypatch, upfront, compiles):
    """The catalogue extracts the items once per feature step: a job of items x detectors images,
    compiled before its first extraction and outside its features/s (a fresh install's demo table
    showed 17 features/s for the detector that happened to pay the compile, against 228 warm)."""
    from forensics.features import _base
    from forensics.features._kernels import _warm

    calls = []
    monkeypatch.setattr(_warm, "compile_kernels", lambda families, load: calls.append((families, load)))
    monkeypatch.setattr(_base, "UPFRONT_COMPILE_ITEMS", upfront)  # 60 items x 2 detectors = 120 images
    benchmark_detectors(list(demo["item"]), demo["label"].to_numpy(), groups=demo["group"].to_numpy(),
                        detectors=["spectrum-lr", "dct-lr"], protocols=("as-is",), cv=3)
    assert calls == ([(["spectral"], True), (["dctspec"], True)] if compiles else [])  # dct-lr: the log-DCT spectrum
