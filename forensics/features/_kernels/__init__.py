"""numba kernels only: no validation, no I/O; typed contiguous arrays in, ``out`` buffers filled.

Every kernel has a plain NumPy/SciPy/OpenCV reference in ``tests/`` that the package never
imports. Compilation flags come from :mod:`._config` so they are set in one place.
"""
