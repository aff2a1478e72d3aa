"""Container and compression metadata read from the encoded bytes (no pixel decoding)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage
from PIL import JpegImagePlugin

from ._base import BaseExtractor, FeatureDoc

__all__ = ["CodecFeatures", "codec_features", "codec_vector", "ijg_quant_table", "estimate_jpeg_quality"]

_IJG = ("IJG libjpeg, jcparam.c (jpeg_quality_scaling, jpeg_add_quant_table); ITU-T T.81 (1992) "
        "Annex K, https://www.w3.org/Graphics/JPEG/itu-t81.pdf")
_FARID = ("Farid, 'Digital image ballistics from JPEG quantization', Dartmouth TR2006-583, 2006, "
          "https://digitalcommons.dartmouth.edu/cs_tr/291")
_KEE = ("Kee, Johnson & Farid, 'Digital image authentication from JPEG headers', IEEE TIFS 2011, "
        "doi:10.1109/TIFS.2011.2128309")
_EXIF = "CIPA DC-008 / JEITA CP-3451 Exif 2.3 (tags 0x010F Make, 0x0131 Software); " + _KEE
_ICC = "ICC.1:2010 (ICC profile format), https://www.color.org/specification/ICC1v43_2010-12.pdf"

#: ITU-T T.81 Annex K.1 luminance quantization table (quality 50), natural (row-major) order.
ANNEX_K_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)

#: ITU-T T.81 Annex K.2 chrominance quantization table (quality 50), natural order.
ANNEX_K_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
], dtype=np.int64)

_QUALITIES = np.arange(1, 101)

# Container bit depth of the PIL modes, for formats whose header we do not read ourselves.
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
# PNG IHDR colour type -> stored channels (a palette image stores one index channel).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

_NAMES = (
    "codec__format__jpeg", "codec__format__png", "codec__format__webp", "codec__format__other",
    "codec__bytes_per_pixel__file", "codec__bit_depth__container", "codec__channels__container",
    "codec__exif__present", "codec__exif_make__present", "codec__exif_software__present",
    "codec__icc_profile__present",
    "codec__jpeg_quality__luma", "codec__jpeg_quality__chroma", "codec__standard_tables__ijg",
    "codec__qtable_mean__luma", "codec__qtable_mean__chroma",
    "codec__chroma_subsampling__h", "codec__chroma_subsampling__v", "codec__progressive__flag",
)
_COL = {name: i for i, name in enumerate(_NAMES)}


def ijg_quant_table(base, quality, max_value=255):
    """The IJG libjpeg quantization table for ``quality`` (1..100) from an Annex K ``base`` table.

    Parameters
    ----------
    base : array-like of int, shape (64,)
        ``ANNEX_K_LUMA`` or ``ANNEX_K_CHROMA`` (any order; the result keeps it).
    quality : int or array of int
        IJG quality factor(s) in 1..100.
    max_value : int, default=255
        255 for baseline tables (libjpeg's ``force_baseline``), 32767 for 16-bit tables.

    Returns
    -------
    ndarray of int64, shape (64,) or (n_qualities, 64)

    Notes
    -----
    ``S = 5000 // Q`` if ``Q < 50`` else ``200 - 2 Q``; ``T = clip((S * T50 + 50) // 100, 1, max_value)``.
    """
    q = np.asarray(quality, dtype=np.int64)
    s = np.where(q < 50, 5000 // np.maximum(q, 1), 200 - 2 * q)
    base = np.asarray(base, dtype=np.int64)
    return np.clip((s[..., None] * base + 50) // 100, 1, max_value)


_CANDIDATES = {
    (name, mx): ijg_quant_table(base, _QUALITIES, mx)
    for name, base in (("luma", ANNEX_K_LUMA), ("chroma", ANNEX_K_CHROMA))
    for mx in (255, 32767)
}


def estimate_jpeg_quality(table, kind="luma", prefer=None):
    """Nearest IJG quality of a quantization table and whether the table is exactly that one.

    Parameters
    ----------
    table : array-like of int, shape (64,)
        Quantization table in natural (row-major) order, as Pillow's ``im.quantization`` gives it.
    kind : {"luma", "chroma"}
        Which Annex K table it is compared with.
    prefer : int, optional
        Among equally close qualities, the one nearest ``prefer`` wins (used to break the ties of
        chroma tables, which are all 255 at qualities 1, 2 and 3); then the highest quality.

    Returns
    -------
    quality : int
        The Q in 1..100 minimising ``sum |table - T_Q|``.
    exact : bool
        True when ``table`` equals ``T_Q`` entry for entry.
    """
    t = np.asarray(table, dtype=np.int64).ravel()
    cands = _CANDIDATES[(kind, 255 if t.max() <= 255 else 32767)]
    dist = np.abs(cands - t).sum(axis=1)
    best = np.flatnonzero(dist == dist.min()) + 1
    if prefer is not None and len(best) > 1:
        gap = np.abs(best - prefer)
        best = best[gap == gap.min()]
    q = int(best.max())
    return q, bool(dist[q - 1] == 0)


def _exif_tags(header):
    """(present, Exif mapping or None) of the container's EXIF block, without decoding pixels."""
    raw = header.info.get("exif")
    if raw:
        exif = PILImage.Exif()
        try:
            exif.load(raw)
        except Exception:  # a damaged EXIF block: present, content unknown
            return True, None
        return True, exif
    if hasattr(header, "tag_v2"):  # TIFF: IFD0 is the EXIF structure itself
        exif = header.getexif()
        return 0x8769 in exif, exif
    return False, None


def _tag_present(exif, tag):
    if exif is None:
        return np.nan
    value = exif.get(tag)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value is None:
        return 0.0
    return float(bool(str(value).strip(" \x00\t\r\n")))


def codec_vector(data, *, header=None):
    """The codec row of an encoded image, in :class:`CodecFeatures` column order.

    Parameters
    ----------
    data : bytes or None
        The encoded file. None (an in-memory array) gives zeros in the format columns and NaN
        elsewhere.
    header : PIL.Image.Image, optional
        The image already opened on ``data`` (not loaded); opened here when omitted.

    Returns
    -------
    ndarray of float64, shape (19,)
    """
    out = np.full(len(_NAMES), np.nan)
    out[:4] = 0.0
    if data is None:
        return out
    im = header if header is not None else PILImage.open(io.BytesIO(data))
    fmt = (im.format or "").lower()
    is_jpeg = isinstance(im, JpegImagePlugin.JpegImageFile)  # also MPO (multi-picture JPEG)
    key = "jpeg" if is_jpeg else fmt if fmt in ("png", "webp") else "other"
    out[_COL[f"codec__format__{key}"]] = 1.0
    w, h = im.size
    out[_COL["codec__bytes_per_pixel__file"]] = len(data) / (w * h)

    if is_jpeg:
        bits, channels = getattr(im, "bits", np.nan), len(im.layer)
    elif fmt == "png" and data[12:16] == b"IHDR":
        bits, channels = data[24], _PNG_CHANNELS.get(data[25], np.nan)
    else:
        bits, channels = _MODE_BITS.get(im.mode, 8), len(im.getbands())
    out[_COL["codec__bit_depth__container"]] = bits
    out[_COL["codec__channels__container"]] = channels

    present, exif = _exif_tags(im)
    out[_COL["codec__exif__present"]] = float(present)
    for name, tag in (("codec__exif_make__present", 0x010F), ("codec__exif_software__present", 0x0131)):
        out[_COL[name]] = _tag_present(exif, tag) if exif is not None else np.nan if present else 0.0
    out[_COL["codec__icc_profile__present"]] = float(bool(im.info.get("icc_profile")))

    if not is_jpeg:
        return out
    tables = getattr(im, "quantization", None) or {}
    exact = []
    q_luma = None
    for tid, kind in ((0, "luma"), (1, "chroma")):
        if tid in tables:
            q, ok = estimate_jpeg_quality(tables[tid], kind, prefer=q_luma)
            q_luma = q if tid == 0 else q_luma
            exact.append(ok)
            out[_COL[f"codec__jpeg_quality__{kind}"]] = q
            out[_COL[f"codec__qtable_mean__{kind}"]] = float(np.mean(tables[tid]))
    if exact:
        standard = all(exact) and set(tables) <= {0, 1}
        out[_COL["codec__standard_tables__ijg"]] = float(standard)
    if len(im.layer) == 3:  # (id, h, v, table) per component; component 0 is luma
        hs = [c[1] for c in im.layer]
        vs = [c[2] for c in im.layer]
        out[_COL["codec__chroma_subsampling__h"]] = max(hs) / min(hs[1:])
        out[_COL["codec__chroma_subsampling__v"]] = max(vs) / min(vs[1:])
    out[_COL["codec__progressive__flag"]] = float(bool(im.info.get("progressive") or im.info.get("progression")))
    return out


class CodecFeatures(BaseExtractor):
    """Container and compression metadata: format, JPEG quality and tables, subsampling, EXIF, ICC.

    Every value comes from the encoded bytes and the container header; pixels are never
    decoded. Cameras, editors and generator pipelines leave distinct traces here: the
    quantization tables of the last JPEG encoder (IJG-scaled tables from libjpeg-based tools,
    custom tables from camera firmware), the chroma subsampling, EXIF camera tags, an ICC
    profile, and the compression rate.

    Parameters
    ----------
    n_jobs, on_error, progress
        See :class:`~forensics.features.BaseExtractor`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``codec__<feature>__<param>``; see ``feature_docs`` and ``docs/features.md``.

    See Also
    --------
    codec_features : the single-image function.
    codec_vector : the row from raw bytes.

    Notes
    -----
    - ``format__{jpeg,png,webp,other}``: one-hot container format (MPO, the multi-picture JPEG
      of some cameras, counts as JPEG). An in-memory array has no container: its format
      columns are all 0 and every other column is NaN.
    - ``bytes_per_pixel__file``: ``len(bytes) / (W H)`` (first frame's size for multi-frame files).
    - ``bit_depth__container`` / ``channels__container``: the JPEG frame precision and number of
      components, the PNG IHDR bit depth and channels of the colour type (palette = 1), else
      from the PIL mode (8 bits unless the mode says otherwise).
    - ``exif__present``: an EXIF block (JPEG APP1, PNG eXIf, WebP EXIF; for TIFF an Exif
      sub-IFD). ``exif_make__present`` / ``exif_software__present``: IFD0 tag 0x010F (Make) /
      0x0131 (Software) holds a non-blank value (NaN when the EXIF block cannot be parsed).
      ``icc_profile__present``: an embedded ICC profile. These apply to every format.
    - JPEG only (NaN otherwise): with IJG scaling ``S = 5000 // Q`` for ``Q < 50`` else
      ``200 - 2 Q`` and ``T_Q = clip((S T50 + 50) // 100, 1, 255)`` (T.81 Annex K ``T50``;
      upper clip 32767 for 16-bit tables), ``jpeg_quality__luma`` is
      ``argmin_Q sum |T0 - T_Q|`` for table 0 against Annex K.1, ``jpeg_quality__chroma`` the
      same for table 1 against K.2 (ties, e.g. the all-255 chroma tables of Q = 1..3, go to
      the Q nearest the luma estimate, then to the highest Q). ``standard_tables__ijg`` is 1
      when every table present equals its ``T_Q`` exactly (and no table beyond 0 and 1
      exists). ``qtable_mean__{luma,chroma}`` is the mean of the 64 entries of table 0 / 1;
      a table that is absent (grey, CMYK, or one table shared by all components) gives NaN.
    - ``chroma_subsampling__h`` / ``__v``: ``max_c h_c / min_{chroma} h_c`` over the frame's
      sampling factors, i.e. 4:4:4 -> (1, 1), 4:2:2 -> (2, 1), 4:2:0 -> (2, 2); NaN unless the
      JPEG has three components. ``progressive__flag``: 1 for a progressive (SOF2) JPEG.

    References
    ----------
    .. [1] ITU-T T.81 (1992), Annex K; IJG libjpeg ``jcparam.c``.
    .. [2] Farid, "Digital image ballistics from JPEG quantization", Dartmouth TR2006-583, 2006.
    .. [3] Kee, Johnson & Farid, "Digital image authentication from JPEG headers", IEEE TIFS
       6(3), 2011, doi:10.1109/TIFS.2011.2128309.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> from forensics.features import CodecFeatures
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(buf, "JPEG", quality=83)
    >>> codec = CodecFeatures().fit([buf.getvalue()])
    >>> row = dict(zip(codec.get_feature_names_out(), codec.transform([buf.getvalue()])[0]))
    >>> float(row["codec__jpeg_quality__luma"]), float(row["codec__standard_tables__ijg"])
    (83.0, 1.0)
    """

    family = "codec"
    _param_rules = {}
    _uses_pixels = False  # the bank need not decode an item for this family
    feature_docs = (
        FeatureDoc("codec", "format", "jpeg, png, webp, other: one-hot (all 0 for arrays)",
                   "Container format of the file, one-hot.",
                   "1 for the PIL-detected format (MPO counts as jpeg), 0 for the others", _KEE),
        FeatureDoc("codec", "bytes_per_pixel", "file: whole file size",
                   "Compressed size per pixel: the compression rate.",
                   "len(bytes) / (W * H)", _KEE),
        FeatureDoc("codec", "bit_depth", "container: as stored in the file header",
                   "Bits per sample declared by the container (JPEG precision, PNG IHDR).",
                   "JPEG SOF P; PNG IHDR bit depth; else from the PIL mode", _KEE),
        FeatureDoc("codec", "channels", "container: as stored in the file header",
                   "Number of stored channels (JPEG components, PNG colour type; palette = 1).",
                   "JPEG SOF Nf; PNG colour type {0:1, 2:3, 3:1, 4:2, 6:4}; else PIL bands", _KEE),
        FeatureDoc("codec", "exif", "present: 1/0",
                   "Whether the file carries an EXIF block.",
                   "1 if JPEG APP1 Exif / PNG eXIf / WebP EXIF (TIFF: Exif sub-IFD) exists", _EXIF),
        FeatureDoc("codec", "exif_make", "present: 1/0 (NaN if EXIF unreadable)",
                   "Whether EXIF names a camera maker (tag 0x010F Make).",
                   "1 if IFD0 tag 0x010F is non-blank", _EXIF),
        FeatureDoc("codec", "exif_software", "present: 1/0 (NaN if EXIF unreadable)",
                   "Whether EXIF names the software that wrote the file (tag 0x0131 Software).",
                   "1 if IFD0 tag 0x0131 is non-blank", _EXIF),
        FeatureDoc("codec", "icc_profile", "present: 1/0",
                   "Whether an ICC colour profile is embedded.",
                   "1 if the container holds an ICC profile (JPEG APP2, PNG iCCP, WebP ICCP...)", _ICC),
        FeatureDoc("codec", "jpeg_quality", "luma, chroma: table 0 / table 1",
                   "IJG quality factor whose scaled Annex K table is nearest the file's table (JPEG only).",
                   "argmin_Q sum|T - clip((S_Q*T50 + 50)//100, 1, 255)|, S_Q = 5000//Q (Q<50) else 200-2Q",
                   _FARID + "; " + _IJG),
        FeatureDoc("codec", "standard_tables", "ijg: IJG-scaled Annex K tables",
                   "1 if the quantization tables are exactly IJG-scaled standard tables (JPEG only).",
                   "all(T_k == T_Q(k)) for the present tables k in {0, 1} and no other table", _KEE + "; " + _IJG),
        FeatureDoc("codec", "qtable_mean", "luma, chroma: table 0 / table 1",
                   "Mean quantization step of a table: coarseness of the last JPEG compression.",
                   "mean of the 64 entries of table 0 / table 1", _FARID),
        FeatureDoc("codec", "chroma_subsampling", "h, v: horizontal / vertical factor",
                   "Chroma subsampling factors of a three-component JPEG (4:2:0 -> 2, 2).",
                   "max_c H_c / min_chroma H_c (and V), from the SOF sampling factors", _KEE),
        FeatureDoc("codec", "progressive", "flag: 1/0",
                   "Whether the JPEG is progressive (SOF2) rather than baseline/sequential.",
                   "1 if the frame header is progressive", _KEE),
    )

    def __init__(self, *, n_jobs=None, on_error="raise", progress=False):
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.progress = progress

    def _feature_names(self):
        return list(_NAMES)

    def _compute(self, item):
        if item.data is None:
            return codec_vector(None)
        return codec_vector(item.data, header=item.header)


def codec_features(image):
    """Codec / container features of one image as an ordered ``{name: value}`` dict.

    Parameters
    ----------
    image : path, bytes or ndarray (H, W) / (H, W, C)
        An array has no container: its format columns are 0 and the rest NaN.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> from forensics.features import codec_features
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(buf, "PNG")
    >>> row = codec_features(buf.getvalue())
    >>> row["codec__format__png"], row["codec__bit_depth__container"], row["codec__jpeg_quality__luma"]
    (1.0, 8.0, nan)
    """
    return CodecFeatures().extract_one(image)
