"""Callbacks for ``rp.fit``, with Keras's hook names.

Each hook receives the 0-based epoch or batch index and a ``logs`` dict of the latest numbers
(``loss``, metrics, ``val_*``, ``lr``). Set ``self.model.stop_training = True`` to stop after the
current batch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from retroprop.files import check_output_path, write_text

if TYPE_CHECKING:
    from retroprop.history import History
    from retroprop.nn import Module

Logs = dict[str, float]


@dataclass(eq=False)
class TrainState:
    """What ``fit`` shares with its callbacks while it runs (``callback.state``), and what a callback
    may ask of it.

    Read: ``model``, ``optimizer``, ``scheduler``, ``history``, ``epoch`` and ``step`` (0-based, the
    ones running), ``epochs`` (fit stops before this epoch), ``planned_epochs`` (as fit was called),
    ``batch_size``, ``batch_samples`` (of the batch that just ended), ``rerun`` (in
    ``on_backward_end``: runs the step's forward pass again, same batch and dropout masks when
    ``keep_dropout_masks`` was set, changing no state) and ``stopped_on_nonfinite`` (fit stopped the
    run on NaN/Inf at this step).

    Ask, in any hook: ``model.stop_training = True`` (stop after this batch); ``extend(epochs)``
    (train until that epoch); ``replace(optimizer=..., model_changed=...)`` (go on with another
    optimizer, or a model whose layers were edited in place; a schedule follows); ``clip_grad_norm``
    (clip the gradients' global norm to it before each update); ``shuffle`` (draw each epoch's samples
    in a new random order; switched on mid-epoch, the rest of the epoch too). In ``on_backward_end`` only:
    ``skip_step()`` (this step's update is not applied: its gradients are void).
    """

    model: Module
    optimizer: Any
    history: History
    epochs: int
    batch_size: int
    scheduler: Any = None
    planned_epochs: int = 0
    epoch: int = 0
    step: int = 0
    clip_grad_norm: float | None = None
    shuffle: bool = True
    rerun: Callable[[], None] | None = None
    keep_dropout_masks: bool = False
    stopped_on_nonfinite: bool = False
    batch_samples: int = 0  # the samples of the batch that just ended
    skipping: bool = False  # set by skip_step(), cleared by fit after the step
    model_changed: bool = False  # set by replace(model_changed=True), cleared by fit once it re-reads it

    def skip_step(self) -> None:
        self.skipping = True

    def extend(self, epochs: int) -> None:
        """Train until ``epochs`` (never fewer than planned)."""
        self.epochs = max(int(epochs), self.planned_epochs)
        self.history.params["epochs"] = self.epochs

    def replace(self, *, optimizer: Any = None, model_changed: bool = False,
                lr_before: float | None = None) -> None:
        """Go on with ``optimizer`` (and a model edited in place when ``model_changed``). A schedule
        drives the new optimizer, its base rates scaled as the rate moved from ``lr_before``."""
        if optimizer is not None:
            before = float(self.optimizer.param_groups[0]["lr"]) if lr_before is None else lr_before
            self.optimizer = optimizer
            self.history.params["optimizer"] = optimizer
            if self.scheduler is not None:
                factor = float(optimizer.param_groups[0]["lr"]) / before if before else 1.0
                self.scheduler.optimizer = optimizer
                if factor != 1.0 and hasattr(self.scheduler, "base_lrs"):
                    self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]
                for group in optimizer.param_groups:
                    group.setdefault("initial_lr", group["lr"])
        self.model_changed = self.model_changed or model_changed


class Callback:
    """Base class: override any of the hooks. ``self.state`` is fit's ``TrainState``. ``fit`` checks the
    learning rates after each hook of a callback that may change them (``may_change_lr``)."""

    model: Module
    history: History
    params: dict[str, Any]
    state: TrainState | None = None
    may_change_lr = True

    def set_context(self, model: Module, history: History, params: dict[str, Any],
                    state: TrainState | None = None) -> None:
        self.model, self.history, self.params, self.state = model, history, params, state

    @property
    def optimizer(self) -> Any:
        return self.params.get("optimizer")

    def on_train_begin(self, logs: Logs | None = None) -> None: ...

    def on_train_end(self, logs: Logs | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...

    def on_backward_end(self, batch: int, logs: Logs | None = None) -> None:
        """After the step's backward pass, before its update: ``logs`` has the step's ``loss`` and
        ``grads_finite`` (whether every gradient is finite)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


def _resolve_mode(mode: str, monitor: str, where: str) -> Callable[[float, float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if any(word in monitor for word in ("acc", "auc", "precision", "recall")) else "min"
    if mode == "min":
        return lambda current, best, delta: current < best - delta
    return lambda current, best, delta: current > best + delta


def _monitored(logs: Logs | None, monitor: str, where: str) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(
            f"{where}: the monitored value {monitor!r} is not in the logs (have: "
            f"{', '.join(sorted(logs or {}))}); pass validation data or monitor another value",
            RuntimeWarning,
            stacklevel=3,
        )
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False,
                 baseline: float | None = None, start_from_epoch: int = 0) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.restore_best_weights, self.baseline = restore_best_weights, baseline
        self.start_from_epoch = start_from_epoch
        self._better = _resolve_mode(mode, monitor, "EarlyStopping")
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.best = self.baseline
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch = self.best_epoch = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch or not math.isfinite(current):
            return
        if self.best is None or self._better(current, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.history.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch + 1})"
            )

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0, verbose: int = 0) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.min_delta, self.cooldown, self.min_lr, self.verbose = min_delta, cooldown, min_lr, verbose
        self._better = _resolve_mode(mode, monitor, "ReduceLROnPlateau")

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best: float | None = None
        self.wait = self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or self._better(current, self.best, self.min_delta):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            for group in self.optimizer.param_groups:
                new_lr = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new_lr > 1e-12 * group["lr"]:
                    group["lr"] = new_lr
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau lowered the learning rate to "
                              f"{new_lr:.3g}")
            self.cooldown_counter, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback):
    """Save the model (or a full checkpoint) after each epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch}`` (1-based, as shown to people) and any log key, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``. With ``full=True`` the file is a
    checkpoint (model, optimizer, scheduler, epoch, random state) that ``rp.load_checkpoint``
    resumes from; otherwise the model alone, for ``rp.load``.
    """

    def __init__(self, filepath: str | Path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", full: bool = False) -> None:
        self.filepath, self.monitor = str(filepath), monitor
        if Path(self.filepath).suffix.lower() not in (".safetensors", ".npz"):
            raise ValueError(f"ModelCheckpoint: {self.filepath} must end in .safetensors or .npz")
        self.save_best_only, self.full = save_best_only, full
        self._better = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.best: float | None = None
        self.saved: list[str] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if "{" not in str(Path(self.filepath).parent):  # a templated folder is checked at each save
            check_output_path(self.filepath, what="checkpoint", create_folder=True)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None or not math.isfinite(current):
                return
            if self.best is not None and not self._better(current, self.best, 0.0):
                return
            self.best = current
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as err:
            raise ValueError(
                f"ModelCheckpoint: the file name {self.filepath!r} uses {{{err.args[0]}}}, which is not "
                f"among this run's values ({', '.join(['epoch', *sorted(logs)])}); pass validation data "
                "or change the name"
            ) from None
        from retroprop.serialization import save, save_checkpoint

        # both write atomically: a failed save leaves the previous file whole and raises OSError
        if self.full:
            save_checkpoint(path, self.model, self.optimizer, scheduler=self.params.get("scheduler"),
                            epoch=epoch + 1, history=self.history)
        else:
            save(self.model, path)
        self.saved.append(path)


class CSVLogger(Callback):
    """Write one row per epoch (epoch counted from 0, then every log value) to a CSV file.

    The path is checked when training begins. The first row replaces the file atomically (with
    ``append``, it follows the rows already there); each later row is appended and flushed, as
    Keras's CSVLogger does, so an epoch costs one small write however long the log. A row that
    cannot be written whole (a full disk) is cut off again before the error propagates: the file
    always ends with the last complete row, and earlier rows are never rewritten. The file is
    fsynced when training ends.
    """

    def __init__(self, filename: str | Path, separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = Path(filename), separator, append
        self._keys: list[str] | None = None
        self._file: IO[bytes] | None = None  # a file object: closed by the garbage collector too

    def on_train_begin(self, logs: Logs | None = None) -> None:
        check_output_path(self.filename, what="CSV log")
        self._close()
        self._keys = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
        row = self._line([epoch, *(logs.get(k, "") for k in self._keys)])
        if self._file is not None:
            self._write(row)
            return
        earlier = self.filename.stat().st_size if self.append and self.filename.exists() else 0
        if not earlier:
            write_text(self.filename, self._line(["epoch", *self._keys]) + row)
        self._file = self.filename.open("ab", buffering=0)
        if earlier:
            with self.filename.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                ends_a_line = handle.read(1) == b"\n"
            self._write(row if ends_a_line else "\r\n" + row)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close()

    def _line(self, values: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.separator).writerow(values)
        return buffer.getvalue()

    def _write(self, text: str) -> None:
        """Append ``text`` whole, or cut the file back to where it was and raise."""
        if self._file is None:
            raise RuntimeError("CSVLogger: the log is not open (training has not begun)")
        fd = self._file.fileno()
        size = os.fstat(fd).st_size
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise

    def _close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with file, contextlib.suppress(OSError):
                os.fsync(file.fileno())


class TerminateOnNaN(Callback):
    """Stop as soon as the loss is NaN or infinite (fit already skips that step's update)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
            if not self.history.stop_reason:  # fit's own, more detailed reason comes first
                self.history.stop_reason = f"TerminateOnNaN: the loss became {loss} at batch {batch + 1}"


class ProgressBar(Callback):
    """``fit``'s progress: ``verbose=1`` a live bar per epoch (only on a terminal), ``verbose=2`` one line
    per epoch, 0 nothing. The bar shows the epoch's running means, weighted by the batches' sizes."""

    may_change_lr = False

    def __init__(self, verbose: int = 1, steps: int = 0, stream: Any = None) -> None:
        self.verbose, self.steps = verbose, steps
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0

    @property
    def epochs(self) -> int:
        return self.state.epochs if self.state is not None else self.params.get("epochs", 0)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.start = time.perf_counter()
        self._sums: dict[str, float] = {}
        self._count = 0
        if self.verbose == 1 and self.live:
            self.stream.write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self.live:
            return
        size = self.state.batch_samples if self.state is not None else 1
        self._count += size
        for key, value in (logs or {}).items():
            self._sums[key] = self._sums.get(key, 0.0) + value * size
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and batch + 1 < self.steps:
            return
        self._last_draw = now
        done = batch + 1
        width = 30
        filled = int(width * done / max(self.steps, 1))
        bar = "=" * max(filled - 1, 0) + (">" if filled < width else "=") + "." * (width - filled)
        elapsed = now - self.start
        eta = elapsed / done * max(self.steps - done, 0)
        numbers = " - ".join(f"{k}: {v / self._count:.4f}" for k, v in self._sums.items())
        self.stream.write(f"\r{done}/{self.steps} [{bar}] - ETA {eta:4.1f}s - {numbers}\x1b[K")
        self.stream.flush()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        numbers = " - ".join(f"{k}: {v:.4g}" if k == "lr" else f"{k}: {v:.4f}"
                             for k, v in (logs or {}).items())
        line = f"{self.steps}/{self.steps} - {elapsed:.2f}s - {numbers}"
        if self.live:
            self.stream.write(f"\r{line}\x1b[K\n")
        else:
            self.stream.write(f"Epoch {epoch + 1}/{self.epochs} - {line}\n")
        self.stream.flush()


class LambdaCallback(Callback):
    """Build a callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_batch_begin", "on_backward_end", "on_batch_end")

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        unknown = set(hooks) - set(self._HOOKS)
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hook(s) {sorted(unknown)}; expected {', '.join(self._HOOKS)}"
            )
        for name, fn in hooks.items():
            setattr(self, name, fn)


__all__ = ["CSVLogger", "Callback", "EarlyStopping", "LambdaCallback", "ModelCheckpoint", "ProgressBar",
           "ReduceLROnPlateau", "TerminateOnNaN", "TrainState"]
