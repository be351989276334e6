"""``DoctorCallback``: retroprop's doctor in a PyTorch Lightning ``Trainer``.

```python
from retroprop.torch.lightning import DoctorCallback
doctor = DoctorCallback()                       # repair=False: diagnose only
trainer = Trainer(max_epochs=10, callbacks=[doctor])
trainer.fit(model, train_loader, val_loader)    # the diagnoses are printed when fit ends
doctor.diagnoses; doctor.report("run.html")
```

Lightning calls ``optimizer.step(closure)``, whose closure runs ``training_step`` and ``backward``: a
torch step pre-hook would run before the gradients exist. So the callback drives the same doctor as
``retroprop.torch.watch`` from Lightning's own hooks: ``on_train_start`` attaches it to ``pl_module``
and ``trainer.optimizers[0]``, with the trainer's training and validation loaders for the checks
before the first step (``retroprop.torch.data``: the data, the batch size, whether it is shuffled);
``on_train_batch_start`` marks the start of a forward pass;
``on_before_backward`` gives it the loss (summed over the batches of a gradient accumulation: Lightning
has divided each by their count, so the sum is their mean); ``on_before_optimizer_step`` (gradients
complete, unclipped, the update not yet made) is the doctor's step; ``on_train_epoch_end`` (after the
validation loop) gives it Keras-style epoch logs from ``trainer.callback_metrics`` (``metric_names``);
``on_fit_end`` ends the run and prints the diagnoses (rank 0 only). Needs the ``lightning`` package
(``pip install retroprop[lightning]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch

from retroprop.doctor.diagnosis import Diagnosis
from retroprop.doctor.repair import TreatmentRecord
from retroprop.torch.watch import Watch

__all__ = ["METRIC_NAMES", "DoctorCallback"]

# the epoch logs' keys (Keras's) and the ``trainer.callback_metrics`` keys looked for, first found wins;
# "loss" is the mean of the epoch's training step losses as the callback saw them, unless mapped
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "val_loss": ("val_loss", "val_loss_epoch", "valid_loss", "validation_loss"),
    "accuracy": ("train_acc_epoch", "train_acc", "train_accuracy", "acc", "accuracy"),
    "val_accuracy": ("val_acc", "val_accuracy", "val_acc_epoch", "valid_acc", "validation_accuracy"),
}
LOG_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


def _single(loaders: Any) -> Any:
    """The one ``DataLoader`` of a trainer's loaders (a list or dict of one), else None."""
    if isinstance(loaders, Mapping):
        loaders = list(loaders.values())
    if isinstance(loaders, (list, tuple)):
        loaders = loaders[0] if len(loaders) == 1 else None
    return loaders if isinstance(loaders, torch.utils.data.DataLoader) else None


class _LightningWatch(Watch):
    """``Watch`` driven by the callback's hooks instead of the optimizer's step pre-hook."""

    _drives_steps = False


class DoctorCallback(pl.Callback):
    """retroprop's doctor as a Lightning callback: ``Trainer(callbacks=[DoctorCallback()])``.

    ``repair=True`` treats what is found in place, as ``watch(..., repair=True)`` does, inside
    ``on_before_optimizer_step``: the model's tensors, the optimizer's state and the random generators
    roll back to the last healthy snapshot, the remedy is applied (learning rates in the optimizer's
    ``param_groups``, modules swapped in the LightningModule's tree, ...) and the step's gradients are
    set to None so that Lightning's ``optimizer.step`` changes nothing. Lightning's own counters
    (``global_step``, epochs), its learning-rate schedulers and the data loaders are not rolled back. When
    the doctor asks the run to stop, ``trainer.should_stop`` is set.

    ``every``: steps between probes (default: the doctor's schedule). ``metrics``: the
    ``callback_metrics`` key for any of ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``
    (default: ``METRIC_NAMES``; ``loss`` defaults to the mean step loss of the epoch). ``report``: a
    path for the HTML report, written when fit ends. ``verbose``: print the summary when fit ends.
    ``setup``: as ``watch``'s (``loss``, ``inputs``, ``targets``, ``n_classes``, ``batch_size``,
    ``lr_scheduled``, ...); ``data`` and ``validation_data`` default to the trainer's loaders. Only
    ``trainer.optimizers[0]`` is watched.
    """

    def __init__(self, repair: bool = False, every: int | None = None, *,
                 metrics: Mapping[str, str] | None = None, report: Any = None, verbose: bool = True,
                 **setup: Any) -> None:
        unknown = sorted(set(metrics or {}) - set(LOG_KEYS))
        if unknown:
            raise ValueError(f"DoctorCallback: metrics maps the epoch logs' keys {', '.join(LOG_KEYS)} to "
                             f"callback_metrics keys; {', '.join(map(repr, unknown))} is not one of them")
        self.repair, self.every, self._setup = bool(repair), every, setup  # (Callback.setup is a hook)
        self.metrics = dict(metrics or {})
        self.report_path, self.verbose = report, verbose
        self.watch: Watch | None = None
        self._loss: torch.Tensor | None = None  # this step's loss so far (a sum over accumulated batches)
        self._epoch_losses: list[float] = []

    # -- Lightning's hooks ------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.optimizers:
            raise ValueError("DoctorCallback: the LightningModule's configure_optimizers returned no "
                             "optimizer; the doctor watches trainer.optimizers[0]")
        setup = dict(self._setup)
        try:  # the optimizer steps of the fit (inf without a limit); reading it sets up the train loader
            planned = trainer.estimated_stepping_batches
        except Exception:  # a loader of unknown length: the run's end alone is judged
            planned = None
        if "steps" not in setup and type(planned) is int and planned > 0:
            setup["steps"] = planned
        if "data" not in setup:  # the loaders as the trainer holds them (read by retroprop.torch.data)
            setup["data"] = _single(trainer.train_dataloader)
        if "validation_data" not in setup:
            setup["validation_data"] = _single(trainer.val_dataloaders)
        self.watch = _LightningWatch(pl_module, trainer.optimizers[0], repair=self.repair, every=self.every,
                                     **setup)
        for config in trainer.lr_scheduler_configs:  # a learning-rate remedy scales their rates too
            if getattr(config.scheduler, "optimizer", None) is trainer.optimizers[0]:
                self.watch.track_scheduler(config.scheduler)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        recorder = self.watch.core.recorder if self.watch is not None else None
        if recorder is not None and recorder.probe.armed:
            recorder.probe.start_pass()  # training_step may run the submodules without calling the model

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           loss: torch.Tensor) -> None:
        if self.watch is not None:
            self.watch.complete_setup(loss)  # the first loss's graph names the loss function
        loss = loss.detach()
        self._loss = loss if self._loss is None else self._loss + loss

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: Any) -> None:
        watch = self.watch
        if watch is None or optimizer is not watch.optimizer:
            return
        loss, self._loss = self._loss, None
        value = None if loss is None else float(loss.item())
        if value is not None:
            self._epoch_losses.append(value)
        watch._step(optimizer, value)
        if watch.should_stop:
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.watch is None:
            return
        self.watch.end_epoch(trainer.current_epoch, self.epoch_logs(trainer))
        self._epoch_losses = []
        if self.watch.should_stop:
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._end(trainer)

    def _end(self, trainer: pl.Trainer) -> None:
        if self.watch is None or self.watch._finished:
            return
        self.watch.finish()
        if trainer.is_global_zero:
            if self.verbose:
                print(self.summary())
            if self.report_path is not None:
                self.report(self.report_path)

    # -- the epoch logs -----------------------------------------------------------------------------
    def epoch_logs(self, trainer: pl.Trainer) -> dict[str, float]:
        """This epoch's Keras-style logs from ``trainer.callback_metrics`` (see ``metrics``)."""
        found = trainer.callback_metrics
        logs: dict[str, float] = {}
        for key in LOG_KEYS:
            if key in self.metrics:
                names: tuple[str, ...] = (self.metrics[key],)
            elif key == "loss":
                if self._epoch_losses:
                    logs["loss"] = math.fsum(self._epoch_losses) / len(self._epoch_losses)
                continue
            else:
                names = METRIC_NAMES[key]
            for name in names:
                value = found.get(name)
                if value is not None and (not isinstance(value, torch.Tensor) or value.numel() == 1):
                    logs[key] = float(value.item() if isinstance(value, torch.Tensor) else value)
                    break
        return logs

    # -- results -------------------------------------------------------------------------------------
    def _watch(self) -> Watch:
        if self.watch is None:
            raise RuntimeError("DoctorCallback: the trainer has not started fitting yet (no run to report)")
        return self.watch

    @property
    def diagnoses(self) -> list[Diagnosis]:
        return [] if self.watch is None else self.watch.diagnoses

    @property
    def treatments(self) -> list[TreatmentRecord]:
        return [] if self.watch is None else self.watch.treatments

    def summary(self) -> str:
        return self._watch().summary()

    def report(self, path: Any, title: str | None = None) -> Any:
        """Write the HTML report of the run to ``path`` (``Watch.report``)."""
        return self._watch().report(path, title=title or "retroprop doctor: a Lightning run")
