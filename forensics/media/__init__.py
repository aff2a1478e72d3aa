"""Reading inputs: an item is raw bytes plus lazily decoded pixels; videos, frame sampling, faces."""

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from ._equalize import CodecEqualizer, equalize_jpeg
    from ._faces import (
        CascadeDetector,
        Face,
        FaceCropper,
        FaceRecord,
        MTCNNDetector,
        YuNetDetector,
        crop_face,
        display_frame,
        iter_display,
        make_detector,
        read_display_frames,
        records_to_frame,
        resolve_detector,
        square_box,
    )
    from ._item import (
        DEFAULT_MAX_PIXELS,
        IMAGE_FORMATS,
        EmptyRowsWarning,
        FailedItemsWarning,
        Item,
        ItemError,
        as_item_sequence,
        load_item,
        to_display,
    )
    from ._video import (
        DEFAULT_MAX_VIDEO_PIXELS,
        VideoFrames,
        VideoInfo,
        iter_frames,
        read_frames,
        sample_indices,
        video_info,
    )

__getattr__, __dir__ = attach(__name__, __file__)

__all__ = [
    "CodecEqualizer", "DEFAULT_MAX_PIXELS", "EmptyRowsWarning", "FailedItemsWarning", "IMAGE_FORMATS", "Item", "ItemError", "as_item_sequence", "equalize_jpeg",
    "load_item", "to_display",
    "CascadeDetector", "Face", "FaceCropper", "FaceRecord", "MTCNNDetector", "YuNetDetector", "crop_face",
    "display_frame", "iter_display", "make_detector", "read_display_frames", "records_to_frame", "resolve_detector",
    "square_box",
    "DEFAULT_MAX_VIDEO_PIXELS", "VideoFrames", "VideoInfo", "iter_frames", "read_frames", "sample_indices",
    "video_info",
]
