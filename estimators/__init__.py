"""The catalogue of named detectors, installed as ``forensics.estimators``.

One module per detector, each defining ``SPEC = DetectorSpec(...)``: how to build it (a named
set of :func:`forensics.make_pipeline` arguments), a default grid, its input kind and reference.
"""

from ._catalogue import DetectorSpec, get, list_estimators, names

__all__ = ["DetectorSpec", "get", "list_estimators", "names"]
