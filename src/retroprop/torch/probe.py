"""``TorchProbe``: the doctor's per-layer numbers read from a PyTorch model through hooks.

It produces the same plain records as retroprop's ``doctor.probes.Probe`` (``LayerStats``,
``ActivationStats``, ``ProbeRecord``), computed the same way, so the rules cannot tell the engines
apart:

* Weighted layers (``Linear``, ``Conv1d``, ``Conv2d``, ``BatchNorm1d/2d``, ``LayerNorm``; the
  ``weight`` only): gradient norm, RMS and mean |g|, weight norm, fan-in (inputs per unit:
  ``in_features``, or ``in_channels / groups x kernel size``), the update-to-weight ratio of the
  optimizer's step, non-finite counts. Gradients are read in the optimizer's step pre-hook (they
  are complete there, before the update); the weights before the update are cloned on the device
  and the ratio is taken in the step post-hook.
* Activation modules (``ReLU``, ``LeakyReLU``, ``ELU``, ``SELU``, ``GELU``, ``SiLU``, ``Sigmoid``,
  ``Tanh``) through forward hooks: mean, std, non-finite count, which units fired (ReLU), the
  share in the flat regions (sigmoid, tanh).
* Activations applied as functions inside ``forward`` (``F.relu(self.fc1(x))``) are not modules:
  each weighted layer's *input* is read with a forward pre-hook, and when no activation module ran
  since the previous weighted layer of the same pass, its kind is inferred from the values (see
  ``infer_kind``). The model's own input is never read this way: only the input of a weighted layer
  that is not the first of its pass, and only when it was computed from parameters (it has a
  ``grad_fn``; data fed straight into a second branch has none).

Units: a Linear's or LayerNorm's units are its last axis; a Conv's or BatchNorm's are channels
(axis 1): a channel is dead when it never fires at any position of any sample over the window.
Only passes run with gradients enabled are measured (not ``torch.no_grad()`` validation). Every
reduction runs on the tensor's device; only scalars and per-unit masks come to the host, once per
collected step. Under ``torch.distributed`` (``ranks`` set) the numbers are reduced across the ranks
before they are recorded (``distributed.reduce_record``), so that every rank records the same.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch import nn

from retroprop.doctor.probes import (
    RELU_LIKE,
    ActivationStats,
    LayerStats,
    PausableHooks,
    ProbeRecord,
    conv_details,
    flat_region,
)
from retroprop.torch.distributed import agree_layout, reduce_record

__all__ = ["ACTIVATION_KINDS", "WEIGHTED", "TorchProbe", "infer_kind", "module_label"]

ACTIVATION_KINDS: dict[type, str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.SELU: "selu",
    nn.GELU: "gelu", nn.SiLU: "silu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Hardtanh: "hardtanh",
    nn.Hardsigmoid: "hardsigmoid", nn.Softsign: "softsign",
}
UNMEASURED_ACTIVATIONS = (nn.Softmax, nn.LogSoftmax, nn.Softmin)
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)
CHANNEL_FIRST = (nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)  # units on axis 1
# an inferred ReLU needs this share of exact zeros among its inputs: a ReLU layer of which a tenth or
# more of the outputs are not exactly 0 on a batch is not the common case this inference is for
INFER_MIN_ZEROS = 0.05


def module_label(module: nn.Module) -> str:
    """'Linear 8→32', 'Conv1d 1→25 k5 s2', 'Conv2d 3→16 k3x3', 'BatchNorm1d 32', 'LayerNorm 32' (a
    convolution's stride, dilation and groups shown when not 1, as retroprop's probe labels it)."""
    kind = type(module).__name__
    if isinstance(module, nn.Linear):
        return f"{kind} {module.in_features}→{module.out_features}"
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        details = conv_details(tuple(module.kernel_size), tuple(module.stride), tuple(module.dilation),
                               module.groups)
        return f"{kind} {module.in_channels}→{module.out_channels}{details}"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"{kind} {module.num_features}"
    if isinstance(module, nn.LayerNorm):
        return f"{kind} {'x'.join(str(n) for n in module.normalized_shape)}"
    return kind


def fan_in(module: nn.Module) -> int | None:
    """Inputs per unit of a Linear or Conv layer (None for normalization layers, as retroprop)."""
    if isinstance(module, nn.Linear):
        return int(module.in_features)
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return int(module.in_channels // module.groups * math.prod(module.kernel_size))
    return None


def infer_kind(minimum: float, maximum: float, zero_share: float) -> str | None:
    """The activation a weighted layer's input most likely came out of, from its values on a batch:
    ``"relu"`` when none is negative and at least ``INFER_MIN_ZEROS`` of them are exactly 0 (a
    ReLU's silent units); ``"sigmoid"`` when all lie strictly in (0, 1); ``"tanh"`` when all lie in
    (-1, 1) and some are negative; None otherwise (unknown: not measured).

    Limits: a ReLU whose units all fired on the batch looks like anything positive; a leaky ReLU,
    GELU or SiLU of small values may read as tanh (its saturated share is then near 0, so it raises
    nothing); a sum of ReLU outputs (a residual connection) reads as a ReLU (its units are dead when
    the sum is always 0); a pooled or normalized activation reads as whatever its values look like.
    """
    if not (math.isfinite(minimum) and math.isfinite(maximum)):
        return None
    if minimum >= 0.0 and zero_share >= INFER_MIN_ZEROS:
        return "relu"
    if minimum > 0.0 and maximum < 1.0:
        return "sigmoid"
    if -1.0 < minimum < 0.0 and maximum < 1.0:
        return "tanh"
    return None


class _Pass:
    """What one forward pass has shown so far (reset by the model's forward pre-hook)."""

    def __init__(self) -> None:
        self.weighted_seen = 0
        self.last_weighted: str | None = None
        self.activation_since = False  # an activation module ran since the last weighted layer
        self.calls: dict[str, int] = {}  # activation module -> calls in this pass
        # the weighted layers' inputs measured in this pass (by id, held weakly): one tensor that feeds
        # several layers (a VAE's mean and log-variance heads) is one activation, measured once
        self.inputs: dict[int, Any] = {}


class _Pending:
    """One activation's device-side statistics until ``collect``: over several armed passes, which
    units fired is their OR and ``samples`` their sum; the other statistics are the last pass's (as in
    retroprop's probe)."""

    __slots__ = ("after", "channels", "data", "fired", "flat", "kind", "name", "samples", "samples_now",
                 "size", "squares", "total")

    def __init__(self, name: str, kind: str, after: str | None) -> None:
        self.name, self.kind, self.after = name, kind, after
        self.fired: torch.Tensor | None = None
        self.samples = 0
        self.channels = False  # its units are channels with positions (``ActivationStats.channels``)


class TorchProbe(PausableHooks):
    """Reads per-layer statistics from a torch ``model``; ``arm()`` before a forward pass to see
    its activations. ``optimizer`` (optional): the update ratios are taken in its step post-hook."""

    def __init__(self, model: nn.Module, optimizer: Any = None) -> None:
        self.model, self.optimizer = model, optimizer
        named = list(model.named_modules())
        weighted = [(n, m) for n, m in named
                    if isinstance(m, WEIGHTED) and getattr(m, "weight", None) is not None]
        self.weighted = [(n, m, f"layer {i + 1}, {module_label(m)} ({n})")
                         for i, (n, m) in enumerate(weighted)]
        self._label = {n: label for n, _, label in self.weighted}
        self._index = {n: i for i, (n, _, _) in enumerate(self.weighted)}
        self.activation_modules = [(n, m, ACTIVATION_KINDS[type(m)]) for n, m in named
                                   if type(m) in ACTIVATION_KINDS]
        self._bounds = {n: (float(m.min_val), float(m.max_val)) for n, m in named
                        if isinstance(m, nn.Hardtanh)}  # a Hardtanh's clamps (its flat region)
        # activation modules that are not measured (a softmax): the layer after one takes its output,
        # not that of an activation applied as a function
        self.unmeasured_activations = [m for _, m in named if isinstance(m, UNMEASURED_ACTIVATIONS)]
        self.errors: list[tuple[str, BaseException]] = []
        self._broken: set[str] = set()
        self._handles: list[Any] = []
        self._pass = _Pass()
        self._pending: dict[str, _Pending] = {}
        self.order: list[str] = []  # activation names in the order of the latest armed pass
        self.weighted_order: list[str] = []  # weighted layer names in the order they ran
        self.sequence: list[str] = []  # weighted and activation module names in the order they ran
        self.inferred: dict[str, str] = {}  # inferred activation name -> kind (latest armed pass)
        self.ranks: Any = None  # distributed.Ranks under torch.distributed: numbers reduced over ranks
        self._before: dict[str, tuple[torch.Tensor, float]] | None = None
        self._cosines: dict[str, float] = {}  # the same on every rank: DDP's weights and gradients are
        self._grad_norms: dict[str, float] = {}  # the snapshot's record's, per layer
        self._ratios: dict[str, float] | None = None
        self._post: Any = None
        self._hooks: tuple[list[Any], list[Any]] | None = None  # the forward hooks, made at the first arm()

    # -- arming -------------------------------------------------------------------------------
    @property
    def armed(self) -> bool:
        return bool(self._handles)

    @property
    def activation_names(self) -> list[str]:
        """The activation layers' names in the order the latest measured pass ran them (module
        activations in registration order before any pass was measured)."""
        return list(self.order) if self.order else [n for n, *_ in self.activation_modules]

    def arm(self) -> None:
        """Attach the hooks, so that the next forward pass(es) with gradients enabled are measured."""
        if self._handles:
            return
        self._pending = {}
        self._attach()

    def _attach(self) -> None:
        if self._hooks is None:  # the same hooks serve every armed pass (they keep no state of their own)
            self._hooks = ([(name, module, self._activation_hook(name, kind))
                            for name, module, kind in self.activation_modules],
                           [(module, self._input_hook(name, module)) for name, module, _ in self.weighted])
        activation_hooks, input_hooks = self._hooks
        handles = [self.model.register_forward_pre_hook(self._start_pass)]
        for name, module, hook in activation_hooks:
            if name not in self._broken:
                handles.append(module.register_forward_hook(hook))
        for module, hook in input_hooks:
            handles.append(module.register_forward_pre_hook(hook))
        for module in self.unmeasured_activations:
            handles.append(module.register_forward_hook(self._activation_seen))
        self._handles = handles

    def _activation_seen(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self._pass.activation_since = True

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def cancel(self) -> None:
        """Drop everything pending (hooks, the weights snapshot, the step post-hook)."""
        self.disarm()
        self._before, self._ratios = None, None
        self._remove_post()

    def start_pass(self) -> None:
        """A new forward pass begins (the model's forward pre-hook calls this; a framework that runs
        the model's submodules without calling the model itself, as Lightning's ``training_step``
        may, calls it at each training batch)."""
        self._start_pass(self.model, ())

    def _start_pass(self, module: nn.Module, inputs: Any) -> None:
        self._pass = _Pass()
        if torch.is_grad_enabled():
            self.order, self.weighted_order, self.sequence = [], [], []

    def _guard(self, name: str, record: Any) -> Any:
        def guarded(*args: Any) -> None:
            if not torch.is_grad_enabled():
                return  # validation under no_grad: not the training batch
            try:
                record(*args)
            except Exception as err:  # a hook must never end the run it measures
                self._broken.add(name)
                self.errors.append((name, err))
        return guarded

    def _activation_hook(self, name: str, kind: str) -> Any:
        def record(module: nn.Module, inputs: Any, output: Any) -> None:
            state = self._pass
            state.activation_since = True
            calls = state.calls[name] = state.calls.get(name, 0) + 1
            key = name if calls == 1 else f"{name}#{calls}"  # one module applied at several places
            if name not in self.sequence:
                self.sequence.append(name)
            if isinstance(output, torch.Tensor):
                axis = self._units_axis(state.last_weighted)
                self._measure(key, kind, state.last_weighted, output.detach(), axis)
        return self._guard(name, record)

    def _input_hook(self, name: str, module: nn.Module) -> Any:
        axis = 1 if isinstance(module, CHANNEL_FIRST) else -1

        def record(module: nn.Module, inputs: Any) -> None:
            state = self._pass
            earlier, after = state.weighted_seen, state.last_weighted
            state.weighted_seen += 1
            state.last_weighted = name
            state.activation_since, seen = False, state.activation_since
            if name not in self.weighted_order:
                self.weighted_order.append(name)
                self.sequence.append(name)
            if not inputs or not isinstance(inputs[0], torch.Tensor):
                return
            seen_before = state.inputs.get(id(inputs[0]))
            if seen_before is not None and seen_before() is inputs[0]:
                return  # the input of a layer beside this one (heads on one tensor): read there
            state.inputs[id(inputs[0])] = weakref.ref(inputs[0])
            if not earlier or seen:
                return  # the model's input, or an activation module's output (measured there)
            if inputs[0].grad_fn is None:
                return  # not computed from parameters: data fed straight in (a second input branch)
            data = inputs[0].detach()
            if not data.is_floating_point() or data.numel() == 0:
                return
            key = f"{name}[input]"
            kind = self.inferred.get(key)
            if kind is None or key not in self._pending:
                low, high = torch.aminmax(data)
                zeros = (data == 0).sum()
                numbers = torch.stack([_wide(low), _wide(high), _wide(zeros)]).tolist()
                kind = infer_kind(numbers[0], numbers[1], numbers[2] / data.numel())
                if kind is None:
                    return
                self.inferred[key] = kind
            channels = self._flattened_channels(after, data)
            if channels:  # a feature map flattened for this layer: its units are the map's channels
                self._measure(key, kind, after, data.reshape(data.shape[0], channels, -1), 1)
                return
            self._measure(key, kind, after, data, axis)
        return self._guard(f"{name}[input]", record)

    def _flattened_channels(self, feeding: str | None, data: torch.Tensor) -> int:
        """The channels of the convolution ``feeding`` when ``data``, a weighted layer's (N, F) input, is
        its feature map flattened (``x.view(N, -1)``: channel by channel, F a multiple of them): a
        channel is one unit at every position, dead only when it fires at none (a position that only
        ever sees an image's constant border is no dead unit); 0 otherwise."""
        if feeding is None or data.dim() != 2:
            return 0
        module = self.weighted[self._index[feeding]][1]
        channels = getattr(module, "out_channels", 0) if isinstance(module, CHANNEL_FIRST) else 0
        features = int(data.shape[1])
        return channels if channels and features > channels and features % channels == 0 else 0

    def _units_axis(self, feeding: str | None) -> int:
        if feeding is None:
            return -1
        module = self.weighted[self._index[feeding]][1]
        return 1 if isinstance(module, CHANNEL_FIRST) else -1

    def _measure(self, key: str, kind: str, after: str | None, data: torch.Tensor, axis: int) -> None:
        """Device-side sums of one activation tensor, added to what earlier armed passes gave."""
        if key not in self.order:
            self.order.append(key)
        pending = self._pending.get(key)
        first = pending is None or pending.kind != kind
        if first:
            pending = self._pending[key] = _Pending(key, kind, after)
        pending.size = data.numel()
        # sums in float64 without a float64 copy; NaN/Inf are rare, so they are left in here and
        # counted (and the sums taken without them) in ``collect`` only when the sums are not finite
        wide = _wide_dtype(data)
        pending.data = data
        pending.total = data.sum(dtype=wide)
        pending.squares = torch.linalg.vector_norm(data, dtype=wide).square()
        pending.samples_now = int(data.shape[0]) if data.dim() > 1 else 1
        if kind in RELU_LIKE and data.dim() >= 1:
            if data.dim() == 1:
                fired = data > 0
            elif data.dim() == 2 and axis == -1:  # (samples, units): no reshape needed
                fired = (data > 0).any(dim=0)
            else:
                moved = data.movedim(axis, -1) if axis != -1 else data
                fired = (moved > 0).reshape(-1, moved.shape[-1]).any(dim=0)
            if not first and pending.fired is not None and pending.fired.shape == fired.shape:
                fired = fired | pending.fired
                pending.samples += pending.samples_now
            else:
                pending.samples = pending.samples_now
            pending.fired = fired
            pending.channels = axis == 1 and data.dim() > 2
        else:
            pending.samples = pending.samples_now
        flat = flat_region(kind, data, self._bounds.get(key.split("#")[0], (-1.0, 1.0)))
        pending.flat = None if flat is None else torch.count_nonzero(flat)

    # -- weights and gradients ----------------------------------------------------------------
    def _layers(self) -> list[tuple[str, nn.Module, str]]:
        """The trained weighted layers (weights that require a gradient and, with an optimizer, are in
        its groups: a frozen layer gets no gradient by design) in the order the latest measured pass
        ran them (input side first); layers it did not run keep their registration order, after."""
        index = self._index
        ran = [n for n in self.weighted_order if n in index]
        seen = set(ran)
        trained = None if self.optimizer is None else {
            id(p) for group in self.optimizer.param_groups for p in group["params"]}
        layers = []
        for name in [*ran, *(n for n, _, _ in self.weighted if n not in seen)]:
            entry = self.weighted[index[name]]
            weight = entry[1].weight
            if weight.requires_grad and (trained is None or id(weight) in trained):
                layers.append(entry)
        return layers

    def collect(self, step: int, epoch: int, loss: float) -> ProbeRecord:
        """The record of this step: weights and gradients now, the activations of the armed pass(es).
        One transfer to the host for all the scalars."""
        if self.ranks is not None:
            agree_layout(self)
        layers = self._layers()
        scalars: list[torch.Tensor] = []
        for _, module, _ in layers:
            w, g = module.weight.detach(), module.weight.grad
            wide = _wide_dtype(w)
            scalars.append(torch.linalg.vector_norm(w, dtype=wide))
            if g is None:
                scalars += [torch.zeros((), dtype=wide, device=w.device)] * 2
            else:
                g = g.detach()
                scalars += [torch.linalg.vector_norm(g, dtype=wide), g.abs().sum(dtype=wide)]
        pending = [self._pending[key] for key in self.order if key in self._pending]
        for p in pending:
            if self.ranks is None:  # NaN/Inf are taken out on the host, only when the sums show them
                scalars += [p.total, p.squares, _wide(p.flat) if p.flat is not None else p.total]
            else:  # every rank's counts and sums of the finite entries, added across the ranks
                count, total, squares = _finite_sums(p.data)
                scalars += [count, total, squares, _wide(p.flat) if p.flat is not None else count]
        # the output layer's bias gradient, last (across ranks: the same layer on each, DDP's model)
        bias = getattr(layers[-1][1], "bias", None) if layers else None
        bias_grad = None if bias is None else bias.grad
        if bias_grad is not None:
            scalars.append(torch.linalg.vector_norm(bias_grad.detach(), dtype=_wide_dtype(bias_grad)))
        reduced = None
        if self.ranks is None:
            values = _to_host(scalars)
        else:
            values, reduced = reduce_record(self, layers, scalars, pending, bias_grad is not None)
        records, squares = [], 0.0
        for index, (name, module, label) in enumerate(layers):
            weight_norm, grad_norm, abs_sum = values[3 * index: 3 * index + 3]
            w, g = module.weight, module.weight.grad
            size = max(w.numel(), 1)
            nonfinite_grad = 0
            if g is not None:
                squares += grad_norm * grad_norm
                if not math.isfinite(grad_norm) and reduced is None:
                    nonfinite_grad = int(g.numel() - torch.isfinite(g).sum().item())
            nonfinite_weight = 0 if math.isfinite(weight_norm) or reduced is not None else int(
                w.numel() - torch.isfinite(w.detach()).sum().item())
            if reduced is not None:  # counted over the ranks
                nonfinite_grad, nonfinite_weight = reduced["layers"].get(name, (0, 0))
            records.append(LayerStats(
                name=name, label=label, grad_norm=grad_norm, grad_rms=grad_norm / math.sqrt(size),
                grad_mean_abs=abs_sum / size, weight_norm=weight_norm, size=int(w.numel()),
                fan_in=fan_in(module), nonfinite_grad=nonfinite_grad, nonfinite_weight=nonfinite_weight))
        offset = 3 * len(layers)
        activations = []
        for index, p in enumerate(pending):
            if reduced is None:
                total, sq, flat = values[offset + 3 * index: offset + 3 * index + 3]
                count = p.size
                if not (math.isfinite(total) and math.isfinite(sq)):
                    count, total, sq = _to_host(list(_finite_sums(p.data)))
            else:
                count, total, sq, flat = values[offset + 4 * index: offset + 4 * index + 4]
            mean = total / count if count else math.nan
            std = math.sqrt(max(sq / count - mean * mean, 0.0)) if count else math.nan
            size, samples = (p.size, p.samples) if reduced is None else reduced["activations"][p.name][:2]
            stats = ActivationStats(
                name=p.name, label=self._activation_label(p), kind=p.kind, mean=mean, std=std,
                nonfinite=int(size - count), samples=samples, after=p.after, channels=p.channels)
            if p.fired is not None:
                stats.fired = p.fired.cpu().numpy() if reduced is None else reduced["activations"][p.name][2]
            if p.flat is not None:
                stats.saturated_share = flat / max(size, 1)
            activations.append(stats)
        self._pending = {}
        return ProbeRecord(step=step, epoch=epoch, loss=float(loss), layers=records, activations=activations,
                           grad_norm_total=math.sqrt(squares),
                           output_bias_grad=math.nan if bias_grad is None else float(values[-1]))

    # -- across ranks (torch.distributed; see retroprop.torch.distributed) ---------------------
    def _layout(self) -> tuple[Any, ...]:
        """What this rank measured: the layers' order, each activation (name, kind, the layer it
        follows, its unit count), the activations inferred in forward and the modules' order."""
        pending = tuple((key, p.kind, p.after, -1 if p.fired is None else int(p.fired.numel()))
                        for key in self.order if (p := self._pending.get(key)) is not None)
        return (tuple(self.weighted_order), pending, tuple(sorted(self.inferred.items())),
                tuple(self.sequence))

    def _activation_label(self, pending: _Pending) -> str:
        where = "the input" if pending.after is None else self._label.get(pending.after, pending.after)
        if pending.name.endswith("[input]"):
            return f"{pending.kind} in forward (input of {pending.name[:-len('[input]')]}) after {where}"
        return f"{pending.kind} ({pending.name}) after {where}"

    # -- update ratios ------------------------------------------------------------------------
    def snapshot_weights(self, record: ProbeRecord | None = None) -> None:
        """Clone the weights on their device before the optimizer's update; the ratios are taken in
        the optimizer's step post-hook (or by ``update_ratios`` without an optimizer)."""
        norms = {layer.name: layer.weight_norm for layer in record.layers} if record else {}
        # the gradients' norms, for the cosines: the step post-hook sees the gradients this record read
        self._grad_norms = {layer.name: layer.grad_norm for layer in record.layers} if record else {}
        with torch.no_grad():
            self._before = {name: (module.weight.detach().clone(),
                                   norms[name] if name in norms else
                                   float(torch.linalg.vector_norm(module.weight.detach())))
                            for name, module, _ in self._layers()}
        self._ratios = None
        self._remove_post()
        if self.optimizer is not None and hasattr(self.optimizer, "register_step_post_hook"):
            self._post = self.optimizer.register_step_post_hook(self._after_step)

    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._remove_post()
        try:
            self._ratios = self._compute_ratios(gradients=True)
        except Exception as err:  # pragma: no cover - a hook must never end the run
            self.errors.append(("update ratios", err))

    def _remove_post(self) -> None:
        if self._post is not None:
            self._post.remove()
            self._post = None

    def _compute_ratios(self, gradients: bool = False) -> dict[str, float]:
        """The update ratios; with ``gradients`` (in the step post-hook, where ``.grad`` still holds the
        gradient the step was taken from) also each step's cosine with it, kept for ``update_cosines``."""
        before, self._before = self._before, None
        self._cosines = {}
        if not before:
            return {}
        steps, norms, names, dots, grad_norms, graded = [], [], [], [], [], []
        recorded = self._grad_norms
        with torch.no_grad():
            for name, module, _ in self.weighted:
                if name not in before:
                    continue
                old, norm = before[name]
                if norm == 0.0:  # zero-initialized: measured against a typical layer of its shape
                    norm = math.sqrt(old.numel() / (fan_in(module) or 1))
                if not norm:
                    continue
                torch.sub(module.weight.detach(), old, out=old)
                steps.append(torch.linalg.vector_norm(old))
                norms.append(norm)
                names.append(name)
                grad = module.weight.grad
                if gradients and grad is not None and grad.shape == old.shape and not grad.is_sparse:
                    dots.append(torch.dot(_wide(old.reshape(-1)), _wide(grad.detach().reshape(-1))))
                    # the record's norm is a host float: no second reduction on the device
                    grad_norms.append(torch.tensor(recorded[name], dtype=torch.float64) if name in recorded
                                      else torch.linalg.vector_norm(grad.detach(), dtype=_wide_dtype(grad)))
                    graded.append(len(steps) - 1)
        # the step's norm in the weights' dtype, divided on the host in float64 (as on the device: the
        # same two numbers, the same division, two device operations fewer per layer)
        values = _to_host(steps + dots + grad_norms)
        steps_host = values[:len(steps)]
        for k, index in enumerate(graded):
            scale = steps_host[index] * values[len(steps) + len(dots) + k]
            if scale > 0 and math.isfinite(scale):
                self._cosines[names[index]] = values[len(steps) + k] / scale
        return {name: step / norm for name, step, norm in zip(names, steps_host, norms, strict=True)}

    def update_ratios(self) -> dict[str, float]:
        """``||W_after - W_before|| / ||W_before||`` per weighted layer for the step since
        ``snapshot_weights`` (taken in the step post-hook; now, if that has not run)."""
        if self._ratios is None:
            self._remove_post()
            ratios = self._compute_ratios()
        else:
            ratios = self._ratios
        self._ratios = None
        if self.ranks is not None and ratios:  # the mean over the ranks (DDP's weights are the same)
            names = list(ratios)
            mean = self.ranks.sum(torch.tensor([ratios[k] for k in names], dtype=torch.float64)).tolist()
            ratios = {name: value / self.ranks.size for name, value in zip(names, mean, strict=True)}
        return ratios

    def update_cosines(self) -> dict[str, float]:
        """Per layer, the cosine between the step ``update_ratios`` measured last and the gradient it was
        taken from (read in the optimizer's step post-hook; none without an optimizer)."""
        return dict(self._cosines)


def _wide_dtype(tensor: torch.Tensor) -> torch.dtype:
    """float64 for sums and norms, except on Apple's MPS, which has no float64."""
    return torch.float32 if tensor.is_mps else torch.float64  # is_mps: no torch.device made


def _wide(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(_wide_dtype(tensor))


def _finite_sums(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The count, sum and sum of squares of the finite entries of ``data``, on its device (sums in
    float64)."""
    finite = torch.isfinite(data)
    clean = torch.where(finite, data, torch.zeros((), dtype=data.dtype, device=data.device))
    wide = _wide_dtype(data)
    return (finite.sum().to(wide), clean.sum(dtype=wide),
            torch.linalg.vector_norm(clean, dtype=wide).square())


def _to_host(scalars: list[torch.Tensor]) -> list[float]:
    """0-d tensors as floats, in order: stacked per device, one transfer (one synchronization) each."""
    values: list[float] = [0.0] * len(scalars)
    by_device: dict[torch.device, list[int]] = {}
    for index, scalar in enumerate(scalars):
        by_device.setdefault(scalar.device, []).append(index)
    for indices in by_device.values():
        numbers = torch.stack([scalars[i] for i in indices]).cpu().tolist()
        for index, number in zip(indices, numbers, strict=True):
            values[index] = number
    return values
