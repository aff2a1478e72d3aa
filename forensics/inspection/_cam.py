"""Class activation maps of the deep detectors (Grad-CAM and relatives), through the ``grad-cam`` package.

Where does a network look when it calls an image fake? For :class:`~forensics.deep.BackboneClassifier`
and :class:`~forensics.deep.VideoClassifier` (alone or as the last step of a pipeline), this
module computes a heat map per item at the item's own resolution, overlays it on the picture,
checks how much of it falls in a known region, and draws a gallery of the most confident and
the wrong predictions. torch and ``grad-cam`` are imported on first use.
"""

from __future__ import annotations

import contextlib
import io
import numbers
import os
from dataclasses import dataclass, field

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["CAM_METHODS", "GALLERY_GROUPS", "GRADIENT_FREE_METHODS", "CamResult", "cam_gallery_figure", "cam_mass", "cam_target_layer",
           "explain_deep_item", "gallery_indices", "grad_cam", "overlay_heatmap"]

#: CAM methods by name -> class of ``pytorch_grad_cam``.
CAM_METHODS = {"gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus", "hirescam": "HiResCAM", "xgradcam": "XGradCAM",
               "layercam": "LayerCAM", "eigencam": "EigenCAM", "scorecam": "ScoreCAM"}
#: The methods that need no gradient (one forward pass for Eigen-CAM; one per channel for Score-CAM).
GRADIENT_FREE_METHODS = ("eigencam", "scorecam")
_TARGETS = ("fake", "real", "predicted")
_SKIP_LAYERS = ("Pool", "Flatten", "Dropout", "Identity")
_NO_DEFAULT_LAYER = ("mvit_v2_s", "timesformer", "vivit")
_MISSING = ('Grad-CAM needs PyTorch and the grad-cam package: pip install "scikit-forensics[explain]" '
            "(torch, timm, torchvision, grad-cam)")


def _import_cam():
    try:
        import pytorch_grad_cam
        import torch
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return torch, pytorch_grad_cam


@dataclass(repr=False)
class CamResult:
    """The class activation map of one item, as returned by :func:`grad_cam`.

    Attributes
    ----------
    heatmap : ndarray of float32, shape (H, W), or (T, H, W) for a clip
        The map at the item's own resolution, in [0, 1] (1 where the evidence for ``target``
        is strongest; all 0 when the method found none).
    overlay : ndarray of uint8, shape (H, W, 3) or (T, H, W, 3)
        The map in colour over the picture (:func:`overlay_heatmap`).
    image : ndarray of uint8, shape (H, W, 3) or (T, H, W, 3)
        The picture the network was given (before its resize), RGB; for a clip, its frames.
    score : float
        The network's probability of fake (``classes_[1]``) for this item.
    method : str
    target : str
        ``"fake"`` or ``"real"``: the class whose evidence is mapped.
    target_layer : str
        Dotted name of the layer in ``model_`` whose activations were used.
    index : int
        Position of the item in ``X``.
    source : str or None
        Its path, when it came from a file.
    frame_weights : ndarray of shape (T,) or None
        Clips only: the share of the map's total in each frame (sums to 1; NaN when the map is
        all 0): where in time the evidence is.
    frame_indices : ndarray of int, shape (T,) or None
        Clips read from a video file: the frame numbers in the file.
    """

    heatmap: np.ndarray
    overlay: np.ndarray
    image: np.ndarray
    score: float
    method: str
    target: str
    target_layer: str
    index: int = 0
    source: str = None
    frame_weights: np.ndarray = field(default=None)
    frame_indices: np.ndarray = field(default=None)

    def __repr__(self):
        return (f"CamResult(index={self.index}, shape={self.heatmap.shape}, score={self.score:.3f}, "
                f"method={self.method!r}, target={self.target!r}, target_layer={self.target_layer!r})")


# -- overlays and measures (no torch) ---------------------------------------------------------------

def _colormap(name):
    code = getattr(cv2, f"COLORMAP_{str(name).upper()}", None)
    if code is None:
        raise ValueError(f"colormap must name an OpenCV colour map (jet, turbo, inferno, viridis...), got {name!r}")
    return code


def overlay_heatmap(image, heatmap, *, alpha=0.5, colormap="jet"):
    """Draw a heat map in colour over a picture.

    Parameters
    ----------
    image : array-like of uint8, shape (H, W, 3) or (T, H, W, 3)
        RGB picture (or frames).
    heatmap : array-like of float, shape (H, W) or (T, H, W)
        Values in [0, 1] (clipped), same size as ``image``.
    alpha : float in [0, 1], default=0.5
        Weight of the colour map: ``out = alpha * colour(heatmap) + (1 - alpha) * image``.
    colormap : str, default="jet"
        An OpenCV colour map name (``cv2.COLORMAP_<NAME>``): "jet", "turbo", "inferno"...

    Returns
    -------
    ndarray of uint8, shape of ``image``

    Notes
    -----
    The same blend as ``pytorch_grad_cam.utils.image.show_cam_on_image`` without its final
    rescaling by the maximum (which brightens the picture); written here with OpenCV so that
    drawing an overlay does not import torch.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((4, 4, 3), np.uint8)
    >>> heat = np.zeros((4, 4)); heat[0, 0] = 1.0
    >>> out = overlay_heatmap(img, heat, alpha=1.0)
    >>> out[0, 0].tolist(), out[3, 3].tolist()  # jet: 1 -> dark red, 0 -> dark blue
    ([128, 0, 0], [0, 0, 128])
    """
    image = np.asarray(image)
    heat = np.asarray(heatmap, dtype=np.float32)
    if image.dtype != np.uint8 or image.ndim not in (3, 4) or image.shape[-1] != 3:
        raise ValueError(f"image must be uint8 RGB of shape (H, W, 3) or (T, H, W, 3), got {image.dtype} "
                         f"{image.shape}")
    if heat.shape != image.shape[:-1]:
        raise ValueError(f"heatmap shape {heat.shape} does not match the image {image.shape[:-1]}")
    if not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    code = _colormap(colormap)
    levels = np.uint8(np.rint(255 * np.clip(np.nan_to_num(heat), 0, 1)))
    flat = levels.reshape(-1, levels.shape[-1])
    colour = cv2.cvtColor(cv2.applyColorMap(flat, code), cv2.COLOR_BGR2RGB).reshape(image.shape)
    out = alpha * colour.astype(np.float32) + (1 - alpha) * image.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def cam_mass(heatmap, mask):
    """Share of a heat map's total that lies inside a region: ``sum(h * mask) / sum(h)``.

    Parameters
    ----------
    heatmap : array-like of float >= 0, shape (H, W) (or any shape)
    mask : array-like of bool, same shape
        The region (e.g. where an artefact was planted).

    Returns
    -------
    float
        In [0, 1]; NaN when the map is all 0. A uniform map scores the region's area fraction.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.array([[1.0, 3.0], [0.0, 0.0]])
    >>> cam_mass(h, np.array([[False, True], [False, False]]))
    0.75
    """
    h = np.asarray(heatmap, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if h.shape != m.shape:
        raise ValueError(f"heatmap shape {h.shape} and mask shape {m.shape} differ")
    if np.any(h < 0) or not np.all(np.isfinite(h)):
        raise ValueError("heatmap must be finite and >= 0")
    total = h.sum()
    return float(h[m].sum() / total) if total > 0 else float("nan")


# -- the model ------------------------------------------------------------------------------------------

def _split(model):
    """(deep estimator, fitted steps before it or None, kind "image"/"clip")."""
    from sklearn.pipeline import Pipeline

    from ..deep import BackboneClassifier, VideoClassifier

    pre = None
    est = model
    if isinstance(model, Pipeline):
        est = model.steps[-1][1]
        if len(model.steps) > 1:
            pre = model[:-1]
    if isinstance(est, BackboneClassifier):
        kind = "image"
    elif isinstance(est, VideoClassifier):
        kind = "clip"
    else:
        raise TypeError(f"class activation maps need a fitted BackboneClassifier or VideoClassifier (or a pipeline "
                        f"ending in one), got {type(est).__name__}; for handcrafted detectors use "
                        "forensics.inspection.explain_item (SHAP)")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    return est, pre, kind


def _vit_reshape(grid, n_prefix):
    gh, gw = int(grid[0]), int(grid[1])

    def reshape(x):  # (N, prefix + gh * gw, C) tokens -> (N, C, gh, gw)
        return x[:, n_prefix:, :].reshape(x.shape[0], gh, gw, x.shape[-1]).permute(0, 3, 1, 2)

    return reshape


def _frames_to_clip(n_frames, inner=None):
    def reshape(x):  # (N * T, C, h, w) per-frame maps -> (N, C, T, h, w)
        if inner is not None:
            x = inner(x)
        return x.reshape(-1, n_frames, *x.shape[1:]).transpose(1, 2)

    return reshape


def _last_map_layer(torch, net, root_name, run, ndim):
    """Dotted name of the last module under ``root_name`` whose output is an ``ndim``-D map with
    more than one spatial cell (pooling, flattening, dropout and identity layers skipped)."""
    root = net.get_submodule(root_name)
    seen = []
    hooks = []
    for name, module in root.named_modules():
        if not name:
            continue

        def hook(mod, inputs, output, name=name):
            if isinstance(output, torch.Tensor):
                seen.append((name, type(mod).__name__, tuple(output.shape)))

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    for name, cls, shape in reversed(seen):
        if len(shape) == ndim and int(np.prod(shape[2:])) > 1 and not any(s in cls for s in _SKIP_LAYERS):
            return f"{root_name}.{name}"
    return None


def _is_timm_vit(backbone):
    return all(hasattr(backbone, a) for a in ("blocks", "patch_embed", "num_prefix_tokens"))


def _default_layer(torch, est, kind, net, device):
    """(dotted layer name, reshape_transform or None) chosen for this network."""
    cfg = est.data_config_
    if kind == "image":
        bb = net.backbone
        if _is_timm_vit(bb):
            return f"backbone.blocks.{len(bb.blocks) - 1}.norm1", _vit_reshape(bb.patch_embed.grid_size,
                                                                                bb.num_prefix_tokens)
        h, w = cfg["input_size"][1:]
        name = _last_map_layer(torch, net, "backbone", lambda: net(torch.zeros(1, 3, h, w, device=device)), 4)
        return name, None
    from ..deep._video import _kind

    t, _, h, w = cfg["input_size"]
    model_name = est.model_name
    if model_name in _NO_DEFAULT_LAYER:
        return None, None
    video_kind = _kind(model_name)
    if video_kind == "timm":
        bb = net.backbone
        if _is_timm_vit(bb):
            return (f"backbone.blocks.{len(bb.blocks) - 1}.norm1",
                    _frames_to_clip(t, _vit_reshape(bb.patch_embed.grid_size, bb.num_prefix_tokens)))
        name = _last_map_layer(torch, net, "backbone", lambda: net(torch.zeros(1, t, 3, h, w, device=device)), 4)
        return name, _frames_to_clip(t)
    if model_name == "swin3d_t":  # channels-last (N, T, H, W, C) stages
        return "backbone.norm", (lambda x: x.permute(0, 4, 1, 2, 3))
    name = _last_map_layer(torch, net, "backbone", lambda: net(torch.zeros(1, t, 3, h, w, device=device)), 5)
    return name, None


def cam_target_layer(model):
    """The layer whose activations :func:`grad_cam` uses by default, as a dotted name in ``model_``.

    - CNNs (``"cnn-small"``, timm CNNs such as EfficientNet or MobileNet): the last module of
      the backbone that outputs a spatial map (N, C, h, w) with more than one cell, pooling,
      flattening, dropout and identity layers aside: the end of the last convolutional stage
      (``backbone.14``, the last ReLU of ``"cnn-small"``; ``backbone.bn2`` of EfficientNet).
    - timm vision transformers: ``norm1`` of the last block, its patch tokens reshaped to the
      patch grid (prefix tokens dropped).
    - Clips: 3-D CNNs (r3d_18, mc3_18, r2plus1d_18, s3d): the last (N, C, t, h, w) map
      (``backbone.layer4``); swin3d_t: its final norm, made channels-first; a timm frame
      backbone: its layer as for images, the frames' maps stacked in time. mvit_v2_s and the
      transformers video models have no default: pass ``target_layer`` and ``reshape_transform``.

    Parameters
    ----------
    model : fitted BackboneClassifier, VideoClassifier or Pipeline ending in one

    Returns
    -------
    str
        E.g. ``"backbone.14"``; the layer is ``model_.get_submodule(name)``.
    """
    torch, _ = _import_cam()
    est, _, kind = _split(model)
    net = est.model_
    device = next(net.parameters()).device
    name, _ = _default_layer(torch, est, kind, net, device)
    if name is None:
        raise ValueError(f"no default target layer for {est.model_name!r}: pass target_layer= (a module name in "
                         "model_) and reshape_transform=")
    return name


# -- CAM ------------------------------------------------------------------------------------------------

def _check_options(method, target, batch_size, alpha):
    if method not in CAM_METHODS:
        raise ValueError(f"method must be one of {list(CAM_METHODS)}, got {method!r}")
    if target not in _TARGETS:
        raise ValueError(f"target must be one of {list(_TARGETS)}, got {target!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")


def _resolve_layer(net, target_layer):
    if isinstance(target_layer, str):
        try:
            return target_layer, net.get_submodule(target_layer)
        except AttributeError:
            names = [n for n, _ in net.named_modules() if n][-8:]
            raise ValueError(f"target_layer {target_layer!r} is not a module of model_ (e.g. {names})") from None
    for name, module in net.named_modules():
        if module is target_layer:
            return name, module
    raise ValueError("target_layer must be a module name (str) or a module of model_")


def _source(obj):
    return os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else None


def _load_images(est, items, start):
    from ..deep._data import load_uint8, resize

    cfg = est.data_config_
    size = cfg["input_size"][1:]
    originals = [load_uint8(x, start + k) for k, x in enumerate(items)]
    views = [resize(img, size, cfg["interpolation"]) for img in originals]
    return originals, views


def _load_clips(est, items, start):
    """Per clip: its frames (uint8, native size), their file indices (or None), and the network view."""
    from ..deep._clips import Clip, clip_positions
    from ..deep._video import _load_clip
    from ..media import ItemError

    n, size = est.n_frames, est._size()
    originals, indices, views = [], [], []
    for k, obj in enumerate(items):
        i = start + k
        idx = None
        if isinstance(obj, Clip):
            frames = obj.load(i)
        elif isinstance(obj, (str, os.PathLike)):
            from ..media import read_frames

            video = read_frames(obj, n=n, index=i)
            if not video.frames:
                raise ItemError(i, os.fspath(obj), "no frame could be decoded")
            frames, idx = np.stack(video.frames), np.asarray(video.indices)
        else:
            frames = obj
        view = _load_clip(frames, i, n, size)  # validates arrays, resamples to n frames, resizes
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[..., None]
        if frames.shape[-1] == 1:
            frames = np.repeat(frames, 3, axis=-1)
        if frames.dtype != np.uint8:
            frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
        if len(frames) != n:
            pos = clip_positions(len(frames), n)[0]
            frames = frames[pos]
            idx = None if idx is None else idx[pos]
        originals.append(frames)
        indices.append(idx)
        views.append(view)
    return originals, indices, views


def _wrap(torch, net, kind):
    """A module the CAM library can drive: images as they are; clips (N, 3, T, H, W) -> (N, 1)."""
    if kind == "image":
        return net

    class ClipAdapter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.permute(0, 2, 1, 3, 4))[:, None]

    return ClipAdapter().eval()


def _to_native(maps, originals):
    """CAM maps at the network size -> each item's own size, clipped to [0, 1]."""
    out = []
    for m, img in zip(maps, originals):
        h, w = img.shape[-3:-1]
        if m.ndim == 2:
            r = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            r = np.stack([cv2.resize(f.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) for f in m])
        out.append(np.clip(r, 0.0, 1.0).astype(np.float32))
    return out


def grad_cam(model, X, *, method="gradcam", target="fake", target_layer=None, reshape_transform=None, batch_size=8,
             alpha=0.5, colormap="jet"):
    """Class activation maps of a deep detector for each item: where the evidence for ``target`` is.

    Parameters
    ----------
    model : fitted BackboneClassifier, VideoClassifier, or a Pipeline ending in one
        The steps before the network (e.g. codec equalization) are applied to ``X`` first.
    X : sequence
        Images (paths, bytes, arrays, as the classifier takes) or clips (arrays (T, H, W, 3),
        :class:`~forensics.deep.Clip` objects or video paths).
    method : str, default="gradcam"
        One of :data:`CAM_METHODS`: ``"gradcam"`` (Grad-CAM [1]_), ``"gradcam++"``,
        ``"hirescam"``, ``"xgradcam"``, ``"layercam"``, or the gradient-free ``"eigencam"``
        (Eigen-CAM [2]_: the first principal component of the activations, one forward pass,
        class-agnostic) and ``"scorecam"`` (Score-CAM [3]_: each channel's map used as a mask,
        weighted by the target score; one forward pass per channel, images only).
    target : {"fake", "real", "predicted"}, default="fake"
        The class whose evidence is mapped: the logit (``"fake"``) or its negative
        (``"real"``); ``"predicted"`` takes each item's predicted class.
    target_layer : str, module or None, default=None
        None: :func:`cam_target_layer`'s choice. A dotted module name in ``model_`` (e.g.
        ``"backbone.10"``) or the module itself overrides it.
    reshape_transform : callable or None, default=None
        Maps the layer's output to (N, C, h, w) (images) or (N, C, t, h, w) (clips); None: the
        default for the layer (token grids of ViTs, per-frame maps stacked in time).
    batch_size : int >= 1, default=8
        Items per forward/backward pass (Score-CAM: masked images per pass).
    alpha : float in [0, 1], default=0.5
        Weight of the colour map in the overlay.
    colormap : str, default="jet"
        OpenCV colour map of the overlay.

    Returns
    -------
    list of CamResult
        One per item, in order: ``heatmap`` (H, W) in [0, 1] at the item's own size (a clip:
        (T, H, W) for its ``n_frames`` frames), ``overlay``, ``image``, ``score`` (probability
        of fake) and, for clips, ``frame_weights``.

    Raises
    ------
    TypeError
        ``model`` is not a deep image or clip classifier (handcrafted detectors: use
        :func:`explain_item`).
    ItemError
        An item cannot be read (the message names its index and path).

    Notes
    -----
    The maps come from ``pytorch_grad_cam`` (the ``grad-cam`` package): for Grad-CAM the
    channel weights are the spatially averaged gradients of the target score ``+-logit`` with
    respect to the layer's activations ``A_c``, and the map is ``ReLU(sum_c w_c A_c)``,
    upsampled to the network's input (bilinear; trilinear over time for clips), scaled to
    [0, 1] per item by its minimum and maximum, then resized (bilinear) to the item's size.
    Score ``s`` is the probability of ``classes_[1]`` (fake), ``sigmoid(logit)``.

    **Clips.** The network's input is permuted to (N, 3, T, H, W) so that the library treats
    the clip as a volume: a 3-D CNN's last map (N, C, t, h, w) is weighted by gradients averaged
    over time and space (one weight per channel for the clip) and upsampled to (T, H, W); a
    frame backbone's per-frame maps are stacked in time first. The volume is scaled to [0, 1]
    as a whole, so frames compare: ``frame_weights`` is each frame's share of the total.

    The pixels are those the network sees, in the file's stored orientation (as
    :class:`~forensics.deep.BackboneClassifier` reads them). Gradients accumulated on the
    network's parameters are cleared afterwards.

    References
    ----------
    .. [1] R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
       Gradient-based Localization", ICCV 2017, doi:10.1109/ICCV.2017.74.
    .. [2] M. B. Muhammad and M. Yeasin, "Eigen-CAM: Class Activation Map using Principal
       Components", IJCNN 2020, doi:10.1109/IJCNN48605.2020.9206626.
    .. [3] H. Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional
       Neural Networks", CVPR Workshops 2020, arXiv:1910.01279.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("pytorch_grad_cam")
    >>> from forensics.deep import BackboneClassifier
    >>> from forensics.datasets import make_planted_artifact_images
    >>> X, y, masks = make_planted_artifact_images(8, size=32, patch=8)
    >>> clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=32, epochs=1,
    ...                          frozen_epochs=0, validation_fraction=None).fit(list(X), y)
    >>> res = grad_cam(clf, [X[9]])[0]
    >>> res.heatmap.shape, res.overlay.shape, bool(0 <= res.heatmap.min() <= res.heatmap.max() <= 1)
    ((32, 32), (32, 32, 3), True)
    """
    _check_options(method, target, batch_size, alpha)
    _colormap(colormap)
    torch, cam_lib = _import_cam()
    from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget

    from ..deep._torch import resolve_device

    est, pre, kind = _split(model)
    if kind == "clip" and method == "scorecam":
        raise ValueError("method='scorecam' works on images only (its masks are 2-D); use 'eigencam' as the "
                         "gradient-free method for clips")
    if isinstance(X, (str, bytes, os.PathLike)) or not hasattr(X, "__len__"):
        raise TypeError(f"X must be a sequence of items, got {type(X).__name__}")
    if pre is not None:
        X = pre.transform(X)
    device = resolve_device(torch, est.device)
    net = est.model_.to(device).eval()
    if target_layer is None:
        layer_name, default_reshape = _default_layer(torch, est, kind, net, device)
        if layer_name is None:
            raise ValueError(f"no default target layer for {est.model_name!r}: pass target_layer= (a module name "
                             "in model_) and reshape_transform=")
        layer = net.get_submodule(layer_name)
    else:
        layer_name, layer = _resolve_layer(net, target_layer)
        default_reshape = None
        if kind == "clip" and est.model_name not in ("swin3d_t",) and reshape_transform is None:
            from ..deep._video import _kind

            if _kind(est.model_name) == "timm":
                default_reshape = _frames_to_clip(est.n_frames)
    reshape = reshape_transform if reshape_transform is not None else default_reshape
    wrapped = _wrap(torch, net, kind)
    cfg = est.data_config_
    results = []
    try:
        for start in range(0, len(X), batch_size):
            items = [X[i] for i in range(start, min(start + batch_size, len(X)))]
            if kind == "image":
                from ..deep._data import to_batch

                originals, views = _load_images(est, items, start)
                idx = [None] * len(items)
                xb = torch.from_numpy(to_batch(views, cfg["mean"], cfg["std"]))
            else:
                from ..deep._video import _normalise

                originals, idx, views = _load_clips(est, items, start)
                mean = np.asarray(cfg["mean"], np.float32)[:, None, None]
                std = np.asarray(cfg["std"], np.float32)[:, None, None]
                xb = torch.from_numpy(_normalise(views, mean, std)).permute(0, 2, 1, 3, 4).contiguous()
            xb = xb.to(device)
            if target == "predicted":
                with torch.no_grad():
                    logits = wrapped(xb).reshape(-1)
                classes = (logits > 0).long().tolist()
            else:
                classes = [1 if target == "fake" else 0] * len(items)
            cam = getattr(cam_lib, CAM_METHODS[method])(model=wrapped, target_layers=[layer],
                                                         reshape_transform=reshape)
            if method == "scorecam":
                cam.batch_size = batch_size
            try:
                # Score-CAM draws a tqdm bar per item; Eigen-CAM's small SVDs run faster on one BLAS thread
                # (measured: 11 s vs 0.2 s for 16 maps of 256 x 8 x 8 on a busy 2-core machine)
                blas = threadpool_limits(1, user_api="blas") if method == "eigencam" else contextlib.nullcontext()
                with contextlib.redirect_stderr(io.StringIO()), blas:
                    maps = cam(input_tensor=xb, targets=[BinaryClassifierOutputTarget(c) for c in classes])
                logits = cam.outputs.detach().float().cpu().numpy().reshape(-1).astype(np.float64)
            finally:
                cam.activations_and_grads.release()
                net.zero_grad(set_to_none=True)
            maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
            native = _to_native(maps, originals)
            for k in range(len(items)):
                heat = native[k]
                weights = None
                if kind == "clip":
                    per_frame = maps[k].reshape(maps[k].shape[0], -1).sum(axis=1).astype(np.float64)
                    total = per_frame.sum()
                    weights = per_frame / total if total > 0 else np.full(per_frame.shape, np.nan)
                results.append(CamResult(
                    heatmap=heat, overlay=overlay_heatmap(originals[k], heat, alpha=alpha, colormap=colormap),
                    image=originals[k], score=float(1.0 / (1.0 + np.exp(-np.clip(logits[k], -500, 500)))),
                    method=method, target="fake" if classes[k] == 1 else "real", target_layer=layer_name,
                    index=start + k, source=_source(items[k]), frame_weights=weights, frame_indices=idx[k]))
    finally:
        net.zero_grad(set_to_none=True)
    return results


def explain_deep_item(model, x, **kwargs):
    """The class activation map of one item: ``grad_cam(model, [x], **kwargs)[0]``.

    The deep counterpart of :func:`explain_item` (SHAP contributions of a handcrafted
    detector's features): where in the picture the network found its evidence.

    Parameters
    ----------
    model : fitted BackboneClassifier, VideoClassifier, or a Pipeline ending in one
    x : one image (path, bytes, array) or clip (array (T, H, W, 3), Clip, video path)
    **kwargs
        Options of :func:`grad_cam` (``method``, ``target``, ``target_layer``...).

    Returns
    -------
    CamResult
        ``heatmap`` (H, W) in [0, 1] at the item's resolution and ``overlay`` (H, W, 3) uint8
        (a clip: one per frame).
    """
    return grad_cam(model, [x], **kwargs)[0]


# -- gallery ----------------------------------------------------------------------------------------------

#: The gallery's groups, in display order, with their titles.
GALLERY_GROUPS = {"confident_fakes": "most confident fakes", "confident_reals": "most confident reals",
                  "false_positives": "reals called fake", "false_negatives": "fakes called real"}


def gallery_indices(y_true, scores, *, n=4, threshold=0.5):
    """Which items a gallery shows: the most confident right answers and the worst errors.

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
        1 for fake, 0 for real.
    scores : array-like of shape (n_items,)
        Probability of fake.
    n : int >= 1, default=4
        Items per group at most.
    threshold : float or array-like of shape (n_items,), default=0.5
        Score at or above which an item is called fake; an array gives each item its own (e.g.
        the threshold of the cross-validation fold that scored it).

    Returns
    -------
    dict of str -> ndarray of int
        ``confident_fakes`` (fakes called fake, highest score first), ``confident_reals``
        (reals called real, lowest first), ``false_positives`` (reals called fake, highest
        first) and ``false_negatives`` (fakes called real, lowest first); ties keep the input
        order. Items with a NaN score are left out.

    Examples
    --------
    >>> idx = gallery_indices([1, 1, 0, 0, 1], [0.9, 0.2, 0.1, 0.7, 0.6], n=1)
    >>> {k: v.tolist() for k, v in idx.items()}
    {'confident_fakes': [0], 'confident_reals': [2], 'false_positives': [3], 'false_negatives': [1]}
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D of one length, got {y.shape} and {s.shape}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    thr = np.asarray(threshold, dtype=np.float64)
    if thr.ndim > 1 or (thr.ndim == 1 and thr.shape != s.shape):
        raise ValueError(f"threshold must be a number or an array of shape {s.shape}, got shape {thr.shape}")
    ok = np.isfinite(s)
    called = s >= thr
    groups = {
        "confident_fakes": (ok & (y == 1) & called, -1),
        "confident_reals": (ok & (y == 0) & ~called, 1),
        "false_positives": (ok & (y == 0) & called, -1),
        "false_negatives": (ok & (y == 1) & ~called, 1),
    }
    out = {}
    for name, (mask, sign) in groups.items():
        idx = np.flatnonzero(mask)
        out[name] = idx[np.argsort(sign * s[idx], kind="stable")][:n]
    return out


def cam_gallery_figure(model, X, y, *, scores=None, n=4, threshold=0.5, fold=None, method="gradcam",
                       target="predicted", **cam_kwargs):
    """A figure of class activation maps: most confident fakes and reals, and the errors.

    Parameters
    ----------
    model : fitted BackboneClassifier, VideoClassifier, Pipeline ending in one, or a list of them
        A list: one model per cross-validation fold, item ``i`` mapped by ``model[fold[i]]``,
        the model that scored it out of fold (e.g. ``CVResult.estimators`` of
        :func:`~forensics.model_selection.cross_validate_detector` with
        ``return_estimator=True``).
    X : sequence of items
    y : array-like of shape (n_items,)
        1 for fake, 0 for real.
    scores : array-like of shape (n_items,), optional
        Probabilities of fake (e.g. out-of-fold); default: ``model.predict_proba(X)[:, 1]``
        (required with a list of models).
    n : int, default=4
        Items per row (group) at most.
    threshold : float or array-like of shape (n_items,), default=0.5
        Score at or above which an item is called fake (per item: e.g. its fold's threshold).
    fold : array-like of int, shape (n_items,), optional
        With a list of models: which one scored each item (``CVResult.test_fold``).
    method, target, **cam_kwargs
        Passed to :func:`grad_cam`; ``target="predicted"`` maps the evidence for what the
        gallery says the model decided at ``threshold`` (fake for the confident fakes and the
        reals called fake, real for the other two rows): for the errors, what misled it.

    Returns
    -------
    matplotlib.figure.Figure
        One row per non-empty group of :func:`gallery_indices`, each panel an overlay titled
        with the item's index, label and score (a clip shows its frame with the largest share
        of the map). ``fig.gallery`` holds the chosen indices per group and ``fig.cams`` the
        :class:`CamResult` of each shown item by index.

    Raises
    ------
    ValueError
        A list of models without ``fold`` or ``scores``, or a ``fold`` that does not name one
        of the models for every item.
    """
    import matplotlib.pyplot as plt

    y = np.asarray(y)
    models = list(model) if isinstance(model, (list, tuple)) else None
    if models is not None:
        if not models:
            raise ValueError("model is an empty list; give a fitted model or one per fold")
        if fold is None or scores is None:
            raise ValueError("with one model per fold, pass fold= (the fold that scored each item) and scores= "
                             "(the out-of-fold scores)")
        fold = np.asarray(fold)
        if fold.shape != y.shape or fold.dtype.kind not in "iu" or fold.min() < 0 or fold.max() >= len(models):
            raise ValueError(f"fold must hold, for each of the {y.size} items, the index of one of the "
                             f"{len(models)} models")
    elif fold is not None:
        raise ValueError("fold= goes with a list of models (one per fold)")
    if scores is None:
        proba = np.asarray(model.predict_proba(X))
        classes = list(getattr(model, "classes_", [0, 1]))
        scores = proba[:, classes.index(1) if 1 in classes else -1]
    scores = np.asarray(scores, dtype=np.float64)
    groups = gallery_indices(y, scores, n=n, threshold=threshold)
    rows = [(name, idx) for name, idx in groups.items() if len(idx)]
    said_fake = {"confident_fakes": "fake", "false_positives": "fake", "confident_reals": "real",
                 "false_negatives": "real"}
    batches = {}  # (model position, target) -> item indices
    for name, idx in rows:
        for i in idx:
            key = (int(fold[i]) if models is not None else 0, said_fake[name] if target == "predicted" else target)
            batches.setdefault(key, []).append(int(i))
    cams = {}
    for (m, tgt), items in batches.items():
        chosen = models[m] if models is not None else model
        for i, res in zip(items, grad_cam(chosen, [X[i] for i in items], method=method, target=tgt, **cam_kwargs)):
            res.index = i
            cams[i] = res
    ncols = max([len(idx) for _, idx in rows] + [1])
    fig, axes = plt.subplots(max(len(rows), 1), ncols, figsize=(2.4 * ncols, 2.6 * max(len(rows), 1)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, idx) in enumerate(rows):
        for c, i in enumerate(idx):
            res = cams[int(i)]
            picture = res.overlay
            if picture.ndim == 4:
                w = res.frame_weights
                picture = picture[int(np.nanargmax(w)) if np.any(np.isfinite(w)) else 0]
            ax = axes[r, c]
            ax.imshow(picture)
            ax.set_title(f"#{int(i)} {'fake' if y[i] == 1 else 'real'}  p={float(scores[i]):.2f}", fontsize=8)
        axes[r, 0].text(-0.08, 0.5, GALLERY_GROUPS[name], transform=axes[r, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=9)
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no item to show", ha="center", va="center")
    fig.suptitle(f"{method} maps (target: {target})", fontsize=10)
    fig.tight_layout()
    fig.gallery = {name: idx for name, idx in groups.items()}
    fig.cams = cams
    return fig
