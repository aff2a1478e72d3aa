"""A trainable image classifier: a timm backbone (or a small CNN) with a binary head, fine-tuned end to end."""

from __future__ import annotations

import copy
import math
import numbers
import os
import time
from collections import OrderedDict

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..features._base import Interval, Options
from ..heads._xgboost import _binary_targets, _validation_split
from ._augment import augment_image
from ._data import image_sequence, load_uint8, resize, to_batch
from ._torch import (HEADS, class_weights, import_torch, load_state_bytes, make_head, resolve_device, seeded,
                     state_to_bytes)
from ._training import TRAINING_PARAMS, Phase, check_training_params, fit_loop

__all__ = ["BackboneClassifier", "CNN_SMALL"]

#: ``model_name`` of the small convolutional network trained from scratch (no timm needed).
CNN_SMALL = "cnn-small"
_CNN_SMALL_CONFIG = dict(input_size=(3, 128, 128), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                         interpolation="bilinear")
_AUGMENT_KEYS = ("flip", "crop_scale", "jpeg_probability", "jpeg_quality", "color_jitter", "rotation")


def _small_cnn(nn, widths=(32, 64, 128, 256), dropout=0.5):
    """Four conv(3x3)-BN-ReLU-maxpool(2) blocks, global average pooling, dropout, one logit."""
    layers, c = [], 3
    for w in widths:
        layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), nn.Sequential(nn.Dropout(dropout), nn.Linear(c, 1))


def _build_network(torch, model_name, weights, head="linear", head_hidden=256, head_dropout=0.0):
    """``nn.Sequential(backbone=..., head=...)`` mapping (N, 3, H, W) to (N, 1) logits, and the
    data config (input_size, mean, std, interpolation) the backbone expects."""
    nn = torch.nn
    if model_name == CNN_SMALL:
        if weights is not None:
            raise ValueError(f"model_name={CNN_SMALL!r} is trained from scratch: pass weights=None, got {weights!r}")
        backbone, linear = _small_cnn(nn)
        n_features = linear[-1].in_features
        head = linear if head == "linear" and not head_dropout else make_head(nn, n_features, head, head_hidden,
                                                                              head_dropout)
        config = dict(_CNN_SMALL_CONFIG)
    else:
        import timm
        from timm.data import resolve_model_data_config

        if not timm.is_model(model_name):
            raise ValueError(f"unknown model_name {model_name!r}: use {CNN_SMALL!r} or a timm architecture "
                             "(timm.list_models())")
        from ..embeddings._timm import MODEL_DIR_ENV, _weights_file

        kwargs = dict(num_classes=0)
        path = _weights_file(model_name, weights)  # "imagenet" may be found in $FORENSICS_MODEL_DIR
        if weights is None:
            backbone = timm.create_model(model_name, pretrained=False, **kwargs)
        elif path is None:
            from ..embeddings._timm import check_weights_available

            check_weights_available(model_name, weights)  # offline: fail now, not after the hub's retries
            try:
                backbone = timm.create_model(model_name, pretrained=True, **kwargs)
            except Exception as exc:  # hub errors come in many types (OSError, HTTP, hub-specific)
                raise RuntimeError(
                    f"could not get the ImageNet weights of {model_name!r} from the timm hub "
                    f"({type(exc).__name__}: {str(exc)[:200]}). Offline, pass weights='/path/to/{model_name}"
                    f".safetensors' (a local timm checkpoint), put that file in the folder named by "
                    f"${MODEL_DIR_ENV}, or pass weights=None to train from random weights."
                ) from exc
        else:
            if not path.is_file():
                raise FileNotFoundError(f"weights file not found: {os.fspath(weights)!r} (weights must be "
                                        "'imagenet', None or the path of a local timm checkpoint)")
            try:
                backbone = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                                             **kwargs)
            except Exception as exc:
                raise ValueError(f"could not load the weights {str(path)!r} into {model_name!r}: "
                                 f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        head = make_head(nn, backbone.num_features, head, head_hidden, head_dropout)
        cfg = resolve_model_data_config(backbone)
        config = dict(input_size=tuple(cfg["input_size"]), mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                      interpolation=cfg.get("interpolation", "bicubic"))
    return nn.Sequential(OrderedDict(backbone=backbone, head=head)), config


class BackboneClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a pretrained CNN (timm) or train a small CNN as a binary real/fake image classifier.

    ``X`` is a sequence of images (paths, encoded bytes or arrays, read with
    :func:`forensics.media.load_item`); the network sees each image resized to its input size
    and normalised with the backbone's pretrained mean and std. Training follows the usual
    transfer-learning schedule: in **phase 1** (``frozen_epochs``) the backbone is frozen (its
    weights *and* its BatchNorm statistics) and only the new linear head learns; in **phase 2**
    every layer learns, the backbone with the smaller ``lr_backbone``. Each phase has its own
    AdamW optimiser and cosine learning-rate decay (per batch, to 0 at the planned end of the
    phase). Early stopping watches the ROC-AUC on a stratified validation split, and the weights
    of the best epoch are restored at the end.

    Parameters
    ----------
    model_name : str, default="tf_efficientnet_lite0"
        A timm architecture (``timm.list_models()``), or ``"cnn-small"``: four
        conv(3x3)-BN-ReLU-maxpool blocks of 32-64-128-256 channels, global average pooling,
        dropout 0.5 and a linear layer (a MesoNet-sized network, trained from scratch, default
        input 128 x 128, inputs scaled to [-1, 1]).
    weights : "imagenet", str, path or None, default="imagenet"
        ``"imagenet"``: timm's pretrained weights: ``<model_name>.safetensors`` (or ``.pth``) in the
        folder named by the ``FORENSICS_MODEL_DIR`` environment variable when it is there (as for
        :class:`~forensics.embeddings.EmbeddingTransformer`), else the Hugging Face hub (needs
        internet; a RuntimeError says what to do offline). A path: a local timm checkpoint (``.safetensors``/``.pth``)
        loaded through ``pretrained_cfg_overlay=dict(file=path)``. None: random initialisation.
    input_size : int, (int, int) or None, default=None
        Network input (H, W); None uses the backbone's pretrained input size (224 for most).
    frozen_epochs : int >= 0, default=2
        Phase-1 epochs (head only). 0 skips phase 1.
    epochs : int >= 1, default=10
        Total epochs, phase 1 included (so phase 2 has ``epochs - frozen_epochs``).
    batch_size : int >= 1, default=32
    lr_head : float > 0, default=1e-3
        AdamW learning rate of the head (both phases).
    lr_backbone : float > 0, default=1e-4
        AdamW learning rate of the backbone in phase 2.
    weight_decay : float >= 0, default=1e-4
        AdamW decoupled weight decay.
    max_grad_norm : float > 0 or None, default=None
        Gradient clipping: before each optimiser step, the gradients of all the network's
        parameters are rescaled together so that their global L2 norm is at most this value
        (``torch.nn.utils.clip_grad_norm_``; with ``amp``, after unscaling). None: no clipping.
        A clipped step is ``g * min(1, max_grad_norm / ||g||_2)``, so a value above every
        gradient norm changes nothing.
    label_smoothing : float in [0, 0.5), default=0.1
        Binary targets become ``eps / 2`` and ``1 - eps / 2``.
    class_weight : "balanced", dict or None, default="balanced"
        "balanced": fakes weigh ``n_real / n_fake`` in the loss (BCE ``pos_weight``), counted on
        the training rows; a dict maps label -> weight; None: equal weights.
    augment : bool or dict, default=True
        Training augmentation, :func:`forensics.deep.augment_image` (JPEG re-save with
        probability 0.5 at quality 70-95, horizontal flip, grid crop >= 90 % of each side; no
        colour jitter, no blur). A dict sets its arguments (``flip``, ``crop_scale``,
        ``jpeg_probability``, ``jpeg_quality``, and ``color_jitter``, ``rotation``, off by
        default since they can erase forensic traces); False: none.
    head : {"linear", "mlp"}, default="linear"
        "mlp": Linear(n_features, head_hidden) -> BatchNorm -> ReLU -> Dropout(head_dropout) ->
        Linear(head_hidden, 1) instead of one linear layer.
    head_hidden : int >= 1, default=256
    head_dropout : float in [0, 1), default=0.0
        Dropout before the output layer (``"cnn-small"`` keeps its 0.5 with the linear head).
    validation_fraction : float in (0, 1) or None, default=0.15
        Stratified hold-out for early stopping (at least 2 images per class needed). None
        trains on every image for exactly ``epochs`` epochs and keeps the last weights.
    patience : int >= 1, default=3
        Epochs without a better validation AUC (ties: lower validation loss) before the phase
        ends. Ending phase 1 early moves on to phase 2 from the best weights so far.
    device : "auto" or str, default="auto"
        "auto": CUDA when ``torch.cuda.is_available()``, else CPU; or any torch device string.
    random_state : int or None, default=0
        Seeds the weights of the head (and of a random backbone), the shuffling, the augmentation
        and the validation split.
    loss : {"bce", "focal"}, default="bce"
        "bce": the class-weighted binary cross-entropy; "focal": the focal loss of Lin et al.
        (2017), the same times ``(1 - p_t) ** focal_gamma`` (``p_t``: the predicted probability
        of the true class), which weighs down the easy items.
    focal_gamma : float >= 0, default=2.0
    scheduler : {"cosine", "plateau", "constant"}, default="cosine"
        "cosine": the learning rate decays to 0 along a cosine over each phase (stepped at every
        optimiser step); "plateau": ``ReduceLROnPlateau`` halves it when the validation AUC (the
        training loss without validation) has not improved for 2 epochs; "constant".
    warmup_epochs : float >= 0, default=0.0
        Linear warm-up at the start of each training phase (Goyal et al. 2017), which
        Transformers trained from scratch with Adam commonly need: with
        ``n = ceil(warmup_epochs * steps_per_epoch)``, optimiser step ``k = 1..n`` of the phase
        runs at ``k / n`` of the scheduled rate (the schedule itself is unchanged); 0: none.
    sampler : {"random", "balanced"}, default="random"
        "balanced": every batch holds as many real as fake items (the minority class repeats
        within an epoch); use it with ``class_weight=None``, the classes being balanced already.
    accumulate : int >= 1, default=1
        Gradient accumulation: one optimiser step every ``accumulate`` batches, on the mean
        gradient over all their items (an effective batch of ``batch_size * accumulate``).
    checkpoint_dir : str, path or None, default=None
        Where checkpoints go: ``last.pt`` every ``checkpoint_every`` epochs (and at the end of
        each phase), ``best.pt`` at every new best validation AUC. Each holds the network,
        optimiser, scheduler and gradient-scaler states, the epoch, the history, the
        early-stopping state and the NumPy and torch random states
        (:func:`~forensics.deep.load_checkpoint` reads one).
    checkpoint_every : int >= 1, default=1
    resume : None, "auto" or path, default=None
        Continue an interrupted fit: "auto" resumes from ``checkpoint_dir/last.pt`` when it
        exists (else starts afresh), a path names the checkpoint. Parameters and data must be
        those of the interrupted fit (a ValueError names what differs); on CPU the resumed fit
        ends with the same weights as an uninterrupted one.
    callbacks : list of callable or None, default=None
        Each is called as ``f(estimator, row)`` after every epoch, once its checkpoint is
        written (``row``: that epoch's history entry); returning True ends training.
    amp : bool, default=False
        Mixed precision (float16 autocast and gradient scaling) on CUDA; ignored elsewhere
        (``runtime_`` says so).
    compile : bool, default=False
        ``torch.compile`` the network on CUDA; ignored elsewhere; when compiling fails at the
        first batch, training goes on eagerly with a RuntimeWarning.
    verbose : bool, default=False
        A tqdm progress bar per epoch (running loss) and one summary line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Labels; ``classes_[1]`` is the positive class (fake = 1 with 0/1 labels).
    model_ : torch.nn.Sequential
        The trained network, children ``backbone`` and ``head``, (N, 3, H, W) -> (N, 1) logits,
        in eval mode. Rebuilt lazily from the saved weights after unpickling.
    data_config_ : dict
        ``input_size`` (3, H, W), ``mean``, ``std`` and ``interpolation`` of the preprocessing.
    history_ : list of dict
        One per epoch: ``epoch`` (0-based), ``phase``; ``train_loss``, ``train_accuracy``,
        ``train_precision``, ``train_recall``, ``train_f1``, ``train_auc`` (from the training
        batches as they were seen, network in training mode) and the same ``val_*`` on the
        validation split (NaN without it); ``lr`` (head learning rate at the epoch's start)
        and ``lr_head``, ``lr_backbone`` (0 when frozen); ``time_s`` and ``best`` (a new best validation AUC).
        :func:`~forensics.deep.plot_history` draws it.
    runtime_ : dict
        ``device``, ``amp`` and ``compile`` as used, and ``notes`` saying why an option was off.
    resumed_from_ : str or None
        The checkpoint the fit resumed from.
    best_epoch_ : int or None
        0-based epoch whose weights were kept (None without validation).
    best_score_ : float
        Validation ROC-AUC of that epoch (NaN without validation).
    n_epochs_ : int
        Epochs run (early stopping can end phase 1 and phase 2 early).
    device_ : str
        The device used for training.
    fit_time_ : float
        Seconds spent in ``fit``.

    See Also
    --------
    TemporalHead : a recurrent classifier over per-frame embeddings of videos.

    Notes
    -----
    The loss is the class-weighted binary cross-entropy with label smoothing,
    :math:`\\frac{1}{|B|}\\sum_{i \\in B} w_{y_i}\\,\\ell(z_i, (1 - \\varepsilon) y_i + \\varepsilon / 2)`.

    **Why these augmentations.** Detectors learn high-frequency traces (upsampling patterns,
    blending seams, resampling and compression statistics). Colour jitter and blur change
    exactly those, so they are off; crops are taken on the pixel grid and flips are exact, and
    when an image already has the input size the crop is reflect-padded back in place rather
    than resized (no interpolation at all). JPEG re-saving at social-media qualities teaches
    robustness to recompression and removes the "compressed = real" shortcut.

    **Pickling.** Unlike the frozen embedding transformers, whose weights can be reloaded from
    timm, the fine-tuned weights *are* the model: pickling (joblib, skops) keeps them as a
    ``state_dict`` blob (``torch.save`` of tensors, read back with ``weights_only=True``) and
    ``model_`` is rebuilt from it on first use, with no download.

    **Preprocessing.** Each image is decoded to 8-bit RGB and resized with OpenCV
    (``INTER_AREA`` when shrinking, the backbone's interpolation when enlarging; untouched when
    already at the input size), then normalised ``(x / 255 - mean) / std``. Training holds the
    decoded training images in memory (uint8, native size); prediction streams in batches.

    **Determinism and threads.** With a fixed ``random_state``, fitting on CPU is repeatable
    for a given machine and thread count; torch's thread count is left as set by the caller
    (``torch.set_num_threads``), because convolutional backbones, unlike the small MLP head,
    profit from intra-op threads. The global torch RNG state is left untouched. Inference runs
    in float32 (a float64 copy as in :class:`~forensics.heads.MLPHead` would double the cost of
    a CNN), so a score can differ in the last bits with the batch it is computed in.

    ``score`` is scikit-learn's accuracy (the ``ClassifierMixin`` convention, so grid searches
    and ``cross_val_score`` behave as with any classifier); pass ``scoring="roc_auc"`` to rank
    models by AUC.

    References
    ----------
    .. [1] M. Tan and Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
       Networks", ICML 2019, arXiv:1905.11946.
    .. [2] M. Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
       arXiv:1801.04381.
    .. [3] D. Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network",
       WIFS 2018, arXiv:1809.00888.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch")
    >>> from forensics.deep import BackboneClassifier
    >>> rng = np.random.default_rng(0)
    >>> smooth = [np.full((32, 32, 3), rng.integers(60, 200), np.uint8) for _ in range(16)]
    >>> noisy = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(16)]
    >>> clf = BackboneClassifier(model_name="cnn-small", weights=None, input_size=32, frozen_epochs=0,
    ...                          epochs=2, batch_size=16, augment=False, lr_backbone=1e-3)
    >>> clf = clf.fit(smooth + noisy, [0] * 16 + [1] * 16)
    >>> clf.predict_proba(noisy[:2] + smooth[:2]).shape
    (4, 2)
    >>> [h["phase"] for h in clf.history_]
    [2, 2]
    """

    _param_rules = {
        "frozen_epochs": Interval(int, 0, None),
        "epochs": Interval(int, 1, None),
        "batch_size": Interval(int, 1, None),
        "lr_head": Interval(float, 0.0, None),
        "lr_backbone": Interval(float, 0.0, None),
        "weight_decay": Interval(float, 0.0, None),
        "label_smoothing": Interval(float, 0.0, 0.5),
        "patience": Interval(int, 1, None),
        "head": Options(HEADS),
        "head_hidden": Interval(int, 1, None),
        "head_dropout": Interval(float, 0.0, 1.0),
        **TRAINING_PARAMS,
    }

    def __init__(self, *, model_name="tf_efficientnet_lite0", weights="imagenet", input_size=None, frozen_epochs=2,
                 epochs=10, batch_size=32, lr_head=1e-3, lr_backbone=1e-4, weight_decay=1e-4, max_grad_norm=None,
                 label_smoothing=0.1, class_weight="balanced", augment=True, head="linear", head_hidden=256, head_dropout=0.0,
                 validation_fraction=0.15, patience=3, device="auto", random_state=0, loss="bce", focal_gamma=2.0,
                 scheduler="cosine", warmup_epochs=0.0, sampler="random", accumulate=1, checkpoint_dir=None,
                 checkpoint_every=1, resume=None, callbacks=None, amp=False, compile=False, verbose=False):
        self.model_name = model_name
        self.weights = weights
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

    # -- parameters -------------------------------------------------------------------------------
    def _check_params(self):
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        for name in ("lr_head", "lr_backbone"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.label_smoothing >= 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing!r}")
        if self.head_dropout >= 1:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout!r}")
        check_training_params(self)
        if self.frozen_epochs > self.epochs:
            raise ValueError(f"frozen_epochs ({self.frozen_epochs}) must not exceed epochs ({self.epochs}): "
                             "epochs counts both phases")
        if not isinstance(self.model_name, str) or not self.model_name:
            raise TypeError(f"model_name must be a non-empty str, got {self.model_name!r}")
        w = self.weights
        if not (w is None or isinstance(w, (str, os.PathLike))):
            raise TypeError(f"weights must be 'imagenet', a file path or None, got {w!r}")
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
            try:  # bad values fail now, not in the middle of the first epoch
                augment_image(np.zeros((16, 16, 3), np.uint8), np.random.default_rng(0), **self.augment)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"augment has an invalid value: {exc}") from exc
        if not (isinstance(self.device, str) or type(self.device).__name__ == "device"):
            raise TypeError(f"device must be 'auto' or a torch device string, got {self.device!r}")
        if self.random_state is not None:
            Interval(int, 0, 2**32 - 1).check("random_state", self.random_state)
        self._size_from(None)  # validates input_size

    def _size_from(self, config):
        s = self.input_size
        if s is None:
            return None if config is None else tuple(int(v) for v in config["input_size"][-2:])
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            s = (s, s)
        if (not isinstance(s, (tuple, list)) or len(s) != 2
                or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 16 for v in s)):
            raise ValueError(f"input_size must be None, an int >= 16 or a pair (H, W) of ints >= 16, got "
                             f"{self.input_size!r}")
        return int(s[0]), int(s[1])

    # -- the network ------------------------------------------------------------------------------
    @property
    def model_(self):
        """The trained network (rebuilt from the pickled weights on first use after unpickling)."""
        net = self.__dict__.get("_net")
        if net is None:
            blob = self.__dict__.get("_weights")
            if blob is None:
                raise AttributeError(f"{type(self).__name__} is not fitted: model_ exists after fit")
            torch = import_torch(type(self).__name__, timm=self.model_name != CNN_SMALL)
            net, _ = _build_network(torch, self.model_name, None, self.head, self.head_hidden, self.head_dropout)
            net = load_state_bytes(torch, net, blob).eval()
            self.__dict__["_net"] = net
        return net

    def __sklearn_is_fitted__(self):
        return "classes_" in self.__dict__

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        net = state.pop("_net", None)
        if net is not None:  # the weights are the model: keep them (not the module) in the pickle
            state["_weights"] = state_to_bytes(import_torch(type(self).__name__), net)
        return state

    # -- fit ----------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train the network on images ``X`` with binary labels ``y`` (fake = 1, real = 0).

        Parameters
        ----------
        X : sequence of images
            Paths, encoded bytes, or arrays (H, W[, C]); any sizes (each is resized).
        y : array-like of shape (n_images,)

        Returns
        -------
        self
        """
        t0 = time.perf_counter()
        self._check_params()
        name = type(self).__name__
        seq = image_sequence(X, name)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != len(seq):
            raise ValueError(f"{name}: y must be 1-D with one label per image; got shape {y.shape} for "
                             f"{len(seq)} images")
        classes, y01 = _binary_targets(self, y)
        torch = import_torch(name, timm=self.model_name != CNN_SMALL)
        device = resolve_device(torch, self.device)
        images = [load_uint8(seq[i], i) for i in range(len(seq))]
        idx_train, idx_val = np.arange(len(seq)), None
        if self.validation_fraction is not None:
            idx_train, idx_val = _validation_split(self, idx_train, y01)[:2]
            idx_train, idx_val = np.sort(idx_train), np.sort(idx_val)
        per_class = class_weights(self.class_weight, classes, y01[idx_train])
        policy = None if self.augment is False else ({} if self.augment is True else dict(self.augment))
        rng = np.random.default_rng(self.random_state)
        self.__dict__.pop("_net", None)
        self.__dict__.pop("_weights", None)
        with seeded(torch, rng, device):
            net, config = _build_network(torch, self.model_name, self.weights, self.head, self.head_hidden,
                                         self.head_dropout)
            size = self._size_from(config)
            config["input_size"] = (3, *size)
            net.to(device)
            history, best, runtime, resumed = self._train(torch, net, config, device, images, y01, idx_train,
                                                          idx_val, per_class, policy, rng)
        net.eval()
        self.classes_ = classes
        self.data_config_ = config
        self.history_ = history
        self.best_epoch_ = best.epoch if idx_val is not None else None
        self.best_score_ = best.key[0] if idx_val is not None and best.epoch is not None else math.nan
        self.n_epochs_ = len(history)
        self.device_ = str(device)
        self.runtime_ = runtime.as_dict()
        self.resumed_from_ = resumed
        self.__dict__["_net"] = net
        self.fit_time_ = time.perf_counter() - t0
        return self

    def _train(self, torch, net, config, device, images, y01, idx_train, idx_val, per_class, policy, rng):
        """Two phases (head only, then everything) through the shared loop of ``_training``."""
        size = config["input_size"][1:]
        n1 = min(self.frozen_epochs, self.epochs)

        def view(i, train):
            img = images[i]
            if train and policy is not None:
                img = augment_image(img, rng, keep_size=img.shape[:2] == tuple(size), **policy)
            return resize(img, size, config["interpolation"])

        def load_batch(batch, train):
            return (torch.from_numpy(to_batch([view(i, train) for i in batch], config["mean"], config["std"])),)

        def freeze(frozen):
            def setup(module):
                for p in module.backbone.parameters():
                    p.requires_grad_(not frozen)
            return setup

        phases = [
            Phase(1, n1, [("head", list(net.head.parameters()), self.lr_head)], setup=freeze(True),
                  train_mode=lambda module: module.backbone.eval()),  # frozen: BatchNorm statistics stay too
            Phase(2, self.epochs - n1, [("backbone", list(net.backbone.parameters()), self.lr_backbone),
                                        ("head", list(net.head.parameters()), self.lr_head)], setup=freeze(False)),
        ]
        try:
            out = fit_loop(self, torch, net, phases=phases, y01=y01, idx_train=idx_train, idx_val=idx_val,
                           per_class=per_class, load_batch=load_batch, forward=lambda f, x: f(*x).squeeze(1),
                           rng=rng, device=device, n_items=len(images), smoothing=float(self.label_smoothing),
                           grad_clip=None if self.max_grad_norm is None else float(self.max_grad_norm),
                           desc=type(self).__name__)
        finally:
            for p in net.parameters():
                p.requires_grad_(True)
        return out

    # -- predict ----------------------------------------------------------------------------------------
    def _logits(self, torch, net, views, config, device, use_amp):
        """Logits (float64) of already resized uint8 images, in batches."""
        net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(views), self.batch_size):
                xb = torch.from_numpy(to_batch(views[start:start + self.batch_size], config["mean"], config["std"]))
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    logits = net(xb.to(device)).squeeze(1)
                out.append(logits.float().cpu().numpy().astype(np.float64))
        return np.concatenate(out) if out else np.empty(0)

    def decision_function(self, X):
        """Logit of the positive class (``classes_[1]``) per image, shape (n_images,)."""
        check_is_fitted(self)
        name = type(self).__name__
        seq = image_sequence(X, name)
        torch = import_torch(name, timm=self.model_name != CNN_SMALL)
        device = resolve_device(torch, self.device)
        net = self.model_.to(device)
        config = self.data_config_
        size = config["input_size"][1:]
        use_amp = bool(self.amp) and device.type == "cuda"
        out = []
        for start in range(0, len(seq), self.batch_size):
            views = [resize(load_uint8(seq[i], i), size, config["interpolation"])
                     for i in range(start, min(start + self.batch_size, len(seq)))]
            out.append(self._logits(torch, net, views, config, device, use_amp))
        return np.concatenate(out)

    def predict_proba(self, X):
        """Class probabilities, shape (n_images, 2), columns in ``classes_`` order."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted labels (positive when the logit is > 0, i.e. probability > 0.5)."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    # -- export -----------------------------------------------------------------------------------------
    def export_onnx(self, path, **kwargs):
        """Write the trained network as an ONNX graph: (N, 3, H, W) normalised images -> (N, 1) logits.

        Calls :func:`forensics.embeddings.export_onnx` with ``input_shape=(3, H, W)`` from
        ``data_config_``, ``opset=17``, ``dynamic_batch=True`` and ``quantize=False`` unless
        overridden in ``kwargs``. The graph does not include the preprocessing: resize to
        ``data_config_["input_size"]`` and normalise with its ``mean`` and ``std`` first.

        Parameters
        ----------
        path : str or Path
        **kwargs
            Passed to :func:`forensics.embeddings.export_onnx`.

        Returns
        -------
        What :func:`forensics.embeddings.export_onnx` returns (the written path).
        """
        check_is_fitted(self)
        from ..embeddings import export_onnx

        module = copy.deepcopy(self.model_).cpu().eval()
        options = dict(input_shape=tuple(self.data_config_["input_size"]), opset=17, dynamic_batch=True,
                       quantize=False)
        options.update(kwargs)
        return export_onnx(module, path, **options)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = self.random_state is None
        return tags
