"""Check that a family calls each of its kernels with the signature the kernel declares (issue 16).

``@kernel(signature=...)`` (``forensics/features/_kernels/_config.py``) names the argument types
that :func:`forensics.features.compile_kernels` compiles before the first item. A declaration
that drifts from the call (a dimension, a dtype, a read-only flag) compiles a version nothing
calls, and the first item then compiles again. ``tests/test_bank.py`` checks the whole bank in a
fresh process; this is the per-family check, run by each family's own test file: the kernels are
wrapped where the family module calls them, and the numba types of the real arguments are
compared with the declaration (the dispatcher's compiled versions cannot tell, since the
extraction compiles the declared signature whether or not anything calls it).
"""

import importlib

from forensics.features._kernels._config import DECLARED


def check_declared_signatures(monkeypatch, family, kernels, names, run):
    """Run the family (``run()``) with the kernels ``names`` of module ``kernels`` wrapped where the
    family module ``family`` calls them: ``kernels`` declares exactly ``names``, each is called, and
    always with the declared argument types."""
    fam = importlib.import_module(family)
    importlib.import_module(kernels)
    declared = {name: (disp, tuple(sig)) for (mod, name), (disp, sig) in DECLARED.items() if mod == kernels}
    assert set(declared) == set(names), sorted(declared)
    calls = {name: [] for name in names}
    for name, (disp, _) in declared.items():
        assert getattr(fam, name).kernel is disp  # the family calls the kernel through its tier

        def wrapper(*args, _disp=disp, _name=name):
            calls[_name].append(tuple(_disp.typeof_pyval(a) for a in args))
            return _disp(*args)

        monkeypatch.setattr(fam, name, wrapper)
    run()
    for name, (_, sig) in declared.items():
        assert calls[name], f"{name} was never called"
        assert set(calls[name]) == {sig}, f"{name} declares {sig} but was called with {set(calls[name])}"
