"""Checks of an extractor's parameter contract, shared by the family test files (issue 16).

The expected defaults and bounds are written in the calling test (they are the documented API),
never read back from the class, so a changed default or bound fails the test:

- every ``__init__`` parameter is keyword-only and has the documented default;
- the pure-function form (``blur_features`` ...) has the same defaults for the parameters it shares;
- every numeric bound is accepted at its edge and refused just outside it (the next float, or
  the next integer), at ``fit``.
"""

import inspect
import math

import pytest

#: The documented defaults every extractor shares (see BaseExtractor).
COMMON = dict(n_jobs=None, on_error="raise", progress=False)


def _keyword_defaults(fn, skip=("self",)):
    params = [p for p in inspect.signature(fn).parameters.values() if p.name not in skip]
    return params, {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def check_defaults(cls, defaults, functions=(), positional=()):
    """``cls.__init__`` takes exactly ``defaults``, keyword-only but for the leading ``positional``
    names; each function shares those defaults."""
    params, got = _keyword_defaults(cls.__init__)
    kinds = [inspect.Parameter.POSITIONAL_OR_KEYWORD] * len(positional)
    kinds += [inspect.Parameter.KEYWORD_ONLY] * (len(params) - len(positional))
    assert [p.name for p in params[:len(positional)]] == list(positional)
    assert [p.kind for p in params] == kinds, params
    assert got == defaults
    assert cls().get_params() == defaults  # and ``__init__`` stores each unchanged
    for fn in functions:
        params, got = _keyword_defaults(fn)
        shared = {k: v for k, v in got.items() if k in defaults}
        assert shared and shared == {k: defaults[k] for k in shared}, fn.__name__
        assert all(p.kind == inspect.Parameter.KEYWORD_ONLY for p in params if p.name in shared), fn.__name__


def _outside(value, kind, direction):
    if kind is int:
        return value + direction
    return math.nextafter(value, direction * math.inf)


def check_bounds(cls, bounds, **others):
    """Each ``name: (low, high)`` is accepted at both ends and refused just beyond them."""
    for name, (low, high) in bounds.items():
        kind = int if isinstance(low, int) and isinstance(high, int) else float
        for edge, direction in ((low, -1), (high, 1)):
            cls(**others, **{name: kind(edge)}).fit()
            with pytest.raises(ValueError, match=name):
                cls(**others, **{name: _outside(kind(edge), kind, direction)}).fit()
