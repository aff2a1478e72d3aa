"""Data sets: the offline demo set built from installed photos, folder layouts on disk, loaders for
the standard deepfake data sets (FaceForensics++, Celeb-DF, DFDC, OpenFake), and safe ZIP extraction.

Every loader returns a manifest: a DataFrame with ``path``, ``label`` (fake = 1), ``method`` and
``group`` (what must not straddle train/test folds), see :mod:`forensics.datasets._manifest`.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._archive import UnsafeArchiveError, ZipReport, safe_extract_zip, validate_zip
    from ._celebdf import load_celebdf
    from ._demo import DEMO_METHODS, DEMO_VIDEO_METHODS, make_demo_dataset, run_demo, save_demo_dataset, save_demo_videos
    from ._dfdc import load_dfdc
    from ._extract import ExtractionResult, QualityReport, extract_faces
    from ._faceforensics import FFPP_METHODS, load_faceforensics
    from ._folder import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_folder
    from ._inventory import MEDIA_SUFFIXES, SkippedFilesError, SkippedFilesWarning
    from ._manifest import MANIFEST_COLUMNS, check_manifest
    from ._manifest_reader import read_manifest
    from ._openfake import load_openfake
    from ._planted import make_planted_artifact_images

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = ["ExtractionResult", "QualityReport", "extract_faces", "DEMO_METHODS", "FFPP_METHODS", "IMAGE_SUFFIXES",
           "MANIFEST_COLUMNS", "MEDIA_SUFFIXES", "SkippedFilesError", "SkippedFilesWarning", "UnsafeArchiveError",
           "VIDEO_SUFFIXES", "ZipReport", "check_manifest", "load_celebdf", "load_dfdc", "load_faceforensics",
           "load_folder", "load_openfake", "make_demo_dataset", "make_planted_artifact_images", "read_manifest", "run_demo", "safe_extract_zip",
           "save_demo_dataset", "save_demo_videos", "DEMO_VIDEO_METHODS", "validate_zip"]
