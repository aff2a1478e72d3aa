"""Clip-level video classifiers: 3-D CNNs, frame backbones with a temporal head, video transformers."""

from __future__ import annotations

import copy
import math
import numbers
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..features._base import Interval, Options
from ..heads._xgboost import _binary_targets, _validation_split
from ..media import ItemError
from ..metrics._aggregate import AGGREGATIONS, aggregate_scores
from ._augment import augment_clip
from ._clips import Clip, clip_positions
from ._data import resize
from ._torch import (HEADS, class_weights, import_torch, load_state_bytes, make_head, resolve_device, seeded,
                     state_to_bytes)
from ._training import TRAINING_PARAMS, Phase, check_training_params, fit_loop

__all__ = ["VideoClassifier", "VIDEO_MODELS", "TEMPORAL_HEADS", "HF_VIDEO_MODELS"]

#: torchvision video networks (``torchvision.models.video``), by name.
VIDEO_MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v2_s", "swin3d_t")
#: Hugging Face ``transformers`` video transformers (optional).
HF_VIDEO_MODELS = ("timesformer", "vivit")
#: Temporal heads over per-frame features of a timm backbone.
TEMPORAL_HEADS = ("gru", "lstm", "bigru", "bilstm", "transformer", "mean")
_KINETICS = dict(mean=(0.43216, 0.394666, 0.37645), std=(0.22803, 0.22145, 0.216989))
_HALF = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
_AUGMENT_KEYS = ("flip", "crop_scale", "jpeg_probability", "jpeg_quality", "color_jitter", "rotation")
_TV_WEIGHTS = {"r3d_18": "R3D_18_Weights", "mc3_18": "MC3_18_Weights", "r2plus1d_18": "R2Plus1D_18_Weights",
               "s3d": "S3D_Weights", "mvit_v2_s": "MViT_V2_S_Weights", "swin3d_t": "Swin3D_T_Weights"}


def _kind(model_name):
    if model_name in VIDEO_MODELS:
        return "torchvision"
    if model_name in HF_VIDEO_MODELS:
        return "transformers"
    return "timm"


def _torchvision_weights_file(model_name, weights):
    """The local file of ``weights`` ("kinetics": found in $FORENSICS_MODEL_DIR; a path: itself)."""
    from ..embeddings._timm import MODEL_DIR_ENV

    if isinstance(weights, str) and weights == "kinetics":
        from torchvision.models import video as tv

        url = getattr(tv, _TV_WEIGHTS[model_name]).KINETICS400_V1.url
        name = url.rsplit("/", 1)[1]
        folder = os.environ.get(MODEL_DIR_ENV)
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
        raise FileNotFoundError(
            f"weights='kinetics' for {model_name!r} needs the torchvision file {name} in the folder named by "
            f"${MODEL_DIR_ENV} (nothing is downloaded at run time; get it from {url}), or pass its path as "
            "weights=, or weights=None for random initialisation")
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {os.fspath(weights)!r} (weights must be None, 'kinetics' "
                                "or the path of a local state_dict file)")
    return path


def _torchvision_backbone(torch, model_name, weights, n_frames, size, kwargs):
    """A torchvision video network without its classifier: (N, 3, T, H, W) -> (N, F); and F."""
    from torchvision.models import video as tv

    nn = torch.nn
    kwargs = dict(kwargs)
    other_size = tuple(size) != (224, 224) or n_frames != 16
    if model_name == "mvit_v2_s" and other_size and weights is not None:
        raise ValueError(f"the weights of mvit_v2_s are for 16 frames of 224 x 224 (its relative position tables "
                         f"are sized for them): set n_frames=16 and input_size=224, got {n_frames} frames of "
                         f"{tuple(size)} (random initialisation, weights=None, takes other sizes)")
    if model_name == "s3d" and "norm_layer" not in kwargs:
        # torchvision builds S3D with BatchNorm momentum 0.001 (TensorFlow's 0.999 decay): after a
        # few hundred steps the running statistics are still near their init (mean 0, variance 1),
        # so the network in eval mode computes something else than it was trained to. PyTorch's
        # default 0.1, as the other torchvision video networks use; torchvision's eps 0.001 kept.
        from functools import partial

        kwargs["norm_layer"] = partial(nn.BatchNorm3d, eps=0.001, momentum=0.1)
    if model_name == "mvit_v2_s" and other_size:
        net = _mvit_v2_s(n_frames, size, kwargs, torch=torch)
    else:
        net = getattr(tv, model_name)(weights=None, **kwargs)
    if model_name == "swin3d_t":
        _exact_swin_windows(torch, net)
    if weights is not None:
        path = _torchvision_weights_file(model_name, weights)
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            hint = (" (the Kinetics weights of mvit_v2_s need input_size=224 and n_frames=16)"
                    if model_name == "mvit_v2_s" else "")
            raise ValueError(f"could not load {str(path)!r} into {model_name!r}{hint}: {str(exc)[:300]}") from exc
    if model_name in ("r3d_18", "mc3_18", "r2plus1d_18"):
        n_features = net.fc.in_features
        net.fc = nn.Identity()
    elif model_name == "s3d":
        n_features = net.classifier[-1].in_channels
        net.classifier = nn.Identity()
        net.avgpool = nn.AdaptiveAvgPool3d(1)  # the fixed (2, 7, 7) pooling needs >= 224 px inputs
    elif model_name == "mvit_v2_s":
        n_features = net.head[-1].in_features
        net.head = nn.Identity()
    else:  # swin3d_t
        n_features = net.head.in_features
        net.head = nn.Identity()
    return net, n_features


def _mvit_v2_s(n_frames, size, kwargs, torch=None):
    """MViTv2-S, torchvision's configuration of :func:`torchvision.models.video.mvit_v2_s`, built
    for ``n_frames`` frames of ``size`` (random initialisation).

    torchvision's builder fixes the input at 16 frames of 224 x 224 because the relative position
    tables are sized from it; the blocks below are its configuration (Li et al., CVPR 2022,
    table 2), so at 16 x 224 this is the same network (tested against torchvision's). With
    ``torch`` given, the network is tried once on a zero clip (eval mode, no gradient): a size it
    cannot take (an odd number of frames, a longer side under 32 px) is a ValueError here rather
    than a shape error inside ``fit``.
    """
    from torchvision.models.video import mvit

    heads = [1, 2, 2] + [4] * 11 + [8, 8]
    inputs = [96, 96, 192, 192] + [384] * 11 + [768]
    outputs = [96, 192, 192] + [384] * 11 + [768, 768]
    halving = {1, 3, 14}  # blocks whose queries are pooled 2x in space (stride_q (1, 2, 2))
    stride_kv = [(1, 8, 8), (1, 4, 4), (1, 4, 4)] + [(1, 2, 2)] * 11 + [(1, 1, 1)] * 2
    blocks = [mvit.MSBlockConfig(num_heads=h, input_channels=i, output_channels=o, kernel_q=[3, 3, 3],
                                 kernel_kv=[3, 3, 3], stride_q=[1, 2, 2] if k in halving else [1, 1, 1],
                                 stride_kv=list(kv))
              for k, (h, i, o, kv) in enumerate(zip(heads, inputs, outputs, stride_kv))]
    hint = (f"mvit_v2_s cannot take {n_frames} frames of {tuple(size)}: it needs an even number of frames and a "
            "longer side of at least 32 px (its patch embedding strides 2 in time and 4 in space, and its first "
            "block pools keys 8x more), e.g. 8 frames of 32 x 32")
    try:
        net = mvit.MViT(spatial_size=tuple(size), temporal_size=n_frames, block_setting=blocks, residual_pool=True,
                        residual_with_cls_embed=False, rel_pos_embed=True, proj_after_attn=True,
                        stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", 0.2), **kwargs)
        if torch is not None:
            net.eval()
            with torch.no_grad():
                net(torch.zeros(1, 3, n_frames, *size))
            net.train()
    except RuntimeError as exc:
        raise ValueError(f"{hint} ({str(exc)[:200]})") from exc
    return net


def _clipped_relative_index(torch, window, full, device):
    """Indices into a Video Swin relative position table (built for window ``full``) of every token
    pair of a smaller window ``window``: ``(window_volume, window_volume)``.

    The table holds one bias per relative offset ``(dt, dh, dw)``, at
    ``(dt + Wd - 1) (2 Wh - 1)(2 Ww - 1) + (dh + Wh - 1)(2 Ww - 1) + (dw + Ww - 1)`` (torchvision's
    ``define_relative_position_index``, ``(Wd, Wh, Ww) = full``); the offsets are those of the
    tokens of ``window``, which is what the attention of a clipped window needs.
    """
    coords = torch.stack(torch.meshgrid(*[torch.arange(n, device=device) for n in window], indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]  # (3, V, V)
    wd, wh, ww = full
    return ((rel[0] + wd - 1) * (2 * wh - 1) * (2 * ww - 1) + (rel[1] + wh - 1) * (2 * ww - 1) + (rel[2] + ww - 1))


_SWIN_CLASSES = {}


def _exact_swin_windows(torch, net):
    """Give each window attention of a torchvision Video Swin the right position biases when its window is clipped.

    When the token grid of a stage is smaller than the window (8 x 7 x 7 tokens for ``swin3d_t``:
    under 16 frames, every stage; at 112 px, the last one), torchvision (as
    the original Video Swin code) shrinks the window to the grid but takes the biases of the
    *first* ``V`` tokens of the full window (``relative_position_index[:V, :V]``): token pairs then
    get the biases of other offsets, e.g. at 8 frames of 16 px the second stage's 4 x 2 x 2 window
    gets those of 16 tokens of one time slice, so its biases carry no time offset at all (the
    attention has no other position signal; the 2-frame patch embedding still sees motion within
    each pair of frames, and on the motion-only task this fix did not change the result, see
    ``docs/results.md``). Here the biases of the clipped window are looked up by each pair's own
    offset; the full window is unchanged (same table, same parameters, so Kinetics weights load
    as before).
    """
    from torchvision.models.video.swin_transformer import ShiftedWindowAttention3d

    cls = _SWIN_CLASSES.get(ShiftedWindowAttention3d)
    if cls is None:
        class ExactWindowAttention3d(ShiftedWindowAttention3d):
            def get_relative_position_bias(self, window_size):
                if list(window_size) == list(self.window_size):
                    return super().get_relative_position_bias(window_size)
                table = self.relative_position_bias_table
                index = _clipped_relative_index(torch, list(window_size), list(self.window_size), table.device)
                v = index.shape[0]
                return table[index.flatten()].view(v, v, -1).permute(2, 0, 1).contiguous().unsqueeze(0)

        cls = _SWIN_CLASSES[ShiftedWindowAttention3d] = ExactWindowAttention3d
    for module in net.modules():
        if type(module) is ShiftedWindowAttention3d:
            module.__class__ = cls
    return net


def _transformers_backbone(model_name, weights, n_frames, size, kwargs, config_dict=None):
    """A Hugging Face video transformer; its CLS token is the feature: (N, T, 3, H, W) -> (N, F)."""
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(f"model_name={model_name!r} needs Hugging Face transformers: pip install transformers") from exc
    if model_name == "timesformer":
        config_cls, model_cls = transformers.TimesformerConfig, transformers.TimesformerModel
    else:
        config_cls, model_cls = transformers.VivitConfig, transformers.VivitModel
    if config_dict is not None:  # rebuilding a fitted model: the very configuration it was trained with
        net = model_cls(config_cls.from_dict(config_dict), **({"add_pooling_layer": False} if model_name == "vivit"
                                                              else {}))
    elif weights is None:
        config = config_cls(**{"image_size": int(size[0]), "num_frames": int(n_frames), **kwargs})
        net = model_cls(config, **({"add_pooling_layer": False} if model_name == "vivit" else {}))
        time_emb = getattr(net.embeddings, "time_embeddings", None)
        if time_emb is not None:
            # TimeSformer's time embeddings start at zero (as in the original, made to start from an image
            # ViT): a random-init network is then exactly blind to frame order; from the sinusoidal table
            # (still learned) the order reaches it from the first step (see _sinusoids)
            import torch

            with torch.no_grad():
                time_emb.copy_(_sinusoids(torch, time_emb.shape[1], time_emb.shape[2])[None])
    else:
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"weights not found: {os.fspath(weights)!r} (a local folder saved with "
                                    "save_pretrained; nothing is downloaded at run time)")
        net = model_cls.from_pretrained(str(path), local_files_only=True, **kwargs)
    return net, int(net.config.hidden_size)


def _sinusoids(torch, n, d):
    """The sinusoidal position table of Vaswani et al. (2017), shape (n, d).

    ``table[t, 2i] = sin(t / 10000^(2i/d))``, ``table[t, 2i+1] = cos(t / 10000^(2i/d))``. The
    temporal position embeddings of the random-init models start from it (the Transformer head's
    frame positions, TimeSformer's time embeddings): with the usual near-zero init (std 0.02, or
    zeros for TimeSformer) the order of the frames barely reaches the attention. On the
    motion-only task (``make_motion_clips``) a Transformer head over frame features stayed at 0.56
    held-out AUC after 12 epochs where a GRU reached 0.98 in 3, and 0.986 in 4 with this init; a
    2-layer, 96-wide TimeSformer (``initializer_range=0.1``, 10 epochs, 1 of warm-up) went from
    0.599 to 0.996 (``benchmarks/probe_clip_features.py``, ``docs/results.md``).
    """
    position = torch.arange(n, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, :d // 2]
    return table


def _timm_backbone(torch, model_name, weights, kwargs):
    """A timm image network without classifier, (N, 3, H, W) -> (N, F); and its data config."""
    from ._classifier import _build_network

    if kwargs and weights is not None:
        raise ValueError("backbone_kwargs change the architecture of a timm backbone: use them with weights=None")
    net, config = _build_network(torch, model_name, weights)
    backbone = net.backbone
    if kwargs:
        import timm

        backbone = timm.create_model(model_name, pretrained=False, num_classes=0, **kwargs)
    return backbone, backbone.num_features, config


def _make_temporal(torch, kind, n_in, hidden, layers, n_frames):
    """Per-frame features (N, T, F) -> clip features (N, D); and D."""
    nn = torch.nn

    class Recurrent(nn.Module):
        """The last hidden state of the top layer, both directions concatenated."""

        def __init__(self, cell, bidirectional):
            super().__init__()
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(n_in, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
            self.n_dir = 2 if bidirectional else 1

        def forward(self, x):
            _, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h
            top = h[-self.n_dir:]  # (n_dir, N, hidden)
            return top.permute(1, 0, 2).reshape(x.shape[0], self.n_dir * hidden)

    class Encoder(nn.Module):
        """Projection, a learned position embedding per frame and a CLS token, Transformer encoder."""

        def __init__(self):
            super().__init__()
            heads = 4 if hidden % 4 == 0 else 1
            self.proj = nn.Linear(n_in, hidden)
            self.cls = nn.Parameter(torch.zeros(1, 1, hidden))
            # learned, initialised with sinusoids (see _sinusoids): with the usual small random init
            # (std 0.02) the encoder stayed near chance on the motion-only task
            self.pos = nn.Parameter(_sinusoids(torch, n_frames + 1, hidden)[None])
            layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden, dropout=0.1,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(hidden)

        def forward(self, x):
            z = self.proj(x)
            z = torch.cat([self.cls.expand(z.shape[0], -1, -1), z], 1) + self.pos[:, :z.shape[1] + 1]
            return self.norm(self.encoder(z)[:, 0])

    class Mean(nn.Module):
        """The average over frames: order-invariant (a frame-level model)."""

        def forward(self, x):
            return x.mean(1)

    if kind == "mean":
        return Mean(), n_in
    if kind == "transformer":
        return Encoder(), hidden
    cell = "lstm" if kind in ("lstm", "bilstm") else "gru"
    bi = kind.startswith("bi")
    return Recurrent(cell, bi), hidden * (2 if bi else 1)


def _build(torch, p, n_frames, size, config_dict=None):
    """The network ``(N, T, 3, H, W) -> (N,)`` logits (children backbone, temporal, head) and its data config."""
    nn = torch.nn
    kind = _kind(p["model_name"])
    kwargs = dict(p["backbone_kwargs"] or {})
    temporal = nn.Identity()
    if kind == "torchvision":
        backbone, n_features = _torchvision_backbone(torch, p["model_name"], p["weights"], n_frames, size, kwargs)
        config = dict(_KINETICS)
    elif kind == "transformers":
        backbone, n_features = _transformers_backbone(p["model_name"], p["weights"], n_frames, size, kwargs,
                                                      config_dict)
        config = dict(_HALF)
    else:
        backbone, n_frame_features, cfg = _timm_backbone(torch, p["model_name"], p["weights"], kwargs)
        if kwargs.get("global_pool") == "":  # an unpooled feature map: its flattened size is the frame feature
            with torch.no_grad():
                n_frame_features = int(backbone.eval()(torch.zeros(1, 3, *size)).numel())
        config = dict(mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
        temporal, n_features = _make_temporal(torch, p["temporal"], n_frame_features, p["temporal_hidden"],
                                              p["temporal_layers"], n_frames)
    head = make_head(nn, n_features, p["head"], p["head_hidden"], p["head_dropout"])

    class VideoNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.temporal, self.head = backbone, temporal, head

        def forward(self, x):  # (N, T, 3, H, W)
            if kind == "torchvision":
                f = self.backbone(x.permute(0, 2, 1, 3, 4))  # torchvision: (N, 3, T, H, W)
            elif kind == "transformers":
                f = self.backbone(pixel_values=x).last_hidden_state[:, 0]
            else:
                n, t = x.shape[:2]
                f = self.temporal(self.backbone(x.flatten(0, 1)).reshape(n, t, -1))
            return self.head(f).squeeze(1)

    config.update(input_size=(int(n_frames), 3, int(size[0]), int(size[1])))
    return VideoNet(), config


def _load_clip(obj, index, n_frames, size):
    """One element of X as uint8 (n_frames, H, W, 3) at the network size; errors name the item."""
    if isinstance(obj, Clip):
        frames = obj.load(index)
    elif isinstance(obj, (str, os.PathLike)):
        from ..media import read_frames

        video = read_frames(obj, n=n_frames, index=index)
        if not video.frames:
            raise ItemError(index, os.fspath(obj), "no frame could be decoded")
        frames = np.stack(video.frames)
    else:
        try:
            frames = np.asarray(obj)
        except Exception as exc:
            raise ItemError(index, None, f"not a clip ({type(obj).__name__}): {exc}") from None
        if frames.dtype == object or frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] not in (1, 3)):
            raise ItemError(index, None, "a clip must be an array (T, H, W, 3) or (T, H, W), a Clip or a video path; "
                                         f"got {type(obj).__name__} of shape {getattr(frames, 'shape', None)}")
        if frames.ndim == 3:
            frames = frames[..., None]
        if frames.shape[-1] == 1:
            frames = np.repeat(frames, 3, axis=-1)
        if frames.dtype != np.uint8:
            if not np.all(np.isfinite(frames)):
                raise ItemError(index, None, "the clip has NaN or infinite pixels")
            frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    if len(frames) != n_frames:
        frames = frames[clip_positions(len(frames), n_frames)[0]]
    return np.stack([resize(f, size, "bilinear") for f in frames])


def _clip_sequence(X, name):
    if isinstance(X, (str, bytes, os.PathLike)) or not hasattr(X, "__len__"):
        raise TypeError(f"{name}: X must be a sequence of clips (arrays (T, H, W, 3), Clip objects or video paths), "
                        f"got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError(f"{name}: X is empty; pass at least one clip")
    return X


class VideoClassifier(ClassifierMixin, BaseEstimator):
    """Binary real/fake classifier of video clips, trained end to end: 3-D CNNs, frame backbones with a
    temporal head, or video transformers.

    ``X`` is a sequence of clips: arrays (T, H, W, 3) (uint8 or 0..255 floats), :class:`Clip`
    objects from a :class:`ClipDataset` (face crops from the cache), or video paths (``n_frames``
    evenly spaced whole frames are read). Each clip is resampled to ``n_frames`` frames (evenly
    spaced; short clips repeat frames), resized to ``input_size`` and normalised with the
    backbone's mean and std. Training follows :class:`BackboneClassifier` (optional frozen
    phase, AdamW, cosine schedule, early stopping on the validation AUC, checkpoints) through the
    same loop; the validation split is drawn **by video**, so the clips of one video are never
    on both sides.

    Parameters
    ----------
    model_name : str, default="r3d_18"
        - torchvision video networks: ``"r3d_18"`` (3-D ResNet-18), ``"mc3_18"`` (mixed 3-D/2-D
          convolutions), ``"r2plus1d_18"`` ((2+1)-D convolutions), ``"s3d"`` (separable 3-D
          Inception; its fixed final pooling is made adaptive so that small inputs work),
          ``"mvit_v2_s"`` (multiscale ViT; its weights need 16 frames of 224 x 224, random
          initialisation takes an even number of frames and a longer side of at least 32 px),
          ``"swin3d_t"`` (video Swin transformer);
        - ``"timesformer"``, ``"vivit"``: Hugging Face ``transformers`` models (when installed);
        - any timm image architecture: run on every frame, then the ``temporal`` head.
    weights : None, str or path, default=None
        None: random initialisation. torchvision: ``"kinetics"`` (the Kinetics-400 file, found in
        ``$FORENSICS_MODEL_DIR``) or the path of a state_dict file. transformers: a folder
        written by ``save_pretrained``. timm: as :class:`BackboneClassifier` (``"imagenet"`` or
        a checkpoint file). Nothing is downloaded at run time except timm's ``"imagenet"`` when
        no local file is found.
    backbone_kwargs : dict or None, default=None
        Passed to the backbone's constructor: e.g. ``hidden_size``, ``num_hidden_layers``,
        ``num_attention_heads``, ``patch_size`` of a transformers config; timm ``create_model``
        arguments (random weights only); torchvision model arguments.
    temporal : {"gru", "lstm", "bigru", "bilstm", "transformer", "mean"}, default="gru"
        Temporal head of a timm frame backbone (ignored by the video networks): a recurrent
        network whose last hidden state (both directions for ``bi*``) is the clip feature; a
        Transformer encoder over the projected frame features with a learned position embedding
        and a CLS token; or ``"mean"``, the average of the frame features, which ignores frame
        order (a frame-level model, the control of the motion test).
    temporal_hidden : int >= 1, default=256
    temporal_layers : int >= 1, default=1
    n_frames : int >= 1, default=16
        Frames per clip given to the network.
    input_size : int or (int, int), default=112
        Frame size (H, W) given to the network (112 is the torchvision video networks' training
        size; 224 for ``mvit_v2_s`` and ``swin3d_t`` pretrained weights).
    frozen_epochs : int >= 0, default=0
        Epochs training only the temporal head and classifier (backbone frozen), first.
    epochs : int >= 1, default=10
    batch_size : int >= 1, default=8
    lr_head : float > 0, default=1e-3
        Learning rate of the temporal head and classifier.
    lr_backbone : float > 0, default=1e-3
        Learning rate of the backbone (use ~10x less than ``lr_head`` with pretrained weights).
    weight_decay : float >= 0, default=1e-4
    max_grad_norm : float > 0 or None, default=None
        Gradient clipping: before each optimiser step, the gradients of all the network's
        parameters are rescaled together so that their global L2 norm is at most this value
        (``torch.nn.utils.clip_grad_norm_``; with ``amp``, after unscaling). None: no clipping.
        A clipped step is ``g * min(1, max_grad_norm / ||g||_2)``, so a value above every
        gradient norm changes nothing.
    label_smoothing : float in [0, 0.5), default=0.0
    class_weight : "balanced", dict or None, default="balanced"
    augment : bool or dict, default=False
        Training augmentation, the same random choices for every frame of a clip
        (:func:`augment_clip`): True gives :func:`augment_image`'s default policy; a dict sets
        its arguments. ``color_jitter`` and ``rotation`` are off unless set: they can erase
        forensic traces.
    head, head_hidden, head_dropout
        The classifier: see :class:`BackboneClassifier`.
    aggregate : {"mean", "median", "max", "topk_mean"}, default="mean"
        How :meth:`predict_videos` turns the fake probabilities of a video's clips into one
        score (:func:`forensics.metrics.aggregate_scores`).
    validation_fraction : float in (0, 1) or None, default=0.15
        Fraction of the *videos* held out (stratified) for early stopping.
    patience : int >= 1, default=3
    device : "auto" or str, default="auto"
    random_state : int or None, default=0
    loss, focal_gamma, scheduler, warmup_epochs, sampler, accumulate
        The training options shared with :class:`BackboneClassifier` (see there);
        ``scheduler`` defaults to ``"cosine"``.
    checkpoint_dir, checkpoint_every, resume, callbacks, amp, compile, verbose
        As :class:`BackboneClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    model_ : torch.nn.Module
        ``(N, T, 3, H, W)`` normalised clips -> ``(N,)`` logits; children ``backbone``,
        ``temporal`` and ``head``. Rebuilt from the saved weights after unpickling.
    data_config_ : dict
        ``input_size`` (T, 3, H, W), ``mean`` and ``std``.
    history_ : list of dict
        Per epoch, as :class:`BackboneClassifier` (``lr_head`` and ``lr_backbone`` included).
    best_epoch_, best_score_, n_epochs_, runtime_, resumed_from_, fit_time_
        As :class:`BackboneClassifier`.
    train_clips_per_s_ : float
        Training throughput: training clips per second of the training passes (``train_s`` of
        the history: forward, backward, optimiser and data loading; validation excluded).
    backbone_config_ : dict
        The ``transformers`` configuration (TimeSformer and ViViT only), to rebuild the network.

    Notes
    -----
    Training holds the decoded clips in memory at the network size (``n_clips * T * H * W * 3``
    bytes, e.g. 1.2 GB for 2,000 clips of 16 frames at 112 x 112). Prediction streams in
    batches. A clip's score is its logit; :meth:`predict_videos` aggregates the clips of each
    video (the ``video`` of a :class:`Clip`, else the ``videos`` given, else each clip alone).

    References
    ----------
    .. [1] D. Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition",
       CVPR 2018, arXiv:1711.11248 (R3D, MC3, R(2+1)D).
    .. [2] S. Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018, arXiv:1712.04851 (S3D).
    .. [3] Y. Li et al., "MViTv2", CVPR 2022, arXiv:2112.01526; Z. Liu et al., "Video Swin
       Transformer", CVPR 2022, arXiv:2106.13230.
    .. [4] G. Bertasius et al., "Is Space-Time Attention All You Need for Video Understanding?",
       ICML 2021, arXiv:2102.05095 (TimeSformer); A. Arnab et al., "ViViT", ICCV 2021,
       arXiv:2103.15691.
    .. [5] D. Güera and E. J. Delp, "Deepfake Video Detection Using Recurrent Neural Networks",
       AVSS 2018, doi:10.1109/AVSS.2018.8639163 (CNN + recurrent head).

    Examples
    --------
    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch"); _ = pytest.importorskip("timm")
    >>> from forensics.deep import VideoClassifier, make_motion_clips
    >>> X, y = make_motion_clips(16, n_frames=4, size=32)
    >>> clf = VideoClassifier(model_name="test_efficientnet", temporal="gru", temporal_hidden=8, n_frames=4,
    ...                       input_size=32, epochs=1, batch_size=8, validation_fraction=None).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> clipped = VideoClassifier(model_name="test_efficientnet", temporal_hidden=8, n_frames=4, input_size=32,
    ...                           epochs=1, validation_fraction=None, max_grad_norm=1.0).fit(X, y)
    >>> clipped.max_grad_norm
    1.0
    """

    _param_rules = {
        "temporal": Options(TEMPORAL_HEADS),
        "temporal_hidden": Interval(int, 1, None),
        "temporal_layers": Interval(int, 1, None),
        "n_frames": Interval(int, 1, None),
        "frozen_epochs": Interval(int, 0, None),
        "epochs": Interval(int, 1, None),
        "batch_size": Interval(int, 1, None),
        "lr_head": Interval(float, 0.0, None),
        "lr_backbone": Interval(float, 0.0, None),
        "weight_decay": Interval(float, 0.0, None),
        "label_smoothing": Interval(float, 0.0, 0.5),
        "head": Options(HEADS),
        "head_hidden": Interval(int, 1, None),
        "head_dropout": Interval(float, 0.0, 1.0),
        "aggregate": Options(AGGREGATIONS),
        "patience": Interval(int, 1, None),
        **TRAINING_PARAMS,
    }

    def __init__(self, *, model_name="r3d_18", weights=None, backbone_kwargs=None, temporal="gru", temporal_hidden=256,
                 temporal_layers=1, n_frames=16, input_size=112, frozen_epochs=0, epochs=10, batch_size=8,
                 lr_head=1e-3, lr_backbone=1e-3, weight_decay=1e-4, max_grad_norm=None, label_smoothing=0.0,
                 class_weight="balanced",
                 augment=False, head="linear", head_hidden=256, head_dropout=0.0, aggregate="mean",
                 validation_fraction=0.15, patience=3, device="auto", random_state=0, loss="bce", focal_gamma=2.0,
                 scheduler="cosine", warmup_epochs=0.0, sampler="random", accumulate=1, checkpoint_dir=None,
                 checkpoint_every=1, resume=None, callbacks=None, amp=False, compile=False, verbose=False):
        self.model_name = model_name
        self.weights = weights
        self.backbone_kwargs = backbone_kwargs
        self.temporal = temporal
        self.temporal_hidden = temporal_hidden
        self.temporal_layers = temporal_layers
        self.n_frames = n_frames
        self.input_size = input_size
        self.frozen_epochs = frozen_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_head = lr_head
        self.lr_backbone = lr_backbone
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.augment = augment
        self.head = head
        self.head_hidden = head_hidden
        self.head_dropout = head_dropout
        self.aggregate = aggregate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.scheduler = scheduler
        self.warmup_epochs = warmup_epochs
        self.sampler = sampler
        self.accumulate = accumulate
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.callbacks = callbacks
        self.amp = amp
        self.compile = compile
        self.verbose = verbose

    # -- parameters -------------------------------------------------------------------------------------
    def _size(self):
        s = self.input_size
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            s = (s, s)
        if (not isinstance(s, (tuple, list)) or len(s) != 2
                or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 8 for v in s)):
            raise ValueError(f"input_size must be an int >= 8 or a pair (H, W) of ints >= 8, got {self.input_size!r}")
        return int(s[0]), int(s[1])

    def _check_params(self):
        if not isinstance(self.model_name, str) or not self.model_name:
            raise TypeError(f"model_name must be a non-empty str, got {self.model_name!r}")
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        for name in ("lr_head", "lr_backbone"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.label_smoothing >= 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing!r}")
        if self.head_dropout >= 1:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout!r}")
        if self.frozen_epochs > self.epochs:
            raise ValueError(f"frozen_epochs ({self.frozen_epochs}) must not exceed epochs ({self.epochs})")
        w = self.weights
        if not (w is None or isinstance(w, (str, os.PathLike))):
            raise TypeError(f"weights must be None, a name or a file path, got {w!r}")
        if self.backbone_kwargs is not None and not isinstance(self.backbone_kwargs, dict):
            raise TypeError(f"backbone_kwargs must be a dict or None, got {self.backbone_kwargs!r}")
        if self.validation_fraction is not None:
            Interval(float, 0.0, 1.0).check("validation_fraction", self.validation_fraction)
            if not 0 < self.validation_fraction < 1:
                raise ValueError(f"validation_fraction must be in (0, 1) or None, got {self.validation_fraction!r}")
        if not (isinstance(self.augment, bool) or isinstance(self.augment, dict)):
            raise TypeError(f"augment must be a bool or a dict of augment_image arguments, got {self.augment!r}")
        if isinstance(self.augment, dict):
            unknown = set(self.augment) - set(_AUGMENT_KEYS)
            if unknown:
                raise ValueError(f"augment has unknown keys {sorted(unknown)}; allowed: {list(_AUGMENT_KEYS)}")
            try:
                augment_clip(np.zeros((1, 16, 16, 3), np.uint8), np.random.default_rng(0), **self.augment)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"augment has an invalid value: {exc}") from exc
        if not (isinstance(self.device, str) or type(self.device).__name__ == "device"):
            raise TypeError(f"device must be 'auto' or a torch device string, got {self.device!r}")
        if self.random_state is not None:
            Interval(int, 0, 2**32 - 1).check("random_state", self.random_state)
        check_training_params(self)
        self._size()

    def _needs_timm(self):
        return _kind(self.model_name) == "timm"

    # -- the network ------------------------------------------------------------------------------------
    @property
    def model_(self):
        """The trained network (rebuilt from the pickled weights on first use after unpickling)."""
        net = self.__dict__.get("_net")
        if net is None:
            blob = self.__dict__.get("_weights")
            if blob is None:
                raise AttributeError(f"{type(self).__name__} is not fitted: model_ exists after fit")
            torch = import_torch(type(self).__name__, timm=self._needs_timm())
            params = dict(self.get_params(deep=False), weights=None)
            net, _ = _build(torch, params, self.n_frames, self._size(), self.__dict__.get("backbone_config_"))
            net = load_state_bytes(torch, net, blob).eval()
            self.__dict__["_net"] = net
        return net

    def __sklearn_is_fitted__(self):
        return "classes_" in self.__dict__

    def __getstate__(self):
        state = dict(super().__getstate__())
        net = state.pop("_net", None)
        if net is not None:
            state["_weights"] = state_to_bytes(import_torch(type(self).__name__), net)
        return state

    # -- fit ------------------------------------------------------------------------------------------------
    def _videos_of(self, X, videos):
        if videos is not None:
            videos = np.asarray(videos, dtype=object)
            if videos.shape != (len(X),):
                raise ValueError(f"videos must give one id per clip: {len(X)} clips, got shape {videos.shape}")
            return videos
        return np.array([x.video if isinstance(x, Clip) else (os.fspath(x) if isinstance(x, (str, os.PathLike))
                                                              else i) for i, x in enumerate(X)], dtype=object)

    def _split(self, vids, y01):
        """Stratified validation split of the videos; all clips of a video on one side."""
        codes, uniques = pd.factorize(pd.Series(vids, dtype=object))
        per_video = np.full(len(uniques), -1)
        for c, label in zip(codes, y01):
            if per_video[c] not in (-1, label):
                raise ValueError(f"video {uniques[c]!r} has clips with both labels")
            per_video[c] = label
        train_v, val_v = _validation_split(self, np.arange(len(uniques)), per_video)[:2]
        val = np.isin(codes, val_v)
        return np.flatnonzero(~val), np.flatnonzero(val)

    def fit(self, X, y, videos=None):
        """Train on clips ``X`` with labels ``y`` (fake = 1, real = 0).

        Parameters
        ----------
        X : sequence of clips
            Arrays (T, H, W, 3), :class:`Clip` objects or video paths.
        y : array-like of shape (n_clips,)
        videos : array-like of shape (n_clips,), optional
            The video of each clip (for the validation split and :meth:`predict_videos`);
            default: a Clip's ``video``, a path itself, else each clip its own video.

        Returns
        -------
        self
        """
        t0 = time.perf_counter()
        self._check_params()
        name = type(self).__name__
        X = _clip_sequence(X, name)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != len(X):
            raise ValueError(f"{name}: y must be 1-D with one label per clip; got shape {y.shape} for {len(X)} clips")
        classes, y01 = _binary_targets(self, y)
        vids = self._videos_of(X, videos)
        torch = import_torch(name, timm=self._needs_timm())
        device = resolve_device(torch, self.device)
        size = self._size()
        clips = [_load_clip(X[i], i, self.n_frames, size) for i in range(len(X))]
        idx_train, idx_val = np.arange(len(X)), None
        if self.validation_fraction is not None:
            idx_train, idx_val = self._split(vids, y01)
        per_class = class_weights(self.class_weight, classes, y01[idx_train])
        policy = None if self.augment is False else ({} if self.augment is True else dict(self.augment))
        rng = np.random.default_rng(self.random_state)
        self.__dict__.pop("_net", None)
        self.__dict__.pop("_weights", None)
        with seeded(torch, rng, device):
            net, config = _build(torch, self.get_params(deep=False), self.n_frames, size)
            net.to(device)
            mean = np.asarray(config["mean"], np.float32)[:, None, None]
            std = np.asarray(config["std"], np.float32)[:, None, None]

            def load_batch(batch, train):
                views = [augment_clip(clips[i], rng, keep_size=True, **policy) if train and policy is not None
                         else clips[i] for i in batch]
                return (torch.from_numpy(_normalise(views, mean, std)),)

            def freeze(frozen):
                def setup(module):
                    for p in module.backbone.parameters():
                        p.requires_grad_(not frozen)
                return setup

            head_params = list(net.temporal.parameters()) + list(net.head.parameters())
            n1 = min(self.frozen_epochs, self.epochs)
            phases = [Phase(1, n1, [("head", head_params, self.lr_head)], setup=freeze(True),
                            train_mode=lambda module: module.backbone.eval()),
                      Phase(2, self.epochs - n1, [("backbone", list(net.backbone.parameters()), self.lr_backbone),
                                                  ("head", head_params, self.lr_head)], setup=freeze(False))]
            try:
                history, best, runtime, resumed = fit_loop(
                    self, torch, net, phases=phases, y01=y01, idx_train=idx_train, idx_val=idx_val,
                    per_class=per_class, load_batch=load_batch, forward=None, rng=rng, device=device,
                    n_items=len(X), smoothing=float(self.label_smoothing),
                    grad_clip=None if self.max_grad_norm is None else float(self.max_grad_norm), desc=name)
            finally:
                for p in net.parameters():
                    p.requires_grad_(True)
        net.eval()
        self.classes_ = classes
        self.data_config_ = config
        if _kind(self.model_name) == "transformers":
            self.backbone_config_ = net.backbone.config.to_dict()
        self.history_ = history
        self.best_epoch_ = best.epoch if idx_val is not None else None
        self.best_score_ = best.key[0] if idx_val is not None and best.epoch is not None else math.nan
        self.n_epochs_ = len(history)
        self.runtime_ = runtime.as_dict()
        self.resumed_from_ = resumed
        train_time = sum(h["train_s"] for h in history)
        self.train_clips_per_s_ = (len(history) * idx_train.size / train_time) if train_time > 0 else math.nan
        self.__dict__["_net"] = net
        self.fit_time_ = time.perf_counter() - t0
        return self

    # -- predict ----------------------------------------------------------------------------------------------
    def decision_function(self, X):
        """Logit of the positive class (``classes_[1]``) per clip, shape (n_clips,)."""
        check_is_fitted(self)
        name = type(self).__name__
        X = _clip_sequence(X, name)
        torch = import_torch(name, timm=self._needs_timm())
        device = resolve_device(torch, self.device)
        net = self.model_.to(device).eval()
        size = self._size()
        mean = np.asarray(self.data_config_["mean"], np.float32)[:, None, None]
        std = np.asarray(self.data_config_["std"], np.float32)[:, None, None]
        use_amp = bool(self.amp) and device.type == "cuda"
        out = []
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                views = [_load_clip(X[i], i, self.n_frames, size) for i in range(start, min(start + self.batch_size,
                                                                                             len(X)))]
                xb = torch.from_numpy(_normalise(views, mean, std)).to(device)
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    z = net(xb)
                out.append(z.float().cpu().numpy().astype(np.float64))
        return np.concatenate(out)

    def predict_proba(self, X):
        """Class probabilities per clip, shape (n_clips, 2), columns in ``classes_`` order."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted label per clip (positive when the logit is > 0)."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def predict_videos(self, X, videos=None):
        """One fake probability per video: the clips' probabilities aggregated by ``aggregate``.

        Parameters
        ----------
        X : sequence of clips
        videos : array-like of shape (n_clips,), optional
            The video of each clip (default: a Clip's ``video``, a path, else each clip alone).

        Returns
        -------
        pandas.Series
            Indexed by video (order of first appearance), named ``"score"``: with the default
            ``aggregate="mean"``, the mean of ``predict_proba(X)[:, 1]`` over the video's clips.
        """
        p = self.predict_proba(X)[:, 1]
        return aggregate_scores(p, self._videos_of(X, videos), how=self.aggregate)

    def export_onnx(self, path, **kwargs):
        """Write the trained network as ONNX: (N, T, 3, H, W) normalised clips -> (N, 1) logits.

        Calls :func:`forensics.embeddings.export_onnx` with the clip shape of ``data_config_``,
        ``opset=17``, dynamic batch, no quantisation, unless ``kwargs`` say otherwise.
        """
        check_is_fitted(self)
        from ..embeddings import export_onnx

        torch = import_torch(type(self).__name__)
        inner = copy.deepcopy(self.model_).cpu().eval()

        class TwoD(torch.nn.Module):  # the exporter expects (N, 1) logits
            def __init__(self):
                super().__init__()
                self.net = inner

            def forward(self, x):
                return self.net(x)[:, None]

        options = dict(input_shape=tuple(self.data_config_["input_size"]), opset=17, dynamic_batch=True,
                       quantize=False)
        options.update(kwargs)
        return export_onnx(TwoD().eval(), path, **options)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = self.random_state is None
        return tags


def _normalise(views, mean, std):
    """uint8 clips (T, H, W, 3) -> float32 (N, T, 3, H, W), ``(x / 255 - mean) / std``."""
    arr = np.stack(views).astype(np.float32).transpose(0, 1, 4, 2, 3) / np.float32(255.0)
    return np.ascontiguousarray((arr - mean) / std)
