"""A recurrent classifier over sequences of per-frame embeddings (one sequence per video)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..features._base import Interval, Options
from ..heads._mlp import _one_torch_thread
from ..heads._xgboost import _binary_targets, _validation_split
from ..media import ItemError
from ._torch import class_weights, import_torch, load_state_bytes, resolve_device, seeded, state_to_bytes
from ._training import TRAINING_PARAMS, Phase, check_training_params, fit_loop

__all__ = ["TemporalHead", "sequences_from_frames"]


def sequences_from_frames(features, meta, *, n_frames=16, videos=None):
    """Per-video sequences of frame features, from :meth:`VideoFeatures.transform_frames` output.

    Parameters
    ----------
    features : ndarray of shape (n_rows, n_features)
        One row per frame (or face) crop.
    meta : pandas.DataFrame
        Per row at least ``video`` and ``frame_index``. With a ``track_id`` column (the face
        track, i.e. the person), one person per video: the track with rows in the most frames
        (the lowest id on a tie), so a sequence never switches between people; rows of other
        tracks are dropped, and a frame where that person has no row keeps its faceless row
        (``track_id`` -1) if it has one. Within what is left, the first face of each frame is
        kept (lowest ``face_index``, the largest face as :class:`~forensics.media.FaceCropper`
        ranks them; -1 for a whole-frame row).
    n_frames : int or None, default=16
        Longest sequence: a video with more frames keeps ``n_frames`` of them evenly spaced in
        time (first and last included). None keeps every frame. Shorter videos stay shorter
        (:class:`TemporalHead` takes ragged sequences).
    videos : sequence of int, optional
        The video positions to return, in this order, e.g. ``range(len(paths))`` to align with
        the labels of the videos passed to ``transform_frames``. A listed video without any row
        (unreadable, or no face with ``no_face="skip"``) raises a ValueError naming it, instead
        of silently shifting the labels. Default: every video of ``meta``, in increasing order.

    Returns
    -------
    list of ndarray, each (T_v, n_features)
        Rows in increasing ``frame_index`` order.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> meta = pd.DataFrame({"video": [1, 0, 0, 1, 0], "frame_index": [5, 9, 0, 2, 4]})
    >>> feats = np.arange(5.0)[:, None]
    >>> [s.ravel().tolist() for s in sequences_from_frames(feats, meta)]
    [[2.0, 4.0, 1.0], [3.0, 0.0]]
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D array (n_rows, n_features), got shape {features.shape}")
    if not isinstance(meta, pd.DataFrame) or not {"video", "frame_index"} <= set(meta.columns):
        raise ValueError("meta must be a DataFrame with columns 'video' and 'frame_index' (transform_frames output)")
    if len(meta) != features.shape[0]:
        raise ValueError(f"meta has {len(meta)} rows but features has {features.shape[0]}")
    if n_frames is not None:
        Interval(int, 1, None).check("n_frames", n_frames)
    table = pd.DataFrame({"row": np.arange(len(meta)), "video": meta["video"].to_numpy(),
                          "frame": meta["frame_index"].to_numpy(),
                          "face": meta["face_index"].to_numpy() if "face_index" in meta else 0,
                          "track": meta["track_id"].to_numpy() if "track_id" in meta else -1})
    # one person per video: the track seen in the most frames (lowest id on a tie); rows of other
    # tracks are dropped, rows without a face (track -1) are kept where the person has no row
    tracked = table[table["track"] >= 0].drop_duplicates(["video", "frame", "track"])
    counts = tracked.groupby(["video", "track"]).size().reset_index(name="n")
    main = counts.sort_values(["video", "n", "track"], ascending=[True, False, True]).drop_duplicates("video")
    table["main"] = table["video"].map(dict(zip(main["video"], main["track"]))).fillna(-1).astype(int)
    table = table[(table["track"] == table["main"]) | (table["track"] < 0)]
    table = table.assign(other=(table["track"] < 0) & (table["main"] >= 0))
    table = table.sort_values(["video", "frame", "other", "face", "row"], kind="stable")
    table = table.drop_duplicates(["video", "frame"], keep="first")  # one row per frame
    groups = {v: g["row"].to_numpy() for v, g in table.groupby("video", sort=True)}
    order = sorted(groups) if videos is None else list(videos)
    missing = [v for v in order if v not in groups]
    if missing:
        raise ValueError(f"videos {missing[:10]} have no frame rows (unreadable, or no face found with "
                         "no_face='skip'); drop them (and their labels) or use no_face='frame'")
    out = []
    for v in order:
        rows = groups[v]
        if n_frames is not None and rows.size > n_frames:
            rows = rows[np.unique(np.round(np.linspace(0, rows.size - 1, n_frames)).astype(int))]
        out.append(np.ascontiguousarray(features[rows]))
    return out


def _check_sequences(X, name, n_features=None):
    """X -> list of float64 (T_i, F) arrays; errors name the offending sequence."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 3:
            raise ValueError(f"{name}: X must be a 3-D array (n_videos, n_frames, n_features) or a list of 2-D "
                             f"(n_frames, n_features) arrays, got an array of shape {X.shape}")
        seqs = list(X)
    elif isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        raise TypeError(f"{name}: X must be a 3-D array or a list of 2-D arrays, got {type(X).__name__}")
    else:
        seqs = list(X)
    if not seqs:
        raise ValueError(f"{name}: X is empty; pass at least one sequence")
    out = []
    for i, s in enumerate(seqs):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ItemError(i, None, f"sequence is not numeric ({exc})") from None
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ItemError(i, None, f"expected a 2-D (n_frames >= 1, n_features >= 1) sequence, got shape {a.shape}")
        if n_features is None:
            n_features = a.shape[1]
        if a.shape[1] != n_features:
            raise ItemError(i, None, f"sequence has {a.shape[1]} features, expected {n_features}")
        if not np.all(np.isfinite(a)):
            raise ItemError(i, None, "sequence contains NaN or infinite values (impute or drop those frames)")
        out.append(a)
    return out


def _pad(torch, seqs, dtype):
    """Zero-padded (N, T_max, F) tensor and the lengths (N,)."""
    lengths = np.array([s.shape[0] for s in seqs])
    out = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]))
    for k, s in enumerate(seqs):
        out[k, :s.shape[0]] = s
    return torch.as_tensor(out, dtype=dtype), torch.as_tensor(lengths, dtype=torch.int64)


def _make_net(torch, cell, n_features, hidden_size, num_layers, bidirectional, dropout):
    nn = torch.nn

    class SequenceNet(nn.Module):
        """RNN over the packed sequences; the last hidden state of each direction -> dropout -> logit."""

        def __init__(self):
            super().__init__()
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                           bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
            self.dropout = nn.Dropout(dropout)
            self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), 1)

        def forward(self, x, lengths):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, h = self.rnn(packed)
            h = h[0] if isinstance(h, tuple) else h  # LSTM: (h_n, c_n)
            n_dir = 2 if bidirectional else 1
            last = h.view(num_layers, n_dir, h.shape[1], hidden_size)[-1]  # top layer: (n_dir, N, H)
            last = last.permute(1, 0, 2).reshape(h.shape[1], n_dir * hidden_size)
            return self.out(self.dropout(last)).squeeze(1)

    return SequenceNet()


class TemporalHead(ClassifierMixin, BaseEstimator):
    """Binary classifier over sequences of per-frame features: (bi)LSTM or GRU, then a linear logit.

    Each video is a sequence of frame embeddings (e.g. a CNN's pooled features of its face
    crops). The features are standardised (mean and standard deviation over the training
    frames), the sequences are zero-padded and packed (so padding never enters the recurrence),
    and the final hidden state of each direction of the top layer goes through dropout to one
    logit. Training: AdamW, class-weighted binary cross-entropy, gradient norm clipped at 1,
    early stopping on the ROC-AUC of a stratified validation split, best weights restored.

    Parameters
    ----------
    cell : {"lstm", "gru"}, default="lstm"
    hidden_size : int >= 1, default=128
    num_layers : int >= 1, default=1
    bidirectional : bool, default=True
    dropout : float in [0, 1), default=0.2
        Before the output layer (and between stacked layers when ``num_layers > 1``).
    epochs : int >= 1, default=30
    batch_size : int >= 1, default=16
    lr : float > 0, default=1e-3
    weight_decay : float >= 0, default=1e-4
    max_grad_norm : float > 0 or None, default=1.0
        Gradient clipping (``torch.nn.utils.clip_grad_norm_`` of all the parameters' gradients
        together, before each optimiser step; with ``amp``, after unscaling): recurrent networks
        are prone to exploding gradients (Pascanu, Mikolov & Bengio, ICML 2013), hence a bound by
        default. None: no clipping.
    class_weight : "balanced", dict or None, default="balanced"
        "balanced": fakes weigh ``n_real / n_fake`` (counted on the training videos).
    validation_fraction : float in (0, 1) or None, default=0.15
        Stratified hold-out of videos for early stopping; None: exactly ``epochs`` on all videos.
    patience : int >= 1, default=5
        Epochs without a better validation AUC (ties: lower validation loss) before stopping.
    device : "auto" or str, default="auto"
        "auto": CUDA when available, else CPU.
    random_state : int or None, default=0
    loss : {"bce", "focal"}, default="bce"
        "bce": the class-weighted binary cross-entropy; "focal": the focal loss of Lin et al.
        (2017), the same times ``(1 - p_t) ** focal_gamma`` (``p_t``: the predicted probability
        of the true class), which weighs down the easy items.
    focal_gamma : float >= 0, default=2.0
    scheduler : {"cosine", "plateau", "constant"}, default="constant"
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
    model_ : torch.nn.Module
        ``forward(x, lengths)`` -> logits; trained on standardised features (``mean_``, ``scale_``).
    mean_, scale_ : ndarray of shape (n_features,)
        The standardisation (``scale_`` is 1 for constant features).
    n_features_in_ : int
    history_ : list of dict
        One per epoch: ``epoch`` (0-based), ``phase``; ``train_loss``, ``train_accuracy``,
        ``train_precision``, ``train_recall``, ``train_f1``, ``train_auc`` (from the training
        batches as they were seen, network in training mode) and the same ``val_*`` on the
        validation split (NaN without it); ``lr`` (at the epoch's start)
        ``time_s`` and ``best`` (a new best validation AUC).
        :func:`~forensics.deep.plot_history` draws it.
    runtime_ : dict
        ``device``, ``amp`` and ``compile`` as used, and ``notes`` saying why an option was off.
    resumed_from_ : str or None
        The checkpoint the fit resumed from.
    best_epoch_ : int or None
    best_score_ : float
        Validation AUC of the kept epoch (NaN without validation).
    n_epochs_ : int

    Notes
    -----
    Input: a 3-D array (n_videos, n_frames, n_features), or a list of 2-D arrays of ragged
    lengths (:func:`sequences_from_frames` builds it from frame rows). Torch runs single-threaded
    (as :class:`~forensics.heads.MLPHead`: the network is small), and prediction uses a float64
    copy of the network, so a video's score does not depend on the other videos in the call.
    Pickling keeps the trained weights as a ``state_dict`` blob (the weights are the model).

    References
    ----------
    .. [1] D. Güera and E. J. Delp, "Deepfake Video Detection Using Recurrent Neural Networks",
       AVSS 2018, doi:10.1109/AVSS.2018.8639163.
    .. [2] S. Hochreiter and J. Schmidhuber, "Long Short-Term Memory", Neural Computation 9(8),
       1997, doi:10.1162/neco.1997.9.8.1735.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch")
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 8, 3))
    >>> y = np.repeat([0, 1], 20)
    >>> X[y == 1, :, 0] += 2.0
    >>> head = TemporalHead(hidden_size=8, lr=1e-2, epochs=20, validation_fraction=None).fit(X, y)
    >>> float((head.predict(X) == y).mean()) > 0.9
    True
    """

    _param_rules = {
        "cell": Options(("lstm", "gru")),
        "hidden_size": Interval(int, 1, None),
        "num_layers": Interval(int, 1, None),
        "bidirectional": Options((True, False)),
        "dropout": Interval(float, 0.0, 1.0),
        "epochs": Interval(int, 1, None),
        "batch_size": Interval(int, 1, None),
        "lr": Interval(float, 0.0, None),
        "weight_decay": Interval(float, 0.0, None),
        "patience": Interval(int, 1, None),
        **TRAINING_PARAMS,
    }

    def __init__(self, *, cell="lstm", hidden_size=128, num_layers=1, bidirectional=True, dropout=0.2, epochs=30,
                 batch_size=16, lr=1e-3, weight_decay=1e-4, max_grad_norm=1.0, class_weight="balanced",
                 validation_fraction=0.15,
                 patience=5, device="auto", random_state=0, loss="bce", focal_gamma=2.0, scheduler="constant",
                 warmup_epochs=0.0, sampler="random", accumulate=1, checkpoint_dir=None, checkpoint_every=1,
                 resume=None, callbacks=None, amp=False, compile=False, verbose=False):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.class_weight = class_weight
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

    def _check_params(self):
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        if self.dropout >= 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.validation_fraction is not None:
            Interval(float, 0.0, 1.0).check("validation_fraction", self.validation_fraction)
            if not 0 < self.validation_fraction < 1:
                raise ValueError(f"validation_fraction must be in (0, 1) or None, got {self.validation_fraction!r}")
        if not (isinstance(self.device, str) or type(self.device).__name__ == "device"):
            raise TypeError(f"device must be 'auto' or a torch device string, got {self.device!r}")
        if self.random_state is not None:
            Interval(int, 0, 2**32 - 1).check("random_state", self.random_state)
        check_training_params(self)

    def _net(self, torch):
        return _make_net(torch, self.cell, self.n_features_in_, self.hidden_size, self.num_layers,
                         self.bidirectional, self.dropout)

    # -- weights: kept as a blob when pickled ---------------------------------------------------------
    @property
    def model_(self):
        """The trained network (rebuilt from the pickled weights on first use after unpickling)."""
        net = self.__dict__.get("_model")
        if net is None:
            blob = self.__dict__.get("_weights")
            if blob is None:
                raise AttributeError(f"{type(self).__name__} is not fitted: model_ exists after fit")
            torch = import_torch(type(self).__name__)
            net = load_state_bytes(torch, self._net(torch), blob).eval()
            self.__dict__["_model"] = net
        return net

    def __sklearn_is_fitted__(self):
        return "classes_" in self.__dict__

    def __getstate__(self):
        state = dict(super().__getstate__())
        net = state.pop("_model", None)
        if net is not None:
            state["_weights"] = state_to_bytes(import_torch(type(self).__name__), net)
        return state

    # -- fit --------------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train on sequences ``X`` with binary labels ``y`` (fake = 1, real = 0).

        Parameters
        ----------
        X : ndarray (n_videos, n_frames, n_features) or list of ndarray (n_frames_i, n_features)
        y : array-like of shape (n_videos,)

        Returns
        -------
        self
        """
        self._check_params()
        name = type(self).__name__
        seqs = _check_sequences(X, name)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != len(seqs):
            raise ValueError(f"{name}: y must be 1-D with one label per sequence; got shape {y.shape} for "
                             f"{len(seqs)} sequences")
        classes, y01 = _binary_targets(self, y)
        torch = import_torch(name)
        device = resolve_device(torch, self.device)
        idx_train, idx_val = np.arange(len(seqs)), None
        if self.validation_fraction is not None:
            idx_train, idx_val = (np.sort(a) for a in _validation_split(self, idx_train, y01)[:2])
        frames = np.concatenate([seqs[i] for i in idx_train])
        mean, scale = frames.mean(0), frames.std(0)
        scale[scale < 1e-12] = 1.0
        seqs = [(s - mean) / scale for s in seqs]
        per_class = class_weights(self.class_weight, classes, y01[idx_train])
        self.n_features_in_ = seqs[0].shape[1]
        rng = np.random.default_rng(self.random_state)
        self.__dict__.pop("_model", None)
        self.__dict__.pop("_weights", None)

        def load_batch(batch, train):
            return _pad(torch, [seqs[i] for i in batch], torch.float32)

        with seeded(torch, rng, device), _one_torch_thread(torch):
            net = self._net(torch).to(device)
            phases = [Phase(1, self.epochs, [("all", list(net.parameters()), self.lr)])]
            history, best, runtime, resumed = fit_loop(
                self, torch, net, phases=phases, y01=y01, idx_train=idx_train, idx_val=idx_val, per_class=per_class,
                load_batch=load_batch, forward=None, rng=rng, device=device, n_items=len(seqs),
                grad_clip=None if self.max_grad_norm is None else float(self.max_grad_norm),
                desc=name)
        net.eval()
        self.classes_ = classes
        self.mean_, self.scale_ = mean, scale
        self.history_ = history
        self.best_epoch_ = best.epoch if idx_val is not None else None
        self.best_score_ = best.key[0] if idx_val is not None and best.epoch is not None else math.nan
        self.n_epochs_ = len(history)
        self.runtime_ = runtime.as_dict()
        self.resumed_from_ = resumed
        self.__dict__["_model"] = net
        return self

    # -- predict ----------------------------------------------------------------------------------------
    def decision_function(self, X):
        """Logit of the positive class (``classes_[1]``) per sequence, shape (n_videos,)."""
        check_is_fitted(self)
        seqs = _check_sequences(X, type(self).__name__, n_features=self.n_features_in_)
        torch = import_torch(type(self).__name__)
        net = copy.deepcopy(self.model_).cpu().double().eval()  # float64: see Notes
        out = []
        with torch.no_grad(), _one_torch_thread(torch):
            for start in range(0, len(seqs), max(self.batch_size, 64)):
                chunk = [(s - self.mean_) / self.scale_ for s in seqs[start:start + max(self.batch_size, 64)]]
                x, lengths = _pad(torch, chunk, torch.float64)
                out.append(net(x, lengths).numpy())
        return np.concatenate(out)

    def predict_proba(self, X):
        """Class probabilities, shape (n_videos, 2), columns in ``classes_`` order."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted labels (positive when the logit is > 0)."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = self.random_state is None
        return tags

