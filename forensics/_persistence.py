"""Saving and loading fitted pipelines with joblib or skops."""

from __future__ import annotations

from pathlib import Path

import joblib

__all__ = ["save", "load", "TRUSTED_MODULES"]

#: Module prefixes whose types :func:`load` trusts in a ``.skops`` file without being asked.
TRUSTED_MODULES = ("forensics.", "sklearn.", "numpy.", "scipy.", "xgboost.", "builtins.", "collections.",
                   "pandas.")


def _format(path, format):
    if format is not None:
        if format not in ("joblib", "skops"):
            raise ValueError(f"format must be 'joblib' or 'skops', got {format!r}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix == ".skops":
        return "skops"
    if suffix in (".joblib", ".pkl", ".pickle"):
        return "joblib"
    raise ValueError(f"cannot tell the format of {path!s} from its suffix: use .skops or .joblib, or pass format=")


def save(model, path, *, format=None):
    """Save a fitted model (a Pipeline from :func:`forensics.make_pipeline`, or any estimator).

    Parameters
    ----------
    model : estimator
    path : str or Path
        ``.skops`` for skops (safe to load: no arbitrary code), ``.joblib``/``.pkl`` for joblib
        (a pickle: load only files you trust).
    format : {"skops", "joblib"}, optional
        Overrides the suffix.

    Returns
    -------
    Path
    """
    path = Path(path)
    if _format(path, format) == "skops":
        _import_skops_without_torch()
        import skops.io as sio

        sio.dump(model, path)
    else:
        joblib.dump(model, path)
    return path


def load(path, *, format=None, trusted=()):
    """Load a model saved by :func:`save`.

    A ``.skops`` file is loaded without running arbitrary pickle code: skops lists the types the
    file would instantiate, and loading proceeds only if each belongs to a trusted module
    (``TRUSTED_MODULES``: forensics, scikit-learn, NumPy, SciPy, XGBoost, pandas, builtins) or is
    named in ``trusted``; otherwise a ``ValueError`` lists the untrusted types. A joblib file is a
    pickle: only load files you trust.

    Parameters
    ----------
    path : str or Path
    format : {"skops", "joblib"}, optional
    trusted : sequence of str
        Extra fully qualified type names to trust in a skops file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from forensics import save, load
    >>> model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    >>> path = save(model, pathlib.Path(tempfile.mkdtemp()) / "model.skops")
    >>> load(path).predict([[0.9]]).tolist()
    [1]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    if _format(path, format) == "joblib":
        return joblib.load(path)
    _import_skops_without_torch()
    import skops.io as sio

    types = sio.get_untrusted_types(file=path)
    extra = set(trusted)
    untrusted = [t for t in types if not t.startswith(TRUSTED_MODULES) and t not in extra]
    if untrusted:
        raise ValueError(f"{path} would instantiate types that are not trusted: {untrusted}; "
                         "pass trusted=[...] if you know where the file comes from")
    return sio.load(path, trusted=list(types))


def _import_skops_without_torch():
    """Import ``skops.io`` without importing torch.

    At import, skops lists scikit-learn's estimators (``sklearn.utils.discovery.all_estimators``),
    whose walk over scikit-learn's packages imports ``sklearn.externals.array_api_compat.torch``,
    which imports torch when it is installed: seconds and hundreds of megabytes that a
    handcrafted model never uses. A placeholder module stands in for that one package during
    the import (it holds no estimator) and is removed afterwards.
    """
    import sys
    import types

    name = "sklearn.externals.array_api_compat.torch"
    if "skops.io" in sys.modules or "torch" in sys.modules or name in sys.modules:
        import skops.io  # noqa: F401
        return
    placeholder = types.ModuleType(name)
    sys.modules[name] = placeholder
    try:
        import skops.io  # noqa: F401
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
