"""Small multilayer-perceptron head: PyTorch when installed, scikit-learn's MLPClassifier otherwise."""

from __future__ import annotations

import contextlib
import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted, validate_data

from ..features._base import Interval, Options
from ._xgboost import _binary_targets, _validation_split

__all__ = ["MLPHead"]

_MISSING_TORCH = (
    "MLPHead(backend='torch') needs PyTorch: pip install \"scikit-forensics[torch]\" "
    "(or use backend='sklearn', which has no dropout or batch norm)."
)


def _import_torch(required):
    try:
        import torch
    except ImportError as exc:
        if required:
            raise ImportError(_MISSING_TORCH) from exc
        return None
    return torch


@contextlib.contextmanager
def _one_torch_thread(torch):
    """Run torch single-threaded, then restore the caller's setting: for networks this small the
    intra-op threads cost more than they give (and spin badly on a busy machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _build_torch_net(torch, n_in, hidden, dropout, batch_norm):
    """Linear -> [BatchNorm] -> ReLU -> [Dropout] blocks, then one output logit."""
    nn = torch.nn
    layers, width = [], n_in
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _sklearn_logits(model, X):
    """Pre-sigmoid output of a binary relu MLPClassifier, from its public coefs_/intercepts_."""
    layers = list(zip(model.coefs_, model.intercepts_))
    a = X
    for W, b in layers[:-1]:
        a = np.maximum(a @ W + b, 0.0)
    W, b = layers[-1]
    return (a @ W + b).ravel()


def _batches(order, batch_size, no_singletons):
    """Split a permutation into batches; a trailing batch of one joins the previous one
    (BatchNorm cannot normalise a single row in training mode)."""
    batches = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    if no_singletons and len(batches) > 1 and batches[-1].size == 1:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


class MLPHead(ClassifierMixin, BaseEstimator):
    """Binary multilayer-perceptron head on the feature table.

    With PyTorch (``backend="torch"``): blocks of Linear -> BatchNorm -> ReLU -> Dropout, one
    output logit, AdamW, class-weighted binary cross-entropy, and early stopping on the
    validation loss with the best weights restored. Without it (``backend="sklearn"``):
    :class:`sklearn.neural_network.MLPClassifier` with the same layer sizes, which has **no
    dropout and no batch norm** (``dropout`` and ``batch_norm`` are then ignored).

    Inputs must be finite: NaN raises scikit-learn's error, so impute (and scale) first in the
    Pipeline, e.g. ``SimpleImputer`` then ``StandardScaler``.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(128, 64)
        Width of each hidden layer.
    dropout : float in [0, 1), default=0.2
        Dropout probability after each hidden block (torch only).
    batch_norm : bool, default=True
        BatchNorm1d after each hidden Linear layer (torch only).
    alpha : float >= 0, default=1e-4
        L2 strength: AdamW ``weight_decay`` (torch) or MLPClassifier ``alpha`` (sklearn). The two
        scale differently (decoupled decay vs a penalty divided by the number of rows).
    learning_rate : float > 0, default=1e-3
        Adam(W) step size.
    batch_size : int >= 1, default=64
        Rows per minibatch (clipped to the number of training rows).
    max_epochs : int >= 1, default=200
        Passes over the training rows at most.
    early_stopping : bool, default=True
        Hold out a stratified ``validation_fraction`` (at least 2 rows), stop after ``patience``
        epochs without a lower class-weighted validation loss, and restore the weights of the best
        epoch. The same rule in both backends (sklearn is trained one epoch per ``partial_fit``).
        Without it, exactly ``max_epochs`` epochs on all rows.
    validation_fraction : float in (0, 1), default=0.1
        Held-out share for early stopping.
    patience : int >= 1, default=10
        Epochs without improvement before stopping.
    class_weight : "balanced", dict or None, default="balanced"
        Per-class loss weights. "balanced": ``n_samples / (2 n_class)``; a dict maps label ->
        weight; None: all 1. Applied as per-row weights in both backends.
    backend : {"auto", "torch", "sklearn"}, default="auto"
        "auto" picks torch when it can be imported, else sklearn. "torch" raises an ImportError
        naming the extra to install when PyTorch is missing.
    random_state : int or None, default=0
        Seed of the weight initialisation, the shuffling and the validation split.

    Attributes
    ----------
    backend_ : {"torch", "sklearn"}
        The backend actually used.
    model_ : torch.nn.Sequential or sklearn.neural_network.MLPClassifier
        The fitted network (torch: float32, in eval mode, on CPU), trained on ``y`` encoded
        as 0/1 (``classes_[1]`` -> 1).
    classes_ : ndarray of shape (2,)
        Labels; ``classes_[1]`` is the positive class (fake = 1 with 0/1 labels).
    n_epochs_ : int
        Epochs run.
    best_epoch_ : int or None
        0-based epoch whose weights were restored (torch with early stopping), else None.
    loss_curve_ : list of float
        Training loss per epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (torch with early stopping), else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names.

    See Also
    --------
    XGBoostHead : gradient-boosted trees, NaN-native.

    Notes
    -----
    The torch loss is :math:`\\frac{1}{|B|}\\sum_{i \\in B} w_{y_i}\\,
    \\ell(z_i, y_i)` with :math:`\\ell` the binary cross-entropy on the logit :math:`z_i` and
    :math:`w` the class weights (the mean over the batch, so a batch of one class still feels its
    weight). Training runs on CPU in float32; predictions use a float64 copy of the network, so
    a row's output does not depend on the other rows in the call (float32 matrix products vary
    with the batch size in the last bits). The global torch RNG state is left untouched; torch
    runs single-threaded during ``fit`` and ``predict`` (the previous thread count is restored).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> head = MLPHead(hidden_layer_sizes=(16,), max_epochs=100, backend="sklearn").fit(X, y)
    >>> head.backend_
    'sklearn'
    >>> float((head.predict(X) == y).mean()) > 0.9
    True
    """

    _param_rules = {
        "dropout": Interval(float, 0.0, 1.0),
        "batch_norm": Options((True, False)),
        "alpha": Interval(float, 0.0, None),
        "learning_rate": Interval(float, 0.0, None),
        "batch_size": Interval(int, 1, None),
        "max_epochs": Interval(int, 1, None),
        "early_stopping": Options((True, False)),
        "validation_fraction": Interval(float, 0.0, 1.0),
        "patience": Interval(int, 1, None),
        "backend": Options(("auto", "torch", "sklearn")),
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(128, 64),
        dropout=0.2,
        batch_norm=True,
        alpha=1e-4,
        learning_rate=1e-3,
        batch_size=64,
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        class_weight="balanced",
        backend="auto",
        random_state=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.backend = backend
        self.random_state = random_state

    # -- validation ------------------------------------------------------------------------------
    def _check_params(self):
        for name, rule in self._param_rules.items():
            rule.check(name, getattr(self, name))
        for name, low_open, high_open in (
            ("dropout", False, True), ("learning_rate", True, False), ("validation_fraction", True, True)
        ):
            value = getattr(self, name)
            if (low_open and value <= 0) or (high_open and value >= 1):
                raise ValueError(f"{name} must be in {'(' if low_open else '['}0, "
                                 f"{'1)' if high_open else 'inf)'}, got {value!r}")
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be an int or a tuple of ints, got {sizes!r}") from None
        if not sizes:
            raise ValueError("hidden_layer_sizes must name at least one layer, got ()")
        for size in sizes:
            Interval(int, 1, None).check("hidden_layer_sizes", size)
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
            raise ValueError(f"class_weight must be 'balanced', a dict or None, got {cw!r}")
        if self.random_state is not None:
            Interval(int, 0, 2**32 - 1).check("random_state", self.random_state)
        return tuple(int(s) for s in sizes)

    def _row_weights(self, y01):
        cw = self.class_weight
        if cw is None:
            return np.ones(y01.size)
        if cw == "balanced":
            counts = np.bincount(y01, minlength=2)
            per_class = y01.size / (2.0 * counts)
        else:
            unknown = set(cw) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names labels not in y: {sorted(unknown, key=str)}")
            per_class = np.array([float(cw.get(c, 1.0)) for c in self.classes_])
        return per_class[y01]

    # -- fit ---------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric features (impute NaN first).
        y : array-like of shape (n_samples,)
            Binary labels (fake = 1, real = 0).

        Returns
        -------
        self
        """
        sizes = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, y01 = _binary_targets(self, y)
        weights = self._row_weights(y01)
        torch = _import_torch(required=self.backend == "torch") if self.backend != "sklearn" else None
        if torch is not None:
            self.backend_ = "torch"
            self._fit_torch(torch, X, y01, weights, sizes)
        else:
            self.backend_ = "sklearn"
            self._fit_sklearn(X, y01, weights, sizes)
        return self

    def _run_epochs(self, run_epoch, validation_loss, snapshot, restore):
        """The shared loop: epochs, early stopping on the validation loss, best weights restored."""
        loss_curve, val_curve = [], []
        best_loss, best_state, best_epoch, stale = np.inf, None, None, 0
        for epoch in range(self.max_epochs):
            loss_curve.append(float(run_epoch()))
            if validation_loss is None:
                continue
            val_curve.append(float(validation_loss()))
            if val_curve[-1] < best_loss:
                best_loss, best_epoch, best_state, stale = val_curve[-1], epoch, snapshot(), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            restore(best_state)
        self.n_epochs_ = len(loss_curve)
        self.best_epoch_ = best_epoch
        self.loss_curve_ = loss_curve
        self.validation_loss_curve_ = val_curve if validation_loss is not None else None

    def _fit_sklearn(self, X, y01, weights, sizes):
        idx_train, idx_val = np.arange(X.shape[0]), None
        if self.early_stopping:
            idx_train, idx_val = _validation_split(self, idx_train, y01)[:2]
        model = MLPClassifier(
            hidden_layer_sizes=sizes,
            activation="relu",
            solver="adam",
            alpha=self.alpha,
            batch_size=min(self.batch_size, idx_train.size),
            learning_rate_init=self.learning_rate,
            shuffle=True,
            random_state=self.random_state,
        )
        Xt, yt, wt = X[idx_train], y01[idx_train], weights[idx_train]

        def run_epoch():
            model.partial_fit(Xt, yt, sample_weight=wt, classes=[0, 1])
            return model.loss_curve_[-1]

        def validation_loss():
            z = _sklearn_logits(model, X[idx_val])
            y = y01[idx_val]
            return np.mean(weights[idx_val] * (np.logaddexp(0.0, z) - y * z))

        def snapshot():
            return [c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_]

        def restore(state):
            model.coefs_, model.intercepts_ = state

        self._run_epochs(run_epoch, validation_loss if idx_val is not None else None, snapshot, restore)
        self.model_ = model

    def _fit_torch(self, torch, X, y01, weights, sizes):
        F = torch.nn.functional
        idx_train, idx_val = np.arange(X.shape[0]), None
        if self.early_stopping:
            idx_train, idx_val = _validation_split(self, idx_train, y01)[:2]

        def tensors(idx):
            return (torch.as_tensor(X[idx], dtype=torch.float32),
                    torch.as_tensor(y01[idx], dtype=torch.float32),
                    torch.as_tensor(weights[idx], dtype=torch.float32))

        def weighted_bce(logits, y, w):
            return (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).mean()

        Xt, yt, wt = tensors(idx_train)
        rng = np.random.default_rng(self.random_state)
        batch_size = min(self.batch_size, idx_train.size)
        with torch.random.fork_rng(devices=[]), _one_torch_thread(torch):  # caller's RNG untouched
            torch.manual_seed(int(rng.integers(2**31)))
            net = _build_torch_net(torch, X.shape[1], sizes, self.dropout, self.batch_norm)
            optimizer = torch.optim.AdamW(net.parameters(), lr=self.learning_rate, weight_decay=self.alpha)

            def run_epoch():
                net.train()
                total = 0.0
                for batch in _batches(rng.permutation(idx_train.size), batch_size, self.batch_norm):
                    b = torch.as_tensor(batch)
                    optimizer.zero_grad()
                    loss = weighted_bce(net(Xt[b]).squeeze(1), yt[b], wt[b])
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * batch.size
                return total / idx_train.size

            def validation_loss():
                Xv, yv, wv = tensors(idx_val)
                net.eval()
                with torch.no_grad():
                    return float(weighted_bce(net(Xv).squeeze(1), yv, wv))

            def snapshot():
                return copy.deepcopy(net.state_dict())

            self._run_epochs(run_epoch, validation_loss if idx_val is not None else None, snapshot,
                             net.load_state_dict)
        net.eval()
        self.model_ = net

    # -- persistence: the torch network as plain bytes, so skops and pickle files hold no torch object --
    def __getstate__(self):
        state = dict(super().__getstate__())
        net = state.get("model_")
        if net is not None and not isinstance(net, MLPClassifier):  # a torch.nn.Sequential
            import torch

            from ..deep._torch import state_to_bytes

            hidden = [m.out_features for m in net if isinstance(m, torch.nn.Linear)][:-1]
            state["model_"] = {"torch_state": state_to_bytes(torch, net), "n_in": int(net[0].in_features),
                               "hidden": hidden, "batch_norm": any(isinstance(m, torch.nn.BatchNorm1d) for m in net),
                               "dropout": next((float(m.p) for m in net if isinstance(m, torch.nn.Dropout)), 0.0)}
        return state

    def __setstate__(self, state):
        packed = state.get("model_")
        if isinstance(packed, dict) and "torch_state" in packed:
            from ..deep._torch import import_torch, load_state_bytes

            torch = import_torch(type(self).__name__)
            net = _build_torch_net(torch, packed["n_in"], packed["hidden"], packed["dropout"], packed["batch_norm"])
            state = dict(state, model_=load_state_bytes(torch, net, packed["torch_state"]).eval())
        super().__setstate__(state)

    # -- predict -----------------------------------------------------------------------------------
    def decision_function(self, X):
        """Logit of the positive class (``classes_[1]``), shape (n_samples,)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.backend_ == "sklearn":
            return _sklearn_logits(self.model_, X)
        torch = _import_torch(required=True)
        net = copy.deepcopy(self.model_).double().eval()  # float64 inference: see Notes
        with torch.no_grad(), _one_torch_thread(torch):
            logits = net(torch.as_tensor(X, dtype=torch.float64)).squeeze(1)
        return logits.numpy()

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted labels (positive when its logit is > 0, i.e. probability > 0.5)."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
