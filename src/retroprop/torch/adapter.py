"""``TorchAdapter``: a PyTorch model and optimizer as the doctor's core sees them
(``retroprop.doctor.adapter.ModelAdapter``).

Everything happens in place, because the user's training loop holds the model, its parameters and the
optimizer: a snapshot is a set of device-side clones of the ``state_dict``, a deep copy of the
optimizer's state and the torch, NumPy and Python random states; ``restore`` copies them back into the
same tensors (``p.copy_``) and loads a deep copy of the optimizer state (so the snapshot stays
private); ``adopt`` puts a copy's structure back into the same model object, keeping every parameter
object that both share; remedies change ``param_groups`` and the module tree in place
(``retroprop.torch.remedies``).
"""

from __future__ import annotations

import copy
import math
import random
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from retroprop.doctor.adapter import SYMMETRY_TOLERANCE, Snapshot, coupled_weight_decays
from retroprop.doctor.probes import unprobed
from retroprop.doctor.remedies import Treatment
from retroprop.doctor.rules.direction import CARRY_CHECKS
from retroprop.doctor.rules.epochs import class_accuracy, spread
from retroprop.torch.describe import describe_loss, describe_model
from retroprop.torch.distributed import unwrap
from retroprop.torch.loss_graph import GraphLoss
from retroprop.torch.probe import TorchProbe
from retroprop.torch.remedies import LINEAR_MAPS, Context, apply_torch_remedy

# the most steps the carried gradient is looked for on (a tensor without a gradient at most of them)
CARRY_STEPS = 10

__all__ = ["TorchAdapter"]

ADAPTIVE = tuple(getattr(torch.optim, name) for name in (
    "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "Adafactor", "SparseAdam")
    if hasattr(torch.optim, name))

# remedies that add parameters to the model, and the change to make by hand instead
ADDS_PARAMETERS = {"batchnorm": "in __init__, add nn.BatchNorm1d(out_features) after each hidden Linear "
                                "layer (applied before its activation in forward)"}


class TorchAdapter:
    """The ``ModelAdapter`` of a torch ``nn.Module`` and its ``torch.optim`` optimizer (or None)."""

    def __init__(self, model: nn.Module, optimizer: Any = None, ranks: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"TorchAdapter: model must be a torch.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"TorchAdapter: optimizer must be a torch.optim.Optimizer or None, got "
                            f"{type(optimizer).__name__}")
        # a DistributedDataParallel model is watched through its module (names without "module.")
        self.model, self.optimizer = unwrap(model), optimizer
        # ``distributed.Ranks`` when the numbers are reduced over ranks (``retroprop.torch.watch``)
        self.ranks = ranks
        self.distributed = ranks is not None  # a copy keeps this (its remedies refuse as the original's)
        self.restored_rates: tuple[float, ...] | None = None  # the learning rates the latest restore set
        self._probe: TorchProbe | None = None
        self._handles: list[Any] = []
        self._origin: dict[int, nn.Parameter] = {}  # a copy's parameter id -> the original parameter
        self.functional: dict[str, str] = {}  # activations applied as functions, as the probes inferred them
        self.sequence: list[str] = []  # the module order of the latest measured forward pass
        self.evaluating = False  # a pass of the doctor's own is running (``_evaluating``)
        self._model_hooks: list[Any] = []  # the watch's forward hooks on the model (``hook_model``)
        # the gradient carried from step to step (``watch_carry``): the tensor read, its hook, what this
        # step's backward passes added to it, its gradient at the step before, and the shares measured
        self._carry_tensor: torch.Tensor | None = None
        self._carry_hook: Any = None
        self._incoming: torch.Tensor | None = None
        self._previous: torch.Tensor | None = None
        self.carried: list[float] = []
        self.carry_parameter: str | None = None
        # the first steps measured, and those of them at which no tensor had a gradient
        self.steps_checked = self.gradless_steps = 0

    # -- the optimizer's step hooks (retroprop.torch.watch) -----------------------------------
    def hook_steps(self, pre: Any, post: Any = None) -> None:
        """Register ``pre`` (and ``post``) as the optimizer's step hooks; ``close`` removes them."""
        handles = [self.optimizer.register_step_pre_hook(pre)]
        if post is not None:
            handles.append(self.optimizer.register_step_post_hook(post))
        self._handles += handles

    def hook_model(self, hook: Any) -> Any:
        """Register ``hook`` as a forward hook of the model (the watch's reading of the loop's calls);
        copies (``copy``) leave it out. Returns its handle (whose ``remove`` the watch calls)."""
        handle = self.model.register_forward_hook(hook)
        self._model_hooks.append(handle)
        return handle

    # -- the gradient carried from step to step (the loop's zero_grad) --------------------------
    def watch_carry(self) -> None:
        """Read, on the optimizer's smallest trainable tensor, how much of each step's gradient the next
        step's still holds (``carried``, ``rules.gradients_carried``), for the first
        ``rules.CARRY_CHECKS`` steps compared: a hook on the tensor sums what each backward pass adds
        to its gradient, and ``measure_carry`` (at each step, before the update) compares. Not under
        torch.distributed (the gradients stepped with are other ranks' averages)."""
        tensors = [p for group in getattr(self.optimizer, "param_groups", ()) for p in group["params"]
                   if isinstance(p, torch.Tensor) and p.requires_grad and p.is_leaf]
        if not tensors or self.ranks is not None:
            return
        self._carry_tensor = min(tensors, key=lambda p: p.numel())
        self.carry_parameter = next((name for name, p in self.model.named_parameters()
                                     if p is self._carry_tensor), None)
        self._carry_hook = self._carry_tensor.register_hook(self._add_incoming)

    def _add_incoming(self, grad: torch.Tensor) -> None:
        added = grad.detach()
        self._incoming = added.clone() if self._incoming is None else self._incoming + added

    @property
    def carrying(self) -> bool:
        """Whether ``watch_carry`` is still measuring."""
        return self._carry_hook is not None

    def measure_carry(self) -> bool:
        """At an optimizer step, before its update: how closely what this step's gradient holds beyond
        what its own backward passes added matches the previous step's gradient (1 minus their distance
        over that gradient's norm: 1 when the loop did not clear it, 0 when it did, below 0 for a
        remainder of another kind, such as a weight decay added to the gradient by hand), appended to
        ``carried``. Returns True when the last of ``rules.CARRY_CHECKS`` was just measured (the hook
        is then off)."""
        tensor = self._carry_tensor
        if tensor is None or self._carry_hook is None:
            return False
        self.steps_checked += 1
        if all(p.grad is None for group in self.optimizer.param_groups for p in group["params"]):
            self.gradless_steps += 1
        if self.steps_checked > CARRY_CHECKS and self.gradless_steps == self.steps_checked:
            self.stop_carry()  # no step had a gradient: nothing to compare
            return True
        grad, incoming, self._incoming = tensor.grad, self._incoming, None
        if grad is None or incoming is None or grad.shape != incoming.shape:
            self._previous = None  # no backward pass reached it: nothing to compare
        else:
            now = grad.detach()
            if self._previous is not None:
                norm = float(self._previous.norm())
                if norm > 0 and math.isfinite(norm):
                    self.carried.append(1.0 - float((now - incoming - self._previous).norm()) / norm)
            self._previous = now.clone()
        if len(self.carried) >= CARRY_CHECKS or self.steps_checked >= CARRY_STEPS:
            self.stop_carry()  # measured; or a tensor the steps seldom reach: the watch costs nothing more
            return True
        return False

    def stop_carry(self) -> None:
        """Stop measuring (a step with a closure computes its gradients inside the step)."""
        if self._carry_hook is not None:
            self._carry_hook.remove()
        self._carry_hook = self._incoming = self._previous = None

    # -- the protocol -------------------------------------------------------------------------
    @property
    def adaptive(self) -> bool | None:
        if self.optimizer is None:
            return None
        return isinstance(self.optimizer, ADAPTIVE)

    def probe(self) -> TorchProbe:
        self._remember()
        if self._probe is not None:
            self._probe.cancel()
        self._probe = TorchProbe(self.model, self.optimizer)
        self._probe.ranks = self.ranks
        return self._probe

    def _remember(self) -> None:
        """Keep what the latest probe saw of the forward pass (functional activations, the order)."""
        probe = self._probe
        if probe is not None and probe.sequence:
            self.functional.update(probe.inferred)
            self.sequence = list(probe.sequence)

    def context(self) -> Context:
        self._remember()
        return Context(self.functional, self.sequence)

    def describe(self) -> list[dict[str, Any]]:
        return describe_model(self.model)

    def describe_loss(self, loss: Any) -> str | None:
        return describe_loss(loss)

    def learning_rates(self) -> tuple[float, ...]:
        return tuple(group.get("lr", float("nan")) for group in getattr(self.optimizer, "param_groups", ()))

    def dropout_rates(self) -> list[float]:
        return [m.p for m in self.model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]

    def weight_decays(self) -> dict[str, float]:
        return coupled_weight_decays(self.model.named_modules(), self.optimizer)

    def unit_symmetry(self) -> list[dict[str, Any]]:
        """As ``doctor.adapter.unit_symmetry``, reduced on the weights' device (two scalars per layer)."""
        found = []
        with torch.no_grad():
            for name, module in self.model.named_modules():
                if not isinstance(module, LINEAR_MAPS) or module.weight is None:
                    continue
                w = module.weight.detach()
                rows = w.reshape(w.shape[0], -1)
                if module.bias is not None:
                    rows = torch.cat([rows, module.bias.detach().reshape(-1, 1)], dim=1)
                columns = w.transpose(0, 1).reshape(w.shape[1], -1)
                found.append({"name": name, "units": int(w.shape[0]), "rows_identical": _alike(rows),
                              "columns_identical": _alike(columns)})
        return found

    def _rows(self, values: Any, targets: bool = False) -> torch.Tensor:
        """NumPy rows as a tensor on the model's device, in its parameters' dtype; ``targets`` that are
        integers stay integers, as int64 (class indices, as torch's losses take them)."""
        parameter = next(self.model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
        rows = torch.as_tensor(np.asarray(values), device=device)
        return rows.long() if targets and not rows.is_floating_point() else rows.to(dtype)

    def _tracking_norms(self) -> list[tuple[str, nn.Module]]:
        """The batch normalization layers that track running statistics, with their names."""
        return [(name, m) for name, m in self.model.named_modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]

    def batchnorm_momenta(self) -> list[dict[str, Any]]:
        """As ``doctor.adapter.RetropropAdapter.batchnorm_momenta``."""
        return [{"name": name, "momentum": m.momentum} for name, m in self._tracking_norms()]

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """As ``doctor.adapter.RetropropAdapter._evaluating``: evaluation mode, no gradients, the probe
        paused, every module's mode restored after."""
        modes = [(m, m.training) for m in self.model.modules()]
        self.evaluating = True  # the watch's hooks pass over the doctor's own passes
        try:
            with unprobed(self._probe), torch.no_grad():
                self.model.eval()
                yield
        finally:
            self.evaluating = False
            for m, training in modes:
                m.training = training

    def batchnorm_losses(self, inputs: Any, targets: Any, loss: Any) -> dict[str, Any] | None:
        """As ``doctor.adapter.RetropropAdapter.batchnorm_losses``: the loss on ``inputs`` (NumPy rows)
        with batch normalization by the batch's and by the running statistics, every other module in
        evaluation mode, nothing of the model's state changed (modes, buffers; the probe's hooks are
        off). ``loss``: a torch loss (module or function) or the one read from the graph
        (``loss_graph.GraphLoss``). None without batch normalization tracking running statistics, under
        torch.distributed (ranks hold different rows), or for a loss it cannot compute. For a
        classification, the accuracies with each too (``rules.class_accuracy``)."""
        norms = [m for _, m in self._tracking_norms()]
        compute = _loss_function(loss)
        if (not norms or compute is None or self.ranks is not None or inputs is None or targets is None
                or len(inputs) < 2):
            return None
        x, y = self._rows(inputs), self._rows(targets, targets=True)
        buffers = [b for m in norms for b in m.buffers()]
        kept = [b.detach().clone() for b in buffers]
        try:
            with self._evaluating():
                out = self.model(x)
                running, running_accuracy = float(compute(out, y)), _class_accuracy(out, targets)
                for m in norms:
                    m.train()
                out = self.model(x)
                batch, batch_accuracy = float(compute(out, y)), _class_accuracy(out, targets)
        finally:
            with torch.no_grad():
                for b, saved in zip(buffers, kept, strict=True):
                    b.copy_(saved)
        if not (math.isfinite(batch) and math.isfinite(running)):
            return None
        return {"batch": batch, "running": running, "momenta": [m.momentum for m in norms],
                "batch_accuracy": batch_accuracy, "running_accuracy": running_accuracy, "rows": len(inputs)}

    def outputs(self, inputs: Any) -> np.ndarray | None:
        """As ``doctor.adapter.RetropropAdapter.outputs``: the model's evaluation-mode outputs on
        ``inputs`` (a few NumPy rows), as a float64 NumPy array, nothing of the model's state changed
        (the probe's hooks are off). None under torch.distributed, for an output that is no single
        tensor, or one that is not finite; None for a container whose ``forward`` is torch's unimplemented
        one (the loop calls its parts)."""
        if self.ranks is not None or inputs is None or len(inputs) == 0 or not _callable(self.model):
            return None
        with self._evaluating():
            out = self.model(self._rows(inputs))
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            return None
        values = out.detach().to("cpu", torch.float64).numpy()
        return values if values.size and np.isfinite(values).all() else None

    def evaluation_spread(self, inputs: Any, training: bool = False) -> float | None:
        """As ``doctor.adapter.RetropropAdapter.evaluation_spread``: two passes over ``inputs`` (NumPy
        rows, or a tensor batch as the loop evaluated it) in evaluation mode, or training mode with
        ``training``; modes, buffers and the random generators put back, the probe's hooks off. None
        under torch.distributed, for an output that is no single floating-point tensor, or a model that
        cannot be called on the rows alone."""
        if self.ranks is not None or inputs is None or len(inputs) == 0:
            return None
        x = inputs if isinstance(inputs, torch.Tensor) else self._rows(inputs)
        buffers = list(self.model.buffers())
        kept = [b.detach().clone() for b in buffers]
        state = _rng_state()
        try:
            with self._evaluating():
                self.model.train(training)
                first, second = self.model(x), self.model(x)
        except Exception:  # a model not called on rows (no forward of its own, other inputs)
            return None
        finally:
            _set_rng_state(state)
            with torch.no_grad():
                for b, saved in zip(buffers, kept, strict=True):
                    b.copy_(saved)
        if not all(isinstance(out, torch.Tensor) and out.is_floating_point() for out in (first, second)):
            return None
        return spread(*(out.detach().to("cpu", torch.float64).numpy() for out in (first, second)))

    def snapshot(self, step: int, epoch: int) -> Snapshot:
        optimizer_state = None if self.optimizer is None else copy.deepcopy(self.optimizer.state_dict())
        return Snapshot(step, epoch, self.weights(), optimizer_state, _rng_state())

    def restore(self, snapshot: Snapshot) -> None:
        """Put ``snapshot`` back into the model's own tensors, the same optimizer and the generators."""
        self._load(snapshot.model_state)
        if self.optimizer is not None and snapshot.optimizer_state is not None:
            # a deep copy: load_state_dict may keep the tensors it is given, which the steps then update
            self.optimizer.load_state_dict(copy.deepcopy(snapshot.optimizer_state))
            self.restored_rates = self.learning_rates()
        _set_rng_state(snapshot.rng_state)

    def _load(self, weights: dict[str, torch.Tensor]) -> None:
        current = self.model.state_dict()
        if set(current) != set(weights) or any(current[k].shape != weights[k].shape for k in current):
            missing = sorted(set(current) ^ set(weights))[:4]
            raise ValueError(f"TorchAdapter.restore: the snapshot was taken of another structure (keys "
                             f"differ: {missing or 'shapes'}); expected the state_dict keys "
                             f"{sorted(current)[:4]}...")
        with torch.no_grad():
            for key, tensor in current.items():
                tensor.copy_(weights[key])

    def _deepcopy(self, value: Any) -> tuple[Any, dict[int, Any]]:
        """A deep copy of ``value`` (the model, the optimizer) and its memo, taken without the probe's
        forward hooks or the watch's (``hook_model``); a torch optimizer is copied without any step hooks
        (its ``__getstate__`` leaves them out)."""
        probe = self._probe
        armed = probe is not None and probe.armed
        if armed:
            probe.disarm()
        # the watch's hooks are bound to the watch, which a copy must not take along: the model's hook
        # table is swapped for one without them while copying
        hooks = self.model._forward_hooks
        ours = {handle.id for handle in self._model_hooks}
        self.model._forward_hooks = type(hooks)((key, hook) for key, hook in hooks.items() if key not in ours)
        try:
            memo: dict[int, Any] = {}
            return copy.deepcopy(value, memo), memo
        finally:
            self.model._forward_hooks = hooks
            if armed:
                probe.arm()

    def copy(self) -> TorchAdapter:
        """An adapter over deep copies of the model (without the probe's hooks) and the optimizer
        (without step hooks); ``adopt`` maps its parameters back to the originals."""
        self._remember()
        (model, optimizer), memo = self._deepcopy((self.model, self.optimizer))
        twin = TorchAdapter(model, optimizer)
        twin.distributed = self.distributed
        twin._origin = {id(memo[id(p)]): p for p in self.model.parameters() if id(p) in memo}
        twin.functional, twin.sequence = dict(self.functional), list(self.sequence)
        return twin

    def adopt(self, other: TorchAdapter) -> None:
        """Become ``other`` (a ``copy()``) in place: its module tree in this model object, its values in
        the parameter objects both share (the optimizer and the loop hold them), and its optimizer's
        groups and state in this optimizer object."""
        origin = getattr(other, "_origin", {})
        mapping: dict[int, nn.Parameter] = {}
        with torch.no_grad():
            for module in other.model.modules():
                for key, p in module._parameters.items():
                    if p is None:
                        continue
                    original = origin.get(id(p))
                    if original is not None and original.shape == p.shape and original.dtype == p.dtype:
                        original.copy_(p)
                        original.grad = None
                        module._parameters[key] = original
                        mapping[id(p)] = original
                    else:
                        mapping[id(p)] = p
        self.model.__dict__.clear()
        self.model.__dict__.update(other.model.__dict__)
        if self.optimizer is not None and other.optimizer is not None:
            groups = []
            for group in other.optimizer.param_groups:
                groups.append({**group, "params": [mapping.get(id(p), p) for p in group["params"]]})
            state: defaultdict[Any, Any] = defaultdict(dict)
            for p, value in other.optimizer.state.items():
                state[mapping.get(id(p), p)] = value
            self.optimizer.param_groups = groups
            self.optimizer.state = state
        self.functional, self.sequence = dict(other.functional), list(other.sequence)

    def weights(self) -> dict[str, torch.Tensor]:
        """Device-side clones of the ``state_dict`` (parameters and buffers)."""
        with torch.no_grad():
            return {key: tensor.detach().clone() for key, tensor in self.model.state_dict().items()}

    def with_weights(self, weights: Any) -> nn.Module:
        (model,), _ = self._deepcopy((self.model,))
        model.load_state_dict(weights)
        return model

    def apply(self, remedy: str, layer: str | None = None, **options: Any) -> Treatment:
        """Apply ``remedy`` in place (``retroprop.torch.remedies``); the model and optimizer objects stay.

        Under ``torch.distributed`` a remedy that adds parameters is advice only (DistributedDataParallel
        registers the parameters it synchronizes when it wraps the model), and after any remedy every
        rank takes rank 0's tensors (a re-initialization draws from each rank's own generator)."""
        if self.distributed and remedy in ADDS_PARAMETERS:
            return Treatment(remedy, self.model, self.optimizer, f"{remedy} not applied: under "
                             "DistributedDataParallel, parameters added after wrapping the model are not "
                             f"synchronized across ranks; the change to make: {ADDS_PARAMETERS[remedy]}, "
                             "then wrap the model in DistributedDataParallel", applied=False)
        context = self.context()
        treatment = apply_torch_remedy(remedy, self.model, self.optimizer, context, **options)
        self._handles += context.handles  # hooks a remedy registered: removed with the doctor's own
        if self.ranks is not None:
            self.ranks.broadcast_model(self.model)
        return treatment

    def close(self) -> None:
        """Detach the probe's hooks and retroprop's optimizer step hooks."""
        if self._probe is not None:
            self._probe.cancel()
        for handle in [*self._handles, *self._model_hooks]:
            handle.remove()
        self._handles, self._model_hooks = [], []
        self.stop_carry()


def _rng_state() -> dict[str, Any]:
    # NumPy's legacy global generator: the one training scripts seed with np.random.seed
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),  # noqa: NPY002
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _alike(rows: torch.Tensor) -> bool:
    """As ``doctor.adapter``'s reading on NumPy arrays, with the same steps, on the rows' device."""
    if rows.shape[0] < 2:
        return False
    scale = float(rows.abs().max())
    if not math.isfinite(scale):
        return False
    bound = SYMMETRY_TOLERANCE * scale
    if float((rows[1] - rows[0]).abs().max()) > bound:  # random weights differ at once: no full pass
        return False
    rows = rows.double()
    return float((rows.amax(dim=0) - rows.amin(dim=0)).max()) <= bound


# the functional form of a loss read from the graph (``loss_graph.GraphLoss.doctor_loss_kind``), mean-reduced
GRAPH_LOSSES = {
    "cross_entropy": lambda z, y: nn.functional.cross_entropy(z, y.long() if y.dim() < z.dim() else y),
    "nll": lambda z, y: nn.functional.nll_loss(z, y.long()),
    "cross_entropy_probs": lambda p, y: nn.functional.nll_loss(torch.log(p), y.long()),
    "mse": nn.functional.mse_loss, "huber": nn.functional.smooth_l1_loss,
    "bce": nn.functional.binary_cross_entropy,
    "bce_with_logits": nn.functional.binary_cross_entropy_with_logits,
}


def _class_accuracy(outputs: Any, targets: Any) -> float | None:
    """``rules.class_accuracy`` of a model's outputs (a tensor of a few rows, brought to the host: at
    most ``table.TRAINING_ROWS`` of them) against NumPy ``targets``; None for outputs of another kind."""
    if not isinstance(outputs, torch.Tensor) or outputs.ndim != 2 or outputs.shape[1] < 2:
        return None
    return class_accuracy(outputs.detach().float().cpu().numpy(), np.asarray(targets))


def _loss_function(loss: Any) -> Any:
    """A callable ``(outputs, targets) -> loss`` on torch tensors: a torch loss as given, or the function
    of the kind a graph showed; None for anything else (a retroprop loss, a name)."""
    if isinstance(loss, GraphLoss):
        return GRAPH_LOSSES.get(loss.doctor_loss_kind)
    if isinstance(loss, nn.Module) or (callable(loss) and not isinstance(loss, (str, type))):
        return loss
    return None


def _callable(model: nn.Module) -> bool:
    """Whether ``model`` has a ``forward`` of its own (a bare ``nn.Module`` holding parts has torch's
    unimplemented one, which raises)."""
    return type(model).forward is not nn.Module.forward
