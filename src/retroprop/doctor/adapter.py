"""Adapters: what the doctor's core needs from a framework, and retroprop's implementation of it.

The core (``Doctor``, ``Recorder``, ``repair``, the rules) reads plain numbers and touches a model only
through one ``ModelAdapter``: a ``ModelProbe`` that measures per-layer numbers into ``ProbeRecord``s,
the model described as plain layer dicts for the setup checks, snapshots to roll back to, copies, and
remedies applied by name. ``RetropropAdapter`` is retroprop's, ``retroprop.torch.TorchAdapter``
PyTorch's; an adapter for another framework implements the same methods (hooks for the probe, its own
state dicts for the snapshots) and the core needs no change. ``adapter_for(model, optimizer)`` picks
the adapter for a model.
"""

from __future__ import annotations

import copy
import math
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from retroprop import optim
from retroprop.doctor.checks import SYMMETRY_TOLERANCE
from retroprop.doctor.probes import Probe, ProbeRecord, unprobed
from retroprop.doctor.remedies import LINEAR_MAPS, Treatment, apply_remedy
from retroprop.doctor.rules.epochs import class_accuracy, spread
from retroprop.doctor.structure import describe_loss, describe_model
from retroprop.nn import BatchNorm1d, BatchNorm2d, Dropout, Module
from retroprop.random import default_generator
from retroprop.tensor import Tensor, no_grad

# rows the loss is scored on to see whether it broadcasts: (B, 1) against (B,) needs B > 1
BROADCAST_ROWS = 8
# float32 sums of a few rows agree to about 1e-6 of their size; a loss that mixes the rows is off by much
# more (a softmax over 4 rows instead of 8 moves each probability by a share of order 1)
ROWS_TOLERANCE = 1e-4

__all__ = [
    "SYMMETRY_TOLERANCE",
    "ModelAdapter",
    "ModelProbe",
    "RetropropAdapter",
    "Snapshot",
    "adapter_for",
    "coupled_weight_decays",
    "missing_members",
    "optional_member",
    "unit_symmetry",
]


@dataclass
class Snapshot:
    """A state to roll back to (``ModelAdapter.snapshot``); every part is a private copy, in the
    adapter's own form (later steps update the model's arrays in place)."""

    step: int  # the state before this step's update
    epoch: int
    model_state: Any  # retroprop: an OrderedDict of arrays (``Module.state_dict``); torch: tensor clones
    optimizer_state: Any
    rng_state: Any


@runtime_checkable
class ModelProbe(Protocol):
    """Measures one model for the ``Recorder``: per-layer numbers as plain ``ProbeRecord``s.

    The recorder arms the probe before a probed step's forward pass (activations are read then),
    calls ``collect`` after its backward pass (weights and gradients), ``snapshot_weights`` before
    the optimizer's update and ``update_ratios`` after it. A probe may also have
    ``update_cosines() -> dict[str, float]`` (optional): per layer, the cosine between the step that
    ``update_ratios`` measured and the gradient it was taken from, read right after it.
    """

    errors: list[tuple[str, BaseException]]  # (layer, error) of hooks that raised; the doctor drains it

    @property
    def armed(self) -> bool:
        """Whether the next forward pass is measured."""

    @property
    def activation_names(self) -> list[str]:
        """The activation layers' names (as in ``ActivationStats.name``), in network order."""

    def arm(self) -> None:
        """Measure the coming forward pass(es) (attach hooks)."""

    def disarm(self) -> None:
        """Stop measuring forward passes (detach hooks)."""

    def collect(self, step: int, epoch: int, loss: float) -> ProbeRecord:
        """The record of this step: weights and gradients now, the activations of the armed pass(es)."""

    def snapshot_weights(self, record: ProbeRecord | None = None) -> None:
        """Remember the weights now, before the optimizer's update (``record``: just collected)."""

    def update_ratios(self) -> dict[str, float]:
        """Per weighted layer name: ``||W_now - W_snapshot|| / ||W_snapshot||`` since ``snapshot_weights``."""


@runtime_checkable
class ModelAdapter(Protocol):
    """One model and its optimizer as the doctor's core sees them.

    ``model`` and ``optimizer`` are the framework's own objects, handed back to the training loop
    (``Doctor.model``, ``Doctor.optimizer``); the core never looks inside them. ``optimizer`` may be
    None (diagnosis only: no snapshots, no remedies).
    """

    model: Any
    optimizer: Any

    @property
    def adaptive(self) -> bool | None:
        """Whether the optimizer scales its steps per parameter (Adam, RMSprop, Adagrad); None without one."""

    def probe(self) -> ModelProbe:
        """A fresh probe of the current model (after a remedy changed it, the doctor asks again)."""

    def describe(self) -> list[dict[str, Any]]:
        """The model's layers in forward order as ``checks`` layer dicts (name, label, kind, features)."""

    def describe_loss(self, loss: Any) -> str | None:
        """The ``checks.LOSS_KINDS`` name of ``loss`` (a loss object, function or name); None if unknown."""

    def learning_rates(self) -> tuple[float, ...]:
        """The optimizer's learning rate per parameter group (empty without an optimizer)."""

    def dropout_rates(self) -> list[float]:
        """The drop probability of each dropout layer of the model."""

    # optional: ``weight_decays() -> dict[str, float]``, per weighted layer name the weight decay added
    # to its gradient (``coupled_weight_decays``); without it ``weight_decay_too_high`` is not checked
    # optional: ``unit_symmetry() -> list[dict]``, per Linear or convolution layer in forward order whether
    # its units start alike (``unit_symmetry``); without it ``symmetric_units`` is not checked
    # optional: ``loss_broadcast(loss, kind, inputs, targets)`` (``loss_output_mismatch``'s
    # broadcast_targets, for a loss whose shapes the framework does not record),
    # ``loss_rows_coupled(loss, inputs, targets)`` (its rows_coupled, for a loss the doctor does not know),
    # ``batchnorm_losses(inputs, targets, loss)`` (``batchnorm_statistics``) and ``outputs(inputs) ->
    # ndarray | None``, the model's evaluation-mode outputs on a few rows (a loss that falls while the
    # predictions stray from the targets); without them those are not checked
    # optional: ``describe_traced(inputs)``, ``describe`` with a custom module's forward traced on a few
    # rows of ``inputs`` (a framework whose ``describe`` cannot read the forward without running it)

    def snapshot(self, step: int, epoch: int) -> Snapshot:
        """Private copies of the model's weights, the optimizer's state and the random generators' state."""

    def restore(self, snapshot: Snapshot) -> None:
        """Put ``snapshot`` back: into the model's own arrays (the loop holds them), optimizer and RNG."""

    def copy(self) -> ModelAdapter:
        """An adapter over deep copies of the model (without the doctor's hooks) and the optimizer."""

    def adopt(self, other: ModelAdapter) -> None:
        """Become ``other`` (a ``copy()``): its model's structure and weights in place of this model's
        (in place: the training loop holds the model object), and its optimizer."""

    def weights(self) -> Any:
        """A private copy of the model's weights (what ``with_weights`` takes)."""

    def with_weights(self, weights: Any) -> Any:
        """A new model with this adapter's structure and ``weights``; this adapter's model is untouched."""

    def apply(self, remedy: str, layer: str | None = None, **options: Any) -> Treatment:
        """Apply the remedy named ``remedy`` (``diagnosis.REMEDIES``) at ``layer`` (a layer name, or None
        for the whole model). It may replace the model and/or the optimizer: the adapter holds the new
        ones afterwards. A remedy that does not apply returns ``applied=False`` and changes nothing."""

    def close(self) -> None:
        """Detach everything the adapter attached (its probes' hooks)."""


class RetropropAdapter:
    """The ``ModelAdapter`` of a retroprop ``Module`` and its optimizer (``retroprop.optim``)."""

    def __init__(self, model: Module, optimizer: Any = None) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"RetropropAdapter: model must be a retroprop nn.Module, got "
                            f"{type(model).__name__}")
        self.model, self.optimizer = model, optimizer
        self._probe: Probe | None = None  # the latest probe made: disarmed while the model is copied

    @property
    def adaptive(self) -> bool | None:
        if self.optimizer is None:
            return None
        return isinstance(self.optimizer, (optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad))

    def probe(self) -> Probe:
        if self._probe is not None:
            self._probe.disarm()
        self._probe = Probe(self.model)
        return self._probe

    def describe(self) -> list[dict[str, Any]]:
        return describe_model(self.model)

    def describe_traced(self, inputs: Any) -> list[dict[str, Any]]:
        """``describe``, a custom module's forward traced on two rows of ``inputs``
        (``structure.traced_chain``)."""
        return describe_model(self.model, inputs)

    def describe_loss(self, loss: Any) -> str | None:
        return describe_loss(loss)

    def learning_rates(self) -> tuple[float, ...]:
        return tuple(group.get("lr", float("nan")) for group in getattr(self.optimizer, "param_groups", ()))

    def dropout_rates(self) -> list[float]:
        return [m.p for m in self.model.modules() if isinstance(m, Dropout)]

    def weight_decays(self) -> dict[str, float]:
        return coupled_weight_decays(self.model.named_modules(), self.optimizer)

    def unit_symmetry(self) -> list[dict[str, Any]]:
        return unit_symmetry((name, m.weight.data, None if m.bias is None else m.bias.data)
                             for name, m in self.model.named_modules()
                             if isinstance(m, LINEAR_MAPS) and m.weight is not None)

    def _tracking_norms(self) -> list[tuple[str, Any]]:
        """The batch normalization layers that track running statistics, with their names."""
        return [(name, m) for name, m in self.model.named_modules()
                if isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.track_running_stats]

    def batchnorm_momenta(self) -> list[dict[str, Any]]:
        """Each batch normalization that tracks running statistics: ``name`` and ``momentum``."""
        return [{"name": name, "momentum": m.momentum} for name, m in self._tracking_norms()]

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """A pass the doctor makes itself: the model in evaluation mode, without gradients or the
        probe's hooks (what its armed passes measured kept), every module's mode restored after."""
        modes = [(m, m.training) for m in self.model.modules()]
        try:
            with unprobed(self._probe), no_grad(), np.errstate(all="ignore"):
                self.model.eval()
                yield
        finally:
            for m, training in modes:
                object.__setattr__(m, "training", training)

    def batchnorm_losses(self, inputs: Any, targets: Any, loss: Any) -> dict[str, Any] | None:
        """The loss ``loss(model(inputs), targets)`` with the batch normalization layers normalizing by
        the batch's statistics (``"batch"``) and by their running statistics (``"running"``), every other
        layer in evaluation mode (no dropout) and the same weights, and each batch normalization layer's
        ``momentum`` (None: a cumulative average). Nothing of the model's state changes (its modes,
        running statistics and counters are restored). None when the model has no batch normalization
        tracking running statistics, ``loss`` is not a callable, or a loss is not finite. For a
        classification, also the accuracy with each (``batch_accuracy``, ``running_accuracy``:
        ``rules.class_accuracy``, else None) on the ``rows`` given."""
        norms = [m for _, m in self._tracking_norms()]
        if not norms or not callable(loss) or inputs is None or targets is None or len(inputs) < 2:
            return None
        kept = [b.data.copy() for m in norms for b in m.buffers()]
        x = Tensor._make(np.asarray(inputs))
        try:
            with self._evaluating():
                out = self.model(x)
                running, running_accuracy = float(loss(out, targets).data), class_accuracy(out.data, targets)
                for m in norms:
                    m.train()
                out = self.model(x)
                batch, batch_accuracy = float(loss(out, targets).data), class_accuracy(out.data, targets)
        finally:
            for b, saved in zip((b for m in norms for b in m.buffers()), kept, strict=True):
                b.data[...] = saved
        if not (np.isfinite(batch) and np.isfinite(running)):
            return None
        return {"batch": batch, "running": running, "momenta": [m.momentum for m in norms],
                "batch_accuracy": batch_accuracy, "running_accuracy": running_accuracy, "rows": len(inputs)}

    def loss_broadcast(self, loss: Any, kind: str, inputs: Any, targets: Any
                       ) -> tuple[tuple[int, ...], tuple[int, ...] | None] | None:
        """(the output's shape, the shape compared) when ``loss``, an elementwise loss of ``kind``
        ("mse" or "l1", averaged), scores the model's evaluation-mode output on the first few ``inputs``
        against ``targets`` of another shape as that loss of every output against every target (the two
        broadcast: a (B, 1) output against (B,) targets makes B x B pairs), not of each output against its
        own target. None when the shapes match, the loss raises, or it scores the rows pair by pair;
        nothing of the model's state changes."""
        square = {"mse": True, "l1": False}.get(kind)
        if square is None or not callable(loss) or inputs is None or targets is None or len(inputs) < 2:
            return None
        rows = min(len(inputs), len(targets), BROADCAST_ROWS)
        y = np.asarray(targets[:rows])
        if y.dtype.kind not in "fiu":
            return None
        with self._evaluating():
            out = self.model(Tensor._make(np.asarray(inputs[:rows])))
            shape = tuple(out.shape)
            if shape == y.shape or out.data.size != y.size:
                return None
            try:
                given = float(loss(out, y).data)
                compared = tuple(np.broadcast_shapes(shape, y.shape))
            except Exception:  # a loss that refuses the shapes, or shapes that do not broadcast
                return None
        values, y = np.asarray(out.data, dtype=np.float64), y.astype(np.float64)
        size = np.square if square else np.abs
        pairs, own = float(np.mean(size(values - y))), float(np.mean(size(values - y.reshape(shape))))
        if not (math.isclose(given, pairs, rel_tol=1e-4) and not math.isclose(given, own, rel_tol=1e-4)):
            return None
        return shape, compared

    def loss_rows_coupled(self, loss: Any, inputs: Any, targets: Any) -> dict[str, Any] | None:
        """Whether ``loss`` scores a batch as one sum or mean of its rows' own scores: the model's
        evaluation-mode outputs on the first ``BROADCAST_ROWS`` (an even number, at least 4) of
        ``inputs`` scored whole, and as two halves. A per-sample loss gives the halves' mean (or sum);
        one that mixes the rows (a softmax normalized over the batch, an output broadcast against the
        targets) gives neither. The evidence (``rows``, ``whole``, ``halves``) when it mixes them; None
        when it does not, the loss raises or is not finite, or there are too few rows; nothing of the
        model's state changes."""
        if not callable(loss) or inputs is None or targets is None:
            return None
        rows = min(len(inputs), len(targets), BROADCAST_ROWS) // 2 * 2
        if rows < 4:
            return None
        half = rows // 2
        y = np.asarray(targets[:rows])
        try:
            with self._evaluating():
                out = self.model(Tensor._make(np.asarray(inputs[:rows])))
                whole, first, second = (float(loss(out[part], y[part]).data) for part in (
                    slice(0, rows), slice(0, half), slice(half, rows)))
        except Exception:  # a loss that needs more than these rows, or that raises on a part
            return None
        if not all(math.isfinite(v) for v in (whole, first, second)):
            return None
        scale = max(abs(whole), abs(first), abs(second), 1e-12)
        if any(math.isclose(whole, value, rel_tol=ROWS_TOLERANCE, abs_tol=ROWS_TOLERANCE * scale)
               for value in ((first + second) / 2, first + second)):
            return None
        return {"rows": rows, "whole": whole, "halves": [first, second]}

    def outputs(self, inputs: Any) -> np.ndarray | None:
        """The model's outputs on ``inputs`` (a few NumPy rows) in evaluation mode (no dropout, batch
        normalization by its running statistics), as float64; nothing of the model's state changes.
        None when they are not one finite array."""
        if inputs is None or len(inputs) == 0:
            return None
        with self._evaluating():
            out = self.model(Tensor._make(np.asarray(inputs)))
        values = np.asarray(getattr(out, "data", out), dtype=np.float64)
        return values if values.size and np.isfinite(values).all() else None

    def evaluation_spread(self, inputs: Any, training: bool = False) -> float | None:
        """How far two passes of the model over the same ``inputs`` (a few NumPy rows) part: the
        largest difference of their outputs over the largest output's size (``rules.spread``; 0 for
        a model that evaluates the same way twice). In evaluation mode, or in training mode with
        ``training`` (a loop that evaluates without switching). Nothing of the model's state changes:
        modes, buffers and the random generator are put back. None when the outputs are not finite, or
        the model cannot be called on the rows alone."""
        if inputs is None or len(inputs) == 0:
            return None
        buffers = list(self.model.buffers())
        kept = [b.data.copy() for b in buffers]
        state = copy.deepcopy(default_generator().bit_generator.state)
        x = Tensor._make(np.asarray(inputs))
        try:
            with self._evaluating():
                self.model.train(training)
                first, second = (np.asarray(self.model(x).data, dtype=np.float64) for _ in range(2))
        except Exception:  # a model not called on rows alone (other inputs), or whose output is no array
            return None
        finally:
            default_generator().bit_generator.state = state
            for b, saved in zip(buffers, kept, strict=True):
                b.data[...] = saved
        return spread(first, second)

    def snapshot(self, step: int, epoch: int) -> Snapshot:
        return Snapshot(step, epoch, self.model.state_dict(), self.optimizer.state_dict(),
                        copy.deepcopy(default_generator().bit_generator.state))

    def restore(self, snapshot: Snapshot) -> None:
        self.model.load_state_dict(snapshot.model_state)  # copies into the model's own arrays
        self.optimizer.load_state_dict(snapshot.optimizer_state)
        default_generator().bit_generator.state = copy.deepcopy(snapshot.rng_state)

    def _deepcopy(self, value: Any) -> Any:
        """A deep copy of ``value`` (the model, or more) taken without the probe's hooks (paused: what
        its armed passes measured is kept)."""
        with unprobed(self._probe):
            return copy.deepcopy(value)

    def copy(self) -> RetropropAdapter:
        return RetropropAdapter(*self._deepcopy((self.model, self.optimizer)))

    def adopt(self, other: ModelAdapter) -> None:
        self.model.__dict__.clear()
        self.model.__dict__.update(other.model.__dict__)
        self.optimizer = other.optimizer

    def parameter_count(self) -> int:
        """The model's trainable parameters (entries), for the rules that ask what it can memorize."""
        return sum(int(p.data.size) for p in self.model.parameters() if p.requires_grad)

    def optimizer_coverage(self) -> dict[str, Any] | None:
        """How many of the model's trainable parameters there are (``reached``) and how many of them
        the optimizer holds (``optimized``), as ``checks.unregistered_parameters`` reads them; None
        without an optimizer."""
        if self.optimizer is None:
            return None
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        stepped = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
        return {"tensors": 0, "entries": 0, "shapes": [], "reached": len(trainable),
                "optimized": sum(id(p) in stepped for p in trainable)}

    def weights(self) -> OrderedDict[str, Any]:
        return self.model.state_dict()

    def with_weights(self, weights: Any) -> Module:
        model = self._deepcopy(self.model)
        model.load_state_dict(weights)
        return model

    def apply(self, remedy: str, layer: str | None = None, **options: Any) -> Treatment:
        with unprobed(self._probe):  # a remedy's own forward passes (recomputed statistics) are not probes
            treatment = apply_remedy(remedy, self.model, self.optimizer, layer, **options)
        self.model, self.optimizer = treatment.model, treatment.optimizer
        return treatment

    def close(self) -> None:
        if self._probe is not None:
            self._probe.disarm()


def optional_member(adapter: Any, member: str) -> Any:
    """What an adapter's optional ``member()`` returns (``weight_decays``, ``unit_symmetry``); None when
    the adapter has none."""
    read = getattr(adapter, member, None)
    return read() if read is not None else None


def coupled_weight_decays(named_modules: Any, optimizer: Any) -> dict[str, float]:
    """Per module with a ``weight`` (by name): the weight decay its optimizer adds to that weight's
    gradient (``weight_decay`` of its parameter group); 0 for decoupled decay (AdamW, or
    ``decoupled_weight_decay``), which shrinks the weights apart from the gradient. Works on retroprop's
    and torch's optimizers alike (their ``param_groups``)."""
    by_parameter: dict[int, float] = {}
    decoupled_class = any(cls.__name__ == "AdamW" for cls in type(optimizer).__mro__)
    for group in getattr(optimizer, "param_groups", ()):
        decay = float(group.get("weight_decay") or 0.0)
        if decoupled_class or group.get("decoupled_weight_decay"):
            decay = 0.0
        for parameter in group.get("params", ()):
            by_parameter[id(parameter)] = decay
    decays = {}
    for name, module in named_modules:
        weight = getattr(module, "weight", None)
        if weight is not None and id(weight) in by_parameter:
            decays[name] = by_parameter[id(weight)]
    return decays


def unit_symmetry(weighted: Iterable[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
    """Per Linear or convolution layer, given as ``(name, weight, bias)`` NumPy arrays in forward order:
    ``units`` (its outputs: rows, or channels), ``rows_identical`` (every unit has the same weights and
    bias) and ``columns_identical`` (every input, or input channel, is weighed alike by every unit)."""
    found = []
    for name, weight, bias in weighted:
        w = np.asarray(weight)
        if w.ndim < 2:
            continue
        rows = w.reshape(w.shape[0], -1)
        if bias is not None:
            rows = np.concatenate([rows, np.asarray(bias).reshape(-1, 1)], axis=1)
        columns = np.moveaxis(w, 1, 0).reshape(w.shape[1], -1)
        found.append({"name": name, "units": int(w.shape[0]), "rows_identical": _alike(rows),
                      "columns_identical": _alike(columns)})
    return found


def _alike(rows: np.ndarray) -> bool:
    if rows.shape[0] < 2:
        return False
    scale = float(np.abs(rows).max())
    if not np.isfinite(scale):
        return False
    bound = SYMMETRY_TOLERANCE * scale
    if float(np.abs(rows[1] - rows[0]).max()) > bound:  # random weights differ at once: no full pass
        return False
    return bool(np.ptp(rows.astype(np.float64, copy=False), axis=0).max() <= bound)


def missing_members(value: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` (``ModelAdapter`` or ``ModelProbe``) that ``value`` lacks."""
    names = set(getattr(protocol, "__annotations__", {})) | {
        name for name in vars(protocol) if not name.startswith("_")}
    return sorted(name for name in names if not hasattr(value, name))


def _is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module``, found without importing torch: an object of one has
    a class from torch in its MRO, so torch is imported already (``sys.modules``)."""
    torch = sys.modules.get("torch")
    if torch is None or not any(cls.__module__.split(".")[0] == "torch" for cls in type(model).__mro__):
        return False
    return isinstance(model, torch.nn.Module)


def adapter_for(model: Any, optimizer: Any = None) -> ModelAdapter:
    """The adapter for ``model`` and ``optimizer``: a ``ModelAdapter`` is returned as it is (then
    ``optimizer`` must be None or its own), a retroprop ``Module`` gets a ``RetropropAdapter``, a
    ``torch.nn.Module`` a ``retroprop.torch.TorchAdapter``."""
    if isinstance(model, Module):
        return RetropropAdapter(model, optimizer)
    if _is_torch_module(model):
        from retroprop.torch.adapter import TorchAdapter  # imports torch, which is loaded already

        return TorchAdapter(model, optimizer)
    from retroprop.doctor.recorder import conforms  # isinstance without typing's per-call member scan

    if conforms(model, ModelAdapter):
        if optimizer is not None and optimizer is not model.optimizer:
            raise ValueError("adapter_for: an adapter brings its own optimizer; pass the optimizer to the "
                             f"adapter, not beside it (got a {type(optimizer).__name__})")
        return model
    kind = type(model)
    missing = missing_members(model, ModelAdapter)
    lacks = "" if len(missing) > 8 else f" (this one lacks {', '.join(missing)})"
    raise TypeError(f"the doctor cannot watch a {kind.__module__}.{kind.__qualname__}: it supports retroprop "
                    "nn.Module models, torch.nn.Module models (retroprop.torch) and any object that "
                    "implements "
                    f"retroprop.doctor.adapter.ModelAdapter{lacks}")
