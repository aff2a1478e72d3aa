"""One input item: the raw encoded bytes (when there are any) plus lazily decoded pixels.

Every extractor receives an :class:`Item`. The item reads the file once, parses the container
header once and decodes the pixels once, however many feature families look at it, so a
:class:`~forensics.features.ForensicFeatures` pass costs one decode per image.

The decode is strict: an image is either the picture its file holds, scaled by the file's real
sample depth, or an :class:`ItemError` naming the item. Each format is decoded by one decoder
whose own damage signals are errors (see :class:`Item` for the list); no second decoder is tried
after the first refused a file, because the lenient one would hand back filler pixels.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import threading
import warnings
import zlib
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageFile as PILImageFile

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_FORMATS", "EmptyRowsWarning", "FailedItemsWarning", "Item", "ItemError",
    "as_item_sequence", "load_item", "to_display",
]

#: Images larger than this many pixels are refused before decoding (decompression-bomb guard).
DEFAULT_MAX_PIXELS = 1 << 28  # 268 megapixels, e.g. 16384 x 16384

#: Container formats accepted from encoded bytes (PIL's format names); anything else is refused.
IMAGE_FORMATS = ("JPEG", "MPO", "PNG", "TIFF", "WEBP", "BMP", "GIF", "PPM", "AVIF")
_OPEN_IDS = tuple(f for f in IMAGE_FORMATS if f != "MPO")  # PIL opens MPO through its JPEG plugin

# PIL's own bomb guard would only warn below 2x its limit; ours is explicit and per item.
PILImage.MAX_IMAGE_PIXELS = None

_SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64, np.bool_)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# the next marker after entropy-coded data: 0xFF followed by neither a stuffed 0x00, a restart
# marker RST0..7 nor a fill byte
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_MEMORY_HINT = "out of memory"
_PIL_DIR = os.path.dirname(PILImage.__file__)
_WARNINGS_LOCK = threading.RLock()


class ItemError(ValueError):
    """An input item that cannot be processed.

    The message always names the item's position in ``X`` and, when it has one, its path, so
    that a failure in a run over a million files can be found.

    Attributes
    ----------
    index : int
        Position of the item in the input sequence.
    source : str or None
        The path of the item, or None for in-memory bytes and arrays.
    reason : str
        What went wrong, without the item prefix.
    """

    def __init__(self, index, source, reason):
        self.index = index
        self.source = source
        self.reason = reason
        where = f"item {index}" + (f" ({source})" if source else "")
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # keep the attributes when raised inside a joblib worker
        return (type(self), (self.index, self.source, self.reason))


class FailedItemsWarning(RuntimeWarning):
    """Some items of a run could not be read or processed; their rows are NaN (or None) and
    ``status_`` says which and why.

    A subclass of ``RuntimeWarning``: ``warnings.filterwarnings("ignore", category=FailedItemsWarning)``
    silences it where the caller records the failures itself.
    """


class EmptyRowsWarning(RuntimeWarning):
    """Some items were read but have no value in any feature column (e.g. an image smaller than
    every family needs): a model would score them from imputed values alone.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from forensics.features import DCTFeatures
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = DCTFeatures().fit_transform([np.zeros((4, 4), np.uint8)])
    >>> [w.category.__name__ for w in caught]
    ['EmptyRowsWarning']
    """


def to_display(arr, orientation):
    """The image as a viewer shows it: apply an EXIF orientation to stored pixels.

    Parameters
    ----------
    arr : ndarray of shape (H, W) or (H, W, C)
        Pixels in stored order (as decoded, e.g. :attr:`Item.pixels`).
    orientation : int in 1..8
        EXIF Orientation (tag 0x0112): 1 upright, 2 mirrored left-right, 3 rotated 180,
        4 mirrored top-bottom, 5 transposed, 6 stored rotated 90 counter-clockwise (shown
        rotated 90 clockwise), 7 transverse, 8 stored rotated 90 clockwise.

    Returns
    -------
    ndarray
        A view of ``arr`` (no copy): (H, W[, C]) for 1-4, (W, H[, C]) for 5-8. The same
        transform as :func:`PIL.ImageOps.exif_transpose`.

    Raises
    ------
    ValueError
        For an orientation outside 1..8.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6).reshape(2, 3)
    >>> to_display(a, 6)
    array([[3, 0],
           [4, 1],
           [5, 2]])
    """
    o = int(orientation)
    if o == 1:
        return arr
    if o == 2:
        return arr[:, ::-1]
    if o == 3:
        return arr[::-1, ::-1]
    if o == 4:
        return arr[::-1, :]
    if o == 5:
        return arr.swapaxes(0, 1)
    if o == 6:
        return np.rot90(arr, -1)
    if o == 7:
        return arr[::-1, ::-1].swapaxes(0, 1)
    if o == 8:
        return np.rot90(arr, 1)
    raise ValueError(f"EXIF orientation must be an int in 1..8, got {orientation!r}")


class Item:
    """An image to analyse: raw bytes (if encoded) and lazily decoded, cached pixels.

    Parameters
    ----------
    index : int
        Position in the input sequence (used in error messages and status records).
    source : str or None
        Path the bytes came from, if any.
    data : bytes or None
        The encoded file (JPEG, PNG, ...). None for an in-memory array.
    pixels : ndarray or None
        A decoded image, (H, W) or (H, W, C) with C in {1, 2, 3, 4}, RGB channel order.
    max_pixels : int
        Refuse images with more pixels than this, before decoding.
    orientation : int, default=1
        EXIF orientation of in-memory ``pixels`` (files carry their own, read from the file).

    Attributes
    ----------
    orientation : int in 1..8
        EXIF orientation of the file (1 when absent, unreadable or out of range).
    white : int or float
        The sample value that means full intensity: ``2**bits - 1`` of the file's real bit
        depth (a PNM file's maxval), 1 for float and bool arrays.
    bit_depth : int
        Bits of the samples as delivered, ``log2(white + 1)``: 8, 10, 12, 16... (1 for bool
        arrays, 32 or 64 for floats). 1-, 2- and 4-bit PNG/BMP samples are expanded to 8 bits by
        their decoders (scaled, so 1 -> 255 for a 1-bit file).

    Notes
    -----
    Pixel conventions, shared by every family:

    - ``rgb`` is float32 (H, W, 3) on the 0..255 scale of 8-bit images: samples are divided by
      :attr:`white`, the file's real full-scale value, never one assumed from the dtype (a
      12-bit TIFF in a 16-bit container whose MaxSampleValue tag says 4095 is divided by 4095;
      a PGM with maxval 1000 by 1000). uint16 arrays are taken as 16-bit; float input must lie
      in [0, 1] (the scikit-image convention). Grey images repeat their one channel; an alpha
      channel is dropped (``has_alpha`` records it).
    - ``luma`` is ITU-R BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B``, the transform JPEG
      uses, so block-DCT statistics live on the same lattice as the encoder's.
    - Orientation: ``pixels``, ``rgb`` and ``luma`` keep the *stored* orientation, so the pixel
      grid stays aligned with the 8x8 blocks of the compressed data (DCT and codec features
      rely on it). What a person sees (face detection, crops, anything shown) is
      :attr:`display_pixels` / :attr:`display_rgb`, the stored pixels with the EXIF
      orientation applied (:func:`to_display`).
    - Colour: the stored samples, not colour-managed. An embedded ICC profile (JPEG APP2, PNG
      iCCP...) and PNG's gAMA, cHRM and sRGB chunks are not applied. An MPO file is read as its
      first (primary) picture.

    Decoders and what they refuse (``ItemError``, never filler pixels):

    - JPEG: libjpeg-turbo through simplejpeg in strict mode, where every libjpeg warning
      ("Corrupt JPEG data: premature end of data segment", bad Huffman code, resynchronisation
      at a restart marker, premature end of file...) is an error; a missing end-of-image marker
      and a progressive file whose scans do not complete every coefficient are refused before
      decoding (a missing marker even when every scan is there: see :func:`_scan_jpeg`). 12-bit
      and lossless JPEG are refused (no strict decoder is installed for them).
    - PNG: every chunk's CRC-32 is checked, then libpng (through OpenCV) decodes, which refuses
      missing image data and a broken zlib stream.
    - TIFF: libtiff through Pillow, which stops at a strip that fails to decode (a deflate
      strip's Adler-32, an LZW code error) or runs short; 16-bit colour TIFF (chunky or planar;
      CMYK turned to RGB) through tifffile and imagecodecs (Pillow would cut it to 8 bits), which
      refuse a strip that fails to decode or decodes short. The strips of a JPEG-compressed TIFF
      are also decoded by strict libjpeg (libtiff only warns of corrupt JPEG data); old-style
      JPEG (compression 6) is refused. YCbCr only 8-bit, BT.601 full range, unsubsampled or
      JPEG-compressed; CIELab, 32-bit and float samples are refused, naming them.
    - WebP, BMP, PNM, GIF, AVIF: OpenCV (libwebp, libavif, its own BMP/PNM/GIF readers), which
      refuse truncated streams and (AVIF) undecodable AV1 data; a run-length encoded BMP (RLE8,
      RLE4) whose codes leave pixels without a value (an early end of line or of bitmap, a delta
      jump), which OpenCV fills with black, is refused first, and so is a plain (ASCII) PGM/PPM
      that ends inside its last number (it cannot be told from a file cut there); a GIF without
      its one-byte trailer is refused by OpenCV, and stays refused (see :func:`_scan_jpeg`); GIF and AVIF through Pillow
      with truncated images refused when the OpenCV build cannot read them. Under a GIF's
      transparent pixels the RGB is the palette colour of the stored index (as Pillow and a
      PNG palette with tRNS give), not the background colour OpenCV composes them on. A 16-bit
      BMP (5-5-5, or 5-6-5 bit fields) is read by Pillow, which scales each 5- or 6-bit field
      to 8 bits (31 -> 255); OpenCV shifts it (31 -> 248), so white would not be white. One
      with an alpha bit field (1-5-5-5) is refused: Pillow would drop that alpha, OpenCV refuses it.
    - In every format the decoded size must equal the header's.

    Undetectable damage: a change inside entropy-coded JPEG data (or a WebP/GIF/BMP payload,
    which carry no checksum) that still decodes to a valid stream of the declared size cannot
    be told from an intact file by any decoder; such an item decodes to the damaged picture.
    PNG is fully covered by its CRCs.
    """

    def __init__(self, index=0, source=None, data=None, pixels=None, max_pixels=DEFAULT_MAX_PIXELS,
                 orientation=1):
        self.index = index
        self.source = source
        self.data = data
        self._pixels = pixels
        self._white = None
        self.max_pixels = max_pixels
        self._orientation = orientation

    # -- errors -----------------------------------------------------------------------------
    def error(self, reason):
        """Return an :class:`ItemError` naming this item."""
        return ItemError(self.index, self.source, reason)

    def __getstate__(self):
        # the PIL header and the float caches are rebuilt on demand; never pickle an open file
        state = dict(self.__dict__)
        for key in ("header", "rgb", "luma", "_validated", "orientation", "_jpeg"):
            state.pop(key, None)
        return state

    # -- container ----------------------------------------------------------------------------
    @cached_property
    def header(self):
        """The PIL image opened lazily on the bytes (header parsed, pixels not decoded).

        None for in-memory arrays. Raises :class:`ItemError` when the bytes are not an image
        in one of :data:`IMAGE_FORMATS`, or declare more than ``max_pixels`` pixels.
        """
        if self.data is None:
            return None
        try:
            with _pillow_warnings_named(self.index, self.source, "opening it (header and EXIF)"):
                im = PILImage.open(io.BytesIO(self.data), formats=_OPEN_IDS)
        except Exception as exc:  # PIL raises several types for garbage input
            if self.data.startswith(_PNG_SIGNATURE):
                _check_png_chunks(self)  # the precise reason, when it is a damaged PNG
            elif self.data.startswith(b"\xff\xd8"):
                _unsupported_jpeg(self, _scan_jpeg(self))
            elif self.data[:4] in _TIFF_SIGNATURES:
                cut = _cut_container(self.data)  # its directory past the end: cut short, not unsupported
                if cut:
                    raise self.error(cut) from None
                _unsupported_tiff(self)  # a TIFF Pillow cannot open: name what it holds
            elif self.data[:4] == b"RIFF" and self.data[8:12] == b"WEBP":
                declared = int.from_bytes(self.data[4:8], "little") + 8
                if declared > len(self.data):  # Pillow only says it "could not create decoder object"
                    raise self.error(f"truncated WebP: the RIFF header declares {declared} bytes, the file "
                                     f"has {len(self.data)}") from None
            cut = _cut_container(self.data)  # a file cut short whose header still reads ("not a readable
            if cut:                          # image file" sent users looking for another format)
                raise self.error(cut) from None
            detail = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc))  # stable text
            kind = _known_other_kind(self.data)
            raise self.error(
                f"not a readable image file ({type(exc).__name__}: {detail}"
                f"{'; it is ' + kind if kind else ''}); accepted formats: {', '.join(IMAGE_FORMATS)}"
            ) from None
        w, h = im.size
        if w <= 0 or h <= 0:
            raise self.error(f"image has zero size ({w}x{h})")
        if w * h > self.max_pixels:
            raise self.error(
                f"image is {w}x{h} ({w * h / 1e6:.0f} megapixels), above max_pixels="
                f"{self.max_pixels}; raise max_pixels if this is intended"
            )
        return im

    @property
    def format(self):
        """Container format in lower case (``"jpeg"``, ``"png"``...), or ``"array"``."""
        if self.data is None:
            return "array"
        return (self.header.format or "unknown").lower()

    @cached_property
    def orientation(self):
        """EXIF orientation, an int in 1..8 (1 when absent, unreadable or out of range)."""
        if self.data is None:
            return _valid_orientation(self._orientation)
        header = self.header
        if header.format == "PNG" and "exif" not in header.info and not _png_may_hold_orientation(self.data):
            # Pillow looks for an eXIf chunk after the image data by decoding the whole picture (a
            # second decode, 0.11 s and 46 MB kept for a 12-megapixel PNG): not when there is none
            return 1
        return _exif_orientation(header, self.index, self.source)

    # -- pixels -------------------------------------------------------------------------------
    @property
    def pixels(self):
        """The decoded image as stored: (H, W) or (H, W, C), RGB(A) order, native dtype."""
        if self._pixels is None:
            try:
                self._pixels, self._white = self._decode()
            except MemoryError:
                raise self.error(self._memory_message("decoding")) from None
        return self._pixels

    @property
    def white(self):
        """Full-intensity sample value of the source (see the class attributes)."""
        arr = self._validated
        if self._white is None:
            self._white = _dtype_white(arr.dtype)
        return self._white

    @property
    def bit_depth(self):
        """Bits of the delivered samples: ``log2(white + 1)`` rounded up; 32/64 for floats."""
        white = self.white
        if self._validated.dtype.kind == "f":
            return self._validated.dtype.itemsize * 8
        return max(1, int(white).bit_length())

    def _memory_message(self, what):
        try:
            h, w = (self.header.size[::-1] if self.data is not None else np.shape(self._pixels)[:2])
            size = f" a {w}x{h} image ({w * h / 1e6:.0f} megapixels)"
        except Exception:
            size = ""
        return f"{_MEMORY_HINT} while {what}{size}; lower max_pixels or free memory"

    def _decode(self):
        """-> (pixels, white): strict decode by the format's own decoder (see the class notes)."""
        header = self.header  # validates format and size before any decoding work
        fmt = header.format
        try:
            if fmt in ("JPEG", "MPO"):
                if fmt == "MPO":
                    _check_mpo_index(self, header)
                arr, white = self._decode_jpeg(header)
            elif fmt == "TIFF":
                arr, white = self._decode_tiff(header), None
            elif (fmt in ("GIF", "AVIF") and not _cv2_reads(fmt)) or (fmt == "BMP" and _bmp_bits(self.data) == 16):
                alpha = _bmp_alpha_mask(self.data) if fmt == "BMP" else 0
                if alpha:
                    raise self.error(f"unsupported BMP: 16-bit pixels with an alpha bit field (mask "
                                     f"{alpha:#06x}); no installed decoder reads that alpha")
                arr, white = self._decode_pil(), None
            else:
                data = None
                if fmt == "PNG":
                    data = _png_default_image(self.data, _check_png_chunks(self))
                elif fmt == "BMP":
                    _check_bmp_rle(self)
                if fmt in ("PNG", "BMP") and header.mode == "P":
                    _check_palette_indices(self, fmt)
                elif fmt == "PPM":
                    _check_plain_pnm_end(self)
                arr, white = self._decode_cv2(fmt, data), None
                if fmt == "PNG" and self.data[25] == 4 and arr.ndim == 3 and arr.shape[2] == 4:
                    # grey with alpha (IHDR colour type 4): OpenCV expands it to RGBA; the item
                    # keeps it grey + alpha, as Pillow (and so a TIFF) gives it, so that luma is the
                    # stored grey, not BT.601 weights summed in float32 (off by up to 1.5e-5, which
                    # moved edge thresholds) and is_gray holds
                    arr = np.ascontiguousarray(arr[:, :, ::3])
                if fmt == "GIF":
                    arr = self._gif_colours_under_transparency(arr)
        except ItemError:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            raise self.error(f"cannot decode {fmt} image ({type(exc).__name__}: {_short(exc)})") from None
        w, h = _stored_size(header)
        if arr.ndim < 2 or arr.shape[:2] != (h, w):
            raise self.error(f"decoded size {arr.shape[1::-1]} differs from the declared {w}x{h}")
        if fmt == "TIFF":
            white = _tiff_white(self, header, arr)
        elif fmt == "PPM":
            white = _pnm_white(self, arr)
        if white is None:
            white = _dtype_white(arr.dtype)
        if arr.dtype.kind in "ui" and white < _dtype_white(arr.dtype) and int(arr.max()) > white:
            raise self.error(f"sample values up to {int(arr.max())} exceed the file's declared maximum {white}")
        return np.ascontiguousarray(arr), white

    @cached_property
    def _jpeg(self):
        return _scan_jpeg(self)

    def _decode_jpeg(self, header):
        import simplejpeg

        _unsupported_jpeg(self, self._jpeg)
        try:
            _, _, space, _ = simplejpeg.decode_jpeg_header(self.data)
            if space == "Gray":
                return simplejpeg.decode_jpeg(self.data, colorspace="GRAY", strict=True)[:, :, 0], 255
            if space in ("CMYK", "YCCK"):
                cmyk = simplejpeg.decode_jpeg(self.data, colorspace="CMYK", strict=True)
                tile = header.tile[0] if header.tile else None
                rawmode = tile[3][0] if tile is not None and tile[3] else "CMYK"
                im = PILImage.frombuffer("CMYK", header.size, cmyk, "raw", rawmode, 0, 1)
                return np.asarray(im.convert("RGB")), 255
            return simplejpeg.decode_jpeg(self.data, colorspace="RGB", strict=True), 255
        except ValueError as exc:  # libjpeg's errors and, in strict mode, its warnings
            if "memory" in str(exc).lower():
                raise MemoryError(str(exc)) from None
            raise self.error(f"corrupt JPEG data ({_short(exc)})") from None

    def _decode_cv2(self, fmt, data=None):
        buf = np.frombuffer(self.data if data is None else data, dtype=np.uint8)
        try:
            arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        except cv2.error as exc:
            if "memory" in str(exc).lower() or "allocate" in str(exc).lower():
                raise MemoryError(str(exc)) from None
            raise self.error(f"corrupt {fmt} data ({_short(exc)})") from None
        if arr is None or arr.size == 0:
            short = _short_raster(self.data, fmt)
            raise self.error(f"truncated {fmt}: {short}" if short else _cut_container(self.data) or
                             f"corrupt or unsupported {fmt} data (the decoder refused it)")
        if arr.ndim == 3 and arr.shape[2] == 3:  # in place: no second copy of a large picture
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB, dst=arr)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA, dst=arr)
        return arr

    def _gif_colours_under_transparency(self, arr):
        """The palette colour of the stored index under a GIF's transparent pixels.

        OpenCV's GIF reader composes the first frame on a canvas of the logical screen's
        background colour, so a transparent pixel reads as that colour, a header field unrelated
        to the pixel. The file stores a palette index there; its palette colour (Pillow's palette
        lookup, what Pillow and the decoding of a PNG palette with tRNS give) is restored, so
        features, which read the RGB under the alpha, see the file's own data.
        """
        if arr.ndim != 3 or arr.shape[2] != 4:
            return arr
        hidden = arr[..., 3] == 0
        if not hidden.any():
            return arr
        with PILImage.open(io.BytesIO(self.data), formats=("GIF",)) as im:
            im.load()
            ref = np.asarray(im.convert("RGBA"))
        if ref.shape != arr.shape:
            raise self.error(f"GIF decoders disagree on the first frame's size ({ref.shape} and {arr.shape})")
        hidden &= ref[..., 3] == 0  # pixels both decoders read as transparent
        arr[hidden, :3] = ref[hidden, :3]
        return arr

    def _decode_tiff(self, header):
        """libtiff through Pillow, which stops at a strip that fails to decode or runs short.

        (OpenCV's TIFF reader logs such libtiff errors but returns the picture anyway.) Pillow
        keeps 1-, 8-bit and 16-bit grey samples as they are and turns 8-bit CMYK, palette and
        YCbCr (unsubsampled, with the TIFF default coefficients and full-range reference values,
        i.e. JFIF's) to RGB; for 16-bit colour, which Pillow would cut to 8 bits, tifffile (with
        imagecodecs for the compressions, LZW included) reads the samples, chunky (RGBRGB...) or
        planar (all R, then all G...; PlanarConfiguration 2) alike, and 16-bit CMYK goes to RGB
        by Pillow's rule at 16 bits. Other colour spaces (CIELab, subsampled or non-default
        YCbCr...) and sample types (32-bit, float) are refused, naming them. A JPEG-compressed
        TIFF has its strips checked by strict libjpeg first (:func:`_check_tiff_jpeg`).
        """
        _check_tiff_ifd(self)
        _check_tiff_strips(self, header)
        tags = getattr(header, "tag_v2", None) or {}
        _check_tiff_preview(self, header, tags)
        bits = _tiff_bits(header)
        if int(tags.get(259, 1)) in (6, 7):
            _check_tiff_jpeg(self, tags)
        if header.mode == "YCbCr":
            _check_tiff_ycbcr(self, tags, bits)
        if header.mode in ("1", "L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I;16B", "I;16L", "P", "PA") and not (
                header.mode in ("RGB", "RGBA", "CMYK") and bits > 8):
            if PILImageFile.LOAD_TRUNCATED_IMAGES:
                raise self.error("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True: truncated files cannot be detected")
            with _pillow_warnings_named(self.index, self.source, "decoding it"):  # it reads the header again
                im = PILImage.open(io.BytesIO(self.data), formats=("TIFF",))
                try:
                    im.load()
                except OSError as exc:  # Pillow says only "decoder error -2": name the data libtiff refused
                    compression = int(tags.get(259, 1))
                    name = _TIFF_COMPRESSION.get(compression, f"compression {compression}")
                    raise self.error(f"cannot decode TIFF image ({type(exc).__name__}: {_short(exc)}; libtiff could "
                                     f"not decode its {name} strips or tiles)") from None
            if im.mode in ("CMYK", "P", "PA", "YCbCr"):
                im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
            arr = np.asarray(im)
            arr = arr.astype(np.uint16) if im.mode.startswith("I;16") else arr
            # Pillow turns TIFF pixels to the displayed orientation on load; undo it, so that
            # pixels are the stored grid as for every other format (5-7 are their own inverse)
            o = _valid_orientation(tags.get(0x0112, 1))
            return to_display(arr, {6: 8, 8: 6}.get(o, o))
        import tifffile

        try:
            arr = tifffile.imread(io.BytesIO(self.data), key=0)
        except (KeyError, ValueError) as exc:
            if "imagecodecs" not in str(exc):
                raise
            # OpenCV's libtiff would read it but not report damaged strips: refuse instead
            raise self.error(f"reading this compressed 16-bit TIFF strictly needs the imagecodecs package "
                             f"({_short(exc)}); pip install imagecodecs") from None
        if int(tags.get(284, 1)) == 2 and arr.ndim == 3:  # planar ("separate"): tifffile gives (S, H, W)
            arr = np.moveaxis(arr, 0, -1)
        if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise self.error(f"unsupported TIFF samples: {arr.dtype} {arr.shape} (Pillow mode {header.mode}, "
                             f"photometric interpretation {_photometric_text(tags.get(262))})")
        if header.mode == "CMYK":
            if arr.shape[2] != 4:
                raise self.error(f"a CMYK TIFF with {arr.shape[2]} samples per pixel is not supported")
            return _cmyk_to_rgb(arr, 65535)
        return arr

    def _decode_pil(self):
        if PILImageFile.LOAD_TRUNCATED_IMAGES:
            raise self.error("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True: truncated files cannot be detected")
        im = PILImage.open(io.BytesIO(self.data), formats=_OPEN_IDS)
        im.load()
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("PA", "RGBa") else "RGB")
        return np.asarray(im)

    @cached_property
    def _validated(self):
        arr = self.pixels
        if not isinstance(arr, np.ndarray):
            raise self.error(f"pixels must be a numpy array, got {type(arr).__name__}")
        if arr.dtype.kind in "uif" and not arr.dtype.isnative:  # big-endian data: same values
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype not in _SUPPORTED_DTYPES:
            raise self.error(
                f"unsupported dtype {arr.dtype}; use uint8, uint16, float32/float64 in [0, 1] or bool"
            )
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
            raise self.error(f"expected an image of shape (H, W) or (H, W, C) with C in 1..4, got {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise self.error(f"image has zero size {arr.shape}")
        if arr.shape[0] * arr.shape[1] > self.max_pixels:
            raise self.error(f"image of shape {arr.shape} is above max_pixels={self.max_pixels}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise self.error("image contains NaN or infinite values")
            lo, hi = float(arr.min()), float(arr.max())
            if lo < -1e-6 or hi > 1 + 1e-6:
                raise self.error(
                    f"float images must lie in [0, 1] (found {lo:g}..{hi:g}); divide 8-bit data by 255"
                )
        return arr

    @property
    def has_alpha(self):
        """True when the decoded image carried an alpha channel (which features ignore)."""
        arr = self._validated
        return arr.ndim == 3 and arr.shape[2] in (2, 4)

    @property
    def is_gray(self):
        """True for single-channel (optionally with alpha) images."""
        arr = self._validated
        return arr.ndim == 2 or arr.shape[2] == 2

    @property
    def shape(self):
        """(H, W) of the image, stored orientation."""
        return self._validated.shape[:2]

    def _colour(self):
        arr = self._validated
        if arr.ndim == 3:
            arr = arr[:, :, :1] if arr.shape[2] == 2 else arr[:, :, :3]
            if arr.shape[2] == 1:
                arr = arr[:, :, 0]
        return arr

    @cached_property
    def rgb(self):
        """float32 (H, W, 3) image on the 0..255 scale, stored orientation (see class notes)."""
        try:
            out = _to_255(self._colour(), self.white)
            if out.ndim == 2:
                out = np.repeat(out[:, :, None], 3, axis=2)
            return np.ascontiguousarray(out)
        except MemoryError:
            raise self.error(self._memory_message("converting to float RGB")) from None

    @cached_property
    def luma(self):
        """float32 (H, W) BT.601 luma on the 0..255 scale, stored orientation."""
        try:
            if self.is_gray:
                return np.ascontiguousarray(_to_255(self._colour(), self.white))
            # OpenCV's RGB -> grey uses exactly the BT.601 weights (0.299, 0.587, 0.114).
            return np.ascontiguousarray(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY))
        except MemoryError:
            raise self.error(self._memory_message("computing luma")) from None
        except cv2.error as exc:
            raise self.error(self._memory_message("computing luma") + f" ({_short(exc)})") from None

    # -- display orientation --------------------------------------------------------------------
    @property
    def display_pixels(self):
        """The decoded image as a viewer shows it: :attr:`pixels` with the EXIF orientation applied.

        A view (no copy): (H, W[, C]) for orientations 1-4, (W, H[, C]) for 5-8.
        """
        return to_display(self._validated, self.orientation)

    @property
    def display_rgb(self):
        """uint8 (H', W', 3) C-contiguous RGB as a viewer shows it (EXIF orientation applied).

        For face detection, crops and anything shown. An upright 8-bit RGB image is a read-only
        view of the decoded pixels (no copy); otherwise one uint8 copy (turned, alpha dropped,
        grey repeated, deeper samples scaled by :attr:`white` and rounded, without float
        intermediates): the peak stays at a few bytes per pixel.
        """
        try:
            arr = self._colour()
            white = self.white
            if arr.dtype != np.uint8 or white != 255:
                if arr.dtype == np.bool_:
                    arr = arr.view(np.uint8) * np.uint8(255)
                elif arr.dtype.kind == "f":
                    arr = cv2.convertScaleAbs(np.ascontiguousarray(arr, np.float32), alpha=255.0)
                else:
                    arr = cv2.convertScaleAbs(np.ascontiguousarray(arr), alpha=255.0 / float(white))
            if arr.ndim == 2:
                arr = np.broadcast_to(arr[:, :, None], arr.shape + (3,))
            out = np.ascontiguousarray(to_display(arr, self.orientation))
            if np.may_share_memory(out, self._validated):
                out = out.view()
                out.flags.writeable = False  # never let a caller change the cached pixels
            return out
        except MemoryError:
            raise self.error(self._memory_message("converting to 8-bit RGB")) from None

    def __repr__(self):
        kind = f"{len(self.data)} bytes" if self.data is not None else "array"
        src = f" {self.source!r}" if self.source else ""
        return f"Item({self.index}{src}, {kind})"


def path_text(src):
    """A path as printable, encodable text for messages and status tables.

    Undecodable bytes of a file name (held by Python as lone surrogates) and NUL bytes are
    written as backslash escapes, so the text can always be printed and saved.
    """
    return src.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


#: Why a path that ends in a loop of symbolic links cannot be read (``os.stat`` fails with ELOOP).
LINK_LOOP = ("symbolic link loop (a link that points to itself, or links that point to each other): "
             "no file at its end")


def read_error_reason(exc):
    """The reason an OSError gives when a file cannot be opened: a symbolic link loop said as one
    (its strerror, "Too many levels of symbolic links", reads as a nesting limit), anything
    else as ``"cannot read file (<strerror>)"``."""
    import errno

    if getattr(exc, "errno", None) == errno.ELOOP:
        return LINK_LOOP
    return f"cannot read file ({getattr(exc, 'strerror', None) or exc})"


def not_found_reason(src):
    """Why ``src`` cannot be opened when no file has that name: ``"file not found"``, naming the
    file meant when the name is one of the look-alikes of an existing file.

    - Unicode normalization: the same accented name can be stored as precomposed (NFC: ``é`` is
      one code point) or decomposed (NFD: ``e`` + a combining accent, as macOS writes names)
      characters; Linux file systems treat the two as different names, so a manifest written in
      one form does not find files copied in the other, although both print the same.
    - Windows separators: ``real\\a.jpg`` (a manifest written on Windows) is one file name on
      POSIX systems, not ``real/a.jpg``.
    - Letter case, and trailing spaces or dots: ``IMG_1.JPG`` for ``img_1.jpg``, ``a.jpg`` for
      ``a.jpg `` (macOS and Windows match names case-insensitively, and Windows drops trailing
      spaces and dots, so a manifest written there can name a file so; Linux does neither).
    - A URL (``https://...``): inputs are local files, nothing is downloaded; a ``file://`` URL is
      said to be one, naming its local file; a leading ``~`` is not expanded (the expanded path is
      named when it exists), nor a pattern (``data/*.jpg``: the files it matches are counted).

    The file is not read in its place: both names can be distinct files.

    Parameters
    ----------
    src : str or os.PathLike
        The path that was not found. Its folder is listed once for the case and trailing-character
        look-alikes, and the listing is kept (for a few folders, while their modification time
        stands), so a manifest with many missing rows in one large folder lists it once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "real").mkdir()
    >>> _ = (d / "real" / "a.jpg").write_bytes(b"x")
    >>> not_found_reason(str(d / "b.jpg"))
    'file not found'
    >>> windows = str(d) + "/real" + chr(92) + "a.jpg"  # real\\a.jpg, one name on POSIX systems
    >>> not_found_reason(windows).endswith("a file exists at " + str(d / "real" / "a.jpg"))
    True
    >>> not_found_reason(str(d / "real" / "A.JPG")).endswith("differs only in letter case exists: 'a.jpg'")
    True
    """
    import unicodedata

    def shown(name):  # the characters that differ between the forms, as code points
        return "'" + "".join(f"\\u{ord(c):04x}" if unicodedata.combining(c) or unicodedata.normalize("NFD", c) != c
                             else c for c in os.path.basename(name)) + "'"

    text = os.fsdecode(src)
    spelled = _spelling_reason(text)
    if spelled:
        return spelled
    for form in ("NFC", "NFD"):
        twin = unicodedata.normalize(form, text)
        if twin != text and os.path.lexists(twin):
            return (f"file not found; a file whose name differs only in Unicode normalization exists "
                    f"({form}: {shown(twin)} vs {shown(text)} asked), e.g. a copy from macOS: rename one to match")
    if os.sep == "/" and "\\" in text:
        posix = text.replace("\\", "/")
        if os.path.lexists(posix):
            return f"file not found; the path uses Windows separators ('\\'): a file exists at {path_text(posix)}"
        for form in ("NFC", "NFD"):  # both at once: a manifest written on Windows for files copied from macOS
            twin = unicodedata.normalize(form, posix)
            if twin != posix and os.path.lexists(twin):
                return (f"file not found; the path uses Windows separators ('\\') and a file whose name differs "
                        f"only in Unicode normalization exists at {path_text(twin)} ({form}: {shown(twin)} vs "
                        f"{shown(posix)} asked), e.g. a copy from macOS: rename one to match")
    return _name_twin(text) or "file not found"


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _spelling_reason(text):
    """The reason for a path written as a URL, with a leading ``~`` or as a pattern, which no file is named; else None.

    A ``file://`` URL names a local file (``file:///data/a.jpg`` is ``/data/a.jpg``), which is
    named with whether it exists (saying "download it first" of it misled); other URLs are not
    downloaded. ``~`` is expanded by a shell, not in a path given to a program or written in a
    manifest: when the expanded path exists it is named. A name holding ``*`` or ``?`` that no file
    has but that matches files as a pattern (a quoted ``data/*.jpg``: no shell expanded it) is said
    to be one. None is read in the path's place.
    """
    if _URL.match(text):
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        parts = urlsplit(text)
        if parts.scheme.lower() != "file":
            return "file not found; it is a URL: inputs are local files (download it first)"
        if parts.netloc not in ("", "localhost"):
            return f"file not found; it is a file:// URL of another host ({parts.netloc}): give a local path"
        local = url2pathname(parts.path)
        there = "exists" if os.path.lexists(local) else "does not exist either"
        return f"file not found; it is a file:// URL, not a path: its local file {path_text(local)} {there}"
    if text.startswith("~"):
        home = os.path.expanduser(text)
        if home != text and os.path.lexists(home):
            return (f"file not found; '~' is not expanded in a path (a shell expands it): a file exists at "
                    f"{path_text(home)}")
    if "*" in text or "?" in text:  # 'data/*.jpg' quoted, or from a config file: no shell expanded it ('[1]' is
        # left out: brackets are common in real names, where Windows forbids '*' and '?')
        import glob

        try:
            matches = sorted(glob.glob(text)) if len(text) < 4096 else []
        except (OSError, ValueError, re.error):
            matches = []
        if matches:
            return (f"file not found; it is a pattern ('*' or '?'), which a shell expands, not a path: "
                    f"{len(matches)} file(s) match it (first: {path_text(matches[0])}); give the files or their folder")
    return None


_LISTINGS = {}  # folder -> (modification time in ns, names): the last few folders listed for look-alikes


def _listing(folder):
    """The names in ``folder`` (empty when it cannot be listed), cached while its modification time stands."""
    try:
        mtime = os.stat(folder).st_mtime_ns
        cached = _LISTINGS.get(folder)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        names = os.listdir(folder)
    except (OSError, ValueError):
        return []
    if len(_LISTINGS) >= 8:
        try:
            _LISTINGS.pop(next(iter(_LISTINGS), None), None)
        except RuntimeError:  # another thread changed the cache meanwhile: it is small either way
            pass
    _LISTINGS[folder] = (mtime, names)
    return names


def _name_twin(text):
    """The look-alike note for a file name that differs only in letter case, leading spaces or trailing
    spaces and dots from an existing name in the same folder; None when there is none or the folder
    cannot be listed."""
    folder, name = os.path.split(text)
    if not name:
        return None
    names = _listing(folder or ".")

    def core(n):  # the name without leading spaces (a hand-written 'label, path' row) and trailing ones or dots
        return n.lstrip(" ").rstrip(" .")

    want = core(name).casefold()
    found = [n for n in names if n != name and core(n).casefold() == want]
    if not found:
        return None
    twin = min(found)
    kinds = (["letter case"] if core(twin) != core(name) else []) + (
        ["leading spaces"] if twin.lstrip(" ") != twin or name.lstrip(" ") != name else []) + (
        ["trailing spaces or dots"] if twin.lstrip(" ").rstrip(" .") != twin.lstrip(" ")
        or name.lstrip(" ").rstrip(" .") != name.lstrip(" ") else [])
    return (f"file not found; a file whose name differs only in {' and '.join(kinds)} exists: "
            f"{twin!r}")


@contextlib.contextmanager
def _pillow_warnings_named(index, source, doing):
    """Pass Pillow's ``UserWarning``s about a file on with the item named (Pillow names no file:
    "Truncated File Read" in a run over a million images says nothing); other warnings unchanged.

    Under a user's ``warnings.simplefilter("error")`` the named warning is what is raised.
    ``catch_warnings`` swaps process-wide state: items read in threads (a Dask worker's) take
    turns here, so one block's exit cannot restore another's state or take its warnings.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    where = f"item {index}" + (f" ({path_text(source)})" if source else "")
    for w in caught:
        if issubclass(w.category, UserWarning) and w.filename.startswith(_PIL_DIR):
            warnings.warn(f"{where}: Pillow warned {doing}: {_short(w.message)}", UserWarning, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _exif_orientation(im, index, source):
    """EXIF Orientation (1..8) of an open PIL image; 1 when absent, out of range or unreadable.

    A damaged EXIF block gives 1 (the stored orientation) and a warning naming the item: the
    pixels are unaffected, but a face detector given a sideways photo finds nothing.
    """
    with _pillow_warnings_named(index, source, "reading its EXIF block"):
        try:
            value = im.getexif().get(0x0112, 1)
        except Exception as exc:  # noqa: BLE001 - any parse failure of the block
            where = f"item {index}" + (f" ({path_text(source)})" if source else "")
            warnings.warn(f"{where}: damaged EXIF block ({type(exc).__name__}: {_short(exc)}); its orientation is "
                          f"read as 1, the stored one", UserWarning, stacklevel=3)
            value = 1
    return _valid_orientation(value)


_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def _png_may_hold_orientation(data):
    """Whether a PNG has a chunk Pillow may read an orientation from: ``eXIf`` anywhere, or a text
    chunk holding EXIF (``Raw profile type ...``, ImageMagick's) or XMP (``XML:com.adobe.xmp``).

    Reads chunk types and text keywords only (no CRC check, no decoding); a chunk table it cannot
    walk answers True, leaving the file to Pillow as before.
    """
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        if ctype == b"eXIf":
            return True
        if ctype in _PNG_TEXT_CHUNKS:
            keyword = data[pos + 8:pos + 8 + min(length, 80)].split(b"\0", 1)[0]
            if keyword.startswith(b"Raw profile type") or keyword == b"XML:com.adobe.xmp":
                return True
        if ctype == b"IEND":
            return False
        pos += 12 + length
    return True


def _valid_orientation(value):
    try:
        o = int(value)
    except (TypeError, ValueError):
        return 1
    return o if 1 <= o <= 8 else 1


def _short(exc):
    text = re.sub(r"\s+", " ", str(exc)).strip()
    return text[:200]


def _dtype_white(dtype):
    if dtype == np.uint8:
        return 255
    if dtype == np.uint16:
        return 65535
    return 1


def _to_255(arr, white):
    if arr.dtype == np.uint8 and white == 255:
        return arr.astype(np.float32)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32) * np.float32(255.0)
    if arr.dtype.kind == "f":
        return np.clip(arr.astype(np.float32), 0.0, 1.0) * np.float32(255.0)
    out = arr.astype(np.float32)
    out /= np.float32(float(white) / 255.0)  # a division, so 16-bit stays exactly x / 257 as before
    return out


# -- format checks ------------------------------------------------------------------------------

def _check_png_chunks(item):
    """Walk the PNG chunks: every CRC-32 must match, IHDR first, IDAT present, IEND reached.

    libpng only warns on a bad CRC in an ancillary chunk (the EXIF orientation and ICC profile
    live in those) and some decoders ignore CRCs altogether; the CRC is the format's own
    integrity check, so any mismatch is an error. Returns the chunks as ``(type, start, end)``
    byte spans (length field to CRC).
    """
    data = item.data
    n = len(data)
    if not data.startswith(_PNG_SIGNATURE):
        raise item.error("corrupt PNG data (bad signature)")
    pos, first, seen_idat, chunks = 8, True, False, []
    while True:
        if pos + 12 > n:
            raise item.error("truncated PNG: the file ends before the IEND chunk")
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise item.error(f"truncated PNG: chunk {ctype!r} declares {length} bytes past the end of the file")
        crc = int.from_bytes(data[end - 4:end], "big")
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            raise item.error(f"corrupt PNG data: CRC mismatch in chunk {ctype!r} at byte {pos}")
        if first and ctype != b"IHDR":
            raise item.error("corrupt PNG data: the first chunk is not IHDR")
        first = False
        seen_idat = seen_idat or ctype == b"IDAT"
        chunks.append((ctype, pos, end))
        if ctype == b"IEND":
            break
        pos = end
    if not seen_idat:
        raise item.error("corrupt PNG data: no IDAT chunk")
    return chunks


_APNG_CHUNKS = (b"acTL", b"fcTL", b"fdAT")


def _png_default_image(data, chunks):
    """The PNG ``data`` without its APNG animation chunks (``acTL``, ``fcTL``, ``fdAT``), or ``data``.

    An animated PNG's IDAT data are its default image, which every PNG decoder that does not
    animate shows (libpng, Pillow's first frame); APNG makes them the first frame of the
    animation, or (when the first ``fcTL`` follows IDAT) a picture outside the animation, often a
    placeholder. OpenCV 5 decodes the animation's first frame instead, a picture other than the
    one Pillow, libpng and the ``PIL.Image`` path give for the same file. Without the animation
    chunks (their CRCs were checked) it decodes the default image.
    """
    if not any(ctype == b"acTL" for ctype, _, _ in chunks):
        return data
    return data[:8] + b"".join(data[a:b] for ctype, a, b in chunks if ctype not in _APNG_CHUNKS)


def _scan_jpeg(item):
    """Parse the JPEG marker segments: SOF precision and mode, and scan coverage.

    Raises when there is no scan, the end-of-image marker is missing (a truncated file, which
    decoders fill with grey), or a progressive file's scans leave coefficients unfinished
    (scans cut off at a scan boundary and an EOI appended decode without any warning).

    A missing end-of-image marker is refused even when every scan header is there: a file cut
    inside its last scan and padded (with zeros, as an interrupted download leaves a
    preallocated file, with 0xFF or with other bytes) can decode without any libjpeg warning once
    the marker is appended (zero bits are valid Huffman codes, and libjpeg-turbo drops the bytes
    it read ahead past the last block): 10 of 1,800 such files came back as wrong pictures with
    the marker appended, none while it is required (``benchmarks/padded_truncations.py``). A
    file whose writer left the marker out cannot be told from them. The same holds for a GIF
    without its trailer byte, which OpenCV refuses (2 of 1,200 with the trailer supplied).
    """
    data = item.data
    n = len(data)
    pos = 2
    info = {"precision": 8, "lossless": False, "progressive": False, "components": ()}
    coverage = None
    first_scan = True
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            raise item.error(f"corrupt JPEG data: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        if pos + 4 > n:
            break
        seg_len = int.from_bytes(data[pos + 2:pos + 4], "big")
        seg = data[pos + 4:pos + 2 + seg_len]
        if seg_len < 2 or pos + 2 + seg_len > n:
            raise item.error("truncated JPEG: a marker segment runs past the end of the file")
        if marker == 0xDB:
            _check_dqt(item, seg)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and len(seg) >= 6:
            info["precision"] = seg[0]
            info["lossless"] = marker in (0xC3, 0xC7, 0xCB, 0xCF)
            info["progressive"] = marker in (0xC2, 0xC6, 0xCA, 0xCE)
            nf = seg[5]
            info["components"] = tuple(seg[6 + 3 * i] for i in range(nf) if 6 + 3 * i < len(seg))
            coverage = {c: np.zeros(64, bool) for c in info["components"]}
        if marker == 0xDA:
            if coverage is None:
                raise item.error("corrupt JPEG data: a scan comes before the frame header")
            ns = seg[0] if seg else 0
            comps = [seg[1 + 2 * i] for i in range(ns) if 1 + 2 * i < len(seg)]
            # each component's DC and AC Huffman table selectors, 0-3 (ITU T.81 B.2.3); libjpeg
            # only looks them up in scans that use them, so a damaged selector in a DC refinement
            # scan of a progressive file passes unnoticed (FFmpeg refuses it)
            selectors = [seg[2 + 2 * i] for i in range(ns) if 2 + 2 * i < len(seg)]
            bad = [t for t in selectors if t >> 4 > 3 or t & 0x0F > 3]
            if bad:
                raise item.error(f"corrupt JPEG data: a start-of-scan header names Huffman tables "
                                 f"{bad[0] >> 4} (DC) and {bad[0] & 0x0F} (AC); a scan may name tables 0-3")
            tail = seg[1 + 2 * ns:]
            if len(tail) < 3:
                raise item.error("corrupt JPEG data: short start-of-scan header")
            ss, se, al = tail[0], min(tail[1], 63), tail[2] & 0x0F
            if info["progressive"] or info["lossless"]:
                if al == 0:
                    for c in comps:
                        if c in coverage:
                            coverage[c][ss:se + 1] = True
            else:
                for c in comps:
                    if c in coverage:
                        coverage[c][:] = True
            scan_start = pos + 2 + seg_len
            if first_scan and not info["progressive"] and all(v.all() for v in coverage.values()):
                # one interleaved scan covers everything: the EOI is all that is left to find
                if data.rfind(b"\xff\xd9", scan_start) < 0:
                    raise item.error("truncated JPEG: the end-of-image marker is missing")
                return info
            first_scan = False
            m = _JPEG_MARKER.search(data, scan_start)
            if m is None:
                raise item.error("truncated JPEG: the end-of-image marker is missing")
            pos = m.start()
            continue
        pos += 2 + seg_len
    else:
        if coverage is None or first_scan:
            raise item.error("truncated JPEG: no image data (start-of-scan) found")
        raise item.error("truncated JPEG: the end-of-image marker is missing")
    if coverage is None or first_scan:
        raise item.error("truncated JPEG: no image data (start-of-scan) found")
    if info["lossless"]:
        return info
    missing = [c for c, v in coverage.items() if not v.all()]
    if missing:
        raise item.error(
            f"incomplete JPEG: the scans leave coefficients of component(s) {missing} unfinished "
            "(the file was cut at a scan boundary)"
        )
    return info


def _check_mpo_index(item, header):
    """Refuse an MPO file whose later pictures are not whole where its MP index says (a file cut short).

    An MPO (a camera's stereo pair, or a picture and its preview) is read as its primary picture,
    the first; the others are not decoded. A file cut inside a later picture decoded its intact
    primary picture with status ok, while a cut animated GIF, WebP or PNG, or multi-page TIFF, is
    refused whatever frame the cut falls in. The MP index (the first picture's APP2 ``MPF``
    segment, CIPA DC-007) gives each picture's offset from the index's own header: each later
    picture must start there with a start-of-image marker, and its marker segments and scans must
    reach an end-of-image marker (:func:`_scan_jpeg`, no decoding). The index's sizes are not
    used: Pillow's writer gives the third picture of a file a wrong one.
    """
    entries = (getattr(header, "mpinfo", None) or {}).get(0xB002) or []
    if len(entries) < 2:
        return
    data, n, pos, base = item.data, len(item.data), 2, None
    while pos + 4 <= n and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9):
        if data[pos + 1] == 0xE2 and data[pos + 4:pos + 8] == b"MPF\x00":
            base = pos + 8  # offsets count from the index's TIFF-style header
            break
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    if base is None:
        return
    for k, entry in enumerate(entries[1:], start=2):
        try:
            start = base + int(entry["DataOffset"])
        except (KeyError, TypeError, ValueError):
            raise item.error(f"corrupt MPO: its MP index entry for picture {k} has no offset") from None
        where = f"picture {k} of {len(entries)} (at byte {start} by its MP index)"
        if start + 2 > n:
            raise item.error(f"truncated MPO: its {where} starts past the end of the file ({n} bytes)")
        if data[start:start + 2] != b"\xff\xd8":
            raise item.error(f"corrupt MPO: its {where} does not start with a start-of-image marker")
        try:
            _scan_jpeg(Item(item.index, item.source, data[start:]))
        except ItemError as exc:
            raise item.error(f"truncated or corrupt MPO: its {where}: {exc.reason}") from None


def _unsupported_jpeg(item, info):
    if info["precision"] != 8 or info["lossless"]:
        kind = "lossless" if info["lossless"] else f"{info['precision']}-bit"
        raise item.error(f"{kind} JPEG is not supported (no strict decoder for it is installed)")


def _check_dqt(item, seg):
    """Quantization tables: whole tables, and no zero step (libjpeg accepts both silently)."""
    k = 0
    while k < len(seg):
        wide = seg[k] >> 4
        size = 128 if wide else 64
        table = seg[k + 1:k + 1 + size]
        if len(table) < size:
            raise item.error("corrupt JPEG data: a quantization table is cut short")
        values = np.frombuffer(table, ">u2" if wide else np.uint8)
        if not values.all():
            raise item.error("corrupt JPEG data: a quantization table has a zero step")
        k += 1 + size


def _stored_size(header):
    """(width, height) of the stored grid (Pillow reports a TIFF's displayed size)."""
    if header.format == "TIFF":
        tags = getattr(header, "tag_v2", None) or {}
        if 256 in tags and 257 in tags:
            return int(tags[256]), int(tags[257])
    return header.size


def _tiff_bits(header):
    """Bits per sample (tag 258; TIFF 6.0's default is 1, and Pillow writes bilevel files without it)."""
    bits = (getattr(header, "tag_v2", None) or {}).get(258, 1)
    return max(bits) if isinstance(bits, tuple) and bits else int(bits)


def _check_tiff_ycbcr(item, tags, bits):
    """Refuse the YCbCr TIFFs Pillow's YCbCr -> RGB rule (JFIF's) would decode wrongly."""
    coefficients = tags.get(529)
    reference = tags.get(532)
    if bits != 8 or tags.get(530, (2, 2)) != (1, 1):
        raise item.error(f"YCbCr TIFF with {bits}-bit samples and chroma subsampling "
                         f"{tags.get(530, (2, 2))} is not supported (only 8-bit, unsubsampled)")
    if coefficients is not None and not np.allclose(coefficients, (0.299, 0.587, 0.114), atol=1e-3):
        raise item.error(f"YCbCr TIFF with coefficients {tuple(coefficients)} is not supported (only ITU-R BT.601)")
    if reference is not None and not np.allclose(reference, (0, 255, 128, 255, 128, 255)):
        raise item.error(f"YCbCr TIFF with reference black/white {tuple(reference)} is not supported "
                         f"(only full range)")


_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_PHOTOMETRIC = {0: "min-is-white grey", 1: "grey", 2: "RGB", 3: "palette", 4: "transparency mask", 5: "CMYK",
                6: "YCbCr", 8: "CIELab", 9: "ICCLab", 10: "ITULab", 32844: "LogL", 32845: "LogLuv",
                32803: "CFA (raw sensor data)", 34892: "LinearRaw"}
_SAMPLE_FORMAT = {1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "untyped",
                  5: "complex integer", 6: "complex floating-point"}


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_IMAGE_BRANDS = {b"avif", b"avis"}  # ISO base media files that are images (AVIF is accepted)


def _cut_container(data):
    """Why a file Pillow cannot open was cut short, read from its container's structure; else None.

    - TIFF: the first image directory (which Pillow, like most writers of compressed TIFF, puts
      after the image data) at or past the end of the file, or its entries running past it;
    - WebP: a chunk (``VP8 ``, ``VP8L``, ``ANMF``...) running past the end of the file although the
      RIFF size was rewritten to the cut length (the RIFF check names the plain cut);
    - AVIF (ISO base media): a top-level box (``meta``, ``mdat``) running past the end of the file;
    - GIF: the frame whose descriptor or image data the file ends in (:func:`_cut_gif`), for a
      file its decoder refused (it said only "the decoder refused it").
    """
    n = len(data)
    if data[:4] in _TIFF_SIGNATURES and data[2:4] in (b"*\x00", b"\x00*"):
        order = "little" if data[:2] == b"II" else "big"
        at = int.from_bytes(data[4:8], order)
        if at < 8:  # no directory can start inside the header: not a TIFF structure this check reads
            return None
        if at + 2 > n:
            return f"truncated TIFF: its first image directory is at byte {at}, past the end of the file ({n} bytes)"
        count = int.from_bytes(data[at:at + 2], order)
        if count == 0:
            return (f"corrupt TIFF: its first image directory (at byte {at}) holds no entries (zeros where it "
                    f"should be: a file cut short and padded?)")
        if at + 2 + 12 * count > n:
            return (f"truncated TIFF: its first image directory (at byte {at}, {count} entries) runs past the end "
                    f"of the file ({n} bytes)")
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        pos = 12
        while pos + 8 <= n:
            fourcc, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
            if pos + 8 + size > n:
                return (f"truncated WebP: its {fourcc.decode('latin-1')!r} chunk at byte {pos} declares {size} bytes, "
                        f"past the end of the file ({n} bytes)")
            pos += 8 + size + (size & 1)
        return None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _cut_gif(data)
    if data[4:8] == b"ftyp" and data[8:12] in _IMAGE_BRANDS:
        pos = 0
        while pos + 8 <= n:
            size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
            head = 8
            if size == 1 and pos + 16 <= n:
                size, head = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
            if size == 0:  # the box runs to the end of the file
                return None
            if size < head:
                return None  # not a box structure this check reads: the generic message stands
            if pos + size > n:
                return (f"truncated AVIF: its {kind.decode('latin-1')!r} box at byte {pos} declares {size} bytes, "
                        f"past the end of the file ({n} bytes)")
            pos += size
    return None


def _cut_gif(data):
    """Where a GIF ends early, walking its blocks (GIF89a: extensions, image descriptors, their
    colour tables and data sub-blocks, the trailer): ``"truncated GIF: ..."`` naming the frame
    the file ends in, or before its trailer; None when the walk reaches the trailer or meets a
    byte it does not read (another damage, for the decoder's own message)."""
    n = len(data)
    if n < 13:
        return "truncated GIF: the file ends inside its header"
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    if pos > n:
        return "truncated GIF: the file ends inside its global colour table"
    frame = 0

    def sub_blocks(at):  # -> the position after the terminating zero-size block, or None past the end
        while at < n:
            size = data[at]
            at += 1 + size
            if size == 0:
                return at
        return None

    while pos < n:
        kind = data[pos]
        if kind == 0x3B:
            return None
        if kind == 0x21:
            end = sub_blocks(pos + 2)
            if end is None:
                return f"truncated GIF: the file ends inside an extension block at byte {pos}"
            pos = end
        elif kind == 0x2C:
            frame += 1
            if pos + 10 > n:
                return f"truncated GIF: the file ends inside frame {frame}'s image descriptor"
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1  # colour table, LZW code size
            end = sub_blocks(pos)
            if end is None:
                return f"truncated GIF: the file ends inside frame {frame}'s image data"
            pos = end
        else:
            return None
    return f"truncated GIF: the file ends after frame {frame} without its trailer"


def _known_other_kind(data):
    """What a file Pillow cannot open is, when its first bytes say it is a known non-accepted kind:
    HEIF (HEIC), JPEG XL, JPEG 2000, a video container, a macOS AppleDouble file (``._name``); else None."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return f"a HEIF (HEIC) image (brand {brand.decode('latin-1')!r}), for which no decoder is installed"
        if brand not in _IMAGE_BRANDS and all(32 <= b < 127 for b in brand):  # a real brand: printable
            return f"an ISO base media (MP4, MOV, 3GP) file (brand {brand.decode('latin-1')!r}), a video, not an image"
    if data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a":
        return "a JPEG XL image, for which no decoder is installed"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or data[:4] == b"\xff\x4f\xff\x51":
        return "a JPEG 2000 image (JP2 or J2K), a format not accepted: convert it losslessly (PNG, TIFF)"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "a Matroska or WebM file, a video, not an image"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "an AVI file, a video, not an image"
    if data[:4] == b"\x00\x05\x16\x07":
        return "a macOS AppleDouble file (the '._' companion of a file copied from macOS), not an image"
    return None


_TIFF_COMPRESSION = {1: "uncompressed", 2: "CCITT RLE", 3: "CCITT G3 fax", 4: "CCITT G4 fax", 5: "LZW",
                     6: "old-style JPEG", 7: "JPEG", 8: "deflate", 32946: "deflate", 32773: "PackBits",
                     34925: "LZMA", 50000: "zstd", 50001: "WebP"}


def _photometric_text(value):
    """``8, CIELab``: a TIFF PhotometricInterpretation value and its name."""
    name = _PHOTOMETRIC.get(value) if isinstance(value, int) else None
    return f"{value}, {name}" if name else f"{value}"


def _unsupported_tiff(item):
    """Raise the reason a TIFF that Pillow cannot open is refused, when its first IFD names a
    colour space or sample type outside those accepted.

    Pillow does not identify, for instance, 16-bit CIELab or floating-point TIFFs; "not a readable
    image file" would send the user looking for damage. Returns quietly when the directory cannot
    be read or describes an accepted kind (then the file is damaged, and the caller's generic
    message stands).
    """
    from PIL import TiffImagePlugin

    data = item.data
    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=data[:16] if data[2:4] in (b"+\x00", b"\x00+") else data[:8])
        fp = io.BytesIO(data)
        fp.seek(ifd.next)
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:  # Pillow warns of a damaged directory
            warnings.simplefilter("always")
            ifd.load(fp)
        if caught or 262 not in ifd:  # damaged, or no PhotometricInterpretation (a required tag)
            return

        def value(tag, default):
            v = ifd.get(tag, default)
            return int(max(v) if isinstance(v, tuple) and v else v)

        photometric, bits, fmt, spp = value(262, -1), value(258, 1), value(339, 1), value(277, 1)
    except Exception:
        return
    if photometric in (0, 1, 2, 3, 5, 6) and bits in (1, 8, 16) and fmt == 1:
        return
    if bits == 0 or spp == 0:  # no sample type at all: a damaged directory, not an unsupported one
        return
    raise item.error(
        f"unsupported TIFF: {bits}-bit {_SAMPLE_FORMAT.get(fmt, f'sample format {fmt}')} samples, "
        f"{spp} per pixel, photometric interpretation {_photometric_text(photometric)}; supported: 1-, 8- and "
        f"16-bit unsigned integer grey, RGB(A), palette and CMYK, and 8-bit YCbCr")


def _check_tiff_preview(item, header, tags):
    """Refuse a TIFF whose first image is a reduced-resolution preview of another, and DNG raw files.

    Every reader opens a TIFF's first image directory; a writer may put a preview there and the
    picture after it (NewSubfileType bit 0, "reduced-resolution version of another image", or the
    old SubfileType 2), and a DNG (a camera raw file in TIFF form, DNGVersion tag) always does,
    with the raw data in a sub-directory. The item was the preview (a 16x20 thumbnail of a 64x80
    picture) with status ok. A flagged first image that is the file's only one (no later page, no
    SubIFDs) is read: there is no other picture.
    """
    if 50706 in tags:
        raw = tags[50706]
        version = ".".join(str(v) for v in raw) if isinstance(raw, (tuple, bytes)) else raw
        raise item.error(f"a DNG camera raw file (DNGVersion {version}): its first image is a preview, and raw "
                         f"images are not accepted; convert it (a 16-bit TIFF or PNG)")
    try:
        new_type, old_type = int(tags.get(254, 0)), int(tags.get(255, 1))
    except (TypeError, ValueError):
        return
    if (new_type & 1 or old_type == 2) and (330 in tags or getattr(header, "n_frames", 1) > 1):
        raise item.error("the TIFF's first image is a reduced-resolution preview of another image in the file "
                         f"({'NewSubfileType ' + str(new_type) if new_type & 1 else 'SubfileType 2'}); the "
                         "picture itself is not the first image, which every reader opens")


def _check_tiff_jpeg(item, tags):
    """Each strip (or tile) of a JPEG-compressed TIFF decoded by libjpeg-turbo in strict mode.

    libtiff reports libjpeg's warnings (scan data cut short, extraneous bytes, bad Huffman codes)
    only as warnings and returns the picture with filler; the strips are therefore decoded once
    more, strictly, as a JPEG file is (:meth:`Item._decode_jpeg`), the ``JPEGTables`` tag (347:
    an abbreviated stream of the shared quantization and Huffman tables) put before each strip's
    own markers. Old-style JPEG (compression 6, TIFF 6.0's withdrawn scheme) is refused: no strict
    decoder for it is installed.
    """
    import simplejpeg

    if int(tags.get(259, 1)) == 6:
        raise item.error("old-style JPEG-compressed TIFF (compression 6) is not supported: no strict decoder "
                         "for it is installed")
    tiled = 324 in tags or 322 in tags
    offsets = tags.get(324 if tiled else 273)
    counts = tags.get(325 if tiled else 279)
    offsets = (offsets,) if isinstance(offsets, int) else tuple(offsets)
    counts = (counts,) if isinstance(counts, int) else tuple(counts)
    tables = bytes(tags.get(347) or b"")
    prefix = tables[:-2] if tables.startswith(b"\xff\xd8") and tables.endswith(b"\xff\xd9") else b""
    what = "tile" if tiled else "strip"
    for k, (off, cnt) in enumerate(zip(offsets, counts)):
        seg = item.data[off:off + cnt]
        stream = prefix + seg[2:] if prefix and seg.startswith(b"\xff\xd8") else seg
        try:
            space = simplejpeg.decode_jpeg_header(stream)[2]
            mode = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(space, "RGB")
            simplejpeg.decode_jpeg(stream, colorspace=mode, strict=True)
        except ValueError as exc:
            if "memory" in str(exc).lower():
                raise MemoryError(str(exc)) from None
            raise item.error(f"corrupt JPEG data in TIFF {what} {k} ({_short(exc)})") from None


def _cmyk_to_rgb(cmyk, white):
    """Pillow's CMYK -> RGB rule, ``R = round((white - C) (white - K) / white)``, at any sample scale."""
    ink = cmyk.astype(np.float64)
    rgb = np.rint((white - ink[..., :3]) * (white - ink[..., 3:4]) / white)
    return rgb.astype(cmyk.dtype)


#: The tags that say how a TIFF's pixels are laid out and decoded (TIFF 6.0, sections 8-21).
_TIFF_IMAGING_TAGS = {256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
                      262: "PhotometricInterpretation", 273: "StripOffsets", 277: "SamplesPerPixel",
                      278: "RowsPerStrip", 279: "StripByteCounts", 284: "PlanarConfiguration", 317: "Predictor",
                      320: "ColorMap", 322: "TileWidth", 323: "TileLength", 324: "TileOffsets", 325: "TileByteCounts",
                      338: "ExtraSamples", 339: "SampleFormat", 347: "JPEGTables", 529: "YCbCrCoefficients",
                      530: "YCbCrSubSampling", 532: "ReferenceBlackWhite"}
#: Bytes per value of each TIFF field type (TIFF 6.0 section 2; 13 IFD; BigTIFF's 16-18).
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8,
                    18: 8}


def _check_tiff_ifd(item):
    """Refuse a TIFF whose first IFD holds an imaging tag that cannot be read.

    TIFF 6.0 tells readers to skip a field of an unknown type, and Pillow, libtiff and tifffile
    all skip (with at most a warning) a field whose values lie past the end of the file. When
    that field is one that says how the pixels are laid out (PlanarConfiguration, Predictor,
    BitsPerSample...), the reader decodes with the tag's default instead: another picture, without
    an error (a damaged count of PlanarConfiguration next to a lost Predictor gave a 16-bit LZW
    TIFF read without its predictor). Other fields (descriptions, private tags) are left to the
    readers: their loss does not change the pixels. A tag whose number itself was damaged is
    unknown, hence skipped by every reader: the file is then another valid TIFF, not detectable.
    """
    import struct

    data = item.data
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if order is None or len(data) < 16:
        return  # Pillow refuses it
    magic = struct.unpack_from(order + "H", data, 2)[0]
    if magic == 42:
        ifd, head, entry, count_fmt, inline = struct.unpack_from(order + "I", data, 4)[0], "H", 12, "I", 4
    elif magic == 43:  # BigTIFF
        ifd, head, entry, count_fmt, inline = struct.unpack_from(order + "Q", data, 8)[0], "Q", 20, "Q", 8
    else:
        return
    n = len(data)
    head_size = struct.calcsize(head)
    if ifd + head_size > n:
        return  # no IFD to read: the readers refuse it
    entries = struct.unpack_from(order + head, data, ifd)[0]
    for k in range(min(entries, (n - ifd - head_size) // entry)):
        at = ifd + head_size + k * entry
        tag, kind = struct.unpack_from(order + "HH", data, at)
        name = _TIFF_IMAGING_TAGS.get(tag)
        if name is None:
            continue
        size = _TIFF_TYPE_SIZES.get(kind)
        if size is None:
            raise item.error(f"corrupt TIFF: its {name} tag has field type {kind}, which no reader reads (the tag "
                             f"would be skipped and its default used)")
        count = struct.unpack_from(order + count_fmt, data, at + 4)[0]
        if count == 0:
            raise item.error(f"corrupt TIFF: its {name} tag holds no value")
        if size * count > inline:
            offset = struct.unpack_from(order + count_fmt, data, at + 4 + inline)[0]
            if offset + size * count > n:
                raise item.error(f"corrupt TIFF: its {name} tag's {count} values run past the end of the file "
                                 f"(offset {offset}, {n} bytes; the tag would be skipped and its default used)")
    _check_tiff_pages(item, order, ifd, entries, head, entry, count_fmt, inline)


_TIFF_INT_FORMATS = {3: "H", 4: "I", 13: "I", 16: "Q"}  # SHORT, LONG, IFD, LONG8: strip offsets and counts
_TIFF_MAX_PAGES = 100_000


def _check_tiff_pages(item, order, ifd, entries, head, entry, count_fmt, inline):
    """Refuse a multi-page TIFF cut short: every later page's IFD and strips (or tiles) lie in the file.

    The item is the first page, whose strips :func:`_check_tiff_strips` checks. A file cut inside
    a later page (an interrupted download or copy) still holds an intact first page, which every
    reader decodes without a word; it is refused as a cut animated GIF, WebP or PNG is (each
    fails its trailer, RIFF size or IEND check whichever frame the cut falls in), so that a
    damaged file is reported whatever its format. The chain of IFDs is followed until its zero
    offset; a chain that loops or points past the end of the file is refused too.
    """
    import struct

    data = item.data
    n = len(data)
    head_size = struct.calcsize(head)
    ptr_fmt = order + ("I" if inline == 4 else "Q")
    seen = {ifd}
    page = 1
    while True:
        at = ifd + head_size + entries * entry
        if at + inline > n:
            raise item.error(f"truncated TIFF: page {page}'s directory runs past the end of the file ({n} bytes)")
        nxt = struct.unpack_from(ptr_fmt, data, at)[0]
        if nxt == 0:
            return
        page += 1
        if nxt in seen:
            raise item.error(f"corrupt TIFF: the chain of page directories loops back (page {page} at offset {nxt})")
        if page > _TIFF_MAX_PAGES:
            raise item.error(f"TIFF with more than {_TIFF_MAX_PAGES} pages (page {page} at offset {nxt}): refused")
        seen.add(nxt)
        if nxt + head_size > n:
            raise item.error(f"truncated TIFF: page {page}'s directory at offset {nxt} lies past the end of the "
                             f"file ({n} bytes); the first page is intact but the file was cut short")
        ifd = nxt
        entries = struct.unpack_from(order + head, data, ifd)[0]
        if ifd + head_size + entries * entry > n:
            raise item.error(f"truncated TIFF: page {page}'s directory runs past the end of the file ({n} bytes)")
        spans = {}
        for k in range(entries):
            pos = ifd + head_size + k * entry
            tag, kind = struct.unpack_from(order + "HH", data, pos)
            if tag not in (273, 279, 324, 325) or kind not in _TIFF_INT_FORMATS:
                continue
            count = struct.unpack_from(order + count_fmt, data, pos + 4)[0]
            fmt = _TIFF_INT_FORMATS[kind]
            size = struct.calcsize(fmt) * count
            where = pos + 4 + struct.calcsize(count_fmt)
            if size > inline:
                where = struct.unpack_from(order + count_fmt, data, where)[0]
            if where + size > n:
                raise item.error(f"truncated TIFF: page {page}'s strip table runs past the end of the file "
                                 f"({n} bytes); the first page is intact but the file was cut short")
            spans[tag] = struct.unpack_from(f"{order}{count}{fmt}", data, where)
        for off_tag, cnt_tag in ((273, 279), (324, 325)):
            for off, cnt in zip(spans.get(off_tag, ()), spans.get(cnt_tag, ())):
                if off + cnt > n:
                    raise item.error(f"truncated TIFF: a strip of page {page} ({cnt} bytes at offset {off}) runs "
                                     f"past the end of the file ({n} bytes); the first page is intact but the file "
                                     f"was cut short")


def _check_tiff_strips(item, header):
    """Strip (or tile) table against the declared size: the format's own bookkeeping of its data.

    Every strip must lie inside the file, there must be as many as the image height needs, and
    an uncompressed strip must hold all the bytes of its rows (a decoder reading short strips
    may fill the rest). PlanarConfiguration, which says how the strips are laid out, must be one
    of TIFF 6.0's two values (1 chunky, 2 planar): readers disagree on any other (Pillow reads it
    as chunky, libtiff refuses it, tifffile as planar).
    """
    tags = getattr(header, "tag_v2", None) or {}
    n = len(item.data)
    w, h = _stored_size(header)
    tiled = 324 in tags or 322 in tags
    offsets = tags.get(324 if tiled else 273)
    counts = tags.get(325 if tiled else 279)
    offsets = (offsets,) if isinstance(offsets, int) else tuple(offsets or ())
    counts = (counts,) if isinstance(counts, int) else tuple(counts or ())
    if not offsets or len(offsets) != len(counts):
        raise item.error("corrupt TIFF: strip offsets and byte counts missing or of different lengths")
    for off, cnt in zip(offsets, counts):
        if off + cnt > n:
            raise item.error(f"truncated TIFF: a strip of {cnt} bytes at offset {off} runs past the end ({n} bytes)")
    spp = int(tags.get(277, 1))
    planar = int(tags.get(284, 1))
    if planar not in (1, 2):
        raise item.error(f"corrupt TIFF: PlanarConfiguration {planar} (TIFF 6.0 allows 1, chunky, and 2, planar)")
    planes = spp if planar == 2 else 1
    if tiled:
        tw, th = int(tags.get(322, 0)), int(tags.get(323, 0))
        if tw <= 0 or th <= 0:
            raise item.error("corrupt TIFF: zero tile size")
        per_plane = -(-w // tw) * -(-h // th)
        rows, row_width = th, tw
    else:
        rps = int(tags.get(278, h)) or h
        rps = min(rps, h)
        per_plane = -(-h // rps)
        rows, row_width = rps, w
    if len(offsets) < per_plane * planes:
        raise item.error(f"truncated TIFF: {len(offsets)} strips for an image that needs {per_plane * planes}")
    if int(tags.get(259, 1)) == 1:
        bits = _tiff_bits(header)
        chans = 1 if planes > 1 else spp
        for k, cnt in enumerate(counts[:per_plane * planes]):
            r = rows if tiled else min(rows, h - (k % per_plane) * rows)
            need = r * (-(-row_width * chans * bits // 8))
            if cnt < need:
                raise item.error(f"truncated TIFF: strip {k} holds {cnt} bytes of the {need} its rows need")


_CV2_READS = {}


def _bmp_bits(data):
    """Bits per pixel of a BMP (the core header's or the info header's ``biBitCount``); 0 if cut."""
    header_size = int.from_bytes(data[14:18], "little") if len(data) >= 18 else 0
    at = 24 if header_size == 12 else 28
    return int.from_bytes(data[at:at + 2], "little") if len(data) >= at + 2 else 0


def _bmp_alpha_mask(data):
    """The alpha bit field of a BMP with bit-field compression and a V3+ info header (56+ bytes); else 0."""
    header_size = int.from_bytes(data[14:18], "little") if len(data) >= 18 else 0
    compression = int.from_bytes(data[30:34], "little") if len(data) >= 34 else 0
    if header_size < 56 or compression not in (3, 6) or len(data) < 70:
        return 0
    return int.from_bytes(data[66:70], "little")


def _check_bmp_rle(item):
    """Refuse a run-length encoded BMP (RLE8, RLE4) whose codes leave pixels without a value.

    An RLE stream may end the bitmap (escape ``00 01``) or a line (``00 00``) early, or jump
    ahead (delta, ``00 02 dx dy``); the pixels it passes over are undefined in the format (Windows
    leaves whatever was drawn there before), and decoders fill them with a colour of their own
    (OpenCV: black). Walking the codes, the pixels written must cover the declared size, and the
    stream must reach its end-of-bitmap code (or the last line) before the file ends.
    """
    data = item.data
    if len(data) < 54 or int.from_bytes(data[14:18], "little") < 40:
        return
    compression = int.from_bytes(data[30:34], "little")
    if compression not in (1, 2):
        return
    w = int.from_bytes(data[18:22], "little", signed=True)
    h = int.from_bytes(data[22:26], "little", signed=True)
    if w <= 0 or h <= 0:
        return  # a top-down RLE bitmap is invalid; the decoder decides
    pos = int.from_bytes(data[10:14], "little")
    n = len(data)
    x = y = covered = 0
    ended = False
    per_byte = 1 if compression == 1 else 2  # pixels per byte of an absolute run
    while pos + 1 < n and y < h:
        count, value = data[pos], data[pos + 1]
        pos += 2
        if count:  # an encoded run of `count` pixels
            covered += max(0, min(x + count, w) - min(x, w))
            x += count
        elif value == 0:  # end of line
            x, y = 0, y + 1
        elif value == 1:  # end of bitmap
            ended = True
            break
        elif value == 2:  # delta: right dx, up dy
            if pos + 1 >= n:
                break
            x, y = x + data[pos], y + data[pos + 1]
            pos += 2
        else:  # an absolute run of `value` pixels, padded to a 16-bit boundary
            covered += max(0, min(x + value, w) - min(x, w))
            x += value
            size = -(-value // per_byte)
            pos += size + (size & 1)
    if not (ended or y >= h):
        raise item.error("truncated BMP: the run-length data end before the end-of-bitmap code")
    if covered < w * h:
        raise item.error(f"BMP run-length data leave {w * h - covered} of {w * h} pixels without a value (an "
                         f"end-of-line, end-of-bitmap or delta code skips them; decoders fill them with a colour "
                         f"of their own)")


def _check_palette_indices(item, fmt):
    """Refuse a palette PNG or BMP whose pixels use an index past the end of its palette.

    A palette may hold fewer colours than the bit depth can index (a PNG PLTE of 2 entries for
    8-bit indices, a BMP with ``biClrUsed`` 2); PNG calls an index past its end an error, and BMP
    leaves the colour undefined. libpng, OpenCV's BMP reader and Pillow all show such a pixel as
    black, a colour the file never stored. Pillow reads the indices and the palette as stored (a
    second decode, used for this check and not for the pixels), for a palette shorter than the
    bit depth can index only (a full palette leaves no index without a colour).
    """
    with PILImage.open(io.BytesIO(item.data), formats=(fmt,)) as im:
        palette = im.palette
        raw = palette.palette if palette is not None else b""
        per_entry = 4 if (getattr(palette, "rawmode", None) or "RGB") in ("BGRX", "RGBX", "BGRA", "RGBA") else 3
        entries = len(raw) // per_entry
        bits = item.data[24] if fmt == "PNG" else _bmp_bits(item.data)
        if not entries or entries >= 1 << bits:
            return  # a full palette: every index the bit depth can write has a colour
        with _pillow_warnings_named(item.index, item.source, "checking its palette indices"):
            im.load()
        top = int(np.asarray(im).max()) if im.mode == "P" else -1
    if top >= entries:
        raise item.error(f"corrupt {fmt} data: a pixel uses palette index {top}, but the palette holds {entries} "
                         f"colour(s) (decoders show black, a colour the file does not store)")


def _short_raster(data, fmt):
    """Why OpenCV refused an uncompressed BMP or a binary PNM, when its pixel data are shorter than
    the header's size needs (``"the pixel data hold 100 of the 192 bytes its 8x8 RGB size needs"``); else None."""
    if fmt == "BMP" and len(data) >= 34 and int.from_bytes(data[14:18], "little") >= 40:
        w = int.from_bytes(data[18:22], "little", signed=True)
        h = abs(int.from_bytes(data[22:26], "little", signed=True))
        bits, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
        if compression not in (0, 3) or w <= 0 or bits not in (1, 4, 8, 16, 24, 32):
            return None
        need = (w * bits + 31) // 32 * 4 * h
        have = len(data) - int.from_bytes(data[10:14], "little")
        what = f"{w}x{h} {bits}-bit"
    elif fmt == "PPM" and data[:2] in (b"P4", b"P5", b"P6"):
        count = b"2" if data[:2] == b"P4" else b"3"  # width, height[, maxval]: then one white-space byte
        tokens = re.match(rb"P[456](?:\s+(?:#[^\n]*\n\s*)*(\d+)){" + count + rb"}\s", data)
        if tokens is None:
            return None
        nums = [int(t) for t in re.findall(rb"\d+", re.sub(rb"#[^\n]*\n", b" ", tokens.group(0)[2:]))]
        if data[:2] == b"P4":
            w, h = nums[:2]
            need = (w + 7) // 8 * h
        elif len(nums) >= 3:
            w, h, maxval = nums[:3]
            need = w * h * (3 if data[:2] == b"P6" else 1) * (2 if maxval > 255 else 1)
        else:
            return None
        have = len(data) - tokens.end()
        what = f"{w}x{h} {data[:2].decode()}"
    else:
        return None
    if 0 <= have < need:
        return f"the pixel data hold {have} of the {need} bytes its {what} size needs"
    return None


def _check_plain_pnm_end(item):
    """Refuse a plain (ASCII) PGM/PPM whose last sample is the file's last byte, by name.

    The format allows it, but such a file cannot be told from one cut inside its last number
    (``... 255`` cut to ``... 25`` reads as a valid, darker last pixel); OpenCV refuses it without
    a reason. Plain PBM (one character per sample) is not concerned.
    """
    data = item.data
    last_line = data[max(data.rfind(b"\n"), data.rfind(b"\r")) + 1:]
    if data[:2] in (b"P2", b"P3") and data[-1:].isdigit() and b"#" not in last_line:
        raise item.error("plain (ASCII) PNM ends inside a number, with no white space after its last sample: it "
                         "cannot be told from a file cut inside that number; if it is whole, end it with a newline")


def _cv2_reads(fmt):
    """Whether this OpenCV build decodes ``fmt`` (GIF and AVIF readers are recent additions)."""
    if fmt not in _CV2_READS:
        buf = io.BytesIO()
        try:
            PILImage.new("RGB", (8, 8), (10, 200, 30)).save(buf, fmt)
            arr = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
            _CV2_READS[fmt] = arr is not None and arr.shape[:2] == (8, 8)
        except Exception:
            _CV2_READS[fmt] = False
    return _CV2_READS[fmt]


def _tiff_white(item, header, arr):
    """Full scale of a TIFF from its tags: MaxSampleValue (281) when it is 2**k - 1 below the container's."""
    if arr.dtype.kind == "f":
        return 1
    tags = getattr(header, "tag_v2", None) or {}
    bits = tags.get(258)
    bits = max(bits) if isinstance(bits, tuple) and bits else bits
    if isinstance(bits, int) and bits not in (1, 8, 16):
        raise item.error(f"{bits}-bit TIFF samples are not supported")
    white = _dtype_white(arr.dtype)
    msv = tags.get(281)
    msv = max(msv) if isinstance(msv, tuple) and msv else msv
    if isinstance(msv, int) and 0 < msv < white:
        if (msv + 1) & msv:
            raise item.error(f"TIFF MaxSampleValue {msv} is not 2**k - 1; its sample scale is ambiguous")
        white = msv
    return white


def _pnm_white(item, arr):
    """A PNM file's maxval (samples run 0..maxval, whatever the container width)."""
    data = item.data
    if arr.dtype.kind == "f":
        return 1  # PFM: float samples, checked against [0, 1] like float arrays
    if data[:2] in (b"P1", b"P4"):
        return None  # bitmaps: the decoder maps them to 0/255
    tokens, pos = [], 2
    while len(tokens) < 3 and pos < len(data):
        m = re.compile(rb"\s*(#[^\n]*\n\s*)*(\d+)").match(data, pos)
        if not m:
            break
        tokens.append(int(m.group(2)))
        pos = m.end()
    if len(tokens) < 3 or not 0 < tokens[2] < 65536:
        raise item.error("corrupt PNM header (no valid maxval)")
    return tokens[2]


# -- turning inputs into items --------------------------------------------------------------------

def _pil_file_bytes(im):
    """The encoded file behind a PIL image opened lazily and not yet decoded, or None.

    Only for the first frame of a format of :data:`IMAGE_FORMATS` whose file object can be read
    from its start; an image already loaded (or made in memory) has no file to check.
    """
    if im.format not in IMAGE_FORMATS or not getattr(im, "tile", None):
        return None
    fp = getattr(im, "fp", None)
    try:
        if fp is None or im.tell() != 0:
            return None
        pos = fp.tell()
        fp.seek(0)
        data = fp.read()
        fp.seek(pos)
    except Exception:  # a closed or unseekable file object: nothing to check against
        return None
    return data if isinstance(data, bytes) and data else None


def _item_from_pil(im, index, max_pixels):
    src = getattr(im, "filename", None) or None
    src = src if isinstance(src, str) else None
    try:
        w, h = im.size
    except Exception as exc:
        raise ItemError(index, src, f"cannot read the PIL image ({type(exc).__name__}: {_short(exc)})") from None
    if w * h > max_pixels:
        raise ItemError(index, src, f"image is {w}x{h}, above max_pixels={max_pixels}")
    data = _pil_file_bytes(im)
    if data is not None:
        # Pillow's decoders ignore libjpeg's warnings (a JPEG whose scan data stop short but that
        # ends with EOI loads as a picture with filler): the file goes through the strict decoder
        # that reads it from a path or bytes, so damage is refused the same way, and the item is
        # that of the file (decoded once, its JPEG header kept for the codec features) unless
        # Pillow was asked for another size or mode (``draft``), which only Pillow's load gives.
        item = Item(index, src, data, max_pixels=max_pixels)
        item.pixels
        if (item.header.size, item.header.mode) == (im.size, im.mode):
            return item
    try:
        im.load()  # a lazily opened file: decode now, so a truncated one fails here
        orientation = _exif_orientation(im, index, src)
        white = None
        if im.mode in ("L", "RGB", "RGBA", "LA", "1"):
            arr = np.asarray(im)
        elif im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            arr, white = np.asarray(im).astype(np.uint16), 65535
        elif im.mode == "F":
            arr = np.asarray(im)
        elif im.mode == "I":
            raise ItemError(index, src, "a PIL image in mode 'I' (32-bit integers) has no known sample scale; "
                            "convert it to 'I;16' or 'L'")
        else:
            arr = np.asarray(im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB"))
    except ItemError:
        raise
    except Exception as exc:
        raise ItemError(index, src, f"cannot read the PIL image ({type(exc).__name__}: {_short(exc)})") from None
    item = Item(index, src, pixels=arr, max_pixels=max_pixels, orientation=orientation)
    item._white = white
    return item


def load_item(obj, index=0, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Wrap one element of ``X`` (path, bytes, array, PIL image or :class:`Item`) as an Item.

    Files are read here; nothing is decoded until a feature asks for pixels (a PIL image is
    loaded here, so a lazily opened, truncated one fails at once).

    Parameters
    ----------
    obj : str, os.PathLike, bytes, bytearray, memoryview, ndarray, PIL.Image.Image or Item
        One image. Arrays of any byte order are accepted (big-endian data is read as such);
        ``np.matrix`` is taken as a 2-D array.
    index : int
        Position in ``X``, named in errors.
    max_pixels : int
        Refuse larger images.

    Raises
    ------
    ItemError
        For a missing, unreadable or empty file, a path that cannot name a file (NUL byte,
        characters the file system cannot encode), a closed or broken PIL image, or an
        unsupported type; the message names ``index`` and the path.
    """
    if isinstance(obj, Item):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        try:
            src = os.fspath(obj)
        except Exception as exc:
            raise ItemError(index, None, f"invalid path object ({type(exc).__name__}: {_short(exc)})") from None
        if isinstance(src, bytes):
            src = os.fsdecode(src)
        if not isinstance(src, str):
            raise ItemError(index, None, f"invalid path object of type {type(obj).__name__}")
        shown = path_text(src)
        if "\x00" in src:
            raise ItemError(index, shown, "path contains a NUL byte")
        try:
            os.fsencode(src)
        except UnicodeError:
            raise ItemError(index, shown, "path has characters the file system encoding cannot represent") from None
        try:
            st = os.stat(src)
            if stat.S_ISDIR(st.st_mode):
                raise ItemError(index, shown, "is a directory, not an image file")
            if not stat.S_ISREG(st.st_mode):
                raise ItemError(index, shown, "not a regular file (a device, pipe or socket is never read)")
            if st.st_size > 8 * max_pixels + (1 << 26):
                raise ItemError(index, shown, f"file of {st.st_size} bytes is larger than any image within "
                                f"max_pixels={max_pixels} can be")
            data = Path(src).read_bytes()
        except ItemError:
            raise
        except FileNotFoundError:
            raise ItemError(index, shown, not_found_reason(src)) from None
        except IsADirectoryError:
            raise ItemError(index, shown, "is a directory, not an image file") from None
        except MemoryError:
            raise ItemError(index, shown, f"{_MEMORY_HINT} while reading the file") from None
        except (OSError, ValueError) as exc:
            raise ItemError(index, shown, read_error_reason(exc)) from None
        if not data:
            raise ItemError(index, shown, "file is empty (0 bytes)")
        return Item(index, shown, data, max_pixels=max_pixels)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        try:
            data = bytes(obj)
        except Exception as exc:
            raise ItemError(index, None, f"unreadable buffer ({type(exc).__name__}: {_short(exc)})") from None
        if not data:
            raise ItemError(index, None, "empty bytes")
        return Item(index, None, data, max_pixels=max_pixels)
    if isinstance(obj, np.ndarray):
        if isinstance(obj, np.ma.MaskedArray):
            if np.ma.getmaskarray(obj).any():
                raise ItemError(index, None, "masked array with masked pixels; fill or drop them first")
            obj = np.ma.getdata(obj)
        return Item(index, None, pixels=np.asarray(obj), max_pixels=max_pixels)
    if isinstance(obj, PILImage.Image):
        return _item_from_pil(obj, index, max_pixels)
    raise ItemError(
        index, None, f"unsupported item type {type(obj).__name__}; expected a path, bytes or an image array"
    )


def as_item_sequence(X):
    """Check that ``X`` is a sequence of items and return it as a list-like (no copy of arrays).

    Accepted: list/tuple of items, a 1-D object array or pandas Series of items, or a stacked
    array of images with shape (N, H, W) or (N, H, W, C).

    Raises
    ------
    TypeError
        When ``X`` is a single path, bytes object or a 2-D array, which would otherwise be read
        as a sequence of characters or rows.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            "X must be a sequence of images (paths, bytes or arrays), got a single "
            f"{type(X).__name__}; wrap one image as [image]"
        )
    if hasattr(X, "iloc") and hasattr(X, "to_numpy"):  # pandas Series / single-column DataFrame
        if getattr(X, "ndim", 1) == 2:
            if X.shape[1] != 1:
                raise TypeError("a DataFrame X must have exactly one column of images")
            X = X.iloc[:, 0]
        return list(X.to_numpy())
    if isinstance(X, np.ndarray):
        if X.dtype == object and X.ndim == 1:
            return list(X)
        if X.ndim in (3, 4):
            return np.asarray(X)  # stacked images: X[i] is one image
        raise TypeError(
            f"X as an array must be a stack of images (N, H, W) or (N, H, W, C), got shape {X.shape}; "
            "to pass one image use [image]"
        )
    try:
        n = len(X)
    except TypeError:
        raise TypeError(f"X must be a sequence of images, got {type(X).__name__}") from None
    del n
    return X
