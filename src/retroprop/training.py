"""``fit``, ``evaluate`` and ``predict``: Keras's training loop over retroprop models.

Steps and epochs are counted from 0 in every record and shown from 1 to people ("Epoch 1/10").
The loop never leaves the model with non-finite weights when a finite state existed: a step whose
loss or gradients are NaN/Inf is not applied, and training stops there with the reason recorded; a
learning rate that a callback or a schedule turns NaN/Inf (or negative) is put back and the run
stops before a step uses it. The doctor never ends a run: its internal errors are recorded in
``History.doctor_errors`` and the run goes on without the part that failed.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.callbacks import Callback, ProgressBar, TrainState
from retroprop.history import History
from retroprop.nn import (
    BatchNorm1d,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    HuberLoss,
    L1Loss,
    Module,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from retroprop.nn.container import Sequential
from retroprop.nn.normalization import Standardize
from retroprop.nn.sparse import Embedding
from retroprop.nn.utils import clip_grad_norm_
from retroprop.optim.lr_scheduler import ReduceLROnPlateau
from retroprop.random import default_generator, manual_seed
from retroprop.tensor import Tensor, grad_array, no_grad
from retroprop.threads import training_threads

LossFn = Callable[[Tensor, Any], Tensor]
Metric = Callable[[np.ndarray, np.ndarray], float]

LOSSES: dict[str, Callable[[], Module]] = {
    "cross_entropy": CrossEntropyLoss,
    "crossentropy": CrossEntropyLoss,
    "categorical_crossentropy": CrossEntropyLoss,
    "sparse_categorical_crossentropy": CrossEntropyLoss,
    "nll": NLLLoss,
    "nll_loss": NLLLoss,
    "mse": MSELoss,
    "mse_loss": MSELoss,
    "mean_squared_error": MSELoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "binary_cross_entropy_with_logits": BCEWithLogitsLoss,
    "binary_crossentropy": BCEWithLogitsLoss,
    "bce": BCELoss,
    "binary_cross_entropy": BCELoss,
    "l1": L1Loss,
    "l1_loss": L1Loss,
    "mean_absolute_error": L1Loss,
    "huber": HuberLoss,
    "huber_loss": HuberLoss,
    "smooth_l1": SmoothL1Loss,
    "smooth_l1_loss": SmoothL1Loss,
}
_CLASSIFICATION_FUNCTIONS = {F.cross_entropy, F.nll_loss, F.binary_cross_entropy_with_logits,
                             F.binary_cross_entropy}


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------
def _as_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected an array, got {type(value).__name__} ({err})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got an array of dtype {array.dtype}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} contains NaN or Inf (first at index {tuple(int(i) for i in bad)}: "
            f"{array[tuple(bad)]}); clean or impute the data before training"
        )


def _check_pair(x: np.ndarray, y: np.ndarray, where: str, names: tuple[str, str] = ("x", "y")) -> None:
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{where}: {names[0]} and {names[1]} need a sample axis, got shapes {x.shape} "
                         f"and {y.shape}")
    if len(x) == 0:
        raise ValueError(f"{where}: {names[0]} is empty; there is nothing to train on")
    if len(x) != len(y):
        raise ValueError(
            f"{where}: {names[0]} has {len(x)} samples but {names[1]} has {len(y)}; they must match"
        )
    _check_finite(x, f"{where}: {names[0]}")
    _check_finite(y, f"{where}: {names[1]}")


def _resolve_loss(loss: Any, where: str = "fit") -> tuple[LossFn, bool]:
    """The loss callable and whether it is a classification loss."""
    if isinstance(loss, str):
        key = loss.lower()
        if key not in LOSSES:
            raise ValueError(f"{where}: unknown loss {loss!r}; expected a loss Module, a function or one of "
                             f"{', '.join(sorted(LOSSES))}")
        loss = LOSSES[key]()
    if isinstance(loss, type) and issubclass(loss, Module):
        loss = loss()
    if not callable(loss):
        raise TypeError(f"{where}: loss must be a loss Module, a function or a name, got "
                        f"{type(loss).__name__}")
    classification = bool(getattr(loss, "classification", False)) or loss in _CLASSIFICATION_FUNCTIONS
    return loss, classification


def _is_binary(loss: Any) -> bool:
    return isinstance(loss, (BCEWithLogitsLoss, BCELoss)) or loss in (F.binary_cross_entropy_with_logits,
                                                                     F.binary_cross_entropy)


def _binary_threshold(loss: Any) -> float:
    """The output at which a binary model's prediction turns positive: 0.5 for a loss on
    probabilities, 0 for one on logits."""
    return 0.5 if isinstance(loss, BCELoss) or loss is F.binary_cross_entropy else 0.0


def _input_dtype(model: Module, x: np.ndarray) -> np.dtype:
    """The dtype inputs ``x`` are cast to before ``model``: its parameters' dtype, but float64 for a
    model that starts with a Standardize layer (which standardizes in float64, so that a feature with
    a large offset, such as a timestamp, is not rounded first), and ``x``'s own for one that starts
    with an Embedding (indices stay integers; float ones are refused by the Embedding, not rounded)."""
    first = model
    while isinstance(first, Sequential) and len(first):
        first = first[0]
    if isinstance(first, Embedding):
        return x.dtype
    return np.dtype(np.float64) if isinstance(first, Standardize) else model.dtype


def _prepare_targets(y: np.ndarray, loss: Any, classification: bool, dtype: np.dtype,
                     where: str) -> np.ndarray:
    if classification and not _is_binary(loss):
        if y.dtype.kind == "f":
            if not np.array_equal(y, np.round(y)):
                raise TypeError(
                    f"{where}: {type(loss).__name__} needs integer class labels, but y holds "
                    f"non-integer values (e.g. {y[np.flatnonzero(y != np.round(y))[0]]})"
                )
            # a cast to int64 wraps anything at or beyond 2**63 around (to -2**63 for 1e300)
            huge = np.abs(y) >= 2.0 ** 63
            if huge.any():
                index = int(np.flatnonzero(huge.ravel())[0])
                raise ValueError(
                    f"{where}: class labels must be class numbers (0 to classes - 1); got "
                    f"{y.ravel()[index]} at index {index}, beyond the integer range"
                )
        elif y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
            index = int(np.argmax(y.ravel() > np.iinfo(np.int64).max))
            raise ValueError(
                f"{where}: class labels must be class numbers (0 to classes - 1); got "
                f"{y.ravel()[index]} at index {index}, beyond the integer range"
            )
        elif y.dtype.kind not in "iu":
            raise TypeError(f"{where}: class labels must be integers, got dtype {y.dtype}")
        return y.astype(np.int64, copy=False)
    return y.astype(dtype, copy=False)


def _output_width(model: Module, sample: np.ndarray) -> int:
    """The number of outputs (classes) of ``model``, from one sample in eval mode."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor._make(sample))
    finally:
        model.train(was_training)
    if out.ndim >= 3:  # (N, C, d1, ...): classes on axis 1, as torch's losses read them
        return int(out.shape[1])
    return int(out.shape[-1]) if out.ndim else 1


def _ignored_label(loss: Any) -> int | None:
    """The label a class loss leaves out (its ``ignore_index``), None when it has none."""
    value = getattr(loss, "ignore_index", None)
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None


def _check_labels(y: np.ndarray, n_classes: int, where: str, ignored: int | None = None) -> None:
    """Refuse labels outside [0, n_classes) before any training, naming the first bad index (the
    loss's ``ignore_index`` excepted)."""
    bad = (y < 0) | (y >= n_classes)
    if ignored is not None:
        bad &= y != ignored
    if bad.any():
        index = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{where}: class labels must lie in [0, {n_classes}) for a model with {n_classes} outputs; "
            f"got {y.ravel()[index]} at index {index}"
        )


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, binary: bool, threshold: float = 0.0,
              ignored: int | None = None) -> float:
    if binary:
        return float(((y_pred > threshold) == (y_true > 0.5)).mean())
    if y_true.ndim == 2 and y_true.shape == y_pred.shape and y_true.shape[1] >= 2:
        # one row of class scores per sample (one-hot, or probabilities): the class each marks most, as
        # Keras's categorical accuracy reads them
        return float((y_pred.argmax(axis=1) == y_true.argmax(axis=1)).mean())
    # (N, C) or, per position, (N, C, d1, ...) against (N, d1, ...): classes on axis 1 then, as torch's
    correct = y_pred.argmax(axis=1 if y_pred.ndim >= 3 else -1) == y_true
    if ignored is not None:
        kept = y_true != ignored
        return float(correct[kept].mean()) if kept.any() else float("nan")
    return float(correct.mean())


def _resolve_metrics(metrics: Sequence[Any] | None, loss: Any,
                     classification: bool) -> dict[str, Metric]:
    if metrics is None:
        metrics = ["accuracy"] if classification else []
    resolved: dict[str, Metric] = {}
    binary, threshold, ignored = _is_binary(loss), _binary_threshold(loss), _ignored_label(loss)
    for metric in metrics:
        if metric in ("accuracy", "acc"):
            resolved["accuracy"] = lambda t, p: _accuracy(t, p, binary, threshold, ignored)
        elif callable(metric):
            resolved[getattr(metric, "__name__", f"metric_{len(resolved)}")] = metric
        else:
            raise ValueError(f"fit: unknown metric {metric!r}; use 'accuracy' or a function(y_true, y_pred)")
    return resolved


def _bad_lr(optimizer: Any) -> str | None:
    """Which parameter group's learning rate is not a finite number >= 0 (an update with it would
    destroy the weights), or None."""
    for k, group in enumerate(optimizer.param_groups):
        lr = group.get("lr", 0.0)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) or not (
                math.isfinite(lr) and lr >= 0):
            return f"the learning rate of parameter group {k} to {lr!r}"
    return None


def _call_back(callbacks: list[Callback], state: TrainState, hook: str, *args: Any) -> str | None:
    """Run one hook of ``callbacks`` (those that override it: ``_hooked``). When one leaves a learning
    rate that is not a finite number >= 0, put the rates back as they were and say which callback did
    it (no step has used it)."""
    for callback in callbacks:
        method = getattr(callback, hook)
        if not getattr(callback, "may_change_lr", True):
            method(*args)
            continue
        optimizer = state.optimizer
        before = [group.get("lr") for group in optimizer.param_groups]
        method(*args)
        bad = _bad_lr(state.optimizer)
        if bad:
            _restore_lrs(state.optimizer, before if state.optimizer is optimizer else [])
            return f"the callback {type(callback).__name__}.{hook} set {bad}"
    return None


def _restore_lrs(optimizer: Any, lrs: list[Any]) -> None:
    for group, lr in zip(optimizer.param_groups, lrs, strict=False):
        group["lr"] = lr


def _stop_for_lr(model: Module, history: History, what: str) -> None:
    model.stop_training = True
    history.stop_reason = (f"{what}; training stopped before any step used it: the model keeps its weights "
                           "and the optimizer its previous learning rate")


def _positive(value: Any, name: str, allow_zero: bool = False, where: str = "fit") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be an integer, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{where}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------------------------
class _InterruptGuard:
    """Turn the first Ctrl-C during fit into 'stop after this batch'; a second one interrupts."""

    def __init__(self, verbose: bool = True) -> None:
        self.requested = False
        self.verbose = verbose
        self._previous: Any = None

    def __enter__(self) -> _InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.verbose:
            print("\nInterrupted: stopping after the current batch (press Ctrl-C again to abort).",
                  file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# ---------------------------------------------------------------------------------------------
# fit / evaluate / predict
# ---------------------------------------------------------------------------------------------
def _batches(n: int, batch_size: int, shuffle: bool, rng: np.random.Generator,
             batch_norm: bool) -> list[np.ndarray]:
    order = rng.permutation(n) if shuffle else np.arange(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if batch_norm:
        _fold_short_last_batch(batches, batch_size)
    return batches


def _shuffle_rest(batches: list[np.ndarray], first: int, rng: np.random.Generator) -> None:
    """Draw the samples of ``batches[first:]`` in a random order, keeping each batch's size."""
    if first >= len(batches):
        return
    sizes = [len(b) for b in batches[first:]]
    rest = rng.permutation(np.concatenate(batches[first:]))
    batches[first:] = np.split(rest, np.cumsum(sizes)[:-1])


def _fold_short_last_batch(batches: list[np.ndarray], batch_size: int, first: int = 0) -> None:
    """With BatchNorm, a last batch shorter than half a batch joins the one before it (from index
    ``first`` on): BatchNorm cannot train on one sample, and a handful of samples gives running
    statistics (momentum 0.1) noisy enough to wreck evaluation, as a 3-sample tail of 1347 digits did."""
    if len(batches) > first + 1 and len(batches[-1]) < max(2, batch_size // 2):
        batches[-2] = np.concatenate(batches[-2:])
        batches.pop()


def _grads_finite(params: list[Tensor]) -> bool:
    # The sum of an array is NaN/Inf when any element is (or when the gradient is astronomically
    # large, > 1e38 in float32, which would overflow the update anyway). One ufunc call per
    # parameter (not ndarray.sum, whose Python wrapper costs more than the sum here).
    add = np.add.reduce
    for p in params:
        grad = grad_array(p)
        if grad is not None and not math.isfinite(add(grad, axis=None)):
            return False
    return True


def _all_finite(params: list[Tensor]) -> bool:
    add = np.add.reduce
    for p in params:
        if not math.isfinite(add(p.data, axis=None)):
            return False
    return True


def _forward_loss(model: Module, loss_fn: LossFn, xb: np.ndarray, yb: np.ndarray) -> tuple[Tensor, Tensor]:
    out = model(Tensor._make(xb))
    return out, loss_fn(out, yb)


def _layout(model: Module, replay: bool = False) -> tuple[list[Tensor], bool, bool]:
    """The model's buffers, whether it has BatchNorm1d (a batch of one cannot train it), and whether
    a replayed step (``replay``: a callback keeps dropout masks) must draw Dropout masks again: read
    again after a treatment edits the model."""
    modules = list(model.modules())
    return (list(model.buffers()), any(isinstance(m, BatchNorm1d) for m in modules),
            replay and any(isinstance(m, Dropout) for m in modules))


def _params(optimizer: Any) -> list[Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_backward_end", "on_batch_end",
          "on_epoch_end")


def _hooked(callbacks: list[Callback]) -> dict[str, list[Callback]]:
    """For each hook ``fit`` calls with ``_call_back``, the callbacks that override it (the per-step
    hooks then cost nothing for the many callbacks that have one or two hooks)."""
    def overrides(callback: Callback, hook: str) -> bool:
        return getattr(getattr(callback, hook), "__func__", None) is not getattr(Callback, hook)

    return {hook: [c for c in callbacks if overrides(c, hook)] for hook in _HOOKS}


def fit(model: Module, x: Any, y: Any, *, loss: Any, optimizer: Any, epochs: int = 1,
        batch_size: int = 32, validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0, shuffle: bool = True, metrics: Sequence[Any] | None = None,
        scheduler: Any = None, callbacks: Iterable[Callback] = (), seed: int | None = None,
        verbose: int = 1, initial_epoch: int = 0, history: History | None = None,
        doctor: Any = False, repair: bool = False) -> History:
    """Train ``model`` on ``(x, y)`` by mini-batch gradient descent and return its ``History``.

    ``loss`` is a loss Module, a function ``(output, target) -> Tensor`` or a name such as
    ``"cross_entropy"``; ``metrics=None`` means accuracy for classification losses. Inputs are
    cast to the model's parameter dtype (float64 for a model that starts with ``nn.Standardize``,
    which standardizes in float64). ``scheduler`` steps once per epoch (``ReduceLROnPlateau``
    with the validation loss when there is one). ``seed`` seeds everything the run draws at random.
    ``initial_epoch`` and ``history`` continue an earlier run (see ``rp.load_checkpoint``).
    ``doctor=True`` (or a ``Doctor``) watches the run per layer; its findings are in
    ``history.diagnoses``. ``repair=True`` (shorthand for ``doctor=rp.Doctor(repair=True)``) also
    treats them inside the run: roll back to the last healthy state, apply the next remedy, go on.
    The model is changed in place (``history.model`` is the same object); the optimizer may be
    replaced (``history.params["optimizer"]`` is the one in use at the end). The repairs are in
    ``history.treatments`` and the best model seen in ``history.best``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a retroprop nn.Module, got {type(model).__name__}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError("fit: optimizer must be a retroprop optimizer (e.g. "
                        f"rp.optim.SGD(model.parameters(), lr=0.1)), got {type(optimizer).__name__}")
    epochs = _positive(epochs, "epochs", allow_zero=True)
    initial_epoch = _positive(initial_epoch, "initial_epoch", allow_zero=True)
    if initial_epoch > epochs:
        raise ValueError(f"fit: initial_epoch ({initial_epoch}) must not exceed epochs ({epochs}): fit "
                         "trains epochs initial_epoch + 1 to epochs (as Keras: initial_epoch counts the "
                         "epochs done)")
    bad_lr = _bad_lr(optimizer)
    if bad_lr:
        raise ValueError(f"fit: the optimizer has {bad_lr.replace(' to ', ' set to ', 1)}; it must be a "
                         "finite number >= 0")
    batch_size = _positive(batch_size, "batch_size")
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if validation_data is not None and validation_split:
        raise ValueError("fit: pass validation_data or validation_split, not both")
    loss_fn, classification = _resolve_loss(loss)
    dtype = model.dtype
    x_all = _as_numpy(x, "fit: x")
    y_all = _as_numpy(y, "fit: y")
    _check_pair(x_all, y_all, "fit")
    x_dtype = _input_dtype(model, x_all)
    x_all = x_all.astype(x_dtype, copy=False)
    y_all = _prepare_targets(y_all, loss_fn, classification, dtype, "fit")
    if validation_split:
        cut = len(x_all) - round(len(x_all) * validation_split)
        if cut <= 0 or cut == len(x_all):
            raise ValueError(f"fit: validation_split={validation_split} leaves no training or no validation "
                             f"samples out of {len(x_all)}")
        validation_data = (x_all[cut:], y_all[cut:])
        x_all, y_all = x_all[:cut], y_all[:cut]
    x_val = y_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("fit: validation_data must be a pair (x_val, y_val)")
        x_val = _as_numpy(validation_data[0], "fit: validation_data x")
        y_val = _as_numpy(validation_data[1], "fit: validation_data y")
        _check_pair(x_val, y_val, "fit: validation_data", ("x_val", "y_val"))
        x_val = x_val.astype(x_dtype, copy=False)
        y_val = _prepare_targets(y_val, loss_fn, classification, dtype, "fit: validation_data")
    metric_fns = _resolve_metrics(metrics, loss_fn, classification)
    if classification and not _is_binary(loss_fn):
        n_classes = _output_width(model, x_all[:1])
        _check_labels(y_all, n_classes, "fit: y", _ignored_label(loss_fn))
        if y_val is not None:
            _check_labels(y_val, n_classes, "fit: validation_data y", _ignored_label(loss_fn))

    if seed is not None:
        manual_seed(seed)
    rng = default_generator()
    buffers, has_batch_norm, has_dropout = _layout(model)
    n = len(x_all)
    steps_per_epoch = len(_batches(n, batch_size, False, rng, has_batch_norm))
    history = history if history is not None else History()
    history.model = model
    history.params = {"epochs": epochs, "steps": steps_per_epoch, "batch_size": batch_size,
                      "samples": n, "optimizer": optimizer, "scheduler": scheduler}
    params = _params(optimizer)
    model_params = {id(p) for p in model.parameters()}
    if model_params and not any(id(p) in model_params for p in params):
        raise ValueError(
            "fit: the optimizer updates none of this model's parameters; build it from this model, "
            "e.g. rp.optim.SGD(model.parameters(), lr=0.1)"
        )
    doctor = _resolve_doctor(doctor, repair)
    state = TrainState(model=model, optimizer=optimizer, history=history, epochs=epochs,
                       batch_size=batch_size, scheduler=scheduler, planned_epochs=epochs, epoch=initial_epoch,
                       shuffle=bool(shuffle),
                       step=len(history._step_loss))
    callbacks = list(callbacks)
    if doctor is not None:  # first: a treated step is skipped before any other callback sees it
        from retroprop.doctor.checks import REGRESSION_LOSSES, declared_loss_kind

        # ln C is a blind guess's cross-entropy; a custom loss that declares a squared error has its own
        categorical = classification and not _is_binary(loss_fn) and (
            declared_loss_kind(loss_fn) not in REGRESSION_LOSSES)
        chance = math.log(n_classes) if categorical else None
        setup = {"chance_loss": chance, "inputs": x_all, "validation_inputs": x_val,
                 "validation_targets": y_val, "shuffled": bool(shuffle), "loss": loss_fn,
                 "targets": y_all, "batch_size": batch_size,
                 "samples": None if x_val is None else (len(x_all), len(x_val)),
                 "n_classes": (2 if _is_binary(loss_fn) else n_classes) if classification else None,
                 "lr_scheduled": scheduler is not None and not isinstance(scheduler, ReduceLROnPlateau)}
        from retroprop.doctor.callback import DoctorCallback

        callbacks.insert(0, DoctorCallback(doctor, setup, verbose))
    if verbose:
        callbacks.append(ProgressBar(verbose, steps_per_epoch))
    for callback in callbacks:
        callback.set_context(model, history, history.params)
        callback.state = state  # after set_context: a subclass may override it with the older signature
    hooks = _hooked(callbacks)
    xb = step_rng = None

    def rerun() -> None:
        """A replay of the current step's forward pass: same batch, same dropout masks, and nothing of
        the run's state (buffers, random generator) changed by it."""
        after = [b.data.copy() for b in buffers]
        saved = rng.bit_generator.state
        if step_rng is not None:
            rng.bit_generator.state = step_rng
        try:
            with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                model(Tensor._make(xb))
        finally:
            for buffer, kept in zip(buffers, after, strict=True):
                buffer.data[...] = kept
            rng.bit_generator.state = saved

    state.rerun = rerun
    model.stop_training = False
    started = time.perf_counter()

    # one BLAS thread policy for the whole run (retroprop.threads); validation batches are the largest
    widest = max(batch_size, 256) if x_val is not None else batch_size
    with training_threads(model, widest), _InterruptGuard(verbose=bool(verbose)) as interrupt:
        bad_lr = _call_back(hooks["on_train_begin"], state, "on_train_begin", {})
        if bad_lr:
            _stop_for_lr(model, history, f"{bad_lr} at the start of training")
        buffers, has_batch_norm, has_dropout = _layout(model, state.keep_dropout_masks)
        while state.epoch < state.epochs and not model.stop_training:
            epoch = state.epoch
            model.train()
            bad_lr = _call_back(hooks["on_epoch_begin"], state, "on_epoch_begin", epoch, {})
            if bad_lr:
                _stop_for_lr(model, history, f"{bad_lr} at the start of epoch {epoch + 1}")
                break
            batches = _batches(n, batch_size, state.shuffle, rng, has_batch_norm)
            shuffled = state.shuffle
            # the last state known finite, for the rare update that overflows the weights
            epoch_start = (model.state_dict(), state.optimizer.state_dict())
            loss_sum, sample_count = 0.0, 0
            metric_sums = dict.fromkeys(metric_fns, 0.0)
            for batch, index in enumerate(batches):
                step = state.step
                bad_lr = _call_back(hooks["on_batch_begin"], state, "on_batch_begin", batch, {})
                if bad_lr:
                    _stop_for_lr(model, history, f"{bad_lr} before step {step + 1} (epoch {epoch + 1}, "
                                 f"batch {batch + 1})")
                    break
                optimizer = state.optimizer
                xb, yb = x_all[index], y_all[index]
                if has_dropout:
                    step_rng = rng.bit_generator.state
                saved_buffers = [b.data.copy() for b in buffers]  # BatchNorm statistics: small arrays
                # NaN/Inf are detected below and reported in plain words; NumPy's own overflow
                # warnings would only repeat that, mid-step, from deep inside the engine
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    out, loss_value = _forward_loss(model, loss_fn, xb, yb)
                    optimizer.zero_grad()
                    loss_value.backward()
                    grads_finite = _grads_finite(params)
                value = float(loss_value.data)
                history._step_loss.append(value)
                finite = grads_finite and math.isfinite(value)
                bad_lr = _call_back(hooks["on_backward_end"], state, "on_backward_end", batch,
                                    {"loss": value, "grads_finite": grads_finite})
                if bad_lr:
                    _stop_for_lr(model, history, f"{bad_lr} before the update of step {step + 1} (epoch "
                                 f"{epoch + 1}, batch {batch + 1})")
                    state.skip_step()
                if state.optimizer is not optimizer or state.model_changed:  # a callback treated the run
                    optimizer = state.optimizer
                    params = _params(optimizer)
                if state.model_changed:
                    state.model_changed = False
                    buffers, has_batch_norm, has_dropout = _layout(model, state.keep_dropout_masks)
                    if has_batch_norm:
                        _fold_short_last_batch(batches, batch_size, first=batch + 1)
                if state.shuffle and not shuffled:  # switched on mid-epoch: the rest of it, shuffled
                    shuffled = True
                    _shuffle_rest(batches, batch + 1, rng)
                if state.skipping:
                    state.skipping = False  # this step's gradients are void: no update
                elif finite:
                    if state.clip_grad_norm is not None:
                        clip_grad_norm_(params, state.clip_grad_norm)
                    with np.errstate(over="ignore", invalid="ignore"):
                        optimizer.step()
                        weights_finite = _all_finite(params)
                    if not weights_finite:
                        model.load_state_dict(epoch_start[0])
                        optimizer.load_state_dict(epoch_start[1])
                        model.stop_training = state.stopped_on_nonfinite = True
                        history.stop_reason = (
                            f"non-finite weights after the update of step {step + 1} (epoch {epoch + 1}, "
                            f"batch {batch + 1}): the update overflowed; model and optimizer were restored "
                            f"to their state at the start of epoch {epoch + 1}, the last state known finite"
                        )
                else:
                    for buffer, saved in zip(buffers, saved_buffers, strict=True):
                        buffer.data[...] = saved
                    model.stop_training = state.stopped_on_nonfinite = True
                    history.stop_reason = (
                        f"non-finite {'loss' if not math.isfinite(value) else 'gradients'} at step "
                        f"{step + 1} (epoch {epoch + 1}, batch {batch + 1}); that update was not applied, "
                        "so the model keeps its last finite weights"
                    )
                loss_sum += value * len(index)
                sample_count += len(index)
                batch_logs = {"loss": value}
                for name, fn in metric_fns.items():
                    score = fn(yb, out.data)
                    metric_sums[name] += score * len(index)
                    batch_logs[name] = score
                state.batch_samples = len(index)
                bad_lr = _call_back(hooks["on_batch_end"], state, "on_batch_end", batch, batch_logs)
                state.step = step + 1
                if bad_lr:
                    _stop_for_lr(model, history, f"{bad_lr} after step {step + 1} (epoch {epoch + 1}, "
                                 f"batch {batch + 1})")
                if interrupt.requested:
                    model.stop_training = True
                    history.stop_reason = f"interrupted (Ctrl-C) after step {step + 1} in epoch {epoch + 1}"
                if model.stop_training:
                    break
            if not sample_count:  # stopped before this epoch's first step: nothing to log
                break
            optimizer = state.optimizer
            logs = {"loss": loss_sum / max(sample_count, 1),
                    **{k: v / max(sample_count, 1) for k, v in metric_sums.items()}}
            if x_val is not None:
                val = evaluate(model, x_val, y_val, loss=loss_fn, batch_size=max(batch_size, 256),
                               metrics=list(metric_fns.values()), _names=list(metric_fns))
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(optimizer.param_groups[0]["lr"])  # the rate this epoch used
            history.append(epoch, logs)
            # the schedule steps before the callbacks see the epoch's end, so that a checkpoint
            # written there holds the state the next epoch starts from
            if scheduler is not None and not model.stop_training:
                before = [group.get("lr") for group in optimizer.param_groups]
                if isinstance(scheduler, ReduceLROnPlateau):
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
                bad_lr = _bad_lr(optimizer)
                if bad_lr:
                    _restore_lrs(optimizer, before)
                    _stop_for_lr(model, history, f"the scheduler {type(scheduler).__name__} set {bad_lr} "
                                 f"at the end of epoch {epoch + 1}")
            bad_lr = _call_back(hooks["on_epoch_end"], state, "on_epoch_end", epoch, logs)
            if bad_lr:
                _stop_for_lr(model, history, f"{bad_lr} at the end of epoch {epoch + 1}")
            if state.model_changed:  # treated at the epoch's end
                state.model_changed = False
                buffers, has_batch_norm, has_dropout = _layout(model, state.keep_dropout_masks)
                params = _params(state.optimizer)
            if model.stop_training:
                break
            state.epoch = epoch + 1
        for callback in callbacks:
            callback.on_train_end({})
    history.wall_time += time.perf_counter() - started
    if history.stop_reason and verbose:
        print(f"Stopped: {history.stop_reason}", file=sys.stderr if "non-finite" in history.stop_reason
              else sys.stdout)
    return history


def _resolve_doctor(doctor: Any, repair: bool) -> Any:
    """The ``Doctor`` that ``fit(doctor=..., repair=...)`` asks for, or None."""
    if doctor is True or ((doctor is False or doctor is None) and repair):
        from retroprop.doctor import Doctor

        return Doctor(repair=bool(repair))
    if doctor is False or doctor is None:
        return None
    if not hasattr(doctor, "observe") or not hasattr(doctor, "attach"):
        raise TypeError(f"fit: doctor must be True, False or a retroprop Doctor, got {type(doctor).__name__}")
    if repair:
        doctor.repair = True
    return doctor


def _batched_outputs(model: Module, x: np.ndarray, batch_size: int) -> np.ndarray:
    was_training = model.training
    model.eval()
    try:  # overflow shows as inf/NaN in the result, which callers report; no NumPy warnings
        quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")
        with training_threads(model, batch_size), no_grad(), quiet:
            outs = [model(Tensor._make(x[i:i + batch_size])).data for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs) if outs else np.empty((0,))


def evaluate(model: Module, x: Any, y: Any, *, loss: Any, batch_size: int = 256,
             metrics: Sequence[Any] | None = None, _names: list[str] | None = None) -> dict[str, float]:
    """Loss and metrics of ``model`` (in eval mode, no graph) on ``(x, y)``."""
    loss_fn, classification = _resolve_loss(loss, "evaluate")
    batch_size = _positive(batch_size, "batch_size", where="evaluate")
    x_arr, y_arr = _as_numpy(x, "evaluate: x"), _as_numpy(y, "evaluate: y")
    _check_pair(x_arr, y_arr, "evaluate")
    x_arr = x_arr.astype(_input_dtype(model, x_arr), copy=False)
    y_arr = _prepare_targets(y_arr, loss_fn, classification, model.dtype, "evaluate")
    if _names is not None:
        metric_fns = dict(zip(_names, metrics or [], strict=True))
    else:
        metric_fns = _resolve_metrics(metrics, loss_fn, classification)
    out = _batched_outputs(model, x_arr, batch_size)
    with no_grad(), np.errstate(over="ignore", invalid="ignore"):
        value = float(loss_fn(Tensor._make(out), y_arr).data)
    return {"loss": value, **{name: float(fn(y_arr, out)) for name, fn in metric_fns.items()}}


def predict(model: Module, x: Any, *, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for ``x`` (eval mode, no graph), as a NumPy array."""
    x_arr = _as_numpy(x, "predict: x")
    if x_arr.ndim == 0 or len(x_arr) == 0:
        raise ValueError(f"predict: x must hold at least one sample, got shape {x_arr.shape}")
    _check_finite(x_arr, "predict: x")
    batch_size = _positive(batch_size, "batch_size", where="predict")
    return _batched_outputs(model, x_arr.astype(_input_dtype(model, x_arr), copy=False), batch_size)
