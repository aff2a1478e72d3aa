"""Reading inputs: an item is raw bytes plus lazily decoded pixels."""

from ._equalize import CodecEqualizer, equalize_jpeg
from ._item import DEFAULT_MAX_PIXELS, Item, ItemError, as_item_sequence, load_item

__all__ = ["CodecEqualizer", "DEFAULT_MAX_PIXELS", "Item", "ItemError", "as_item_sequence", "equalize_jpeg", "load_item"]
