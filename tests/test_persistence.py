import numpy as np
import pytest

from conftest import natural_image
from forensics import load, make_pipeline, save


def _fitted(head="logistic"):
    X = [natural_image(s, (32, 40)) for s in range(12)]
    y = np.array([0, 1] * 6)
    X = [np.clip(x + (25 if t else 0) * np.random.default_rng(s).normal(size=x.shape), 0, 255).astype(np.uint8)
         for s, (x, t) in enumerate(zip(X, y))]
    pipe = make_pipeline(features=["blur", "codec"], decorrelate=0.95, head=head).fit(X, y)
    return pipe, X


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
@pytest.mark.parametrize("head", ["logistic", "xgboost"])
def test_round_trip_gives_identical_scores(tmp_path, suffix, head):
    pipe, X = _fitted(head)
    path = save(pipe, tmp_path / f"model{suffix}")
    restored = load(path)
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))


def test_skops_refuses_untrusted_types(tmp_path):
    import skops.io as sio

    path = tmp_path / "odd.skops"
    sio.dump({"model": _Unknown()}, path)
    with pytest.raises(ValueError, match="not trusted.*_Unknown"):
        load(path)
    assert isinstance(load(path, trusted=[f"{__name__}._Unknown"])["model"], _Unknown)


class _Unknown:
    pass


def test_format_errors(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        save(object(), tmp_path / "model.bin")
    with pytest.raises(FileNotFoundError, match="no saved model"):
        load(tmp_path / "missing.skops")
    with pytest.raises(ValueError, match="format"):
        save(object(), tmp_path / "m.skops", format="pickle")


def test_skops_save_and_load_do_not_import_torch(tmp_path):
    """A handcrafted model saved and loaded as .skops never imports torch (seconds and hundreds of MB);
    a model that holds a torch type would still import it, through its own class."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from forensics import load, save
        model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
        path = save(model, {str(tmp_path / 'm.skops')!r})
        assert load(path).predict([[0.9]]).tolist() == [1]
        print("torch" in sys.modules)
    """)
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(root), "PATH": ""})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "False"
