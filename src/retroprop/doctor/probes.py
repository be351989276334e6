"""Probes: per-layer numbers read from a retroprop model, handed on as plain floats and arrays.

What a probe measures is the raw material of the doctor's detectors, which see only these plain
records (no retroprop types), so that an adapter for another framework can feed them too.

* Weighted layers (``Linear``, ``Conv1d``, ``Conv2d``, ``BatchNorm1d/2d``, ``LayerNorm``; pooling layers
  have no parameters and are not among them): gradient norm, RMS and mean |g| of the weight, weight norm,
  fan-in (inputs per unit: ``in_features``, or ``in_channels / groups x kernel size`` for a
  convolution), the update-to-weight ratio ``||W_after - W_before|| / ||W_before||`` of one
  optimizer step, the cosine between that step and the gradient it was taken from (negative for a
  step downhill, as every optimizer minimizing the loss takes: plain SGD's is -1), and non-finite
  counts in weights and gradients. A layer whose weights are all
  0 (zero-initialized) has no size of its own to measure a step against: its update is measured
  against the norm a layer of its shape typically has (``typical_norm``).
* Activation layers: mean and std of the output and non-finite count, the batch's sample count
  and the weighted layer that feeds it; for ReLU-like units, which units fired (> 0) on the
  probed batch. A unit is a feature (the last axis) after a Linear layer, and a channel (axis 1)
  after a convolution or BatchNorm1d: a channel fired when it is > 0 at any sample and any position,
  so a channel is dead when it never fires at any position over the window, and ``samples`` counts
  samples, not positions. For sigmoid and tanh, the share of all outputs (every position) in their flat
  regions, where the derivative is below 1/100 of its peak (sigmoid: y(1-y) < 0.0025, about
  |x| > 6; tanh: 1 - y^2 < 0.01, about |x| > 3).

Probing costs a few vectorized reductions per layer; activations are read through forward hooks
that are attached only for the batches that are probed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from retroprop.nn import (
    ELU,
    GELU,
    SELU,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Hardsigmoid,
    Hardtanh,
    LayerNorm,
    LeakyReLU,
    Linear,
    Module,
    ReLU,
    ReLU6,
    Sigmoid,
    Softsign,
    Tanh,
)
from retroprop.nn.module import RemovableHandle
from retroprop.tensor import grad_array

ACTIVATION_KINDS: dict[type, str] = {  # ReLU6 before Hardtanh: it is one (structure matches by isinstance)
    ReLU: "relu", ReLU6: "relu6", LeakyReLU: "leaky_relu", ELU: "elu", SELU: "selu", GELU: "gelu",
    Sigmoid: "sigmoid", Tanh: "tanh", Hardtanh: "hardtanh", Hardsigmoid: "hardsigmoid", Softsign: "softsign",
}
RELU_LIKE = frozenset({"relu", "relu6"})  # units that pass exactly no gradient when they do not fire
SATURATING = frozenset({"sigmoid", "tanh", "hardtanh", "hardsigmoid", "softsign"})


def flat_region(kind: str, data: Any, bounds: tuple[float, float] = (-1.0, 1.0)) -> Any:
    """Where a saturating activation's output lies in its flat region (a boolean array of ``data``'s
    shape; NumPy or torch alike), None for other kinds: sigmoid and softsign where their derivative is
    under 1/100 of its peak (y(1-y) < 0.0025; (1-|y|)^2 < 0.01), tanh likewise (1 - y^2 < 0.01), and
    hardtanh (its ``bounds``) and hardsigmoid at their clamps, where the derivative is exactly 0."""
    if kind == "sigmoid":
        return data * (1 - data) < 0.0025
    if kind == "tanh":
        return 1 - data * data < 0.01
    if kind == "softsign":
        return abs(data) > 0.9
    if kind == "hardtanh":
        return (data <= bounds[0]) | (data >= bounds[1])
    if kind == "hardsigmoid":
        return (data <= 0) | (data >= 1)
    return None
CONVOLUTIONS = (Conv1d, Conv2d)
WEIGHTED = (Linear, *CONVOLUTIONS, BatchNorm1d, BatchNorm2d, LayerNorm)  # as the torch probe's
CHANNEL_FIRST = (*CONVOLUTIONS, BatchNorm1d, BatchNorm2d)  # units: channels (axis 1), at every position


@dataclass
class LayerStats:
    """One weighted layer at one probed step."""

    name: str
    label: str
    grad_norm: float
    grad_rms: float
    grad_mean_abs: float
    weight_norm: float
    size: int
    fan_in: int | None = None  # inputs per unit (Linear, Conv), to compare the weights with their init scale
    update_ratio: float | None = None
    # cosine between that step's change of the weights and the gradient it was taken from: < 0 when
    # the step descends the loss (any optimizer that follows -g), > 0 when it climbs
    update_cosine: float | None = None
    nonfinite_grad: int = 0
    nonfinite_weight: int = 0


@dataclass
class ActivationStats:
    """One activation layer at one probed step."""

    name: str
    label: str
    kind: str
    mean: float
    std: float
    nonfinite: int = 0
    fired: np.ndarray | None = field(default=None, repr=False)  # per unit (channel after a conv): fired
    saturated_share: float | None = None
    samples: int | None = None  # samples in the probed batch (``fired`` is over these; not positions)
    after: str | None = None  # the weighted layer that feeds it (its name), None for the input
    channels: bool = False  # its units are channels with positions (after a conv): ``fired`` per channel


@dataclass
class ProbeRecord:
    """Everything one probe saw, in network order (input side first)."""

    step: int
    epoch: int
    loss: float
    layers: list[LayerStats]
    activations: list[ActivationStats]
    replayed: bool = False  # probed after the fact, to find where a NaN/Inf began
    grad_norm_total: float = math.nan  # the 2-norm of all the layers' weight gradients together
    output_bias_grad: float = math.nan  # the 2-norm of the output layer's bias gradient (NaN: unknown)
    _plain: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def as_plain(self) -> dict[str, Any]:
        """The record as plain dicts, lists and arrays: what the detectors read (no copies; made once,
        and the per-layer dicts are the stats' own, so a later ``update_ratio`` shows in them)."""
        if self._plain is None:
            self._plain = self._as_plain()
        return self._plain

    def _as_plain(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "loss": self.loss, "replayed": self.replayed,
                "grad_norm_total": self.grad_norm_total, "output_bias_grad": self.output_bias_grad,
                "layers": [vars(layer) for layer in self.layers],
                "activations": [vars(activation) for activation in self.activations]}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-unit firing is summarized as the share of units that fired."""
        data = asdict(self)
        data.pop("_plain")
        for activation in data["activations"]:
            fired = activation.pop("fired")
            activation["fired_share"] = None if fired is None else float(np.mean(fired))
        return data


def _norm(array: np.ndarray) -> float:
    """The 2-norm, as one BLAS dot product (np.linalg.norm's wrapper costs more than the sum here)."""
    flat = array.reshape(-1)
    return math.sqrt(flat.dot(flat))


def _count_nonfinite(array: np.ndarray, norm: float) -> int:
    """NaN/Inf entries; a finite norm proves there are none, so counting is skipped then."""
    if math.isfinite(norm):
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def typical_norm(shape: tuple[int, ...]) -> float:
    """The norm weights of this shape have when initialized at the LeCun scale: entries of standard
    deviation 1/sqrt(fan_in) for a matrix or a convolution kernel (fan_in: every axis but the first;
    PyTorch's default is 0.58x this, He's 1.4x), 1 for a vector (BatchNorm's scale). The yardstick
    for a step of a layer that has no size of its own."""
    size = math.prod(shape)
    fan_in = math.prod(shape[1:]) if len(shape) >= 2 and math.prod(shape[1:]) else 1
    return math.sqrt(size / fan_in)


def fan_in(module: Module) -> int | None:
    """Inputs per unit: a Linear layer's ``in_features``, a convolution's ``in_channels / groups x
    kernel size`` (what its default and He inits are scaled by); None for normalization layers."""
    if isinstance(module, Linear):
        return int(module.in_features)
    if isinstance(module, CONVOLUTIONS):
        return int(module.in_channels // module.groups * math.prod(module.kernel_size))
    return None


def module_label(module: Module) -> str:
    """'Linear 64→128', 'Conv1d 1→25 k5 s2', 'Conv2d 3→16 k3x3', 'BatchNorm1d 32' (a convolution's
    stride, dilation and groups are shown when they are not 1)."""
    if isinstance(module, CONVOLUTIONS):
        details = conv_details(module.kernel_size, module.stride, module.dilation, module.groups)
        return f"{module.label()}{details}"
    return module.label()


def conv_details(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                 groups: int) -> str:
    """' k5 s2', ' k3x3 d2 g4': a convolution's kernel, and its stride, dilation and groups when not 1
    (the same text for retroprop's and torch's layers)."""
    def axes(values: tuple[int, ...]) -> str:
        return "x".join(str(v) for v in values)

    text = f" k{axes(kernel)}"
    if any(s != 1 for s in stride):
        text += f" s{axes(stride)}"
    if any(d != 1 for d in dilation):
        text += f" d{axes(dilation)}"
    if groups != 1:
        text += f" g{groups}"
    return text


def layer_label(position: int, module: Module) -> str:
    """A human label: 'layer 1, Linear 64→128', 'layer 1, Conv1d 1→25 k5 s2' (layers counted from 1
    among weighted layers)."""
    return f"layer {position}, {module_label(module)}"


def fired_units(data: np.ndarray, channels: bool) -> np.ndarray:
    """Per unit, whether it is nonzero (a ReLU's output: fired, > 0) on any sample of ``data`` (samples
    on axis 0). Units are channels (axis 1, at any position) when ``channels``, else the last axis."""
    if data.ndim <= 1:
        return np.logical_or.reduce(data.reshape(1, -1), axis=0)
    axis = 1 if channels else data.ndim - 1
    return np.logical_or.reduce(data, axis=tuple(a for a in range(data.ndim) if a != axis))


def _copy_into(spare: dict[str, np.ndarray], key: str, array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` in ``spare[key]``'s buffer (reused when it fits, else made)."""
    copy = spare.get(key)
    if copy is None or copy.shape != array.shape or copy.dtype != array.dtype:
        copy = spare[key] = array.copy()
    else:
        copy[...] = array
    return copy


class PausableHooks:
    """What a probe's ``paused`` needs: ``armed``, ``disarm`` and ``_attach`` (the hooks registered
    again without forgetting what the armed passes measured)."""

    armed: bool

    def disarm(self) -> None:
        raise NotImplementedError

    def _attach(self) -> None:
        raise NotImplementedError

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The hooks off for a pass the doctor makes itself (no training pass to measure), then on
        again if they were, with what the armed passes measured so far kept."""
        armed = self.armed
        self.disarm()
        try:
            yield
        finally:
            if armed:
                self._attach()


def unprobed(probe: PausableHooks | None) -> AbstractContextManager[None]:
    """``probe.paused()``, or nothing to pause without a probe."""
    return nullcontext() if probe is None else probe.paused()


class Probe(PausableHooks):
    """Reads per-layer statistics from ``model``; ``arm()`` before a forward pass to see activations."""

    def __init__(self, model: Module) -> None:
        self.model = model
        named = list(model.named_modules())
        weighted = [(n, m) for n, m in named if isinstance(m, WEIGHTED)]
        self.weighted = [(name, module, layer_label(i + 1, module))
                         for i, (name, module) in enumerate(weighted)]
        self.activation_modules = []
        label, feeding = "the input", None
        weighted_labels = {name: label for name, _, label in self.weighted}
        self._feeding: dict[str, str | None] = {}  # activation -> the weighted layer before it
        channel_first = {name for name, module, _ in self.weighted if isinstance(module, CHANNEL_FIRST)}
        self._channels: dict[str, bool] = {}  # activation -> whether its units are channels (axis 1)
        self._bounds: dict[str, tuple[float, float]] = {}  # Hardtanh activation -> its clamps
        for name, module in named:  # network order: an activation follows the last weighted layer
            if name in weighted_labels:
                label, feeding = weighted_labels[name], name
            kind = ACTIVATION_KINDS.get(type(module))
            if kind is not None:
                self.activation_modules.append((name, module, kind, f"{kind} after {label}"))
                self._feeding[name] = feeding
                self._channels[name] = feeding in channel_first
                if isinstance(module, Hardtanh):
                    self._bounds[name] = (float(module.min_val), float(module.max_val))
        self._handles: list[RemovableHandle] = []
        self.errors: list[tuple[str, BaseException]] = []  # hooks that raised: (layer, error)
        self._broken: set[str] = set()  # their layers, not measured again
        self._seen: dict[str, ActivationStats] = {}
        self._before: dict[str, tuple[np.ndarray, float]] | None = None
        self._spare: dict[str, np.ndarray] = {}
        # the snapshot's gradients (the next backward overwrites them) and their norms
        self._grads: dict[str, tuple[np.ndarray, float]] = {}
        self._cosines: dict[str, float] = {}
        # made once: arming a probe only registers them
        self._hooks = [(module, self._hook(name, kind, label))
                       for name, module, kind, label in self.activation_modules]
        self._fan_in = {name: fan_in(module) for name, module, _ in self.weighted}

    # -- activations --------------------------------------------------------------------------
    def arm(self) -> None:
        """Attach forward hooks so that the next forward pass is measured. While the probe stays
        armed over several passes, ReLU firing is read over all their samples (``fired`` is the OR
        and ``samples`` the sum; the other statistics are the last pass's): small batches can so
        give one record enough samples for the dead-unit window."""
        if self._handles:
            return
        self._seen = {}
        self._attach()

    def _attach(self) -> None:
        names = [name for name, *_ in self.activation_modules]
        self._handles = [module.register_forward_hook(hook, output_only=True)
                         for (module, hook), name in zip(self._hooks, names, strict=True)
                         if name not in self._broken]

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    @property
    def activation_names(self) -> list[str]:
        """The activation layers' names, in network order."""
        return [name for name, *_ in self.activation_modules]

    def _hook(self, name: str, kind: str, label: str) -> Any:
        def guarded(module: Module, inputs: tuple[Any, ...], output: Any) -> None:
            # a hook runs inside the model's forward pass: its failure must not become the run's
            try:
                record(module, inputs, output)
            except Exception as err:
                self._broken.add(name)
                self.errors.append((name, err))

        channels = self._channels.get(name, False)

        def record(module: Module, inputs: tuple[Any, ...], output: Any) -> None:
            data = np.asarray(output)  # the plain array: reading it is no in-place write
            flat = data.reshape(-1)
            size = flat.size
            mean = float(np.add.reduce(flat)) / size if size else float("nan")
            nonfinite = 0
            if not math.isfinite(mean):  # only then is it worth counting (and excluding) them
                finite = np.isfinite(flat)
                nonfinite = int(size - np.count_nonzero(finite))
                flat = flat[finite]
                mean = float(flat.mean()) if flat.size else float("nan")
            # std from E[x^2] - E[x]^2 (a BLAS dot product: one pass, no temporary)
            mean_sq = float(flat.dot(flat)) / flat.size if flat.size else float("nan")
            std = math.sqrt(max(mean_sq - mean * mean, 0.0)) if flat.size else float("nan")
            stats = ActivationStats(name=name, label=label, kind=kind, mean=mean, std=std,
                                    nonfinite=nonfinite, samples=int(data.shape[0]) if data.ndim > 1 else 1,
                                    after=self._feeding.get(name))
            if kind in RELU_LIKE and data.ndim >= 1:
                # fired (> 0) on some sample (and position); ReLU outputs are >= 0, so "nonzero" says the same
                stats.fired = fired_units(data, channels)
                stats.channels = channels and data.ndim > 2
            if kind in SATURATING:
                flat = flat_region(kind, data, self._bounds.get(name, (-1.0, 1.0)))
                stats.saturated_share = float(np.count_nonzero(flat)) / max(data.size, 1)
            earlier = self._seen.get(name)
            if earlier is not None and earlier.fired is not None and stats.fired is not None and (
                    earlier.fired.shape == stats.fired.shape):
                # armed over several passes: a unit fired if it fired on any of their samples
                stats.fired = stats.fired | earlier.fired
                stats.samples = (stats.samples or 0) + (earlier.samples or 0)
            self._seen[name] = stats

        return guarded

    # -- weights and gradients ----------------------------------------------------------------
    def snapshot_weights(self, record: ProbeRecord | None = None) -> None:
        """Remember the weights and their gradients now (before an optimizer step) for
        ``update_ratios`` and ``update_cosines``; ``record``, collected just now, supplies their norms."""
        norms = {layer.name: layer.weight_norm for layer in record.layers} if record else {}
        grad_norms = {layer.name: layer.grad_norm for layer in record.layers} if record else {}
        self._before = {}
        self._grads = {}
        for name, module, _ in self.weighted:
            if module.weight is not None:
                w = module.weight.data
                norm = norms[name] if name in norms else _norm(w)
                self._before[name] = (_copy_into(self._spare, name, w), norm)
                g = grad_array(module.weight)
                if g is not None and g.shape == w.shape:
                    self._grads[name] = (_copy_into(self._spare, name + "\0grad", g),
                                         grad_norms[name] if name in grad_norms else _norm(g))

    def update_ratios(self) -> dict[str, float]:
        """``||W_now - W_snapshot|| / ||W_snapshot||`` per layer since ``snapshot_weights``; for a
        layer whose snapshot was all zeros, the update over ``typical_norm`` of its shape. The cosine
        of each layer's step with its snapshot's gradient is kept for ``update_cosines``."""
        before, self._before = self._before, None
        grads, self._grads = self._grads, {}
        ratios: dict[str, float] = {}
        self._cosines = {}
        if before is None:
            return ratios
        with np.errstate(over="ignore", invalid="ignore"):
            for name, module, _ in self.weighted:
                if name in before and module.weight is not None:
                    old, norm = before[name]
                    if norm == 0.0:  # zero-initialized: no size of its own to measure the step against
                        norm = typical_norm(old.shape)
                    if norm:
                        np.subtract(module.weight.data, old, out=old)  # the snapshot is spent: reuse it
                        step = _norm(old)
                        ratios[name] = step / norm
                        grad, grad_norm = grads.get(name, (None, 0.0))
                        if grad is not None and grad.shape == old.shape:
                            scale = step * grad_norm
                            if scale > 0 and math.isfinite(scale):
                                self._cosines[name] = float(old.reshape(-1).dot(grad.reshape(-1))) / scale
        return ratios

    def update_cosines(self) -> dict[str, float]:
        """Per layer, the cosine between the step ``update_ratios`` measured last and the gradient at
        its snapshot (layers without a gradient, or that did not move, are left out)."""
        return dict(self._cosines)

    def collect(self, step: int, epoch: int, loss: float) -> ProbeRecord:
        """The record of this step: weights and gradients now, activations of the armed pass."""
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is counted, not warned about
            return self._collect(step, epoch, loss)

    def _collect(self, step: int, epoch: int, loss: float) -> ProbeRecord:
        layers = []
        squares, graded = 0.0, False
        for name, module, label in self.weighted:
            weight = module.weight
            if weight is None:
                continue
            w, g = weight.data, grad_array(weight)
            if g is None:
                grad_norm = grad_rms = grad_mean_abs = 0.0
                nonfinite_grad = 0
            else:
                grad_norm = _norm(g)
                size = max(g.size, 1)
                grad_rms = grad_norm / math.sqrt(size)
                grad_mean_abs = float(np.add.reduce(np.abs(g), axis=None)) / size
                nonfinite_grad = _count_nonfinite(g, grad_norm)
                squares += grad_norm * grad_norm
                graded = True
            weight_norm = _norm(w)
            layers.append(LayerStats(
                name=name, label=label, grad_norm=grad_norm, grad_rms=grad_rms,
                grad_mean_abs=grad_mean_abs, weight_norm=weight_norm, size=int(w.size),
                fan_in=self._fan_in[name],
                nonfinite_grad=nonfinite_grad, nonfinite_weight=_count_nonfinite(w, weight_norm),
            ))
        activations = [self._seen[name] for name, *_ in self.activation_modules if name in self._seen]
        self._seen = {}
        # the output layer's bias gradient is the loss's gradient in the outputs summed over the batch:
        # 0 with a weight gradient of 0 only when the loss is flat in the outputs
        bias = getattr(self.weighted[-1][1], "bias", None) if self.weighted else None
        bias_grad = math.nan if bias is None or grad_array(bias) is None else _norm(grad_array(bias))
        return ProbeRecord(step=step, epoch=epoch, loss=float(loss), layers=layers,
                           activations=activations, output_bias_grad=bias_grad,
                           grad_norm_total=math.sqrt(squares) if graded else math.nan)  # NaN: no gradient
