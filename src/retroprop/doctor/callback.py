"""The doctor inside ``fit``: a callback that watches each step and epoch and asks ``fit``, through its
``TrainState``, to skip a step, go on with a treated model or optimizer, clip, or train longer.

``fit(..., doctor=...)`` puts one first in its callback list. The doctor never ends the run it
watches: a failure in ``attach`` leaves the run unwatched and is recorded in ``History.doctor_errors``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from retroprop.callbacks import Callback, Logs


class DoctorCallback(Callback):
    """Runs a ``Doctor`` through ``fit``'s hooks.

    ``setup``: what ``Doctor.attach`` needs beyond the model and optimizer (``chance_loss``,
    ``inputs``, ``samples``, ``validation_inputs``, ``validation_targets``, ``loss``, ``targets``,
    ``n_classes``, ``batch_size``, ``lr_scheduled``); ``verbose``: print new diagnoses and treatments
    on stderr.
    """

    may_change_lr = False  # its treatments set rates through the remedies, which check them

    def __init__(self, doctor: Any, setup: dict[str, Any], verbose: int = 0) -> None:
        self.doctor, self.setup, self.verbose = doctor, setup, verbose
        self.watching = False
        self._quiet, self._record_loss, self._alarm = 0, None, math.inf

    def on_train_begin(self, logs: Logs | None = None) -> None:
        state, doctor = self.state, self.doctor
        try:
            doctor.attach(state.model, state.optimizer, **self.setup,
                          steps=(state.epochs - state.epoch) * state.history.params["steps"])
        except Exception as err:  # the doctor must never keep training from happening
            state.history.doctor_errors.append({"step": state.step, "epoch": state.epoch, "where": "attach",
                                                "error": repr(err)})
            if self.verbose:
                print(f"Doctor: internal error in attach: {err!r}; training goes on without the doctor",
                      file=sys.stderr)
            return
        self.watching = True
        doctor.verbose = bool(self.verbose)
        state.history.diagnoses = doctor.diagnoses
        state.history.passed = doctor.passed
        state.history.treatments = doctor.treatments
        state.history.doctor_errors = doctor.errors
        state.keep_dropout_masks = True  # a replayed step must draw its dropout masks again
        self._quiet, self._first_epoch = 0, state.epoch

    def _say(self, diagnoses: list[Any]) -> None:
        if self.verbose:
            for diagnosis in diagnoses:
                print(f"Doctor: {diagnosis}", file=sys.stderr)

    def _treat(self, diagnoses: list[Any]) -> bool:
        """Let the doctor treat; tell fit what changed. Returns whether the state was treated."""
        state, doctor = self.state, self.doctor
        lr_before = float(doctor.optimizer.param_groups[0]["lr"])
        record = doctor.treat(diagnoses)
        if record is not None and self.verbose:
            print(f"Doctor: treated {record}", file=sys.stderr)
        if record is not None:
            state.replace(optimizer=doctor.optimizer, model_changed=True, lr_before=lr_before)
        state.clip_grad_norm = doctor.clip_grad_norm
        if doctor.shuffle is not None:
            state.shuffle = doctor.shuffle
        if doctor.stop_reason:
            state.model.stop_training = True
            state.history.stop_reason = doctor.stop_reason
        return record is not None or bool(doctor.stop_reason)

    def on_backward_end(self, batch: int, logs: Logs | None = None) -> None:
        if not self.watching:
            return
        value, grads_finite = logs["loss"], logs["grads_finite"]
        if self._quiet and grads_finite and math.isfinite(value) and value <= self._alarm:
            # the common step: only its loss is needed
            self._quiet -= 1
            self._record_loss(value)
            return
        doctor, state = self.doctor, self.state
        new = doctor.observe(value, state.epoch, grads_finite=grads_finite, rerun=state.rerun)
        self._say(new)
        if new and doctor.repair and self._treat(new):
            state.skip_step()  # rolled back and treated: this step's gradients are void
        self._quiet, self._record_loss = doctor.quiet_steps(), doctor.recorder.record_loss
        self._alarm = doctor.loss_alarm

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        state = self.state
        if self.watching and state.stopped_on_nonfinite and hasattr(self.doctor, "note_stop"):
            try:  # a run stopped on NaN/Inf is never a healthy one
                self._say(self.doctor.note_stop(state.history.stop_reason, state.step, state.epoch))
            except Exception as err:
                state.history.doctor_errors.append({"step": state.step, "epoch": state.epoch,
                                                    "where": "note_stop", "error": repr(err)})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.watching:
            return
        doctor, state = self.doctor, self.state
        new = doctor.end_epoch(epoch, logs)
        self._say(new)
        if doctor.repair and (new or getattr(doctor, "undo_pending", False)):
            self._treat(new)
        self._quiet, self._alarm = doctor.quiet_steps(), doctor.loss_alarm
        if doctor.repair and not state.model.stop_training:  # give back the steps roll-backs discarded
            planned = state.planned_epochs - self._first_epoch
            state.extend(state.planned_epochs + doctor.make_up_epochs(state.history.params["steps"], planned))
            doctor.planned_steps = (state.epochs - self._first_epoch) * state.history.params["steps"]

    def on_train_end(self, logs: Logs | None = None) -> None:
        if not self.watching:
            return
        self._say(self.doctor.finish())  # the loss rules read the run's last steps
        self.state.history.best = self.doctor.best
