"""numba kernels and their NumPy twins: no validation, no I/O; typed contiguous arrays in, ``out`` buffers filled.

Every kernel has a plain NumPy/SciPy/OpenCV reference in ``tests/`` that the package never
imports. Compilation flags come from :mod:`._config` so they are set in one place. The default
bank's declared kernels also have a *twin* in the package (``_*_twins.py``): vectorised NumPy
with the kernel's arguments and outputs, run until compiling the kernels pays off (:mod:`._tier`).
"""
