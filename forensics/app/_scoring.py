"""What the app does with one uploaded file: read it, score it, audit it and explain the score.

Nothing here imports Streamlit, and nothing imports torch unless the chosen model is a torch
model: ONNX files run on onnxruntime and handcrafted pipelines on NumPy/scikit-learn.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

__all__ = ["AppError", "Detector", "Explanation", "ImageReport", "MODEL_SUFFIXES", "VideoReport", "find_models",
           "load_detector", "score_image", "score_upload", "score_video", "sniff", "yunet_path"]

#: Files the model picker lists.
MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".onnx")
#: Default largest upload, in megabytes.
DEFAULT_MAX_MB = 200
_YUNET_FILE = "face_detection_yunet_2023mar.onnx"
_THUMB = 360


class AppError(Exception):
    """A problem with an upload or a model, to show on the page as one plain sentence."""


def _reason(exc):
    from ..media import ItemError

    text = exc.reason if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:300]


# -- models ---------------------------------------------------------------------------------------------

@dataclass
class Detector:
    """A loaded model and what the app needs to know about it.

    Attributes
    ----------
    path : Path
    model : object
        A fitted scikit-learn Pipeline/estimator, or an :class:`~forensics.app.OnnxDetector`.
    format : {"onnx", "skops", "joblib"}
    input : {"image", "video"}
        What one item is: images (a video is then scored frame by frame) or whole videos.
    family : {"handcrafted", "deep", "embedding", "onnx"}
        How it is explained: SHAP over features, Grad-CAM (torch), SHAP over embedding
        features, occlusion (ONNX).
    summary : str
    """

    path: Path
    model: object
    format: str
    input: str
    family: str
    summary: str


def find_models(folder):
    """Model files in ``folder`` (not recursive), sorted by name: ``.skops``, ``.joblib``, ``.pkl``, ``.onnx``
    (INT8 copies ``*.int8.onnx`` included)."""
    if folder is None:
        return []
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)


def _steps(model):
    return getattr(model, "steps", [(None, model)])


def _has_type(model, names):
    if type(model).__name__ in names:
        return True
    try:
        params = model.get_params(deep=True)
    except Exception:
        return False
    return any(type(v).__name__ in names for v in params.values())


def load_detector(path, *, trusted=()):
    """Load a saved model for scoring: a ``forensics train`` output (.skops/.joblib) or an ONNX export.

    Parameters
    ----------
    path : str or Path
    trusted : sequence of str
        Extra types to trust in a ``.skops`` file (see :func:`forensics.load`).

    Returns
    -------
    Detector

    Raises
    ------
    AppError
        The file is missing, cannot be loaded, is not a detector, or needs PyTorch where it is
        not installed (the message says to export it to ONNX).
    """
    path = Path(path)
    if not path.is_file():
        raise AppError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from ._deploy import OnnxDetector

        try:
            model = OnnxDetector(path)
        except (ValueError, OSError, ImportError) as exc:
            raise AppError(f"cannot use {path.name}: {_reason(exc)}") from None
        q = model.metadata_.get("quantization")
        size = "x".join(str(v) for v in model.data_config_["input_size"][1:])
        return Detector(path, model, "onnx", "image", "onnx",
                        f"ONNX {model.metadata_.get('model_name', '?')} network, input {size}"
                        + (f", {q}" if q else ", fp32") + " (onnxruntime, no torch)")
    if suffix not in (".skops", ".joblib", ".pkl"):
        raise AppError(f"{path.name}: a model is a .skops, .joblib or .onnx file")
    from .. import load
    from .._video_detector import takes_videos

    try:  # forensics.load imports skops without torch
        model = load(path, format="skops" if suffix == ".skops" else "joblib", trusted=trusted)
    except Exception as exc:  # a corrupt pickle or zip raises almost anything
        raise AppError(f"cannot load the model {path.name}: {_reason(exc)}") from None
    if not (hasattr(model, "predict_proba") or hasattr(model, "decision_function")):
        raise AppError(f"{path.name} holds a {type(model).__name__}, not a fitted detector")
    steps = _steps(model)
    head = steps[-1][1]
    video = takes_videos(model)
    if type(head).__name__ in ("BackboneClassifier", "VideoClassifier"):
        family = "deep"
    elif _has_type(model, {"EmbeddingTransformer"}):
        family = "embedding"
    else:
        family = "handcrafted"
    if family in ("deep", "embedding") and importlib.util.find_spec("torch") is None:
        raise AppError(f"{path.name} runs a torch network and PyTorch is not installed: install "
                       "scikit-forensics[torch], or export the network to ONNX (forensics.app.export_detector) "
                       "and pick the .onnx file")
    names = " -> ".join(n for n, _ in steps if n) or type(model).__name__
    what = type(head).__name__
    if what in ("BackboneClassifier", "VideoClassifier"):
        what += f" ({head.model_name})"
    return Detector(path, model, suffix.lstrip(".").replace("pkl", "joblib"), "video" if video else "image", family,
                    f"{'video' if video else 'image'} pipeline {names}; head {what}")


# -- reading an upload ------------------------------------------------------------------------------------

def sniff(data, name="upload"):
    """``"image"`` or ``"video"``, from the bytes (not the file name); AppError when neither.

    An image is anything :func:`forensics.media.load_item` can parse a header from; a video is
    anything FFmpeg can open with a video stream (:func:`forensics.media.video_info`).
    """
    from ..media import ItemError, load_item, video_info

    if not data:
        raise AppError(f"{name} is empty (0 bytes)")
    try:
        load_item(bytes(data), 0).header
        return "image"
    except ItemError as exc:
        image_reason = _reason(exc)
    with _temp_file(data, name) as path:
        try:
            video_info(path)
            return "video"
        except ItemError as exc:
            video_reason = _reason(exc)
        except Exception as exc:  # FFmpeg errors of unexpected kinds
            video_reason = _reason(exc)
        container = _undecodable_container(path)
    if container is not None:
        raise AppError(f"{name} is a video ({container} container) whose codec this FFmpeg build cannot decode: "
                       "unsupported codec; re-encode it (e.g. to H.264 in MP4)")
    raise AppError(f"{name} is neither an image nor a video this app can read (as an image: {image_reason}; "
                   f"as a video: {video_reason})")


def _undecodable_container(path):
    """The container's name when FFmpeg opens ``path`` and finds a video stream without a decoder, else None."""
    try:
        import av

        with av.open(path) as container:
            streams = list(container.streams.video)
            if streams and all(s.codec_context is None for s in streams):
                return container.format.name.split(",")[0]
    except Exception:  # not a container FFmpeg can open at all
        return None
    return None


class _temp_file:
    """The upload written to a temporary file (FFmpeg reads files), removed afterwards."""

    def __init__(self, data, name):
        self.data, self.suffix = data, Path(str(name)).suffix[:10]

    def __enter__(self):
        fd, self.path = tempfile.mkstemp(suffix=self.suffix, prefix="forensics-app-")
        with os.fdopen(fd, "wb") as f:
            f.write(self.data)
        return self.path

    def __exit__(self, *exc):
        try:
            os.remove(self.path)
        except OSError:
            pass


# -- results ---------------------------------------------------------------------------------------------

@dataclass
class Explanation:
    """Why the model said what it said about one picture.

    Attributes
    ----------
    kind : {"shap", "grad-cam", "occlusion"}
    text : str
        One line saying what is shown.
    table : pandas.DataFrame or None
        SHAP: the top contributions (see :func:`forensics.inspection.explain_item`).
    heatmap : ndarray (H, W) in [0, 1] or None
        Grad-CAM or occlusion map, at the picture's resolution (an image's turned by its EXIF
        orientation, as ``picture`` and ``overlay`` are).
    overlay : ndarray of uint8 (H, W, 3) or None
    picture : ndarray of uint8 or None
        The picture explained (for a video, the frame with the highest score), small.
    """

    kind: str
    text: str
    table: object = None
    heatmap: np.ndarray = None
    overlay: np.ndarray = None
    picture: np.ndarray = None


@dataclass
class ImageReport:
    """The result of scoring one image.

    Attributes
    ----------
    name : str
    score : float
        Probability of fake.
    properties : dict
        The file's own properties (:data:`forensics.inspection.PROPERTIES`: format, size,
        JPEG quality and quantization tables, EXIF, ICC...), read from its header.
    quant_tables : dict of str -> ndarray (8, 8)
        The JPEG quantization tables as stored (empty for other formats).
    explanation : Explanation or None
    image : ndarray of uint8
        The picture for display (at most 360 pixels on its longer side), turned by its EXIF
        orientation as a viewer shows it (the model scores the stored pixels).
    notes : list of str
    """

    name: str
    score: float
    properties: dict
    quant_tables: dict
    explanation: Explanation = None
    image: np.ndarray = None
    notes: list = field(default_factory=list)


@dataclass
class VideoReport:
    """The result of scoring one video.

    Attributes
    ----------
    name : str
    score : float
        Probability of fake: the mean of the frame scores for an image model, the model's
        video score for a video model.
    info : dict
        The container and stream properties (:class:`forensics.media.VideoInfo`).
    frames : pandas.DataFrame
        One row per sampled frame: ``frame``, ``time_s``, ``score`` (NaN for a video model),
        ``faces`` (number found).
    thumbnails : list of ndarray
        The sampled frames, small, with face boxes drawn.
    explanation : Explanation or None
        For the frame with the highest score.
    notes : list of str
    """

    name: str
    score: float
    info: dict
    frames: object
    thumbnails: list
    explanation: Explanation = None
    notes: list = field(default_factory=list)


def _thumbnail(rgb, side=_THUMB):
    h, w = rgb.shape[:2]
    k = side / max(h, w)
    if k >= 1:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


def _fake_column(model):
    classes = list(getattr(model, "classes_", [0, 1]))
    return classes.index(1) if 1 in classes else len(classes) - 1


def _split_features(model):
    """(front up to the features step, the rest) of a handcrafted pipeline, or None."""
    steps = _steps(model)
    names = [n for n, _ in steps]
    if "features" not in names or len(steps) < 2:
        return None
    k = names.index("features")
    return model[:k + 1], model[k + 1:]


def _background(model):
    """One reference row of the feature table for SHAP: the training medians (or means) stored by
    the pipeline's imputer (or scaler)."""
    named = dict(_steps(model))
    impute, scale = named.get("impute"), named.get("scale")
    if impute is not None and hasattr(impute, "statistics_"):
        return np.asarray(impute.statistics_, dtype=np.float64)[None, :]
    if scale is not None and getattr(scale, "mean_", None) is not None:
        return np.asarray(scale.mean_, dtype=np.float64)[None, :]
    return None


def _score(detector, items):
    """Fake probabilities of items (bytes or arrays) and, for handcrafted pipelines, their feature rows."""
    model = detector.model
    if detector.family in ("handcrafted", "embedding"):
        parts = _split_features(model)
        if parts is not None:
            front, back = parts
            F = np.asarray(front.transform(items), dtype=np.float64)
            return np.asarray(back.predict_proba(F))[:, _fake_column(back)], F
    proba = np.asarray(model.predict_proba(items))
    return proba[:, _fake_column(model)], None


def _explain(detector, picture, F, item, orientation=1):
    """The explanation of one picture (uint8 RGB), given its feature row F (handcrafted) and the item itself.

    The model explains the stored pixels (those it scores); the picture, heat map and overlay shown are
    then turned by the image's EXIF ``orientation``, as the picture of the report is.
    """
    from ..media import to_display

    expl = _explanation(detector, picture, F, item)
    if expl is not None:
        expl.picture = np.ascontiguousarray(to_display(_thumbnail(picture), orientation))  # shrunk, then turned
        if expl.overlay is not None:
            expl.overlay = np.ascontiguousarray(to_display(_thumbnail(expl.overlay, 2 * _THUMB), orientation))
        if expl.heatmap is not None:
            expl.heatmap = np.ascontiguousarray(to_display(expl.heatmap, orientation))
    return expl


def _explanation(detector, picture, F, item):
    model = detector.model
    from ..inspection._cam import overlay_heatmap

    if detector.family == "onnx":
        from ._occlusion import occlusion_map

        heat, _ = occlusion_map(model, picture)
        return Explanation("occlusion", "occlusion sensitivity: where hiding one cell of an 8 x 8 grid lowers the "
                           "fake score most (red)", heatmap=heat, overlay=overlay_heatmap(picture, heat))
    if detector.family == "deep":
        from ..inspection._cam import explain_deep_item

        res = explain_deep_item(model, item)
        return Explanation("grad-cam", f"Grad-CAM at {res.target_layer}: where the network found evidence of fake "
                           "(red)", heatmap=res.heatmap, overlay=res.overlay)
    if F is None:
        return None
    from ..inspection import explain_item

    parts = _split_features(model)
    names = [str(n) for n in parts[0].steps[-1][1].get_feature_names_out()]
    background = _background(model)
    head = _steps(model)[-1][1]
    tree = type(head).__name__ in ("XGBoostHead", "XGBClassifier")
    if background is None and not tree:
        return Explanation("shap", "no SHAP: the pipeline stores no training statistics to compare with")
    table = explain_item(model, F[0], feature_names=names, background=background, top=10)
    ref = "its trees' training paths" if tree else "the training medians"
    return Explanation("shap", f"top SHAP contributions (log-odds of fake; positive pushes towards fake), "
                       f"compared with {ref}", table=table)


def score_image(detector, data, *, name="upload", explain=True):
    """Score one encoded image file.

    Parameters
    ----------
    detector : Detector
    data : bytes
        The file as uploaded.
    name : str
    explain : bool, default=True

    Returns
    -------
    ImageReport

    Raises
    ------
    AppError
        Not an image, damaged (truncated, corrupt), or the model cannot score it.
    """
    from ..inspection._audit import _item_properties
    from ..media import ItemError, load_item

    data = bytes(data)
    if detector.input == "video":
        raise AppError(f"the model {detector.path.name} scores videos; {name} is an image")
    try:
        item = load_item(data, 0)
        header = item.header
        rgb = item.rgb
        properties = _item_properties(data, 0)
    except ItemError as exc:
        raise AppError(f"cannot read {name}: {_reason(exc)}") from None
    picture = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    tables = {}
    for tid, table in sorted((getattr(header, "quantization", None) or {}).items()):
        values = np.asarray(table, dtype=np.int64).ravel()
        if values.size == 64:
            tables[f"table {tid}"] = values.reshape(8, 8)
    try:
        scores, F = _score(detector, [data])
    except (ValueError, RuntimeError, OSError, TypeError) as exc:
        raise AppError(f"the model could not score {name}: {_reason(exc)}") from None
    from ..media import to_display

    orientation = item.orientation  # shown as a viewer shows it; scored and explained as stored
    report = ImageReport(name=name, score=float(scores[0]), properties=properties, quant_tables=tables,
                         image=np.ascontiguousarray(to_display(_thumbnail(picture), orientation)))
    if explain:
        try:
            report.explanation = _explain(detector, picture, F, data, orientation)
        except Exception as exc:  # an explanation failing must not hide the score
            report.notes.append(f"no explanation: {_reason(exc)}")
    return report


def yunet_path():
    """The YuNet face detector file: ``$FORENSICS_YUNET``, else ``face_detection_yunet_2023mar.onnx`` in
    ``$FORENSICS_MODEL_DIR``; None when absent."""
    for candidate in (os.environ.get("FORENSICS_YUNET"),
                      os.path.join(os.environ.get("FORENSICS_MODEL_DIR", ""), _YUNET_FILE)
                      if os.environ.get("FORENSICS_MODEL_DIR") else None):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


_FACE_DETECTORS = {}


def _face_detector():
    path = yunet_path()
    if path is None:
        return None
    if path not in _FACE_DETECTORS:
        from ..media import YuNetDetector

        _FACE_DETECTORS[path] = YuNetDetector(path)
    return _FACE_DETECTORS[path]


def _faces(detector, rgb, side=640):
    """Faces of a frame (boxes in frame pixels), detected on a copy at most ``side`` pixels wide."""
    h, w = rgb.shape[:2]
    k = min(1.0, side / max(h, w))
    small = rgb if k == 1.0 else cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    return [(tuple(v / k for v in f.bbox), f.score) for f in detector.detect(small)]


def score_video(detector, path, *, name="upload", n_frames=12, faces=True, face_crops=False, explain=True):
    """Score one video file.

    With an image model, ``n_frames`` evenly spaced frames are decoded one at a time and each is
    scored (the whole frame, or its largest face when ``face_crops``); the video's score is their
    mean. With a video model, the model scores the file and the frames are only shown.

    Parameters
    ----------
    detector : Detector
    path : str or Path
        The video file.
    name : str
    n_frames : int >= 1, default=12
    faces : bool, default=True
        Look for faces (YuNet, when its file is found: see :func:`yunet_path`).
    face_crops : bool, default=False
        Score the largest face of each frame (square crop, margin 1.3) instead of the frame.
    explain : bool, default=True
        Explain the frame with the highest score.

    Returns
    -------
    VideoReport

    Raises
    ------
    AppError
        Not a video, no frame decodes (an unsupported codec, a damaged file), or the model
        cannot score it.
    """
    import pandas as pd

    from ..media import ItemError, crop_face, iter_frames, sample_indices, video_info

    notes = []
    try:
        info = video_info(path)
    except ItemError as exc:
        raise AppError(f"cannot read {name} as a video: {_reason(exc)}") from None
    if info.n_frames < 1:
        raise AppError(f"{name} has no video frame")
    indices = sample_indices(info.n_frames, n=int(n_frames))
    face_model = _face_detector() if faces else None
    if faces and face_model is None:
        notes.append(f"face detection is off: put {_YUNET_FILE} in $FORENSICS_MODEL_DIR (or name it in "
                     "$FORENSICS_YUNET)")
    rows, thumbs = [], []
    best = (-np.inf, None, None, None)
    errors = []
    per_frame = detector.input == "image"
    try:
        for k, t, rgb in iter_frames(path, indices, errors=errors):
            boxes = _faces(face_model, rgb) if face_model is not None else []
            score = np.nan
            if per_frame:
                item = rgb
                if face_crops and boxes:
                    item = crop_face(rgb, max(boxes, key=lambda b: b[0][2] * b[0][3])[0])[0]
                try:
                    s, F = _score(detector, [item])
                except (ValueError, RuntimeError, OSError, TypeError) as exc:
                    raise AppError(f"the model could not score frame {k} of {name}: {_reason(exc)}") from None
                score = float(s[0])
                if score > best[0]:
                    best = (score, item.copy(), F, k)
            thumb = _thumbnail(rgb)
            scale = thumb.shape[1] / rgb.shape[1]
            for (x, y, w, h), _ in boxes:
                cv2.rectangle(thumb, (round(x * scale), round(y * scale)), (round((x + w) * scale),
                              round((y + h) * scale)), (0, 255, 0), 2)
            thumbs.append(thumb)
            rows.append(dict(frame=int(k), time_s=float(t), score=score, faces=len(boxes)))
    except ItemError as exc:
        raise AppError(f"no frame of {name} could be decoded ({info.codec} in {info.container}): "
                       f"{_reason(exc)}") from None
    if not rows:
        raise AppError(f"no frame of {name} could be decoded ({info.codec} in {info.container})")
    if errors:
        notes.append("decoding problems: " + "; ".join(errors[:3]))
    frames = pd.DataFrame(rows, columns=["frame", "time_s", "score", "faces"])
    if per_frame:
        score = float(frames["score"].mean())
    else:
        try:
            score = float(np.asarray(detector.model.predict_proba([os.fspath(path)]))[0, _fake_column(detector.model)])
        except (ValueError, RuntimeError, OSError, TypeError) as exc:
            raise AppError(f"the model could not score {name}: {_reason(exc)}") from None
        notes.append("a video model gives one score for the whole video: no per-frame curve")
    info_dict = {k: getattr(info, k) for k in ("container", "codec", "width", "height", "display_width",
                                                "display_height", "rotation", "fps", "n_frames", "duration_s",
                                                "bit_rate", "keyframe_interval", "sample_aspect_ratio")}
    report = VideoReport(name=name, score=score, info=info_dict, frames=frames, thumbnails=thumbs, notes=notes)
    if explain and per_frame and best[1] is not None:
        try:
            report.explanation = _explain(detector, best[1], best[2], best[1])
            if report.explanation is not None:
                report.explanation.text += f" (frame {best[3]}, the highest score)"
        except Exception as exc:
            notes.append(f"no explanation: {_reason(exc)}")
    return report


def score_upload(detector, data, *, name="upload", max_mb=DEFAULT_MAX_MB, **options):
    """Check an upload's size, tell an image from a video, and score it.

    Parameters
    ----------
    detector : Detector
    data : bytes
    name : str
    max_mb : float, default=200
        Larger uploads are refused before anything is decoded.
    **options
        Passed to :func:`score_video` (``n_frames``, ``faces``, ``face_crops``, ``explain``);
        ``explain`` also to :func:`score_image`.

    Returns
    -------
    ImageReport or VideoReport

    Raises
    ------
    AppError
        With the sentence to show (too large, empty, not an image or video, damaged, unsupported
        codec, model failure).
    """
    size = len(data)
    if size > max_mb * 1024 * 1024:
        raise AppError(f"{name} is too large: {size / 2**20:.1f} MB, the limit is {max_mb:g} MB")
    kind = sniff(data, name)
    if kind == "image":
        return score_image(detector, data, name=name, explain=options.get("explain", True))
    with _temp_file(data, name) as path:
        return score_video(detector, path, name=name, **options)
