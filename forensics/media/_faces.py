"""Offline face detection and square face crops.

Three detectors share one interface, ``detect(rgb) -> list[Face]`` (largest face first):

- :class:`YuNetDetector`, OpenCV's ``cv2.FaceDetectorYN`` on the YuNet ONNX model (a 232 KB
  file the user points to; the most accurate of the three on CPU);
- :class:`CascadeDetector`, a boosted LBP/Haar cascade (no download: scikit-image ships an
  OpenCV LBP frontal-face cascade);
- :class:`MTCNNDetector`, facenet-pytorch's MTCNN (its wheel ships the weights; needs torch).

Every detector loads its model on the first call to ``detect``, not in ``__init__``, and drops
it when pickled, so detectors travel to joblib workers and reload there.

:func:`square_box` and :func:`crop_face` turn a detection into a square crop;
:class:`FaceCropper` runs a detector over frames and records, per frame, what was found, so a
frame without a face is a recorded row, never a silently missing one.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

__all__ = [
    "CascadeDetector",
    "Face",
    "FaceCropper",
    "FaceRecord",
    "MTCNNDetector",
    "YuNetDetector",
    "crop_face",
    "make_detector",
    "records_to_frame",
    "square_box",
]

_YUNET_HINT = (
    "get face_detection_yunet_2023mar.onnx from the OpenCV model zoo "
    "(https://github.com/opencv/opencv_zoo, models/face_detection_yunet/) and pass its path"
)
_MTCNN_HINT = (
    "MTCNNDetector needs facenet-pytorch (and torch): pip install facenet-pytorch==2.5.3 "
    "(its wheel ships the MTCNN weights; 2.6.0 pins old torch/numpy versions)"
)


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Face:
    """One detected face.

    Parameters
    ----------
    bbox : tuple of 4 float
        ``(x, y, w, h)``: top-left corner, width and height in pixel coordinates of the frame the
        detector saw (x to the right, y down). Not clipped: a face cut by the frame border may
        have a negative ``x`` or ``y``.
    score : float
        The detector's confidence; its meaning depends on the detector (a probability for
        YuNet and MTCNN, a neighbour count for :class:`CascadeDetector`).
    landmarks : ndarray of shape (5, 2) or None
        ``(x, y)`` of, in order, the eye on the image's left, the eye on the image's right, the
        nose tip, the mouth corner on the image's left and the one on its right. None when the
        detector gives no landmarks (the cascade).

    Notes
    -----
    Compared by identity (``eq=False``): the landmark array has no single truth value.
    """

    bbox: tuple
    score: float
    landmarks: np.ndarray | None = None

    @property
    def area(self):
        """``w * h`` of the bounding box."""
        return float(self.bbox[2]) * float(self.bbox[3])


def _sorted_by_area(faces):
    # stable sort: equal areas keep the detector's order
    return sorted(faces, key=lambda f: -f.area)


def _check_rgb(rgb):
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"expected an RGB uint8 ndarray of shape (H, W, 3), got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"expected an RGB uint8 ndarray of shape (H, W, 3), got dtype {rgb.dtype} and shape {rgb.shape}"
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"the frame is empty (shape {rgb.shape})")
    return rgb


class _LazyModel:
    """Pickling drops ``model_``; the next ``detect`` loads it again."""

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("model_", None)
        state.pop("_input_size", None)
        return state

    def _model(self):
        if getattr(self, "model_", None) is None:
            self.model_ = self._load()
        return self.model_

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.endswith("_") and not k.startswith("_"))
        return f"{type(self).__name__}({params})"


# ---------------------------------------------------------------------------------------------
# YuNet
# ---------------------------------------------------------------------------------------------
class YuNetDetector(_LazyModel):
    """Face detector: YuNet through OpenCV's ``cv2.FaceDetectorYN``.

    Parameters
    ----------
    model_path : str or path
        The YuNet ONNX file, ``face_detection_yunet_2023mar.onnx`` from the OpenCV model zoo.
        Checked on first use: a missing file raises :class:`FileNotFoundError` naming the path.
    score_threshold : float, default=0.6
        Detections scoring below this are discarded.
    nms_threshold : float, default=0.3
        IoU above which non-maximum suppression merges two boxes.
    top_k : int, default=50
        Keep at most this many boxes before non-maximum suppression.

    Attributes
    ----------
    model_ : cv2.FaceDetectorYN
        The loaded network (created by the first ``detect``, dropped when pickled).

    Notes
    -----
    The network is created for the size of the first frame and told the size of every later
    frame (``setInputSize``) when it changes; the frame is given whole, in BGR order as YuNet
    expects. ``score`` is YuNet's face probability (classification score times IoU quality).
    An instance is not thread-safe (one network per instance); processes are fine.

    References
    ----------
    .. [1] W. Wu, H. Peng, S. Yu, "YuNet: A Tiny Millisecond-level Face Detector",
       Machine Intelligence Research 20, 656-665 (2023). https://doi.org/10.1007/s11633-023-1423-y

    Examples
    --------
    >>> from forensics.media import YuNetDetector
    >>> det = YuNetDetector("face_detection_yunet_2023mar.onnx", score_threshold=0.7)
    >>> det.score_threshold  # nothing is loaded until the first detect()
    0.7
    """

    def __init__(self, model_path, *, score_threshold=0.6, nms_threshold=0.3, top_k=50):
        self.model_path = model_path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k

    def _load(self):
        if not hasattr(cv2, "FaceDetectorYN"):
            raise ImportError(
                f"this OpenCV build ({cv2.__version__}) has no cv2.FaceDetectorYN; install opencv-python-headless>=4.8"
            )
        path = os.fspath(self.model_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"YuNet model file not found: {path!r}; {_YUNET_HINT}")
        try:
            model = cv2.FaceDetectorYN.create(
                path, "", (320, 320), float(self.score_threshold), float(self.nms_threshold), int(self.top_k)
            )
        except cv2.error as exc:
            raise ValueError(f"OpenCV could not load the YuNet model {path!r}: {exc}") from None
        self._input_size = (320, 320)
        return model

    def detect(self, rgb):
        """Detect faces in one RGB frame.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The frame, RGB order.

        Returns
        -------
        list of Face
            Sorted by box area, largest first; empty when no face scores above
            ``score_threshold``.
        """
        rgb = _check_rgb(rgb)
        model = self._model()
        h, w = rgb.shape[:2]
        if getattr(self, "_input_size", None) != (w, h):
            model.setInputSize((w, h))
            self._input_size = (w, h)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        _, out = model.detect(bgr)
        if out is None:
            return []
        faces = [
            Face(
                bbox=tuple(float(v) for v in row[:4]),
                score=float(row[14]),
                landmarks=np.asarray(row[4:14], dtype=np.float64).reshape(5, 2),
            )
            for row in np.asarray(out)
        ]
        return _sorted_by_area(faces)


# ---------------------------------------------------------------------------------------------
# boosted cascade
# ---------------------------------------------------------------------------------------------
def _skimage_lbp_cascade():
    """scikit-image's copy of OpenCV's LBP frontal-face cascade, or None."""
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.origin is not None:
        lbp = Path(spec.origin).parent / "data" / "lbpcascade_frontalface_opencv.xml"
        if lbp.is_file():
            return str(lbp)
    return None


def _opencv_haar_cascade():
    """OpenCV's ``haarcascade_frontalface_default.xml`` when the wheel ships it (4.x), or None."""
    haar_dir = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if haar_dir:
        haar = Path(haar_dir) / "haarcascade_frontalface_default.xml"
        if haar.is_file():
            return str(haar)
    return None


def _group_rectangles(rects, group_threshold, eps=0.2):
    """OpenCV's ``groupRectangles``: cluster similar boxes, average them, count the members.

    Two boxes are similar when each of their four edges differs by at most
    ``delta = eps * (min(w1, w2) + min(h1, h2)) / 2``; clusters are the transitive closure.
    Clusters with ``count <= group_threshold`` are dropped, and so is a cluster lying inside
    another (enlarged by ``eps`` of its size) when the other has more than ``max(3, count)``
    members or this one has fewer than 3. ``group_threshold <= 0`` returns the boxes ungrouped
    with a count of 1, as OpenCV does.

    Parameters
    ----------
    rects : ndarray of shape (n, 4), int
        ``(x, y, w, h)`` boxes.
    group_threshold : int
        ``minNeighbors`` of OpenCV's ``detectMultiScale``.
    eps : float
        Relative tolerance (OpenCV's ``GROUP_EPS = 0.2``).

    Returns
    -------
    boxes : ndarray of shape (k, 4), int
    counts : ndarray of shape (k,), int
    """
    rects = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
    n = len(rects)
    if group_threshold <= 0 or n == 0:
        return rects, np.ones(n, dtype=np.int64)
    x, y, w, h = rects.T
    delta = eps * (np.minimum(w[:, None], w[None, :]) + np.minimum(h[:, None], h[None, :])) * 0.5
    similar = (
        (np.abs(x[:, None] - x[None, :]) <= delta)
        & (np.abs(y[:, None] - y[None, :]) <= delta)
        & (np.abs((x + w)[:, None] - (x + w)[None, :]) <= delta)
        & (np.abs((y + h)[:, None] - (y + h)[None, :]) <= delta)
    )
    labels = -np.ones(n, dtype=np.int64)
    n_classes = 0
    for i in range(n):  # connected components of the similarity graph
        if labels[i] >= 0:
            continue
        stack = [i]
        labels[i] = n_classes
        while stack:
            j = stack.pop()
            for k in np.flatnonzero(similar[j] & (labels < 0)):
                labels[k] = n_classes
                stack.append(k)
        n_classes += 1
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.zeros((n_classes, 4))
    np.add.at(sums, labels, rects)
    boxes = np.floor(sums / counts[:, None] + 0.5).astype(np.int64)
    keep = []
    for i in range(n_classes):
        n1 = counts[i]
        if n1 <= group_threshold:
            continue
        x1, y1, w1, h1 = boxes[i]
        inside = False
        for j in range(n_classes):
            n2 = counts[j]
            if j == i or n2 <= group_threshold:
                continue
            x2, y2, w2, h2 = boxes[j]
            dx, dy = math.floor(w2 * eps + 0.5), math.floor(h2 * eps + 0.5)
            if (
                x1 >= x2 - dx and y1 >= y2 - dy and x1 + w1 <= x2 + w2 + dx and y1 + h1 <= y2 + h2 + dy
                and (n2 > max(3, n1) or n1 < 3)
            ):
                inside = True
                break
        if not inside:
            keep.append(i)
    return boxes[keep].reshape(-1, 4), counts[keep]


class CascadeDetector(_LazyModel):
    """Face detector: a boosted cascade of LBP or Haar features (Viola-Jones).

    Needs no download. With OpenCV 4.x wheels (which have ``cv2.CascadeClassifier`` and ship
    ``cv2.data.haarcascades``) it runs OpenCV on ``haarcascade_frontalface_default.xml``; with
    OpenCV >= 5, which dropped both, it runs scikit-image's ``skimage.feature.Cascade`` on the
    OpenCV LBP frontal-face cascade that scikit-image ships
    (``skimage/data/lbpcascade_frontalface_opencv.xml``). Much less accurate than
    :class:`YuNetDetector` (frontal faces only, more false positives) and, on the
    scikit-image engine, much slower (seconds per HD frame): a fallback.

    Parameters
    ----------
    cascade_path : str or path or None, default=None
        An OpenCV cascade XML file; None picks the engine's default above (OpenCV cannot read
        scikit-image's copy of the LBP cascade, whose XML has a misspelt tag).
    scale_factor : float, default=1.1
        Ratio between successive window sizes of the multi-scale scan.
    min_neighbors : int, default=5
        A face needs more than this many overlapping raw detections (OpenCV's meaning).
    min_size : tuple of 2 int, default=(30, 30)
        Smallest face ``(w, h)`` searched, in pixels.
    step_ratio : float, default=1.0
        scikit-image engine only: the window moves by ``round(scale * step_ratio)`` pixels
        (1 = every position, the most reliable; 1.5 is about twice as fast but misses about
        one LFW face in five with ``min_neighbors=5``, as fewer raw detections pile up). OpenCV's engine has its own fixed
        step (2 pixels of the rescaled image) and ignores it.
    engine : {"auto", "opencv", "skimage"}, default="auto"
        ``"opencv"`` uses ``cv2.CascadeClassifier`` (OpenCV 4.x; OpenCV 5 wheels dropped it),
        ``"skimage"`` scikit-image's ``skimage.feature.Cascade`` (LBP cascades only) followed
        by OpenCV's box grouping rule re-implemented here; ``"auto"`` takes OpenCV when it has
        the class (and, without ``cascade_path``, its Haar file), else scikit-image.

    Attributes
    ----------
    model_ : cv2.CascadeClassifier or skimage.feature.Cascade
        Loaded by the first ``detect``, dropped when pickled.
    cascade_path_ : str
        The cascade file actually used.
    engine_ : str
        ``"opencv"`` or ``"skimage"``.

    Notes
    -----
    **The score is not a probability**: it is the number of raw window detections merged into
    the box (OpenCV's "neighbours", ``numDetections`` of ``detectMultiScale2``), an integer
    above ``min_neighbors`` that grows with how many positions and scales fired. It ranks faces
    within one frame; its scale depends on ``scale_factor``, ``step_ratio`` and the engine, so
    do not compare it across settings. No landmarks.

    The frame is converted to grey with BT.601 weights (``cv2.COLOR_RGB2GRAY``).

    References
    ----------
    .. [1] P. Viola, M. Jones, "Rapid object detection using a boosted cascade of simple
       features", CVPR 2001. https://doi.org/10.1109/CVPR.2001.990517
    .. [2] S. Liao, X. Zhu, Z. Lei, L. Zhang, S. Z. Li, "Learning Multi-scale Block Local
       Binary Patterns for Face Recognition", ICB 2007. https://doi.org/10.1007/978-3-540-74549-5_87

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import CascadeDetector
    >>> CascadeDetector().detect(np.full((120, 160, 3), 128, np.uint8))
    []
    """

    def __init__(self, cascade_path=None, *, scale_factor=1.1, min_neighbors=5, min_size=(30, 30),
                 step_ratio=1.0, engine="auto"):
        self.cascade_path = cascade_path
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.step_ratio = step_ratio
        self.engine = engine

    def _load(self):
        if self.engine not in ("auto", "opencv", "skimage"):
            raise ValueError(f"engine must be 'auto', 'opencv' or 'skimage', got {self.engine!r}")
        if not (float(self.scale_factor) > 1):
            raise ValueError(f"scale_factor must be > 1, got {self.scale_factor!r}")
        has_opencv = hasattr(cv2, "CascadeClassifier")
        if self.engine == "opencv" and not has_opencv:
            raise ImportError(
                f"this OpenCV build ({cv2.__version__}) has no cv2.CascadeClassifier (OpenCV 5 moved it "
                "out of the main modules); use engine='skimage' or 'auto'"
            )
        engine = self.engine
        if self.cascade_path is not None:
            path = os.fspath(self.cascade_path)
            if engine == "auto":
                engine = "opencv" if has_opencv else "skimage"
        else:
            # scikit-image's copy of the LBP cascade has a misspelt tag ("featuhreParams") that
            # OpenCV refuses, so each engine has its own default file
            if engine == "auto":
                engine = "opencv" if has_opencv and _opencv_haar_cascade() else "skimage"
            path = _opencv_haar_cascade() if engine == "opencv" else _skimage_lbp_cascade()
            if path is None:
                raise FileNotFoundError(
                    f"no default face cascade for engine={engine!r}: "
                    + ("this OpenCV wheel ships no haarcascade_frontalface_default.xml (OpenCV >= 5 wheels ship "
                       "none); use engine='skimage' or pass cascade_path" if engine == "opencv"
                       else "scikit-image's data/lbpcascade_frontalface_opencv.xml is missing; pass cascade_path")
                )
        if not os.path.isfile(path):
            raise FileNotFoundError(f"cascade file not found: {path!r}")
        if engine == "opencv":
            model = cv2.CascadeClassifier(path)
            if model.empty():
                raise ValueError(f"OpenCV could not load the cascade file {path!r}")
        else:
            from skimage.feature import Cascade

            try:
                model = Cascade(path)
            except Exception as exc:  # ElementTree / format errors come in several types
                raise ValueError(
                    f"scikit-image could not load the cascade file {path!r} (it reads OpenCV LBP cascades "
                    f"only): {type(exc).__name__}: {exc}"
                ) from None
        self.cascade_path_ = path
        self.engine_ = engine
        return model

    def detect(self, rgb):
        """Detect faces in one RGB frame.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The frame, RGB order.

        Returns
        -------
        list of Face
            Sorted by box area, largest first; ``score`` is the neighbour count, ``landmarks``
            is None.
        """
        rgb = _check_rgb(rgb)
        model = self._model()
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        min_w, min_h = (int(v) for v in self.min_size)
        if self.engine_ == "opencv":
            rects, counts = model.detectMultiScale2(
                grey, scaleFactor=float(self.scale_factor), minNeighbors=int(self.min_neighbors),
                minSize=(min_w, min_h),
            )
        else:
            h, w = grey.shape
            if h < max(min_h, model.window_height) or w < max(min_w, model.window_width):
                return []
            # ungrouped raw detections: an intersection ratio never exceeds 1 < 2
            raw = model.detect_multi_scale(
                grey.astype(np.float32), float(self.scale_factor), float(self.step_ratio),
                (min_h, min_w), (h, w), 0, 2.0,
            )
            raw = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in raw], dtype=np.int64)
            rects, counts = _group_rectangles(raw, int(self.min_neighbors))
        rects = np.asarray(rects).reshape(-1, 4)
        counts = np.asarray(counts).reshape(-1)
        faces = [Face(bbox=tuple(float(v) for v in r), score=float(c), landmarks=None) for r, c in zip(rects, counts)]
        return _sorted_by_area(faces)


# ---------------------------------------------------------------------------------------------
# MTCNN
# ---------------------------------------------------------------------------------------------
class MTCNNDetector(_LazyModel):
    """Face detector: MTCNN from facenet-pytorch (weights ship inside its wheel).

    Parameters
    ----------
    device : str, default="cpu"
        torch device, e.g. ``"cpu"`` or ``"cuda:0"``.
    thresholds : tuple of 3 float, default=(0.6, 0.7, 0.7)
        Face probability thresholds of the three stages (P-Net, R-Net, O-Net).
    min_face_size : int, default=20
        Smallest face searched, in pixels.

    Attributes
    ----------
    model_ : facenet_pytorch.MTCNN
        Loaded by the first ``detect``, dropped when pickled.

    Notes
    -----
    Needs ``pip install facenet-pytorch==2.5.3`` (and torch); it is imported on first use
    and its absence raises :class:`ImportError` saying so. ``score`` is O-Net's face
    probability; the five landmarks come in the order documented in :class:`Face`.

    References
    ----------
    .. [1] K. Zhang, Z. Zhang, Z. Li, Y. Qiao, "Joint Face Detection and Alignment Using
       Multitask Cascaded Convolutional Networks", IEEE Signal Processing Letters 23(10),
       1499-1503 (2016). https://doi.org/10.1109/LSP.2016.2603342

    Examples
    --------
    >>> from forensics.media import MTCNNDetector
    >>> MTCNNDetector(min_face_size=40).min_face_size  # facenet-pytorch is imported lazily
    40
    """

    def __init__(self, *, device="cpu", thresholds=(0.6, 0.7, 0.7), min_face_size=20):
        self.device = device
        self.thresholds = thresholds
        self.min_face_size = min_face_size

    def _load(self):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise ImportError(f"{_MTCNN_HINT} ({type(exc).__name__}: {exc})") from None
        return MTCNN(
            keep_all=True, device=self.device, thresholds=[float(t) for t in self.thresholds],
            min_face_size=int(self.min_face_size), post_process=False,
        )

    def detect(self, rgb):
        """Detect faces in one RGB frame.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The frame, RGB order.

        Returns
        -------
        list of Face
            Sorted by box area, largest first.
        """
        rgb = _check_rgb(rgb)
        model = self._model()
        boxes, probs, points = model.detect(np.ascontiguousarray(rgb), landmarks=True)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        points = None if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
        faces = [
            Face(
                bbox=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
                score=float(p),
                landmarks=None if points is None else points[i].copy(),
            )
            for i, ((x1, y1, x2, y2), p) in enumerate(zip(boxes, probs))
        ]
        return _sorted_by_area(faces)


def make_detector(backend="auto", *, model_path=None):
    """Build a face detector by name.

    Parameters
    ----------
    backend : {"auto", "yunet", "cascade", "mtcnn"}, default="auto"
        ``"yunet"`` needs ``model_path``. ``"auto"`` picks YuNet when ``model_path`` is given,
        else MTCNN when facenet-pytorch is installed, else the cascade: the most accurate
        detector that can run here, in that order.
    model_path : str or path or None
        The YuNet ONNX file (``"yunet"``/``"auto"``) or a cascade XML (``"cascade"``).

    Returns
    -------
    YuNetDetector, CascadeDetector or MTCNNDetector
        Not loaded yet: the model loads on the first ``detect``.

    Examples
    --------
    >>> from forensics.media import make_detector
    >>> type(make_detector("cascade")).__name__
    'CascadeDetector'
    """
    if backend == "auto":
        if model_path is not None:
            backend = "yunet"
        elif importlib.util.find_spec("facenet_pytorch") is not None:
            backend = "mtcnn"
        else:
            backend = "cascade"
    if backend == "yunet":
        if model_path is None:
            raise ValueError(f"make_detector('yunet') needs model_path: {_YUNET_HINT}")
        return YuNetDetector(model_path)
    if backend == "cascade":
        return CascadeDetector(model_path)
    if backend == "mtcnn":
        if model_path is not None:
            raise ValueError("make_detector('mtcnn') takes no model_path: facenet-pytorch ships its weights")
        return MTCNNDetector()
    raise ValueError(f"backend must be 'auto', 'yunet', 'cascade' or 'mtcnn', got {backend!r}")


# ---------------------------------------------------------------------------------------------
# crops
# ---------------------------------------------------------------------------------------------
def _round_half_up(v):
    return int(math.floor(v + 0.5))


def square_box(bbox, *, margin=1.3, frame_shape):
    """The square crop box centred on a face, kept inside the frame.

    Parameters
    ----------
    bbox : tuple of 4 float
        The face ``(x, y, w, h)`` in pixels.
    margin : float, default=1.3
        Side of the square relative to the face's longer side.
    frame_shape : tuple
        ``(H, W)`` or ``(H, W, C)`` of the frame.

    Returns
    -------
    tuple of 4 int
        ``(x0, y0, side, side)``: the crop is ``frame[y0:y0 + side, x0:x0 + side]``.

    Notes
    -----
    ``side = round(margin * max(w, h))`` (at least 1) and the square is centred on
    ``(x + w / 2, y + h / 2)``, corner rounded half up. Clipping rule: a square that crosses a
    border is **shifted** back inside the frame, keeping its size (so the face is then off
    centre); only when the frame itself is smaller than the side is the side **shrunk** to
    ``min(H, W)``, still square and as centred as the frame allows. The crop therefore never
    needs padding and never distorts the aspect ratio.

    Examples
    --------
    >>> from forensics.media import square_box
    >>> square_box((100, 50, 40, 40), margin=1.5, frame_shape=(200, 300))
    (90, 40, 60, 60)
    >>> square_box((0, 50, 20, 20), margin=2.0, frame_shape=(200, 300))  # shifted right
    (0, 40, 40, 40)
    """
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise ValueError(f"bbox must be finite (x, y, w, h) with w, h > 0, got {tuple(bbox)}")
    if not (float(margin) > 0):
        raise ValueError(f"margin must be > 0, got {margin!r}")
    fh, fw = int(frame_shape[0]), int(frame_shape[1])
    if fh <= 0 or fw <= 0:
        raise ValueError(f"frame_shape must be positive, got {tuple(frame_shape)}")
    side = max(1, _round_half_up(float(margin) * max(w, h)))
    side = min(side, fh, fw)
    cx, cy = x + w / 2, y + h / 2
    x0 = min(max(_round_half_up(cx - side / 2), 0), fw - side)
    y0 = min(max(_round_half_up(cy - side / 2), 0), fh - side)
    return (x0, y0, side, side)


def crop_face(rgb, bbox, *, margin=1.3, size=256):
    """Cut the square box around a face and resize it to ``size x size``.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), uint8
        The frame.
    bbox : tuple of 4 float
        The face ``(x, y, w, h)``.
    margin : float, default=1.3
        See :func:`square_box`.
    size : int, default=256
        Side of the output crop.

    Returns
    -------
    crop : ndarray of shape (size, size, 3), uint8
    box : tuple of 4 int
        ``(x0, y0, side, side)`` from :func:`square_box`.

    Notes
    -----
    The region is resized with ``cv2.INTER_AREA`` when shrinking and ``cv2.INTER_CUBIC`` when
    enlarging (copied when ``side == size``). Resizing rewrites the pixel-level forensic traces
    (noise, demosaicing, JPEG block grid, upsampling periodicities): the detector always runs on
    the untouched frame, and the resize only concerns the crop. Features that depend on those
    traces are better computed on the unresized region ``rgb[y0:y0 + side, x0:x0 + side]``.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import crop_face
    >>> crop, box = crop_face(np.zeros((120, 160, 3), np.uint8), (60, 40, 30, 30), size=64)
    >>> crop.shape, crop.dtype.name, box
    ((64, 64, 3), 'uint8', (56, 36, 39, 39))
    """
    rgb = _check_rgb(rgb)
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    box = square_box(bbox, margin=margin, frame_shape=rgb.shape)
    x0, y0, side, _ = box
    region = rgb[y0:y0 + side, x0:x0 + side]
    if side == size:
        crop = region.copy()
    else:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        crop = cv2.resize(np.ascontiguousarray(region), (size, size), interpolation=interp)
    return crop, box


@dataclass
class FaceRecord:
    """What :meth:`FaceCropper.crop` found for one crop, or for a frame without a face.

    Parameters
    ----------
    frame_index : int
        The frame's index, as given to ``crop``.
    face_index : int
        Rank of the face among the frame's detections sorted by area (0 = largest); -1 when
        no face was found.
    face_found : bool
        False for the one record of a frame without a (kept) face.
    bbox : tuple of 4 float or None
        The detector's ``(x, y, w, h)``.
    score : float
        The detector's score (NaN when no face).
    box : tuple of 4 int or None
        The square crop box ``(x0, y0, side, side)``.
    n_faces : int
        Faces detected in the frame (scoring at least ``min_score``).
    """

    frame_index: int
    face_index: int
    face_found: bool
    bbox: tuple | None
    score: float
    box: tuple | None
    n_faces: int


class FaceCropper:
    """Detect faces in frames and cut square crops, recording every frame.

    Parameters
    ----------
    detector : detector or None, default=None
        Any object with ``detect(rgb) -> list[Face]`` sorted by area; None means
        ``make_detector("auto")`` (MTCNN when installed, else the cascade), built on first use.
    margin : float, default=1.3
        Crop side relative to the face's longer side (:func:`square_box`).
    size : int, default=256
        Side of the output crops.
    select : {"largest", "best", "all"}, default="largest"
        Which faces of a frame to crop: the largest box, the highest score (ties go to the
        larger), or all of them (largest first).
    min_score : float, default=0.0
        Detections scoring below this are ignored, as if not detected.

    Attributes
    ----------
    detector_ : detector
        The detector in use (``detector`` or the automatic one).

    Notes
    -----
    A frame without a face gives no crop and exactly one record with ``face_found=False``:
    frames are never dropped silently, and :func:`records_to_frame` turns the records into a
    table in which missing faces are explicit rows.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import CascadeDetector, FaceCropper
    >>> crops, records = FaceCropper(CascadeDetector(), size=64).crop(np.zeros((90, 120, 3), np.uint8), frame_index=7)
    >>> len(crops), records[0].frame_index, records[0].face_found
    (0, 7, False)
    """

    def __init__(self, detector=None, *, margin=1.3, size=256, select="largest", min_score=0.0):
        self.detector = detector
        self.margin = margin
        self.size = size
        self.select = select
        self.min_score = min_score

    def _validate(self):
        if self.select not in ("largest", "best", "all"):
            raise ValueError(f"select must be 'largest', 'best' or 'all', got {self.select!r}")
        if not (float(self.margin) > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}")
        if int(self.size) < 1:
            raise ValueError(f"size must be >= 1, got {self.size!r}")
        if self.detector is not None:
            self.detector_ = self.detector
        elif getattr(self, "_auto_detector", None) is None:
            self._auto_detector = self.detector_ = make_detector("auto")
        else:
            self.detector_ = self._auto_detector

    def crop(self, frame, frame_index=0):
        """Detect faces in one frame and crop the selected ones.

        Parameters
        ----------
        frame : ndarray of shape (H, W, 3), uint8
            RGB frame.
        frame_index : int, default=0
            Stored in the records.

        Returns
        -------
        crops : list of ndarray of shape (size, size, 3), uint8
            One per selected face (none when the frame has no face).
        records : list of FaceRecord
            One per crop, in the same order, or a single ``face_found=False`` record.
        """
        self._validate()
        frame = _check_rgb(frame)
        faces = [f for f in self.detector_.detect(frame) if f.score >= self.min_score]
        n = len(faces)
        if n == 0:
            return [], [FaceRecord(int(frame_index), -1, False, None, float("nan"), None, 0)]
        if self.select == "all":
            chosen = list(range(n))
        elif self.select == "largest":
            chosen = [0]
        else:  # "best": highest score, the larger face on ties (faces are sorted by area)
            chosen = [max(range(n), key=lambda i: (faces[i].score, -i))]
        crops, records = [], []
        for i in chosen:
            face = faces[i]
            crop, box = crop_face(frame, face.bbox, margin=self.margin, size=self.size)
            crops.append(crop)
            records.append(FaceRecord(int(frame_index), i, True, tuple(face.bbox), float(face.score), box, n))
        return crops, records


_RECORD_COLUMNS = [
    "frame_index", "face_index", "face_found", "n_faces", "score",
    "bbox_x", "bbox_y", "bbox_w", "bbox_h", "box_x", "box_y", "box_side",
]


def records_to_frame(records):
    """Turn :class:`FaceRecord` objects into a table, one row per record, in order.

    Parameters
    ----------
    records : iterable of FaceRecord

    Returns
    -------
    pandas.DataFrame
        Columns ``frame_index, face_index, face_found, n_faces, score, bbox_x, bbox_y,
        bbox_w, bbox_h`` (float, NaN without a face) and ``box_x, box_y, box_side``
        (nullable ``Int64``, ``<NA>`` without a face).

    Examples
    --------
    >>> from forensics.media import FaceRecord, records_to_frame
    >>> df = records_to_frame([FaceRecord(0, 0, True, (10.0, 20.0, 30.0, 40.0), 0.9, (5, 15, 39, 39), 1),
    ...                        FaceRecord(1, -1, False, None, float("nan"), None, 0)])
    >>> df[["frame_index", "face_found", "score"]].to_dict("list")
    {'frame_index': [0, 1], 'face_found': [True, False], 'score': [0.9, nan]}
    >>> df["box_side"].tolist(), str(df["box_side"].dtype)
    ([39, <NA>], 'Int64')
    """
    rows = []
    for r in records:
        bbox = r.bbox if r.bbox is not None else (np.nan,) * 4
        box = r.box if r.box is not None else (None,) * 4
        rows.append((r.frame_index, r.face_index, bool(r.face_found), r.n_faces, float(r.score),
                     *(float(v) for v in bbox), box[0], box[1], box[2]))
    df = pd.DataFrame(rows, columns=_RECORD_COLUMNS)
    df = df.astype({"frame_index": "int64", "face_index": "int64", "face_found": "bool", "n_faces": "int64",
                    "score": "float64", "bbox_x": "float64", "bbox_y": "float64", "bbox_w": "float64",
                    "bbox_h": "float64", "box_x": "Int64", "box_y": "Int64", "box_side": "Int64"})
    return df
