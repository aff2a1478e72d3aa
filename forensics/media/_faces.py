"""Offline face detection, face tracking across frames, and square face crops.

Three detectors share one interface, ``detect(rgb) -> list[Face]`` (largest face first):

- :class:`YuNetDetector`, the YuNet ONNX model (a 232 KB file the user points to; the most
  accurate of the three on CPU), run by onnxruntime (batched) or OpenCV's ``cv2.FaceDetectorYN``;
- :class:`CascadeDetector`, a boosted LBP/Haar cascade (no download: scikit-image ships an
  OpenCV LBP frontal-face cascade);
- :class:`MTCNNDetector`, facenet-pytorch's MTCNN (its wheel ships the weights; needs torch).

Every detector loads its model on the first call to ``detect``, not in ``__init__``, and drops
it when pickled, so detectors travel to joblib workers and reload there.

:func:`square_box` and :func:`crop_face` turn a detection into a square crop;
:class:`FaceCropper` runs a detector over frames (on a downscaled copy, cropping from the full
resolution), follows each person from frame to frame, and records, per frame, what was found,
so a frame without a face is a recorded row, never a silently missing one.

Geometry: detection and crops work in **display geometry**, what a viewer sees: a video's
display rotation applied and non-square pixels resampled to square (:func:`display_frame`,
:func:`read_display_frames`), a still image turned by its EXIF orientation
(``Item.display_pixels``). The records say which rotation, orientation and pixel aspect ratio
were applied.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import warnings
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
    "display_frame",
    "iter_display",
    "make_detector",
    "read_display_frames",
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
    """Face detector: YuNet, run by onnxruntime (batched) or by OpenCV's ``cv2.FaceDetectorYN``.

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
    engine : {"auto", "onnxruntime", "opencv"}, default="auto"
        ``"opencv"`` runs ``cv2.FaceDetectorYN`` (one frame per call); ``"onnxruntime"`` runs
        the same network with onnxruntime (needs ``onnx`` and ``onnxruntime``, the ``onnx``
        extra) and decodes its outputs exactly as OpenCV does, and it accepts a batch of frames
        of one size in one call (:meth:`detect_batch`); ``"auto"`` takes onnxruntime when both
        packages import, else OpenCV.
    batch_size : int, default=1
        Frames per network call in :meth:`detect_batch` (onnxruntime engine). On one CPU core a
        batch is *slower* per frame than single frames (measured in
        ``benchmarks/bench_video.py``: about 6.6, 8.7 and 10.3 ms per 640x360 frame for
        batches of 1, 4 and 8), so 1 is the default; larger batches pay on a GPU provider.
    threads : int, default=1
        onnxruntime intra-op threads (the library parallelises over items, one thread each).
    device : {"auto", "cpu", "cuda", "cuda:<n>"}, default="auto"
        Where the onnxruntime engine runs: ``"auto"`` uses CUDA when onnxruntime offers its CUDA
        provider (the ``onnxruntime-gpu`` package and a GPU), else the CPU. A CUDA request that
        cannot be met runs on the CPU, with the reason in ``device_note_`` and a warning. The
        OpenCV engine always runs on the CPU.

    Attributes
    ----------
    model_ : onnxruntime.InferenceSession or cv2.FaceDetectorYN
        The loaded network (created by the first ``detect``, dropped when pickled).
    engine_ : str
        ``"onnxruntime"`` or ``"opencv"``: the engine in use.
    device_ : str
        ``"cuda"`` or ``"cpu"``: where the network runs (read from the session itself).
    device_note_ : str
        Why ``device_`` is not the device asked for ("" when it is).

    Notes
    -----
    The frame is given whole, in BGR order as YuNet expects, zero-padded at the bottom and
    right to a multiple of 32 (OpenCV's rule). For the onnxruntime engine the model's fixed
    640x640 input is made dynamic in memory (batch, height, width); its outputs are decoded as
    OpenCV's ``FaceDetectorYN::postProcess`` does: per stride ``s`` in (8, 16, 32) and grid
    cell ``(r, c)``, ``score = sqrt(clip(cls, 0, 1) * clip(obj, 0, 1))``,
    ``cx = (c + dx) s``, ``cy = (r + dy) s``, ``w = exp(dw) s``, ``h = exp(dh) s``, landmarks
    ``((c + kx) s, (r + ky) s)``, then ``cv2.dnn.NMSBoxes`` on the integer boxes. ``score``
    is YuNet's face probability (classification score times IoU quality). An instance is not
    thread-safe (one network per instance); processes are fine.

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

    def __init__(self, model_path, *, score_threshold=0.6, nms_threshold=0.3, top_k=50, engine="auto",
                 batch_size=1, threads=1, device="auto"):
        self.model_path = model_path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self.engine = engine
        self.batch_size = batch_size
        self.threads = threads
        self.device = device

    def _load(self):
        from .._device import check_device, onnx_providers, session_device

        if self.engine not in ("auto", "onnxruntime", "opencv"):
            raise ValueError(f"engine must be 'auto', 'onnxruntime' or 'opencv', got {self.engine!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        path = os.fspath(self.model_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"YuNet model file not found: {path!r}; {_YUNET_HINT}")
        engine = self.engine
        if engine == "auto":
            has_ort = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
            engine = "onnxruntime" if has_ort else "opencv"
        check_device(self.device)
        if engine == "onnxruntime":
            providers, note = onnx_providers(self.device)
            model = _yunet_session(path, int(self.threads), providers)
            self.device_, late = session_device(model, providers, self.device)
            self.device_note_ = note or late
        else:
            self.device_, self.device_note_ = "cpu", ""
            if self.device not in ("auto", "cpu"):
                self.device_note_ = "the OpenCV engine runs on the CPU (engine='onnxruntime' can use CUDA)"
                warnings.warn(f"YuNetDetector(device={self.device!r}): {self.device_note_}", RuntimeWarning,
                              stacklevel=3)
            if not hasattr(cv2, "FaceDetectorYN"):
                raise ImportError(
                    f"this OpenCV build ({cv2.__version__}) has no cv2.FaceDetectorYN; install "
                    "opencv-python-headless>=4.8 or use engine='onnxruntime'"
                )
            try:
                with _opencv_log_level(cv2.utils.logging.LOG_LEVEL_ERROR):
                    # OpenCV 5's DNN logs "setPreferableTarget Targets are not supported by the new graph engine
                    # for now" on every create, a warning about its own defaults (the CPU target), not about the
                    # model: errors still print, and a model it cannot load still raises
                    model = cv2.FaceDetectorYN.create(
                        path, "", (320, 320), float(self.score_threshold), float(self.nms_threshold), int(self.top_k)
                    )
            except cv2.error as exc:
                raise ValueError(f"OpenCV could not load the YuNet model {path!r}: {exc}") from None
            self._input_size = (320, 320)
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
            Sorted by box area, largest first; empty when no face scores above
            ``score_threshold``.
        """
        return self.detect_batch([rgb])[0]

    def detect_batch(self, frames):
        """Detect faces in several RGB frames; one network call per ``batch_size`` frames of one size.

        Parameters
        ----------
        frames : sequence of ndarray of shape (H, W, 3), uint8
            Frames of any sizes (those of equal size share a call, onnxruntime engine).

        Returns
        -------
        list of list of Face
            One list per frame, in order, each sorted by area, largest first.
        """
        frames = [_check_rgb(f) for f in frames]
        model = self._model()
        if self.engine_ == "opencv":
            return [self._detect_opencv(model, f) for f in frames]
        out = [None] * len(frames)
        by_size = {}
        for i, f in enumerate(frames):
            by_size.setdefault(f.shape[:2], []).append(i)
        step = int(self.batch_size)
        for (h, w), idx in by_size.items():
            ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
            for start in range(0, len(idx), step):
                part = idx[start:start + step]
                blob = np.zeros((len(part), 3, ph, pw), np.float32)
                for j, i in enumerate(part):
                    blob[j, :, :h, :w] = frames[i][:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR planes
                outputs = model.run(None, {model.get_inputs()[0].name: blob})
                for j, i in enumerate(part):
                    out[i] = self._decode(outputs, j, ph, pw)
        return out

    def _detect_opencv(self, model, rgb):
        h, w = rgb.shape[:2]
        if getattr(self, "_input_size", None) != (w, h):
            model.setInputSize((w, h))
            self._input_size = (w, h)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        _, out = model.detect(bgr)
        if out is None:
            return []
        return _sorted_by_area([
            Face(bbox=tuple(float(v) for v in row[:4]), score=float(row[14]),
                 landmarks=np.asarray(row[4:14], dtype=np.float64).reshape(5, 2))
            for row in np.asarray(out)
        ])

    def _decode(self, outputs, j, ph, pw):
        """Faces of image ``j`` of a batch from the 12 raw outputs (OpenCV's post-processing)."""
        rows = []
        for k, s in enumerate((8, 16, 32)):
            gh, gw = ph // s, pw // s
            n = gh * gw
            sl = slice(j * n, (j + 1) * n)  # outputs are (1, batch * cells, c), image-major
            cls = np.clip(outputs[k][0, sl, 0], 0, 1)
            obj = np.clip(outputs[3 + k][0, sl, 0], 0, 1)
            score = np.sqrt(cls * obj)
            keep = np.flatnonzero(score >= float(self.score_threshold))
            if keep.size == 0:
                continue
            r, c = np.divmod(keep, gw)
            box = outputs[6 + k][0, sl][keep].astype(np.float64)
            kps = outputs[9 + k][0, sl][keep].astype(np.float64).reshape(-1, 5, 2)
            cx, cy = (c + box[:, 0]) * s, (r + box[:, 1]) * s
            bw, bh = np.exp(box[:, 2]) * s, np.exp(box[:, 3]) * s
            lm = np.empty_like(kps)
            lm[:, :, 0] = (kps[:, :, 0] + c[:, None]) * s
            lm[:, :, 1] = (kps[:, :, 1] + r[:, None]) * s
            # OpenCV keeps float32 values: round through float32 so both engines agree
            xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1).astype(np.float32)
            rows.append((xywh, score[keep].astype(np.float32), lm.astype(np.float32)))
        if not rows:
            return []
        xywh = np.concatenate([r[0] for r in rows])
        scores = np.concatenate([r[1] for r in rows])
        lms = np.concatenate([r[2] for r in rows])
        if len(scores) > 1:
            ints = [[int(v) for v in b] for b in xywh]  # OpenCV's Rect2i truncation
            keep = np.asarray(cv2.dnn.NMSBoxes(ints, scores.tolist(), float(self.score_threshold),
                                               float(self.nms_threshold), 1.0, int(self.top_k))).reshape(-1)
        else:
            keep = np.arange(len(scores))
        faces = [Face(bbox=tuple(float(v) for v in xywh[i]), score=float(scores[i]),
                      landmarks=lms[i].astype(np.float64)) for i in keep]
        return _sorted_by_area(faces)


@contextlib.contextmanager
def _opencv_log_level(level):
    """OpenCV's log level set to ``level`` inside the block, restored after (where cv2.utils.logging exists)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    before = logging.getLogLevel()
    logging.setLogLevel(level)
    try:
        yield
    finally:
        logging.setLogLevel(before)


def _yunet_session(path, threads, providers=("CPUExecutionProvider",)):
    """An onnxruntime session on the YuNet model with its input made dynamic (N, 3, H, W)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(
            f"YuNetDetector(engine='onnxruntime') needs onnx and onnxruntime: pip install "
            f"'scikit-forensics[onnx]' ({type(exc).__name__}: {exc})"
        ) from None
    try:
        model = onnx.load(path)
    except Exception as exc:  # protobuf errors come in several types
        raise ValueError(f"onnx could not load the YuNet model {path!r}: {type(exc).__name__}: {exc}") from None
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"{path!r} is not a YuNet model (input of rank {len(dims)}, expected N x 3 x H x W)")
    for d, name in zip(dims, ("batch", None, "height", "width")):
        if name is not None:
            d.dim_param = name
    del model.graph.value_info[:]  # stale intermediate shapes of the 640x640 export
    for out in model.graph.output:
        out.type.tensor_type.ClearField("shape")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=list(providers))


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


def resolve_detector(backend="auto", model_path=None):
    """The face detector backend that ``make_detector(backend, model_path=...)`` builds here.

    ``"auto"`` depends on the machine (MTCNN when facenet-pytorch is installed, else the
    cascade): a run that records its settings records this name, so that repeating it, or
    scoring with a model fitted on its crops, crops faces with the same detector elsewhere.

    Parameters
    ----------
    backend : {"auto", "yunet", "cascade", "mtcnn"}, default="auto"
    model_path : str or path or None
        With ``"auto"``, a model file means YuNet.

    Returns
    -------
    str
        ``"yunet"``, ``"cascade"`` or ``"mtcnn"``.

    Raises
    ------
    ValueError
        An unknown backend name.

    Examples
    --------
    >>> from forensics.media import resolve_detector
    >>> resolve_detector("auto", "face_detection_yunet_2023mar.onnx")
    'yunet'
    >>> resolve_detector("cascade")
    'cascade'
    """
    if backend == "auto":
        if model_path is not None:
            return "yunet"
        return "mtcnn" if importlib.util.find_spec("facenet_pytorch") is not None else "cascade"
    if backend not in ("yunet", "cascade", "mtcnn"):
        raise ValueError(f"backend must be 'auto', 'yunet', 'cascade' or 'mtcnn', got {backend!r}")
    return backend


def unavailable_reason(backend, model_path=None):
    """Why the face detector ``backend`` (a resolved name) cannot run here, or None when it can.

    MTCNN needs facenet-pytorch installed; YuNet needs its model file. Checked without loading
    anything, so a run can refuse a recorded detector before it reads a single item.
    """
    if backend == "mtcnn" and importlib.util.find_spec("facenet_pytorch") is None:
        return "face detector 'mtcnn' needs facenet-pytorch, which is not installed (pip install facenet-pytorch==2.5.3)"
    if backend == "yunet" and (model_path is None or not os.path.isfile(os.fspath(model_path))):
        return f"face detector 'yunet': model file not found: {model_path!r}"
    return None


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
    backend = resolve_detector(backend, model_path)
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
    """What :meth:`FaceCropper.crop_frames` found for one crop, or for a frame without a face.

    Parameters
    ----------
    frame_index : int
        The frame's index, as given to ``crop`` / ``crop_frames``.
    face_index : int
        Rank of the face among the faces found in the frame, sorted by area (0 = largest); -1
        when the frame has no (selected) face.
    face_found : bool
        False for the one record of a frame without a selected face.
    bbox : tuple of 4 float or None
        The detector's ``(x, y, w, h)`` in pixels of the full-resolution frame.
    score : float
        The detector's score (NaN when no face).
    box : tuple of 4 int or None
        The square crop box ``(x0, y0, side, side)``.
    n_faces : int
        Faces found in the frame (scoring at least ``min_score``); in a frame searched only
        near the tracked faces (``detection == "near"``), the tracked faces found there.
    track_id : int, default=-1
        The face track (the same person across frames) the crop belongs to; -1 without a face.
    detection : {"full", "near"}, default="full"
        ``"full"``: the detector saw the whole frame (downscaled to ``detect_size``);
        ``"near"``: it searched only around the tracked faces' predicted positions.
    """

    frame_index: int
    face_index: int
    face_found: bool
    bbox: tuple | None
    score: float
    box: tuple | None
    n_faces: int
    track_id: int = -1
    detection: str = "full"


# -- display geometry -----------------------------------------------------------------------------
def _exif_transpose(rgb, orientation):
    """Turn a stored image into its displayed orientation, from its EXIF Orientation tag (1-8).

    Parameters
    ----------
    rgb : ndarray of shape (H, W) or (H, W, C)
        The pixels as stored in the file.
    orientation : int
        The EXIF ``Orientation`` value (tag 0x0112); 1 (or an out-of-range value) leaves the
        image as it is.

    Returns
    -------
    ndarray
        A view of ``rgb`` (no copy), flipped and/or rotated: 2 mirrors left-right, 3 rotates
        180 degrees, 4 mirrors top-bottom, 5 transposes, 6 rotates 90 degrees clockwise,
        7 transverses, 8 rotates 90 degrees counter-clockwise (as ``PIL.ImageOps.exif_transpose``).

    Notes
    -----
    Used only while :class:`~forensics.media.Item` has no ``display_pixels`` of its own.

    Examples
    --------
    >>> import numpy as np
    >>> _exif_transpose(np.arange(6).reshape(2, 3), 6)  # stored sideways: turn 90 degrees clockwise
    array([[3, 0],
           [4, 1],
           [5, 2]])
    """
    o = int(orientation) if orientation is not None else 1
    if o == 2:
        return rgb[:, ::-1]
    if o == 3:
        return rgb[::-1, ::-1]
    if o == 4:
        return rgb[::-1]
    if o == 5:
        return np.swapaxes(rgb, 0, 1)
    if o == 6:
        return np.rot90(rgb, -1)
    if o == 7:
        return np.swapaxes(rgb[::-1, ::-1], 0, 1)
    if o == 8:
        return np.rot90(rgb, 1)
    return rgb


def _exif_orientation(item):
    """EXIF Orientation (1-8) of an item's file, 1 when absent, unreadable or out of range."""
    value = getattr(item, "orientation", None)
    if value is None:
        header = item.header
        try:
            value = header.getexif().get(0x0112, 1) if header is not None else 1
        except Exception:  # a damaged EXIF block: the file's pixels still stand as stored
            value = 1
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _display_image(item):
    """An item's pixels as a viewer sees them, uint8 RGB (:attr:`Item.display_rgb`: the EXIF orientation
    applied, deeper samples scaled by the file's own full scale, :attr:`Item.white`), and that orientation."""
    return item.display_rgb, int(item.orientation)


def display_frame(frame, *, rotation=0, sar=1.0):
    """A decoded video frame as a player shows it: square pixels, display rotation applied.

    Parameters
    ----------
    frame : ndarray of shape (H, W, 3), uint8
        The frame in coded layout.
    rotation : int, default=0
        Counter-clockwise display rotation in degrees, a multiple of 90
        (:attr:`~forensics.media.VideoInfo.rotation`).
    sar : float, default=1.0
        Sample (pixel) aspect ratio, width over height of one coded pixel.

    Returns
    -------
    ndarray of shape (H', W', 3), uint8
        ``frame`` itself when ``rotation == 0`` and ``sar == 1``. Otherwise, non-square pixels
        are first resampled to square ones by enlarging one axis (``W' = round(W * sar)`` when
        ``sar > 1``, ``H' = round(H / sar)`` when ``sar < 1``; bicubic), so no coded pixel is
        lost, then the frame is turned by ``np.rot90(frame, rotation // 90)``.

    Raises
    ------
    ValueError
        For a rotation that is not a multiple of 90 degrees or a non-positive ``sar``.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import display_frame
    >>> display_frame(np.zeros((240, 240, 3), np.uint8), sar=4 / 3).shape  # anamorphic 4:3 pixels
    (240, 320, 3)
    >>> display_frame(np.zeros((240, 320, 3), np.uint8), rotation=90).shape
    (320, 240, 3)
    """
    rotation = int(round(float(rotation or 0)))
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    sar = float(sar if sar is not None else 1.0)
    if not (math.isfinite(sar) and sar > 0):
        raise ValueError(f"sar must be a positive number, got {sar!r}")
    out = frame
    if abs(sar - 1.0) > 1e-6:
        h, w = out.shape[:2]
        size = (max(1, round(w * sar)), h) if sar > 1 else (w, max(1, round(h / sar)))
        out = cv2.resize(np.ascontiguousarray(out), size, interpolation=cv2.INTER_CUBIC)
    k = (rotation // 90) % 4
    if k:
        out = np.ascontiguousarray(np.rot90(out, k))
    return out


def read_display_frames(path, *, n=32, every=None, index=0, max_pixels=None):
    """Sample frames of a video in display geometry (square pixels, display rotation applied).

    Face detection, crops and anything a person looks at use this geometry (block-grid
    features may keep the coded layout; see :func:`forensics.media.read_frames`).

    Parameters
    ----------
    path : str or path-like
    n, every, index, max_pixels
        As for :func:`forensics.media.read_frames` (``max_pixels`` None: its default).

    Returns
    -------
    video : VideoFrames
        What the reader returned (``read_frames(..., display=True)``); :func:`iter_display`
        releases its frames as it hands them on.
    rotation : int
        Counter-clockwise rotation applied, in degrees (0 when none).
    sar : float
        Sample aspect ratio that was resampled to square pixels (1.0 when square).
    """
    from ._video import DEFAULT_MAX_VIDEO_PIXELS, read_frames

    video = read_frames(path, n=n, every=every, index=index, display=True,
                        max_pixels=DEFAULT_MAX_VIDEO_PIXELS if max_pixels is None else max_pixels)
    return video, int(video.rotation_applied), float(video.sar_applied)


def iter_display(video):
    """Yield ``(frame_index, frame)`` of a :func:`read_display_frames` result in display geometry.

    Each frame is released from ``video.frames`` once handed on, so the frames of a long video
    never pile up.
    """
    for k, frame_index in enumerate(video.indices):
        frame = video.frames[k]
        video.frames[k] = None
        yield int(frame_index), frame


# -- tracking -------------------------------------------------------------------------------------
_ROI_SCALE = 2.5      # side of the search square around a tracked face, in face sizes
_ROI_INPUT = 160      # the search square is shrunk to at most this many pixels before detection
_MAX_MOVE = 1.0       # a face may move this many face sizes from its predicted centre per frame
_FIRST_MOVE = 2.5     # ... or from its only position yet (no velocity known)
_SIZE_RATIO = 2.0     # ... and change size by at most this factor
_ROI_INTERP = cv2.INTER_AREA
_ROI_PAD = 0.05       # a face found within this fraction of the square's side from its edge may be cut
_ROI_SCORE = 0.8      # ... and one scoring below this fraction of its track's mean score is not trusted


def _centre(bbox):
    return bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2


def _iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    id: int
    bbox: tuple
    pos: int
    velocity: tuple = (0.0, 0.0)
    n: int = 0
    area: float = 0.0
    score: float = 0.0

    def predict(self, pos):
        cx, cy = _centre(self.bbox)
        gap = pos - self.pos
        return cx + self.velocity[0] * gap, cy + self.velocity[1] * gap

    def update(self, face, pos):
        (ox, oy), (nx, ny) = _centre(self.bbox), _centre(face.bbox)
        if self.n:
            gap = max(1, pos - self.pos)
            self.velocity = ((nx - ox) / gap, (ny - oy) / gap)
        self.bbox, self.pos = tuple(float(v) for v in face.bbox), pos
        self.n += 1
        self.area += face.area
        self.score += face.score


def _rescale_tracks(tracks, k_x, k_y):
    """Tracks carried into a frame of another size: boxes and velocities scaled by the size ratio.

    A stream whose resolution changes (an adaptive-streaming capture switching quality, joined
    parts, a broadcast switching aspect ratio) shows the same scene on a scaled pixel grid; in
    the old grid's coordinates every face would look like a new person. The accumulated areas
    (``select="largest"``) stay in the pixels of the frames they were measured in.
    """
    for t in tracks:
        x, y, w, h = t.bbox
        t.bbox = (x * k_x, y * k_y, w * k_x, h * k_y)
        t.velocity = (t.velocity[0] * k_x, t.velocity[1] * k_y)


def _scaled(face, k_x, k_y, dx=0.0, dy=0.0):
    x, y, w, h = face.bbox
    lm = None
    if face.landmarks is not None:
        lm = np.asarray(face.landmarks, dtype=np.float64) * (k_x, k_y) + (dx, dy)
    return Face((x * k_x + dx, y * k_y + dy, w * k_x, h * k_y), face.score, lm)


def _downscale(frame, long_side):
    """``frame`` resized (area interpolation) so its longer side is ``long_side``, and the x/y factors back."""
    h, w = frame.shape[:2]
    if long_side is None or max(h, w) <= long_side:
        return frame, 1.0, 1.0
    f = long_side / max(h, w)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, w / nw, h / nh


def _detect_many(detector, images):
    batch = getattr(detector, "detect_batch", None)
    if batch is not None and len(images) > 1:
        return batch(images)
    return [detector.detect(im) for im in images]


class FaceCropper:
    """Detect faces in frames, follow each person across frames, cut square crops, record every frame.

    Parameters
    ----------
    detector : detector or None, default=None
        Any object with ``detect(rgb) -> list[Face]`` (and optionally ``detect_batch``); None
        means ``make_detector("auto")`` (MTCNN when installed, else the cascade), built on first use.
    margin : float, default=1.3
        Crop side relative to the face's longer side (:func:`square_box`).
    size : int, default=256
        Side of the output crops.
    select : {"largest", "best", "all"}, default="largest"
        Which face tracks to crop. Among the tracks found in at least half as many frames as
        the most persistent one (so a box seen in a few frames, e.g. a spurious detection on the
        background, never wins on size alone): the one with the largest total box area over the
        frames (big and present in many frames), or the one with the highest total score (ties
        go to the earlier, larger track); or every track. On a single frame this is the largest
        face, the best-scoring face, or every face.
    min_score : float, default=0.0
        Detections scoring below this are ignored, as if not detected.
    detect_size : int or None, default=640
        The detector sees the frame resized (area interpolation) so that its longer side is at
        most this many pixels; boxes and landmarks are mapped back to full resolution and crops
        are cut from the full-resolution frame. None: full resolution (slow: the detector's cost
        grows with the pixel count, and a 108-megapixel photo needs gigabytes).
    reuse : {"auto", True, False}, default="auto"
        Search near the tracked faces before searching the whole frame: in each frame after
        the first, the detector runs on a square of 2.5 face sizes around each tracked face's
        predicted position (shrunk to at most 160 px); the whole frame is searched when a
        tracked face is not found there whole (clear of the square's edges by 5% of its side,
        scoring at least 0.8 times the track's mean score, size within 1.5x), when no face is
        tracked, and every ``redetect_every`` frames. ``"auto"``: on for this library's detectors, off for other
        objects (whose behaviour on a part of a frame is unknown).
    redetect_every : int or None, default=8
        With ``reuse``, search the whole frame at least every this many frames (new faces are
        found then); None: only when needed.

    Attributes
    ----------
    detector_ : detector
        The detector in use (``detector`` or the automatic one).

    Notes
    -----
    **Tracking.** Faces are linked from frame to frame into tracks (one per person): each
    track predicts its face centre at constant velocity; a face joins the track whose
    prediction is nearest, within one face size per frame (2.5 while the track has a single
    position, hence no velocity) and a size change of at most 2x (greedy, nearest pairs
    first); a face that joins none starts a new track. Crops of the
    selected track(s) are returned, each record carries its ``track_id``, so one video row
    never mixes people. A frame in which the selected track has no face gives one record with
    ``face_found=False``; frames are never dropped silently, and :func:`records_to_frame`
    turns the records into a table.

    Examples
    --------
    >>> import numpy as np
    >>> from forensics.media import CascadeDetector, FaceCropper
    >>> crops, records = FaceCropper(CascadeDetector(), size=64).crop(np.zeros((90, 120, 3), np.uint8), frame_index=7)
    >>> len(crops), records[0].frame_index, records[0].face_found
    (0, 7, False)
    """

    def __init__(self, detector=None, *, margin=1.3, size=256, select="largest", min_score=0.0, detect_size=640,
                 reuse="auto", redetect_every=8):
        self.detector = detector
        self.margin = margin
        self.size = size
        self.select = select
        self.min_score = min_score
        self.detect_size = detect_size
        self.reuse = reuse
        self.redetect_every = redetect_every

    def _validate(self):
        if self.select not in ("largest", "best", "all"):
            raise ValueError(f"select must be 'largest', 'best' or 'all', got {self.select!r}")
        if not (float(self.margin) > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}")
        if int(self.size) < 1:
            raise ValueError(f"size must be >= 1, got {self.size!r}")
        if self.detect_size is not None and (isinstance(self.detect_size, bool) or not isinstance(self.detect_size, int)
                                             or self.detect_size < 32):
            raise ValueError(f"detect_size must be None or an int >= 32, got {self.detect_size!r}")
        if self.reuse not in ("auto", True, False):
            raise ValueError(f"reuse must be 'auto', True or False, got {self.reuse!r}")
        if self.redetect_every is not None and (isinstance(self.redetect_every, bool)
                                                or not isinstance(self.redetect_every, int) or self.redetect_every < 1):
            raise ValueError(f"redetect_every must be None or an int >= 1, got {self.redetect_every!r}")
        if self.detector is not None:
            self.detector_ = self.detector
        elif getattr(self, "_auto_detector", None) is None:
            self._auto_detector = self.detector_ = make_detector("auto")
        else:
            self.detector_ = self._auto_detector

    def _reuse_on(self):
        if self.reuse == "auto":
            return isinstance(self.detector_, (YuNetDetector, CascadeDetector, MTCNNDetector))
        return bool(self.reuse)

    def crop(self, frame, frame_index=0):
        """Detect faces in one frame (a still image) and crop the selected ones.

        Parameters
        ----------
        frame : ndarray of shape (H, W, 3), uint8
            RGB frame, in display orientation.
        frame_index : int, default=0
            Stored in the records.

        Returns
        -------
        crops : list of ndarray of shape (size, size, 3), uint8
            One per selected face (none when the frame has no face).
        records : list of FaceRecord
            One per crop, in the same order, or a single ``face_found=False`` record.
        """
        return self.crop_frames([(frame_index, frame)])

    def crop_frames(self, frames):
        """Detect, track and crop faces over the frames of one video, in time order.

        Parameters
        ----------
        frames : iterable of (int, ndarray of shape (H, W, 3), uint8)
            ``(frame_index, rgb)`` pairs in display geometry, e.g. from :func:`iter_display`.
            Consumed one at a time: only the crops are kept, never the frames.

        Returns
        -------
        crops : list of ndarray of shape (size, size, 3), uint8
            The selected track(s)' crops, in frame order (by area within a frame).
        records : list of FaceRecord
            One per crop, in the same order, and one ``face_found=False`` record for each
            frame without a selected face.
        """
        self._validate()
        reuse = self._reuse_on()
        every = self.redetect_every
        tracks, per_frame = [], []
        last_full, last_shape = None, None
        for pos, (frame_index, frame) in enumerate(frames):
            frame = _check_rgb(frame)
            resized = last_shape is not None and frame.shape[:2] != last_shape
            if resized:  # the picture changes size mid-stream (e.g. a stream switching resolution)
                _rescale_tracks(tracks, frame.shape[1] / last_shape[1], frame.shape[0] / last_shape[0])
            last_shape = frame.shape[:2]
            active = [t for t in tracks if t.pos == pos - 1]
            faces, mode = None, "full"
            if (reuse and active and not resized and last_full is not None
                    and (every is None or pos - last_full < every)):
                faces = self._search_near(frame, active, pos)
                mode = "near"
            if faces is None:
                faces, mode, last_full = self._detect_full(frame), "full", pos
            faces = _sorted_by_area([f for f in faces if f.score >= self.min_score])
            ids = self._assign(tracks, faces, pos)
            entries = []
            for rank, (face, tid) in enumerate(zip(faces, ids)):
                crop, box = crop_face(frame, face.bbox, margin=self.margin, size=self.size)
                entries.append((tid, rank, face, crop, box))
            per_frame.append((int(frame_index), len(faces), mode, entries))
            del frame
        chosen = self._choose(tracks)
        crops, records = [], []
        for frame_index, n, mode, entries in per_frame:
            kept = [e for e in entries if e[0] in chosen]
            if not kept:
                records.append(FaceRecord(frame_index, -1, False, None, float("nan"), None, n, -1, mode))
            for tid, rank, face, crop, box in kept:
                crops.append(crop)
                records.append(FaceRecord(frame_index, rank, True, tuple(face.bbox), float(face.score), box, n, tid,
                                          mode))
        return crops, records

    # -- steps ----------------------------------------------------------------------------------
    def _detect_full(self, frame):
        small, kx, ky = _downscale(frame, self.detect_size)
        faces = self.detector_.detect(small)
        if kx == 1.0 and ky == 1.0:
            return list(faces)
        return [_scaled(f, kx, ky) for f in faces]

    def _search_near(self, frame, active, pos):
        """Faces of the tracks in ``active`` searched near their predictions; None if one is not found whole."""
        h, w = frame.shape[:2]
        regions, inputs = [], []
        for t in active:
            px, py = t.predict(pos)
            side = min(max(1, round(_ROI_SCALE * max(t.bbox[2], t.bbox[3]))), h, w)
            x0 = min(max(round(px - side / 2), 0), w - side)
            y0 = min(max(round(py - side / 2), 0), h - side)
            region = frame[y0:y0 + side, x0:x0 + side]
            if side > _ROI_INPUT:
                region = cv2.resize(region, (_ROI_INPUT, _ROI_INPUT), interpolation=_ROI_INTERP)
            else:
                region = np.ascontiguousarray(region)
            regions.append((x0, y0, side, side / region.shape[0]))
            inputs.append(region)
        found = []
        for t, (x0, y0, side, k), faces in zip(active, regions, _detect_many(self.detector_, inputs)):
            px, py = t.predict(pos)
            ref = max(t.bbox[2], t.bbox[3])
            pad = _ROI_PAD * side
            low = max(self.min_score, _ROI_SCORE * t.score / t.n)
            best, best_d = None, None
            for f in faces:
                if f.score < low - 1e-9:  # e.g. a face half outside the square: weaker, and its box is wrong
                    continue
                g = _scaled(f, k, k, x0, y0)
                gx, gy, gw, gh = g.bbox
                cut = ((x0 > 0 and gx < x0 + pad) or (y0 > 0 and gy < y0 + pad)
                       or (x0 + side < w and gx + gw > x0 + side - pad) or (y0 + side < h and gy + gh > y0 + side - pad))
                ratio = max(gw, gh) / ref
                if cut or not (1 / 1.5 <= ratio <= 1.5):
                    continue
                cx, cy = _centre(g.bbox)
                d = math.hypot(cx - px, cy - py)
                if best is None or d < best_d:
                    best, best_d = g, d
            if best is None:
                return None
            if all(_iou(best.bbox, o.bbox) <= 0.5 for o in found):  # two tracks, one face: keep it once
                found.append(best)
        return found

    def _assign(self, tracks, faces, pos):
        """Track id of each face (greedy nearest prediction within the gates); new tracks for the rest."""
        pairs = []
        for i, f in enumerate(faces):
            fx, fy = _centre(f.bbox)
            fs = max(f.bbox[2], f.bbox[3])
            for j, t in enumerate(tracks):
                ts = max(t.bbox[2], t.bbox[3])
                if not (1 / _SIZE_RATIO <= fs / ts <= _SIZE_RATIO):
                    continue
                px, py = t.predict(pos)
                d = math.hypot(fx - px, fy - py) / ts
                if d <= (_MAX_MOVE if t.n >= 2 else _FIRST_MOVE) * min(pos - t.pos, 4):
                    pairs.append((d, i, j))
        ids = [None] * len(faces)
        used = set()
        for d, i, j in sorted(pairs):
            if ids[i] is None and j not in used:
                ids[i] = tracks[j].id
                used.add(j)
                tracks[j].update(faces[i], pos)
        for i, f in enumerate(faces):
            if ids[i] is None:
                t = _Track(len(tracks), tuple(float(v) for v in f.bbox), pos)
                t.update(f, pos)
                tracks.append(t)
                ids[i] = t.id
        return ids

    def _choose(self, tracks):
        if not tracks:
            return set()
        if self.select == "all":
            return {t.id for t in tracks}
        longest = max(t.n for t in tracks)
        candidates = [t for t in tracks if 2 * t.n >= longest]  # sporadic boxes never win on size alone
        key = (lambda t: (t.area, -t.id)) if self.select == "largest" else (lambda t: (t.score, -t.id))
        return {max(candidates, key=key).id}


_RECORD_COLUMNS = [
    "frame_index", "face_index", "face_found", "n_faces", "score",
    "bbox_x", "bbox_y", "bbox_w", "bbox_h", "box_x", "box_y", "box_side", "track_id", "detection",
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
        bbox_w, bbox_h`` (float, NaN without a face), ``box_x, box_y, box_side`` (nullable
        ``Int64``, ``<NA>`` without a face), ``track_id`` (-1 without a face) and ``detection``.

    Examples
    --------
    >>> from forensics.media import FaceRecord, records_to_frame
    >>> df = records_to_frame([FaceRecord(0, 0, True, (10.0, 20.0, 30.0, 40.0), 0.9, (5, 15, 39, 39), 1, 0),
    ...                        FaceRecord(1, -1, False, None, float("nan"), None, 0)])
    >>> df[["frame_index", "face_found", "score", "track_id"]].to_dict("list")
    {'frame_index': [0, 1], 'face_found': [True, False], 'score': [0.9, nan], 'track_id': [0, -1]}
    >>> df["box_side"].tolist(), str(df["box_side"].dtype)
    ([39, <NA>], 'Int64')
    """
    rows = []
    for r in records:
        bbox = r.bbox if r.bbox is not None else (np.nan,) * 4
        box = r.box if r.box is not None else (None,) * 4
        rows.append((r.frame_index, r.face_index, bool(r.face_found), r.n_faces, float(r.score),
                     *(float(v) for v in bbox), box[0], box[1], box[2], r.track_id, r.detection))
    df = pd.DataFrame(rows, columns=_RECORD_COLUMNS)
    df = df.astype({"frame_index": "int64", "face_index": "int64", "face_found": "bool", "n_faces": "int64",
                    "score": "float64", "bbox_x": "float64", "bbox_y": "float64", "bbox_w": "float64",
                    "bbox_h": "float64", "box_x": "Int64", "box_y": "Int64", "box_side": "Int64",
                    "track_id": "int64", "detection": "object"})
    return df
