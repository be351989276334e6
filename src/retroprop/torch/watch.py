"""``watch(model, optimizer)``: retroprop's doctor in an unchanged PyTorch training loop.

The optimizer's step pre-hook drives the doctor: on every ``optimizer.step()``, before the update, the
gradients are complete, so the step is observed there (probed on the doctor's schedule: forward hooks
armed for the probed steps only). ``observe(loss)`` before ``optimizer.step()`` hands that step's loss
to the loss rules; ``end_epoch(epoch, logs)`` gives the epoch rules their Keras-style logs. With
``repair=True`` the treatment also happens in the pre-hook, in place: see ``Watch``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from retroprop.doctor import Doctor
from retroprop.doctor.checks import CATEGORICAL_LOSSES, VALIDATION_SCALE_MAX, inputs_rms, output_kind
from retroprop.doctor.diagnosis import Diagnosis
from retroprop.doctor.repair import TreatmentRecord
from retroprop.doctor.rules import EVALUATION_ROWS
from retroprop.torch import schedulers
from retroprop.torch.adapter import TorchAdapter
from retroprop.torch.data import host_rows, setup_from_loaders
from retroprop.torch.distributed import Ranks
from retroprop.torch.loss_graph import loss_from_graph, unregistered_leaves

__all__ = ["Watch", "watch"]

FIRST_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # where a first batch of inputs enters


class Watch:
    """The doctor attached to one torch model and optimizer (made by ``watch``).

    In the user's loop, each ``optimizer.step()`` first runs this doctor's step pre-hook: it records
    the step (``Doctor.observe``, with the loss given to ``observe`` or as unknown), clips the
    gradients once a ``clip_gradients`` treatment asked for it, and with ``repair=True`` treats what
    was just diagnosed: the model's tensors, the optimizer's state and the random generators are
    rolled back *in place* to the last healthy snapshot, the remedy is applied in place, and the
    gradients are set to None so that this step's update does nothing (torch's optimizers skip a
    parameter without a gradient). The loop's model and optimizer objects stay valid throughout; what
    it sees is a step that changed nothing, a lower ``param_groups`` learning rate, swapped activation
    modules, or new parameters (BatchNorm) already in the optimizer.

    Under ``torch.distributed`` with several ranks (DistributedDataParallel: pass the wrapped model, its
    layers are named as in ``.module``) every rank's doctor is fed the same numbers, reduced across the
    ranks, so that all reach the same diagnoses and treatments at the same step
    (``retroprop.torch.distributed``); call ``watch``, ``end_epoch`` and ``finish`` on every rank.

    ``core`` is the retroprop ``Doctor`` behind it, ``adapter`` its ``TorchAdapter``.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *, repair: bool = False,
                 every: int | None = None, loss: Any = None, inputs: Any = None, targets: Any = None,
                 n_classes: int | None = None, batch_size: int | None = None,
                 lr_scheduled: bool = False, chance_loss: float | None = None,
                 steps: int | None = None, validation_inputs: Any = None,
                 validation_targets: Any = None, shuffled: bool | None = None, data: Any = None,
                 validation_data: Any = None, samples: tuple[int, int] | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch: model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"watch: optimizer must be a torch.optim.Optimizer (its step hooks drive the "
                            f"doctor), got {type(optimizer).__name__}")
        # under torch.distributed every rank's doctor is fed the same numbers (retroprop.torch.distributed)
        self.adapter = TorchAdapter(model, optimizer, ranks=Ranks.current())
        self._ranks_agree = True
        self.core = Doctor(every=every, repair=repair)
        # what the loaders hold fills in what was not given (``retroprop.torch.data``)
        given = {"inputs": inputs, "targets": targets, "batch_size": batch_size, "shuffled": shuffled,
                 "validation_inputs": validation_inputs, "validation_targets": validation_targets,
                 "samples": samples}
        read = setup_from_loaders(data, validation_data) if data is not None or validation_data is not None \
            else {}
        # read from a loader, the inputs are what it stores: checked against the model's first batch
        self._stored_inputs = read.get("inputs") if inputs is None else None
        # the targets' rows the inputs read from a loader hold (at most INPUT_ROWS of them); inputs or
        # targets given by hand are not the loader's, and its rows say nothing of them
        input_rows = read.pop("input_rows", None)
        if inputs is not None or targets is not None:
            input_rows = None
        given.update({k: v for k, v in read.items() if given[k] is None})
        (inputs, targets, batch_size, shuffled, validation_inputs, validation_targets, samples) = (
            given.values())
        targets = _numpy(targets)
        self._classes_guessed = False  # n_classes read from integer targets, before the loss is known
        if n_classes is None and self.adapter.describe_loss(loss) in (None, *CATEGORICAL_LOSSES):
            n_classes = class_count(targets)
            self._classes_guessed = n_classes is not None and loss is None
        if chance_loss is None and n_classes is not None and n_classes >= 2 and (
                self.adapter.describe_loss(loss) in CATEGORICAL_LOSSES):
            chance_loss = math.log(n_classes)  # a blind guess's cross-entropy, as fit sets it
        self.core.attach(self.adapter, loss=loss, inputs=_numpy(inputs), targets=targets, samples=samples,
                         n_classes=n_classes, batch_size=batch_size, lr_scheduled=lr_scheduled,
                         chance_loss=chance_loss, steps=steps, validation_inputs=_numpy(validation_inputs),
                         validation_targets=_numpy(validation_targets), shuffled=shuffled,
                         input_rows=input_rows)
        self._loss: Any = None
        self._schedulers: list[Any] = []  # given by ``track_scheduler``
        # what the setup lacks, read from the first forward pass and the first loss's graph
        self._first_loss_unread = True
        # a batch differs from rank to rank, and the ranks' doctors must agree: no batch under DDP
        batches = self.adapter.ranks is None
        self._unknown_setup = {"loss": loss is None, "inputs": inputs is None and batches,
                               "targets": targets is None and batches}
        self._batch_wanted = batches and (inputs is None or self._stored_inputs is not None)
        self._output_width: int | None = None  # the model's first output's width (its classes)
        # the trainable tensors its first output's graph reaches outside its parameters and the optimizer's
        self._unregistered: dict[str, Any] | None = None
        self._input_sample: Any = None  # the model's first training batch of inputs (INPUT_ROWS rows)
        self._first_call_hook = (model.register_forward_hook(self._read_first_call)
                                 if self._unknown_setup["loss"] or self._batch_wanted else None)
        # a loop that calls ``model.forward(x)`` runs no hook of the model's own: the first batch is then
        # read where it enters the first Linear or convolution (whose own call runs its hooks)
        self._layer_input_sample: Any = None
        first_layer = next((m for m in model.modules() if isinstance(m, FIRST_LAYERS)), None)
        self._first_layer_hook = (first_layer.register_forward_pre_hook(self._read_first_layer_input)
                                  if self._unknown_setup["inputs"] and first_layer is not None else None)
        # the first call the loop evaluates with (rows, whether in training mode), checked at the next
        # epoch's end: whether two passes over it agree (``Doctor.check_evaluation``)
        self._evaluated: tuple[torch.Tensor, bool] | None = None
        self._evaluation_hook = self.adapter.hook_model(self._read_evaluation_call)
        self._epochs = 0
        self.skipped_steps = 0  # steps whose update was voided by a roll-back
        self._finished = False
        # the coming steps that need nothing but their loss (``Doctor.quiet_steps``), recorded here as
        # fit's callback records them; ``_settle`` sets these after each step the doctor observed
        self._quiet = 0
        self._record_loss: Any = None
        self._alarm = math.inf
        self._unknown = False  # whether the doctor already knows that the losses are unknown
        # the losses back-propagated outside the optimizer's steps (a closure's, inside step, do not count)
        self._backward_passes = 0
        self._stepping = False
        if self._drives_steps:
            self.adapter.hook_steps(self._before_step, self._after_step)
            self.adapter.watch_carry()  # whether the loop clears the gradients between steps
        optimizer._retroprop_watched = True  # ``retroprop watch`` then leaves it to this doctor

    # the optimizer's step pre-hook drives the doctor (a subclass may drive ``_step`` itself)
    _drives_steps = True

    # -- the contract --------------------------------------------------------------------------
    def observe(self, loss: Any) -> None:
        """The loss of the coming ``optimizer.step()`` (a tensor or a float): call it after
        ``loss.backward()``. Optional: without it the loss rules do not run."""
        self.complete_setup(loss)
        self._loss = loss
        if not self._stepping:
            self._backward_passes += 1

    def complete_setup(self, loss: Any) -> None:
        """The first loss tensor: what ``watch`` was not given is read from it and from the model's first
        call, so that the checks before the first step run with it. Without ``loss=``, the loss function
        from its autograd graph (``retroprop.torch.loss_graph``); without ``inputs``, the first batch of
        inputs; without ``targets``, the batch's targets the loss node holds (while the graph does).
        A batch is read for its scale only. ``observe`` calls it; a loss without a graph is ignored."""
        if not self._first_loss_unread or not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
            return
        self._first_loss_unread = False
        self._forget_first_call()
        self._forget_first_layer()
        try:
            unknown = self._unknown_setup
            described = output_kind(self.adapter.describe())
            found = loss_from_graph(loss, described)
            output = None
            if unknown["loss"] and found is not None and described is None and found.output is not None:
                # the model's forward is opaque to describe(): its last function as the graph shows it
                output = {"name": "", "kind": found.output, "in_features": None, "out_features": found.width,
                          "label": f"the model's output ({found.output}, seen in the loss's graph)"}
            # stored inputs unlike the model's first batch (another shape, or a scale 10x apart) are
            # transformed by the loop before the model sees them: the batch is what to check
            transformed = self._input_sample is not None and self._stored_inputs is not None and (
                _unlike(self._stored_inputs, self._input_sample))
            # integer targets read as class indices, under a loss the graph shows to be no categorical one
            # (a regression on integer values, or a binary loss on 0/1 labels cast in the loop)
            not_classes = self._classes_guessed and found is not None and (
                found.doctor_loss_kind not in CATEGORICAL_LOSSES)
            inputs = self._input_sample if unknown["inputs"] or transformed else None
            if inputs is None and unknown["inputs"]:  # the model was never called: ``model.forward(x)``
                inputs = self._layer_input_sample
            self.core.complete_setup(
                found if unknown["loss"] else None, output,
                width=(found.width if found is not None else None) or self._output_width,
                inputs=inputs,
                targets=found.targets if unknown["targets"] and found is not None else None,
                inputs_transformed=transformed, classes_guessed=not_classes,
                # a loss given is not second-guessed, but what it did to the shapes is the graph's
                broadcast=found.broadcast if found is not None and not unknown["loss"] else None,
                unregistered=self._unregistered)
        except Exception as err:  # a failing doctor must never end the training it watches
            self.core._failed("checks", err, 0)

    def check_validation(self, inputs: Any) -> list[Diagnosis]:
        """A batch of the inputs the loop validates on, when ``watch`` was given none: checked once
        against the training inputs' scale (``Doctor.check_validation``); returns the new diagnoses.
        ``retroprop watch`` calls it with the first batch a script validates on."""
        if self.adapter.ranks is not None:
            return []  # one rank's batch: the ranks' doctors would part ways
        if isinstance(inputs, torch.Tensor):
            if not inputs.is_floating_point() or inputs.dim() < 2 or not len(inputs):
                return []
            inputs = host_rows(inputs)
        return self.core.check_validation(inputs)

    def _read_first_call(self, module: Any, args: Any, output: Any) -> None:
        """A forward hook for the model's first training call (in training mode, with gradients): the
        width of its output (of (N, C) outputs only: a sequence's (N, T, C) says nothing of C) and a
        sample of its input, read before the loss's graph is freed by ``backward``. An evaluation call
        before training is passed over."""
        if not (module.training and torch.is_grad_enabled()):
            return
        if isinstance(output, torch.Tensor) and output.dim() in (1, 2):
            self._output_width = int(output.shape[1]) if output.dim() == 2 else 1
        if isinstance(output, torch.Tensor):
            try:  # layers the forward used that the model does not register (read once, from the graph)
                self._unregistered = unregistered_leaves(output, module, self.adapter.optimizer)
            except Exception as err:  # a failing doctor must never end the training it watches
                self.core._failed("checks", err, 0)
        if self._batch_wanted:
            self._input_sample = batch_rows(args)
        self._forget_first_call()

    def _read_evaluation_call(self, module: Any, args: Any, output: Any) -> None:
        """A forward hook for the first call the loop evaluates with (without gradients, or in
        evaluation mode): up to ``EVALUATION_ROWS`` of its rows and the model's mode, kept for
        ``Doctor.check_evaluation``. The doctor's own passes are passed over."""
        if (torch.is_grad_enabled() and module.training) or self.adapter.evaluating:
            return
        batch = args[0] if args else None
        if isinstance(batch, torch.Tensor) and batch.dim() >= 1 and len(batch):
            self._evaluated = (batch[:EVALUATION_ROWS].detach().clone(), bool(module.training))
        self._forget_evaluation_call()

    def _check_evaluated(self) -> list[Diagnosis]:
        """``Doctor.check_evaluation`` on the evaluated rows, once they are read."""
        if self._evaluated is None:
            return []
        (rows, training), self._evaluated = self._evaluated, None
        return self.core.check_evaluation(rows, training)

    def _forget_evaluation_call(self) -> None:
        if self._evaluation_hook is not None:
            self._evaluation_hook.remove()
            self._evaluation_hook = None

    def _read_first_layer_input(self, module: Any, args: Any) -> None:
        """A forward pre-hook on the first Linear or convolution, for the first training batch's inputs
        where they enter it (the model's own hook reads them first when the loop calls the model)."""
        if not (module.training and torch.is_grad_enabled()):
            return
        self._layer_input_sample = batch_rows(args)
        self._forget_first_layer()

    def offer_first_batch(self, rows: np.ndarray | None) -> None:
        """A sample of the first training batch of inputs (``batch_rows``), read before this watch was
        attached: ``retroprop watch`` attaches at the first backward pass when the loop calls
        ``model.forward(x)``, after the batch went by. Used as the first layer's hook would have used
        it; ignored once the first loss was read or when the inputs are known."""
        if rows is None or not self._first_loss_unread or not self._unknown_setup["inputs"]:
            return
        if self._layer_input_sample is None:
            self._layer_input_sample = rows
            self._forget_first_layer()

    def offer_unregistered(self, found: dict[str, Any] | None) -> None:
        """What ``loss_graph.unregistered_leaves`` read on a pass before this watch was attached
        (``retroprop watch`` adopting the model of an optimizer that holds none of its parameters, once
        backward passes showed it): used as the model's first call would have been; ignored once the
        first loss was read."""
        if found is not None and self._first_loss_unread and self._unregistered is None:
            self._unregistered = dict(found)

    def _forget_first_layer(self) -> None:
        if self._first_layer_hook is not None:
            self._first_layer_hook.remove()
            self._first_layer_hook = None

    def _forget_first_call(self) -> None:
        if self._first_call_hook is not None:
            self._first_call_hook.remove()
            self._first_call_hook = None

    def end_epoch(self, epoch: int | None = None, logs: dict[str, float] | None = None) -> list[Diagnosis]:
        """The end of an epoch (0-based ``epoch``; default: the count of calls so far), with Keras-style
        ``logs`` (``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``). Returns the new diagnoses.
        With ``repair=True`` a treatment found to do harm is undone here, in place."""
        self._epochs += 1
        logs = {k: float(v.item() if hasattr(v, "item") else v) for k, v in (logs or {}).items()}
        if self._exchanging:
            logs = self.adapter.ranks.mean_logs(logs)  # the same logs on every rank: their mean
        new = self._check_evaluated()
        new += self.core.end_epoch(epoch, logs)
        if self.core.repair and (new or self.core.undo_pending):
            self.core.treat(new)
        self._quiet = 0  # the next step goes through the doctor: its epoch, and what a treatment changed
        return new

    def finish(self) -> list[Diagnosis]:
        """The end of the run: the last loss rules run, treatments are settled, every hook is removed."""
        if self._finished:
            return []
        self._finished, self._quiet = True, 0
        self.optimizer.__dict__.pop("_retroprop_watched", None)
        self._forget_first_call()
        self._forget_first_layer()
        self._forget_evaluation_call()
        evaluated = self._check_evaluated()
        # a loop whose step never runs (or runs once, after the loop) trained nothing: its backward
        # passes say so, when the optimizer's hooks counted the steps between them
        counted = self._backward_passes if self._drives_steps and self._backward_passes else None
        return evaluated + self.core.finish(backward_passes=counted)

    @property
    def diagnoses(self) -> list[Diagnosis]:
        return self.core.diagnoses

    @property
    def passed(self) -> list[Diagnosis]:
        """Diagnoses of problems the run left by itself, untreated (``Doctor.passed``)."""
        return self.core.passed

    @property
    def treatments(self) -> list[TreatmentRecord]:
        return self.core.treatments

    @property
    def model(self) -> nn.Module:
        return self.adapter.model

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.adapter.optimizer

    @property
    def best(self) -> Any:
        """With ``repair=True`` and epoch logs: the best epoch's weights (``repair.Best``; ``weights`` is a
        ``state_dict`` for ``model.load_state_dict``), else None."""
        return self.core.best

    @property
    def should_stop(self) -> bool:
        """Whether a treatment asked the run to end (nothing left to try on a NaN/Inf run)."""
        return bool(self.core.stop_reason)

    def summary(self) -> str:
        """The doctor's summary, and what it could not check because the loop did not say."""
        notes = []
        if not self.core.losses_known:
            notes.append("- the loss rules did not run: no loss was given (call doctor.observe(loss) before "
                         "optimizer.step())")
        if not self._epochs:
            notes.append("- the epoch rules (overfitting, validation) did not run: no epoch logs were given "
                         "(call doctor.end_epoch(epoch, logs))")
        text = self.core.summary()
        return text if not notes else "\n".join([text, "", "Not checked:", *notes])

    def history(self) -> Any:
        """The run as a retroprop ``History``: the epoch logs given to ``end_epoch``, the per-step losses,
        the diagnoses (and those that passed by themselves), treatments and the doctor's own errors."""
        from retroprop.history import History

        doctor = self.core
        history = History(model=self.model, params={"optimizer": self.optimizer},
                          diagnoses=list(doctor.diagnoses), passed=list(doctor.passed),
                          treatments=list(doctor.treatments),
                          doctor_errors=list(doctor.errors), stop_reason=doctor.stop_reason)
        for epoch, log in enumerate(doctor.epoch_logs):
            history.append(epoch, log)
        if doctor.recorder is not None:
            history._step_loss = doctor.recorder.losses.tolist()
        return history

    def record(self, title: str | None = None) -> Any:
        """The run's ``retroprop.RunRecord`` (its probes, diagnoses and treatments; JSON with ``save``)."""
        from retroprop.run_record import RunRecord

        return RunRecord.from_run(self.history(), self.core, title=title)

    def report(self, path: Any, title: str | None = None) -> Any:
        """Write the HTML report of the run (``retroprop.report.report_run``) to ``path``."""
        from retroprop.report import report_run

        return report_run(path, self.history(), self.core, title=title or "retroprop doctor: a PyTorch run")

    # -- the step --------------------------------------------------------------------------------
    def _before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._stepping = True
        loss, self._loss = self._loss, None
        measured = False
        if self.adapter.carrying:
            # the hook's args start with the optimizer itself; a closure computes the gradients inside
            # the step, after this hook
            if (args[1] if len(args) > 1 else kwargs.get("closure")) is not None:
                self.adapter.stop_carry()
            else:
                measured = self.adapter.measure_carry()
        self._step(optimizer, loss)
        if measured and not self._finished:
            adapter = self.adapter
            new = self.core.note_carried_gradients(adapter.carried, adapter.carry_parameter,
                                                   gradless=adapter.gradless_steps,
                                                   checked=adapter.steps_checked)
            if self.core.repair and new:
                self._treat(optimizer, new)

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._stepping = False

    @property
    def _exchanging(self) -> bool:
        """Whether this doctor exchanges its numbers with other ranks (``torch.distributed``)."""
        return self.adapter.ranks is not None and self._ranks_agree and not self._finished

    def _step(self, optimizer: Any, loss: Any) -> None:
        """One step, its gradients complete and its update not yet made: observe, clip, treat."""
        if self._finished:
            return
        if isinstance(loss, torch.Tensor):
            loss = float(loss.item())  # item() reads the value as it is: no detached tensor made per step
        if self._quiet and ((type(loss) is float and loss - loss == 0.0 and loss <= self._alarm)
                            or (loss is None and self._unknown)):
            # the common step: only its loss is recorded, as ``Doctor.observe`` would record it
            self._quiet -= 1
            self._record_loss(math.nan if loss is None else loss)
            if self.core.clip_grad_norm is not None:
                self._clip(optimizer)
            return
        doctor = self.core
        if self._exchanging:
            state = (doctor.recorder.step if doctor.recorder else 0, len(doctor.diagnoses),
                     len(doctor.treatments), self.skipped_steps, bool(doctor.stop_reason), doctor.repair,
                     not doctor.watching)
            loss, same = self.adapter.ranks.step(loss, state)
            if not same:  # seen by every rank at once: they all stop watching, none waits on the others
                self._ranks_agree = False
                doctor.give_up("distributed", RuntimeError(
                    "the ranks' doctors drifted apart (their steps, diagnoses or treatments differ); the "
                    "doctor stopped on every rank"), doctor.recorder.step)
        new = doctor.observe(loss)
        if doctor.clip_grad_norm is not None:
            self._clip(optimizer)
        if doctor.repair and new:
            self._treat(optimizer, new)
        self._settle()

    def _treat(self, optimizer: Any, new: list[Diagnosis]) -> None:
        """Treat ``new`` diagnoses (``Doctor.treat``); a learning-rate remedy is carried into the
        schedulers that set the rate from their own record (``retroprop.torch.schedulers``)."""
        doctor = self.core
        treated, rates = len(doctor.treatments), [group.get("lr") for group in optimizer.param_groups]
        self.adapter.restored_rates = None  # set again if the treatment rolls back
        if doctor.treat(new) is None:
            return
        # rolled back (and treated): this step's gradients belong to a state that is gone
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = None
        self.skipped_steps += 1
        if any(t.applied and t.remedy in schedulers.LR_REMEDIES for t in doctor.treatments[treated:]):
            before = self.adapter.restored_rates if self.adapter.restored_rates is not None else rates
            schedulers.rescale(optimizer, before, schedulers.bound_to(optimizer, self._schedulers))

    def track_scheduler(self, scheduler: Any) -> None:
        """Tell the doctor about a learning-rate ``scheduler`` of the watched optimizer, so that a
        learning-rate remedy scales the rates it computes from too (``retroprop.torch.schedulers``):
        ``LambdaLR`` (a warm-up's), ``OneCycleLR`` and ``CyclicLR`` otherwise restore the old rate at
        their next ``step()``. ``retroprop watch`` and the Lightning callback find the schedulers
        themselves."""
        if getattr(scheduler, "optimizer", None) is not self.adapter.optimizer:
            raise ValueError("track_scheduler: the scheduler drives another optimizer than the watched one")
        if all(known is not scheduler for known in self._schedulers):
            self._schedulers.append(scheduler)

    def _clip(self, optimizer: Any) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, self.core.clip_grad_norm)

    def _settle(self) -> None:
        """After a step the doctor observed: how many of the coming steps need only their loss. None
        under ``torch.distributed``, where every step's numbers are exchanged with the other ranks."""
        doctor = self.core
        if self._finished or self._exchanging or doctor.recorder is None:
            self._quiet = 0
            return
        self._quiet = doctor.quiet_steps()
        self._record_loss = doctor.recorder.record_loss
        self._alarm = doctor.loss_alarm
        self._unknown = not doctor.losses_known


def watch(model: nn.Module, optimizer: torch.optim.Optimizer, repair: bool = False, every: int | None = None,
          **setup: Any) -> Watch:
    """Attach retroprop's doctor to a PyTorch ``model`` and its ``optimizer``; the loop stays as it is.

    ``repair=True`` treats what is found inside the run, in place (``Watch``). ``every``: steps between
    probes (default: the doctor's schedule). ``setup`` (optional, for the checks before the first step):
    ``loss`` (the loss module; without it, it is read from the first loss's autograd graph:
    ``Watch.complete_setup``), ``inputs`` and ``targets`` (training data, tensors or arrays),
    ``n_classes``, ``batch_size``; ``lr_scheduled=True`` when a scheduler may raise the learning rate
    later (a warm-up: small early steps are then no sign of a rate too small). ``chance_loss``: the loss
    of a blind guess, the mark for "has learned nothing" (default: ln C for a cross-entropy ``loss``
    with ``n_classes`` = C; for a regression under ``MSELoss``/``L1Loss`` given its ``targets``, the loss
    of predicting their mean or median; else the loss at the start). ``steps``: the optimizer steps the
    run will take (epochs times batches per epoch), so that a run too short for its steps is named while
    it can still be treated, not only at ``finish``. ``validation_inputs``: the inputs the run is validated
    on (tensors or arrays), checked against ``inputs`` for their scale (``validation_mismatch``), and,
    when they are the training inputs themselves, no gap between the two is taken for overfitting.
    ``validation_targets``: their targets, whose classes are checked against those of ``targets``.
    ``shuffled=False``: the loop draws the samples in the order of ``targets`` (a DataLoader without
    ``shuffle=True``), checked for runs of one class (``unshuffled_data``); None (default): not known.
    ``data`` and ``validation_data``: the ``DataLoader``s the loop trains and validates on, read for
    whichever of ``inputs``, ``targets``, ``batch_size``, ``shuffled``, ``validation_inputs``,
    ``validation_targets`` and ``samples`` (the two sets' sizes) was not given (``retroprop.torch.data``
    says what is read: tensors already in memory, never a sample through the dataset's transforms).
    ``n_classes`` defaults, for integer class-index ``targets`` under a categorical or unknown ``loss``,
    to one more than the largest label.
    """
    return Watch(model, optimizer, repair=repair, every=every, **setup)


def class_count(targets: Any) -> int | None:
    """The classes that class-index targets imply (one more than the largest label), or None. Class
    indices are an integer vector: torch's losses on integer targets are the class-index ones
    (``CrossEntropyLoss``, ``NLLLoss``), its regression and binary losses refuse them."""
    if not isinstance(targets, np.ndarray) or targets.ndim != 1 or targets.dtype.kind not in "iu" or (
            not len(targets)):
        return None
    low, high = int(targets.min()), int(targets.max())
    return high + 1 if low >= 0 else None


def batch_rows(args: Any) -> np.ndarray | None:
    """A sample of a call's first argument when it is a batch of floating-point inputs (rows), else
    None: token ids and masks are not what a layer sees."""
    first = args[0] if args else None
    if isinstance(first, torch.Tensor) and first.is_floating_point() and first.dim() >= 2 and len(first):
        return host_rows(first)
    return None


def _unlike(stored: np.ndarray, batch: np.ndarray) -> bool:
    """Whether a loader's stored inputs are not what the model takes: another shape per sample, or an
    RMS more than ``checks.VALIDATION_SCALE_MAX`` times apart (a loop that scales or standardizes)."""
    if stored.shape[1:] != batch.shape[1:]:
        return True
    a, b = inputs_rms(stored), inputs_rms(batch)
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
        return False
    return max(a / b, b / a) > VALIDATION_SCALE_MAX


def _numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value
