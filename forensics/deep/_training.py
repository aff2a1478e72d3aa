"""The one training loop of the deep estimators: phases, losses, schedules, checkpoints, resume, history.

:class:`~forensics.deep.BackboneClassifier`, :class:`~forensics.deep.TemporalHead` and
:class:`~forensics.deep.VideoClassifier` differ in their data and network; everything else
(epochs, optimiser, schedule, loss, batch sampling, gradient accumulation, mixed precision,
``torch.compile``, validation metrics, early stopping, checkpoints and resumption, the per-epoch
history and progress bar) is this module, so the three behave the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from tqdm.auto import tqdm

from ..features._base import Interval, Options
from ._torch import BestCheckpoint, batches, binary_auc

__all__ = ["TRAINING_PARAMS", "Phase", "check_training_params", "fit_loop", "plot_history", "load_checkpoint",
           "history_frame", "HISTORY_METRICS"]

#: Metrics recorded per epoch for the training and the validation items (``train_*``, ``val_*``).
HISTORY_METRICS = ("loss", "accuracy", "precision", "recall", "f1", "auc")

#: Checkpoint file names inside ``checkpoint_dir``.
LAST, BEST = "last.pt", "best.pt"
_FORMAT = 1

#: The training options every deep estimator takes, with their rules (validated at fit).
TRAINING_PARAMS = {
    "loss": Options(("bce", "focal")),
    "focal_gamma": Interval(float, 0.0, None),
    "scheduler": Options(("cosine", "plateau", "constant")),
    "warmup_epochs": Interval(float, 0.0, None),
    "sampler": Options(("random", "balanced")),
    "accumulate": Interval(int, 1, None),
    "checkpoint_every": Interval(int, 1, None),
    "amp": Options((True, False)),
    "compile": Options((True, False)),
    "verbose": Options((True, False)),
}
# Parameters that do not change what a fit computes: a checkpoint written under other values of
# these can be resumed (the rest must match, see the fingerprint).
_NOT_FINGERPRINTED = {"checkpoint_dir", "checkpoint_every", "resume", "verbose", "callbacks", "device"}


def warmup_factor(step, warmup_steps):
    """Linear warm-up: the learning-rate multiplier of optimiser step ``step`` (0-based) of a phase.

    ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then 1 (Goyal et al. 2017,
    arXiv:1706.02677; the usual start of Transformers trained with Adam, Vaswani et al. 2017).
    """
    return 1.0 if step >= warmup_steps else (step + 1) / warmup_steps


def check_training_params(est):
    """Validate the shared training options of ``est`` (raise ValueError/TypeError naming them),
    ``max_grad_norm`` included (None, or a finite number > 0)."""
    for name, rule in TRAINING_PARAMS.items():
        rule.check(name, getattr(est, name))
    g = est.max_grad_norm
    if g is not None:
        Interval(float, 0.0, None).check("max_grad_norm", g)
        if not 0 < g < math.inf:
            raise ValueError(f"max_grad_norm must be a finite number > 0 or None, got {g!r}")
    d = est.checkpoint_dir
    if d is not None and not isinstance(d, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir must be None or a directory path, got {d!r}")
    r = est.resume
    if r is not None and not isinstance(r, (str, os.PathLike)):
        raise TypeError(f"resume must be None, 'auto' or the path of a checkpoint file, got {r!r}")
    if isinstance(r, str) and r == "auto" and d is None:
        raise ValueError("resume='auto' looks for checkpoint_dir/last.pt: set checkpoint_dir too")
    cbs = est.callbacks
    if cbs is not None and (not isinstance(cbs, (list, tuple)) or not all(callable(c) for c in cbs)):
        raise TypeError(f"callbacks must be None or a list of callables f(estimator, row), got {cbs!r}")


@dataclass
class Phase:
    """One stage of training with its own optimiser and schedule.

    Parameters
    ----------
    number : int
        Recorded as ``phase`` in the history.
    epochs : int
        Planned epochs (early stopping can end the phase sooner).
    groups : list of (name, parameters, lr)
        AdamW parameter groups; the names give the ``lr_<name>`` history columns.
    setup : callable(net) or None
        Called when the phase starts (and when a fit resumes inside it), e.g. to freeze layers.
    train_mode : callable(net) or None
        Called after ``net.train()`` at every epoch, e.g. to keep frozen BatchNorm in eval mode.
    """

    number: int
    epochs: int
    groups: list
    setup: object = None
    train_mode: object = None


@dataclass
class Runtime:
    """What the loop decided about the device (``runtime_`` of the estimators)."""

    device: str
    amp: bool
    compile: bool
    notes: list = field(default_factory=list)

    def as_dict(self):
        return dict(device=self.device, amp=self.amp, compile=self.compile, notes=list(self.notes))


def select_runtime(torch, device, amp, compile_):
    """Mixed precision and ``torch.compile`` only where they help and work: on CUDA.

    On another device both are turned off and the reason is recorded, so the same settings run
    on a laptop and on a GPU machine.
    """
    rt = Runtime(device=str(device), amp=bool(amp), compile=bool(compile_))
    if device.type != "cuda":
        if amp:
            rt.amp = False
            rt.notes.append(f"amp=True ignored: float16 mixed precision is used on CUDA only (device is {device})")
        if compile_:
            rt.compile = False
            rt.notes.append(f"compile=True ignored: torch.compile is used on CUDA only (device is {device})")
    elif compile_ and not hasattr(torch, "compile"):  # pragma: no cover - torch < 2.0
        rt.compile = False
        rt.notes.append("compile=True ignored: this torch has no torch.compile")
    return rt


class CompiledForward:
    """``torch.compile(module)`` with a fallback: if the first compiled call fails, warn and run eager.

    Compilation errors only surface at the first call (tracing happens lazily), so the fallback
    has to be at call time. The eager module is kept: its ``state_dict`` is the one saved.
    """

    def __init__(self, torch, module, runtime):
        self.module = module
        self.runtime = runtime
        self.compiled = torch.compile(module) if runtime.compile else None
        self.checked = False

    def __call__(self, *args):
        if self.compiled is None:
            return self.module(*args)
        if self.checked:
            return self.compiled(*args)
        try:
            out = self.compiled(*args)
        except Exception as exc:  # any backend failure: keep training, eagerly
            self.compiled = None
            self.runtime.compile = False
            note = f"torch.compile failed at the first batch ({type(exc).__name__}: {str(exc)[:200]}); ran eager"
            self.runtime.notes.append(note)
            warnings.warn(note, RuntimeWarning, stacklevel=2)
            return self.module(*args)
        self.checked = True
        return out


# -- losses and metrics ------------------------------------------------------------------------------
def weighted_loss(torch, logits, y, w, *, loss, gamma, smoothing):
    """Per-item loss (N,) of float32 logits: class-weighted BCE with smoothing, or the focal loss.

    ``bce``: :math:`w_y\\,\\ell(z, t)`, :math:`t = (1-\\varepsilon) y + \\varepsilon/2`;
    ``focal`` (Lin et al. 2017): :math:`w_y (1 - p_t)^\\gamma \\ell(z, t)` with :math:`p_t` the
    predicted probability of the true class, so easy, confident items weigh less.
    """
    F = torch.nn.functional
    target = y * (1 - smoothing) + smoothing / 2
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if loss == "focal":
        p = torch.sigmoid(logits)
        p_t = torch.where(y > 0.5, p, 1 - p)
        bce = (1 - p_t).pow(gamma) * bce
    return bce * w


def numpy_loss(z, y01, w, *, loss, gamma):
    """The validation loss (no smoothing) of float64 logits, as :func:`weighted_loss` would give."""
    bce = np.logaddexp(0.0, z) - y01 * z
    if loss == "focal":
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
        p_t = np.where(y01 == 1, p, 1 - p)
        bce = (1 - p_t) ** gamma * bce
    return float(np.mean(w * bce))


def scores(y01, logits, loss_value):
    """Loss, accuracy, precision, recall, F1 (threshold: logit > 0) and ROC-AUC of one epoch."""
    pred = (np.asarray(logits) > 0).astype(int)
    return dict(loss=float(loss_value), accuracy=float(accuracy_score(y01, pred)),
                precision=float(precision_score(y01, pred, zero_division=0)),
                recall=float(recall_score(y01, pred, zero_division=0)),
                f1=float(f1_score(y01, pred, zero_division=0)), auc=float(binary_auc(y01, logits)))


# -- sampling ------------------------------------------------------------------------------------------
def epoch_batches(rng, idx_train, y01, batch_size, sampler):
    """The batches of one epoch (arrays of item indices).

    ``random``: a permutation cut into batches (a trailing batch of one joins the previous one).
    ``balanced``: as many batches as ``random`` would give, each with ``batch_size // 2`` items
    of one class and the rest of the other (the class of the odd item alternates), drawn
    without replacement from each class's own shuffled order, reshuffled when it runs out,
    so the minority class is seen more often and every batch is balanced.
    """
    if sampler == "random":
        return batches(rng.permutation(idx_train), batch_size)
    n_batches = len(batches(np.arange(idx_train.size), batch_size))
    pools = [idx_train[y01[idx_train] == c] for c in (0, 1)]
    orders = [rng.permutation(p) for p in pools]
    pos = [0, 0]
    out = []
    for b in range(n_batches):
        half = batch_size // 2
        counts = [half, batch_size - half] if b % 2 == 0 else [batch_size - half, half]
        parts = []
        for c in (0, 1):
            need = counts[c]
            while need:
                if pos[c] == orders[c].size:
                    orders[c], pos[c] = rng.permutation(pools[c]), 0
                take = min(need, orders[c].size - pos[c])
                parts.append(orders[c][pos[c]:pos[c] + take])
                pos[c] += take
                need -= take
        out.append(rng.permutation(np.concatenate(parts)))
    return out


# -- checkpoints ----------------------------------------------------------------------------------------
def _plain(value):
    """Python scalars only (a checkpoint is read back with ``weights_only=True``)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(est, n_items, y01, idx_train):
    """A hash of what determines the fit: the parameters (but the checkpoint/progress ones), the
    number of items, the labels and the training split. Also returns the parameters as text."""
    params = {k: repr(v) for k, v in sorted(est.get_params(deep=False).items()) if k not in _NOT_FINGERPRINTED}
    blob = json.dumps(dict(cls=type(est).__name__, params=params, n=int(n_items)), sort_keys=True).encode()
    h = hashlib.sha256(blob)
    h.update(np.ascontiguousarray(y01, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(idx_train, dtype=np.int64).tobytes())
    return h.hexdigest(), params


def _save(torch, path, state):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a fit killed while writing leaves the previous checkpoint intact


def load_checkpoint(path):
    """Read a checkpoint written by a deep estimator's ``fit`` (tensors and plain values only).

    Parameters
    ----------
    path : str or Path
        ``checkpoint_dir/last.pt`` or ``checkpoint_dir/best.pt``.

    Returns
    -------
    dict
        ``model`` (the network's ``state_dict``), ``optimizer``, ``scheduler``, ``scaler``,
        ``epoch`` (0-based, last completed), ``phase``, ``history``, ``best``, ``rng``,
        ``fingerprint``, ``params`` and ``estimator`` (the class name).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {str(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{str(path)!r} is not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(f"{str(path)!r} is not a checkpoint of this library (format {_FORMAT})")
    return state


def _resume_path(est):
    r = est.resume
    if r is None:
        return None
    if isinstance(r, str) and r == "auto":
        path = Path(est.checkpoint_dir) / LAST
        return path if path.is_file() else None
    path = Path(r)
    if not path.is_file():
        raise FileNotFoundError(f"resume={os.fspath(r)!r}: no such checkpoint file (use resume='auto' to start "
                                "afresh when checkpoint_dir has none yet)")
    return path


# -- the loop ----------------------------------------------------------------------------------------------
def fit_loop(est, torch, net, *, phases, y01, idx_train, idx_val, per_class, load_batch, forward, rng, device,
             n_items, smoothing=0.0, grad_clip=None, batch_size=None, desc="fit"):
    """Train ``net`` through ``phases``; return ``(history, best, runtime, resumed_from)``.

    Parameters
    ----------
    est : estimator
        Gives the shared options (``loss``, ``focal_gamma``, ``scheduler``, ``sampler``,
        ``accumulate``, ``weight_decay``, ``patience``, ``amp``, ``compile``, ``checkpoint_dir``,
        ``checkpoint_every``, ``resume``, ``callbacks``, ``verbose``, ``batch_size``).
    net : torch.nn.Module
        On ``device``; ``forward(module, inputs)`` maps a batch to logits (N,).
    phases : list of Phase
    y01 : ndarray of int (n_items,)
    idx_train, idx_val : ndarray of int, idx_val may be None (no validation, no early stopping)
    per_class : ndarray (2,)
        Loss weight of each class.
    load_batch : callable(indices, train) -> tuple of CPU tensors
        ``train=True`` may augment (drawing from ``rng``).
    rng : numpy.random.Generator
        The one source of randomness of the data side (shuffling, sampling, augmentation); its
        state is part of every checkpoint.
    """
    batch_size = min(batch_size or est.batch_size, idx_train.size)
    runtime = select_runtime(torch, device, est.amp, est.compile)
    use_amp = runtime.amp
    fwd = CompiledForward(torch, net, runtime)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    n_batches = len(batches(np.arange(idx_train.size), batch_size))
    steps = math.ceil(n_batches / est.accumulate)
    group_names = []
    for ph in phases:
        for name, _, _ in ph.groups:
            if name not in group_names:
                group_names.append(name)
    total_epochs = sum(ph.epochs for ph in phases)
    fp, params = fingerprint(est, n_items, y01, idx_train)
    ckpt_dir = None if est.checkpoint_dir is None else Path(est.checkpoint_dir)
    history, best = [], BestCheckpoint()
    start_phase, start_epoch, epoch = 0, 0, 0
    resumed = _resume_path(est)
    saved = None
    if resumed is not None:
        saved = load_checkpoint(resumed)
        if saved.get("fingerprint") != fp:
            old = saved.get("params", {})
            diff = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
            what = f"parameters {diff} differ" if diff else "the data (number of items, labels or split) differ"
            raise ValueError(f"cannot resume from {str(resumed)!r}: it was written by another fit ({what}); "
                             "resume with the same estimator parameters and data, or set resume=None")
        net.load_state_dict(saved["model"])
        history = list(saved["history"])
        b = saved["best"]
        best.key, best.epoch, best.stale, best.state = tuple(b["key"]), b["epoch"], b["stale"], b["state"]
        start_phase, epoch = saved["phase_index"], saved["epoch"] + 1
        start_epoch = saved["epoch_in_phase"] + 1
        if saved["stopped"]:
            start_epoch = phases[start_phase].epochs  # the phase had ended: go on with the next
        rng.bit_generator.state = saved["rng"]["numpy"]
        torch.set_rng_state(saved["rng"]["torch"])  # the network was built: nothing else draws before epoch 1
        if device.type == "cuda" and saved["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(saved["rng"]["cuda"], device)

    def predict(idx):
        net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, idx.size, batch_size):
                inputs = [t.to(device) for t in load_batch(idx[start:start + batch_size], False)]
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    z = fwd(*inputs) if forward is None else forward(fwd, inputs)
                out.append(z.float().cpu().numpy().astype(np.float64))
        return np.concatenate(out)

    for pi in range(start_phase, len(phases)):
        ph = phases[pi]
        if ph.epochs == 0:
            continue
        if ph.setup is not None:
            ph.setup(net)
        optimizer = torch.optim.AdamW([dict(params=p, lr=lr) for _, p, lr in ph.groups],
                                      weight_decay=est.weight_decay)
        if est.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, ph.epochs * steps))
        elif est.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max" if idx_val is not None
                                                                   else "min", factor=0.5, patience=1)
        else:
            scheduler = None
        first = start_epoch if pi == start_phase else 0
        # warm-up: the scheduled rate times warmup_factor during the first steps of the phase (applied
        # around the optimiser step only, so the schedulers see and record their own rate)
        warmup_steps = math.ceil(float(est.warmup_epochs) * steps)
        if pi == start_phase and saved is not None and first < ph.epochs:
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(saved["scheduler"])
            if use_amp and saved.get("scaler"):
                scaler.load_state_dict(saved["scaler"])
        if pi != start_phase or saved is None:
            best.stale = 0
        for e in range(first, ph.epochs):
            t0 = time.perf_counter()
            lrs = {name: 0.0 for name in group_names}
            for (name, _, _), g in zip(ph.groups, optimizer.param_groups):
                lrs[name] = float(g["lr"]) * warmup_factor(e * steps, warmup_steps)  # as applied at its first step
            net.train()
            if ph.train_mode is not None:
                ph.train_mode(net)
            epoch_batches_ = epoch_batches(rng, idx_train, y01, batch_size, est.sampler)
            seen, logits_seen, total = [], [], 0.0
            bar = tqdm(total=len(epoch_batches_), desc=f"{desc} epoch {epoch + 1}/{total_epochs}", unit="batch",
                       disable=not est.verbose, leave=True)
            optimizer.zero_grad(set_to_none=True)
            for n_step, start in enumerate(range(0, len(epoch_batches_), est.accumulate)):
                group = epoch_batches_[start:start + est.accumulate]
                n_group = sum(b.size for b in group)
                for batch in group:
                    inputs = [t.to(device) for t in load_batch(batch, True)]
                    yb = torch.as_tensor(y01[batch], dtype=torch.float32, device=device)
                    wb = torch.as_tensor(per_class[y01[batch]], dtype=torch.float32, device=device)
                    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                        z = fwd(*inputs) if forward is None else forward(fwd, inputs)
                    z = z.float()
                    item_loss = weighted_loss(torch, z, yb, wb, loss=est.loss, gamma=float(est.focal_gamma),
                                              smoothing=smoothing)
                    loss = item_loss.sum() / n_group  # the mean over the accumulated group
                    scaler.scale(loss).backward()
                    total += float(item_loss.detach().sum())
                    seen.append(batch)
                    logits_seen.append(z.detach().cpu().numpy().astype(np.float64))
                    bar.update(1)
                    bar.set_postfix(loss=f"{total / sum(s.size for s in seen):.4f}", refresh=False)
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
                factor = warmup_factor(e * steps + n_step, warmup_steps)
                scheduled = [g["lr"] for g in optimizer.param_groups]
                for g in optimizer.param_groups:
                    g["lr"] = g["lr"] * factor
                scaler.step(optimizer)
                for g, lr in zip(optimizer.param_groups, scheduled):
                    g["lr"] = lr
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if est.scheduler == "cosine":
                    scheduler.step()
            train_s = time.perf_counter() - t0
            seen = np.concatenate(seen)
            row = dict(epoch=epoch, phase=ph.number)
            train = scores(y01[seen], np.concatenate(logits_seen), total / seen.size)
            row.update({f"train_{k}": v for k, v in train.items()})
            if idx_val is not None:
                z = predict(idx_val)
                yv = y01[idx_val]
                val = scores(yv, z, numpy_loss(z, yv, per_class[yv], loss=est.loss, gamma=float(est.focal_gamma)))
            else:
                val = {k: math.nan for k in HISTORY_METRICS}
            row.update({f"val_{k}": v for k, v in val.items()})
            row["lr"] = lrs[ph.groups[-1][0]]
            row.update({f"lr_{name}": v for name, v in lrs.items()} if len(group_names) > 1 else {})
            row["train_s"], row["time_s"] = train_s, time.perf_counter() - t0
            improved = idx_val is not None and best.update(epoch, row["val_auc"], row["val_loss"], net)
            row["best"] = bool(improved)
            history.append(row)
            if est.scheduler == "plateau":
                monitor = row["val_auc"] if idx_val is not None else row["train_loss"]
                scheduler.step(monitor if math.isfinite(monitor) else (-math.inf if idx_val is not None else math.inf))
            stopped = idx_val is not None and best.stale >= est.patience
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_loss=f"{row['val_loss']:.4f}",
                            val_auc=f"{row['val_auc']:.4f}", refresh=False)
            bar.close()
            if ckpt_dir is not None:
                def state():
                    return dict(format=_FORMAT, estimator=type(est).__name__, fingerprint=fp, params=params,
                                phase_index=pi, epoch_in_phase=e, epoch=epoch, stopped=bool(stopped),
                                model={k: v.detach().cpu() for k, v in net.state_dict().items()},
                                optimizer=optimizer.state_dict(),
                                scheduler=None if scheduler is None else _plain(scheduler.state_dict()),
                                scaler=scaler.state_dict() if use_amp else None,
                                history=_plain(history),
                                best=dict(key=list(best.key), epoch=best.epoch, stale=best.stale,
                                          state=None if best.state is None else
                                          {k: v.detach().cpu() for k, v in best.state.items()}),
                                rng=dict(numpy=_plain(rng.bit_generator.state), torch=torch.get_rng_state(),
                                         cuda=torch.cuda.get_rng_state(device) if device.type == "cuda" else None))
                written = None
                if (epoch + 1) % est.checkpoint_every == 0 or stopped or e == ph.epochs - 1:
                    written = state()
                    _save(torch, ckpt_dir / LAST, written)
                if improved:
                    _save(torch, ckpt_dir / BEST, written or state())
            if est.verbose:
                tqdm.write(f"epoch {epoch:3d} phase {ph.number} train loss {row['train_loss']:.4f} val loss "
                           f"{row['val_loss']:.4f} val AUC {row['val_auc']:.4f}{' *' if improved else ''}")
            epoch += 1
            halt = False
            for cb in est.callbacks or ():
                halt = bool(cb(est, dict(row))) or halt
            if stopped or halt:
                if halt:
                    row["stopped_by_callback"] = True
                break
        if idx_val is not None:
            best.restore(net)  # the next phase starts from (and fit ends with) the best weights so far
        if history and history[-1].get("stopped_by_callback"):
            break
    return history, best, runtime, None if resumed is None else str(resumed)


# -- history ----------------------------------------------------------------------------------------------
def history_frame(history):
    """The history (a list of per-epoch dicts, or an estimator with ``history_``) as a DataFrame."""
    import pandas as pd

    history = getattr(history, "history_", history)
    return pd.DataFrame(list(history))


def plot_history(history, *, ax=None):
    """Learning curves: loss, AUC, F1 and learning rate per epoch, training and validation.

    Parameters
    ----------
    history : list of dict, DataFrame or fitted estimator
        ``history_`` of :class:`BackboneClassifier`, :class:`TemporalHead` or
        :class:`VideoClassifier` (or the estimator itself).
    ax : array of 4 matplotlib Axes, optional
        Where to draw; default: a new 2 x 2 figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_history([dict(epoch=0, train_loss=0.7, val_loss=0.69, train_auc=0.5, val_auc=0.55,
    ...                          train_f1=0.4, val_f1=0.5, lr=1e-3),
    ...                     dict(epoch=1, train_loss=0.5, val_loss=0.6, train_auc=0.8, val_auc=0.7,
    ...                          train_f1=0.7, val_f1=0.6, lr=5e-4)])
    >>> [a.get_title() for a in fig.axes]
    ['loss', 'ROC-AUC', 'F1', 'learning rate']
    """
    import matplotlib.pyplot as plt

    df = history_frame(history)
    if df.empty:
        raise ValueError("the history is empty: nothing to plot (fit the estimator first)")
    if ax is None:
        fig, ax = plt.subplots(2, 2, figsize=(9, 6), constrained_layout=True)
    axes = np.asarray(ax).ravel()
    fig = axes[0].figure
    x = df["epoch"].to_numpy() + 1
    for a, metric, title in zip(axes[:3], ("loss", "auc", "f1"), ("loss", "ROC-AUC", "F1")):
        for split, style in (("train", "-o"), ("val", "-s")):
            col = f"{split}_{metric}"
            if col in df and df[col].notna().any():
                a.plot(x, df[col].to_numpy(dtype=float), style, ms=3, label="training" if split == "train"
                       else "validation")
        a.set_title(title)
        a.set_xlabel("epoch")
        if a.lines:
            a.legend(fontsize=8)
    lr_cols = [c for c in df.columns if c.startswith("lr_")] or (["lr"] if "lr" in df else [])
    for c in lr_cols:
        axes[3].plot(x, df[c].to_numpy(dtype=float), "-o", ms=3, label=c)
    axes[3].set_title("learning rate")
    axes[3].set_xlabel("epoch")
    if lr_cols:
        axes[3].legend(fontsize=8)
    if "best" in df and df["best"].any():
        b = int(df.index[df["best"].astype(bool)][-1])
        for a in axes[:3]:
            a.axvline(x[b], color="grey", ls=":", lw=1)
    return fig
