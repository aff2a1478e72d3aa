"""Data sets that ship with the library: the offline demo set built from installed photos."""

from ._demo import DEMO_METHODS, make_demo_dataset, save_demo_dataset

__all__ = ["DEMO_METHODS", "make_demo_dataset", "save_demo_dataset"]
