"""Data sets: the offline demo set built from installed photos, and folder layouts on disk."""

from ._demo import DEMO_METHODS, make_demo_dataset, save_demo_dataset
from ._folder import IMAGE_SUFFIXES, load_folder

__all__ = ["DEMO_METHODS", "IMAGE_SUFFIXES", "load_folder", "make_demo_dataset", "save_demo_dataset"]
