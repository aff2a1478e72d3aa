"""What the trainable deep estimators share: lazy torch import, device, weights blob, early stopping."""

from __future__ import annotations

import contextlib
import copy
import io
import math

import numpy as np
from sklearn.metrics import roc_auc_score

_MISSING = "{name} needs {what}: pip install \"scikit-forensics[torch]\" (PyTorch{extra})."


def import_torch(name, *, timm=False):
    """Import torch (and timm) or raise an ImportError naming the extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(_MISSING.format(name=name, what="PyTorch", extra=" and timm" if timm else "")) from exc
    if timm:
        try:
            import timm as _timm  # noqa: F401
        except ImportError as exc:
            raise ImportError(_MISSING.format(name=name, what="timm", extra=" and timm")) from exc
    return torch


def resolve_device(torch, device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; anything else as torch reads it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch device string, got {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device; use device='auto' or 'cpu'")
    return resolved


@contextlib.contextmanager
def seeded(torch, rng, device):
    """Seed torch from ``rng`` inside a forked RNG state, so the caller's torch RNG is untouched."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(rng.integers(2**31)))
        yield


def state_to_bytes(torch, module):
    """A module's state_dict as bytes (``torch.save`` of CPU tensors; read back with weights_only)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buf)
    return buf.getvalue()


def load_state_bytes(torch, module, blob):
    """Load weights written by :func:`state_to_bytes` (no pickled code is executed)."""
    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    return module


def binary_auc(y01, scores):
    """ROC-AUC, NaN when it is undefined (one class, or non-finite scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    if np.unique(y01).size < 2 or not np.all(np.isfinite(scores)):
        return math.nan
    return float(roc_auc_score(y01, scores))


def class_weights(class_weight, classes, y01):
    """Loss weight of each class (ndarray (2,), index = encoded label) from the training labels.

    "balanced": positives weigh ``n_neg / n_pos`` and negatives 1 (BCE's ``pos_weight``); a dict
    maps label -> weight (missing labels weigh 1); None: both 1.
    """
    if class_weight is None:
        return np.ones(2)
    if isinstance(class_weight, str) and class_weight == "balanced":
        n_pos = int(y01.sum())
        return np.array([1.0, (y01.size - n_pos) / n_pos])
    if isinstance(class_weight, dict):
        unknown = set(class_weight) - set(classes.tolist())
        if unknown:
            raise ValueError(f"class_weight names labels not in y: {sorted(unknown, key=str)}")
        per_class = np.array([float(class_weight.get(c, 1.0)) for c in classes])
        if not np.all(per_class > 0):
            raise ValueError(f"class_weight values must be > 0, got {class_weight!r}")
        return per_class
    raise ValueError(f"class_weight must be 'balanced', a dict or None, got {class_weight!r}")


class BestCheckpoint:
    """Early-stopping bookkeeping: the best validation epoch (highest AUC, ties broken by the
    lower validation loss) and a copy of the weights at that epoch."""

    def __init__(self):
        self.key = (-math.inf, -math.inf)
        self.state = None
        self.epoch = None
        self.stale = 0

    def update(self, epoch, auc, loss, module):
        """Record an epoch; return True when it is the new best."""
        key = (auc if math.isfinite(auc) else -math.inf, -loss if math.isfinite(loss) else -math.inf)
        if key > self.key:
            self.key, self.epoch, self.stale = key, epoch, 0
            self.state = copy.deepcopy(module.state_dict())
            return True
        self.stale += 1
        return False

    def restore(self, module):
        if self.state is not None:
            module.load_state_dict(self.state)


def batches(order, batch_size):
    """Split a permutation into batches; a trailing batch of one joins the previous one
    (BatchNorm cannot normalise a single sample in training mode)."""
    out = [order[i:i + batch_size] for i in range(0, order.size, batch_size)]
    if len(out) > 1 and out[-1].size == 1:
        last = out.pop()
        out[-1] = np.concatenate([out[-1], last])
    return out


#: Head types of the deep estimators.
HEADS = ("linear", "mlp")


def make_head(nn, n_in, head="linear", hidden=256, dropout=0.0):
    """The classification head: features (N, n_in) -> one logit (N, 1).

    ``"linear"``: [Dropout(dropout)] -> Linear(n_in, 1). ``"mlp"``: Linear(n_in, hidden) ->
    BatchNorm1d -> ReLU -> Dropout(dropout) -> Linear(hidden, 1).
    """
    if head == "mlp":
        return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                             nn.Dropout(dropout), nn.Linear(hidden, 1))
    if dropout > 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, 1))
    return nn.Linear(n_in, 1)
