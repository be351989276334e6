"""A clinic ``Program`` as the same program in PyTorch, trained in a plain loop that draws as ``rp.fit`` does.

``convert(program)`` builds the torch twin of a freshly built program: every module of its retroprop model
as the torch module of the same computation holding a copy of its initial weights, the torch optimizer
of the same class and hyper-parameters, the loss as a torch loss computing the same numbers (fit's loss
names, retroprop's loss modules, and the programs' Keras-semantics and hand-written TensorFlow losses),
and fit's metrics (its own metric functions, applied to the torch outputs). A module, loss, optimizer
setting or fit option it does not know raises ``Unsupported`` naming it: the program is then skipped,
never changed.

``train(twin)`` runs the plain torch loop as ``rp.fit`` runs its own: one numpy generator, seeded as fit
seeds it (or fit's generator as the program left it), draws each epoch's shuffle and every Dropout mask
in fit's order (the torch Dropout of the twin, ``FitDropout``, draws its masks as retroprop's does), so
plain torch and plain retroprop training see the same batches and masks. It stops as fit stops: a step
whose loss or gradients are not finite is not applied, and training ends there; an update that leaves
non-finite weights puts the model and optimizer back to the epoch's start and ends training. Given a
``retroprop.torch.watch`` doctor (built by the caller), it calls ``observe``, ``end_epoch`` with fit's
Keras-style logs and ``finish``; a non-finite step is still shown to it (its step pre-hook runs inside
``optimizer.step()``), and is kept only when a repairing doctor voided it (gradients set to None).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from benchmarks.clinic.programs import Program
from torch import nn
from torch.nn import functional as TF

import retroprop as rp
from retroprop import training as fit_impl
from retroprop.random import default_generator

__all__ = ["FitDropout", "TorchRun", "TorchTwin", "Unsupported", "convert", "score", "train"]

FIT_OPTIONS = frozenset({"seed", "metrics", "shuffle"})  # the fit keywords the twin reproduces
TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class Unsupported(ValueError):
    """A program the twin cannot reproduce exactly; the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------
class FitDropout(nn.Dropout):
    """``nn.Dropout`` drawing its masks as retroprop's ``Dropout`` does (``generator.random >= p``, kept
    units scaled by ``1 / (1 - p)``), from the generator ``fit`` would draw them from."""

    def __init__(self, p: float, generator: np.random.Generator) -> None:
        super().__init__(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return x * torch.zeros_like(x)
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        keep = self.generator.random(tuple(x.shape), dtype=dtype) >= self.p
        return x * torch.from_numpy(keep * dtype(1.0 / (1.0 - self.p)))


class Standardize(nn.Module):
    """retroprop's ``Standardize``: ``(x - mean) / scale`` in float64, cast to the model's dtype."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))
        self.out_dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.double() - self.mean) / self.scale).to(self.out_dtype)


class Rescale(nn.Module):
    """The regression programs' fixed affine output ``x * scale + offset`` (``_regrnn.Rescale``)."""

    def __init__(self, scale: float, offset: float) -> None:
        super().__init__()
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset


def _tensor(array: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.array(array.data if hasattr(array, "data") else array)).to(dtype)


def _linear(module: rp.nn.Linear, dtype: torch.dtype) -> nn.Linear:
    linear = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(_tensor(module.weight, dtype))
        if module.bias is not None:
            linear.bias.copy_(_tensor(module.bias, dtype))
    return linear


def _conv(module: Any, dtype: torch.dtype) -> nn.Module:
    """A Conv1d/Conv2d of the same geometry (stride, padding and its mode, dilation, groups) and weights."""
    torch_class = nn.Conv1d if isinstance(module, rp.nn.Conv1d) else nn.Conv2d
    conv = torch_class(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                       padding=module.padding, dilation=module.dilation, groups=module.groups,
                       bias=module.bias is not None, padding_mode=module.padding_mode, dtype=dtype)
    with torch.no_grad():
        conv.weight.copy_(_tensor(module.weight, dtype))
        if module.bias is not None:
            conv.bias.copy_(_tensor(module.bias, dtype))
    return conv


def _batch_norm(module: rp.nn.BatchNorm1d | rp.nn.BatchNorm2d, dtype: torch.dtype) -> nn.Module:
    torch_class = nn.BatchNorm2d if isinstance(module, rp.nn.BatchNorm2d) else nn.BatchNorm1d
    norm = torch_class(module.num_features, eps=module.eps, momentum=module.momentum,
                       affine=module.affine, track_running_stats=module.track_running_stats, dtype=dtype)
    with torch.no_grad():
        if module.affine:
            norm.weight.copy_(_tensor(module.weight, dtype))
            norm.bias.copy_(_tensor(module.bias, dtype))
        if module.track_running_stats:
            norm.running_mean.copy_(_tensor(module.running_mean, dtype))
            norm.running_var.copy_(_tensor(module.running_var, dtype))
            norm.num_batches_tracked.fill_(int(np.asarray(module.num_batches_tracked.data)))
    return norm


def convert_module(module: Any, dtype: torch.dtype, generator: np.random.Generator,
                   where: str = "model") -> nn.Module:
    """The torch module computing what the retroprop ``module`` computes, with a copy of its weights."""
    from benchmarks.clinic.programs._regrnn import Rescale as RegrnnRescale

    kind = type(module)
    if kind is rp.nn.Sequential:
        return nn.Sequential(*(convert_module(m, dtype, generator, f"{where}[{i}]")
                               for i, m in enumerate(module)))
    if kind is rp.nn.Linear:
        return _linear(module, dtype)
    if kind in (rp.nn.Conv1d, rp.nn.Conv2d):
        return _conv(module, dtype)
    if hasattr(module, "torch_twin"):  # a program's own module says what it is in torch
        return module.torch_twin(dtype)
    if kind in (rp.nn.BatchNorm1d, rp.nn.BatchNorm2d):
        return _batch_norm(module, dtype)
    if kind is rp.nn.Dropout:
        if module.generator is not None:
            raise Unsupported(f"{where}: Dropout with its own generator (fit's draws would not match)")
        return FitDropout(module.p, generator)
    simple: dict[type, Callable[[], nn.Module]] = {
        rp.nn.ReLU: nn.ReLU, rp.nn.Sigmoid: nn.Sigmoid, rp.nn.Tanh: nn.Tanh, rp.nn.SELU: nn.SELU,
        rp.nn.Identity: nn.Identity,
        rp.nn.LeakyReLU: lambda: nn.LeakyReLU(module.negative_slope),
        rp.nn.ELU: lambda: nn.ELU(module.alpha),
        rp.nn.Softmax: lambda: nn.Softmax(dim=module.dim),
        rp.nn.LogSoftmax: lambda: nn.LogSoftmax(dim=module.dim),
        rp.nn.Flatten: lambda: nn.Flatten(module.start_dim, module.end_dim),
        rp.nn.MaxPool1d: lambda: nn.MaxPool1d(module.kernel_size, module.stride, module.padding,
                                              module.dilation, ceil_mode=module.ceil_mode),
        rp.nn.MaxPool2d: lambda: nn.MaxPool2d(module.kernel_size, module.stride, module.padding,
                                              module.dilation, ceil_mode=module.ceil_mode),
        rp.nn.Standardize: lambda: Standardize(module.mean.data, module.scale.data, dtype),
        RegrnnRescale: lambda: Rescale(module.scale, module.offset),
    }
    if kind in simple:
        return simple[kind]()
    raise Unsupported(f"{where}: no torch twin for retroprop's {kind.__module__}.{kind.__name__}")


# ---------------------------------------------------------------------------------------------
# Losses: the same numbers as the retroprop loss (Keras's clipping, TensorFlow's hand-written forms)
# ---------------------------------------------------------------------------------------------
def _one_hot(target: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor:
    return TF.one_hot(target.reshape(-1).long(), width).to(dtype)


class TorchLoss(nn.Module):
    """A loss given as ``fn(output, target)``; ``doctor_loss_kind`` is the retroprop loss's own (if it
    declares one), so that both doctors are told the same about it."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 kind: str | None) -> None:
        super().__init__()
        self.name, self.fn = name, fn
        if kind is not None:
            self.doctor_loss_kind = kind

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(input, target)

    def extra_repr(self) -> str:
        return self.name


def _keras_bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from benchmarks.clinic.programs._keras import EPSILON

    p = p.clamp(EPSILON, 1.0 - EPSILON)
    return -(p.log() * y + (1.0 - p).log() * (1.0 - y)).mean()


def _keras_categorical(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from benchmarks.clinic.programs._keras import EPSILON

    q = (p / p.sum(dim=-1, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
    return -(q.log() * y).sum(dim=-1).mean()


def _clipped_log_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``ClippedLogLoss``: ``-sum(onehot * log(clip(p, 1e-32, 1 - 1e-32))) / N``."""
    return -(p.clamp(1e-32, 1.0 - 1e-32).log() * _one_hot(y, p.shape[-1], p.dtype)).sum() / p.shape[0]


def _naive_cross_entropy(p: torch.Tensor, y: torch.Tensor, reduction: str) -> torch.Tensor:
    """``NaiveCrossEntropy``: ``-sum(onehot * log(p))``, unclipped; over the batch size unless 'sum'."""
    total = -(p.log() * _one_hot(y, p.shape[-1], p.dtype)).sum()
    return total if reduction == "sum" else total / p.shape[0]


def _naive_binary_cross_entropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``NaiveBinaryCrossEntropy``: ``sum(-h log(p) - (1 - h) log(1 - p)) / N`` on one-hot ``h``."""
    h = _one_hot(y, p.shape[-1], p.dtype)
    return (-(p.log() * h) - (1.0 - p).log() * (1.0 - h)).sum() / p.shape[0]


def _sigmoid_cross_entropy(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``SigmoidCrossEntropy``: sigmoid cross-entropy on the logits against one-hot rows, summed / N."""
    h = _one_hot(y, p.shape[-1], p.dtype)
    return TF.binary_cross_entropy_with_logits(p, h, reduction="none").sum() / p.shape[0]


def convert_loss(loss: Any) -> nn.Module:
    """The torch loss of a resolved retroprop loss (``training._resolve_loss``'s module or function)."""
    from benchmarks.clinic.programs import _keras, _qa_common
    from benchmarks.clinic.programs import deepchecker_basecnn_missing_softmax as missing_softmax
    from benchmarks.clinic.programs import deepfd_31556268_xor_mae as xor_mae
    from benchmarks.clinic.programs import deeplocalize_45442843_softmax_one_unit_mae as mae_program
    from benchmarks.clinic.programs import stackoverflow_44164749_multilabel_softmax as multilabel

    kind, reduction = type(loss), getattr(loss, "reduction", "mean")
    declared = getattr(loss, "doctor_loss_kind", None)
    if kind is rp.nn.CrossEntropyLoss:
        return nn.CrossEntropyLoss(reduction=reduction, label_smoothing=loss.label_smoothing)
    if kind is rp.nn.NLLLoss:
        return nn.NLLLoss(reduction=reduction)
    if kind is rp.nn.MSELoss:
        return nn.MSELoss(reduction=reduction)
    if kind is rp.nn.BCEWithLogitsLoss:
        return nn.BCEWithLogitsLoss(reduction=reduction)
    if reduction != "mean" and kind not in (_qa_common.NaiveCrossEntropy,):
        raise Unsupported(f"loss {kind.__name__} with reduction {reduction!r}")
    custom: dict[Any, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
        _keras.BinaryCrossentropy: _keras_bce,
        _keras.CategoricalCrossentropy: lambda p, y: _keras_categorical(p, _one_hot(y, p.shape[-1], p.dtype)),
        multilabel.MultiHotCategoricalCrossentropy: _keras_categorical,
        mae_program.MeanAbsoluteError: lambda p, y: (p - y.reshape(p.shape)).abs().mean(),
        xor_mae.mean_absolute_error: lambda p, y: (p - y).abs().mean(),
        missing_softmax.ClippedLogLoss: _clipped_log_loss,
        _qa_common.NaiveCrossEntropy: lambda p, y: _naive_cross_entropy(p, y, reduction),
        _qa_common.NaiveBinaryCrossEntropy: _naive_binary_cross_entropy,
        _qa_common.SigmoidCrossEntropy: _sigmoid_cross_entropy,
    }
    key = loss if kind not in custom and callable(loss) and not isinstance(loss, rp.nn.Module) else kind
    try:
        fn = custom.get(key)
    except TypeError:  # an unhashable callable
        fn = None
    if fn is None:
        raise Unsupported(f"loss {getattr(key, '__qualname__', key)!r}: no torch version written")
    return TorchLoss(getattr(key, "__name__", str(key)), fn, declared)


# ---------------------------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------------------------
def convert_optimizer(optimizer: Any, params: dict[int, torch.Tensor]) -> torch.optim.Optimizer:
    """The torch optimizer of the same class and hyper-parameters, over the twin's parameters
    (``params``: retroprop parameter id -> torch parameter); its state must be fresh."""
    name = type(optimizer).__name__
    torch_class = getattr(torch.optim, name, None)
    if hasattr(optimizer, "torch_twin"):  # a program's own optimizer says what it is in torch
        torch_class = optimizer.torch_twin()
    elif torch_class is None or type(optimizer).__module__.split(".")[0] != "retroprop":
        raise Unsupported(f"optimizer {type(optimizer).__module__}.{name}: no torch.optim class of that name")
    if getattr(optimizer, "state", None):
        raise Unsupported(f"optimizer {name} has state already (a fresh one is converted)")
    accepted = set(inspect.signature(torch_class.__init__).parameters) - {"self", "params"}
    groups = []
    for k, group in enumerate(optimizer.param_groups):
        settings = {key: value for key, value in group.items() if key not in ("params", "initial_lr")}
        unknown = sorted(set(settings) - accepted)
        if unknown:
            raise Unsupported(f"optimizer {name} group {k}: torch.optim.{name} has no {', '.join(unknown)}")
        missing = [p for p in group["params"] if id(p) not in params]
        if missing:
            raise Unsupported(f"optimizer {name} group {k}: {len(missing)} parameters not in the model")
        groups.append({"params": [params[id(p)] for p in group["params"]], **settings})
    return torch_class(groups)


def _paired_parameters(rp_model: Any, model: nn.Module) -> dict[int, torch.Tensor]:
    """retroprop parameter id -> the torch parameter holding its copy (same registration order)."""
    mine, theirs = list(rp_model.parameters()), list(model.parameters())
    if len(mine) != len(theirs) or any(tuple(a.shape) != tuple(b.shape) for a, b in zip(mine, theirs,
                                                                                         strict=True)):
        raise Unsupported("the twin's parameters do not pair with the model's one to one")
    return {id(a): b for a, b in zip(mine, theirs, strict=True)}


# ---------------------------------------------------------------------------------------------
# The twin
# ---------------------------------------------------------------------------------------------
@dataclass
class TorchTwin:
    """A program in torch: model, optimizer, loss, fit's prepared data and metrics, fit's generator."""

    program: Program
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss: nn.Module
    classification: bool
    n_classes: int | None  # as fit tells its doctor: 2 for a binary loss, the outputs for a categorical one
    metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]]
    data: dict[str, np.ndarray]  # x_train, y_train, x_val, y_val as fit casts them
    tensors: dict[str, torch.Tensor]
    generator: np.random.Generator  # fit's: the shuffles and the Dropout masks
    shuffle: bool = True

    @property
    def steps_per_epoch(self) -> int:
        return len(_batches(self, np.random.default_rng(0), shuffle=False))


def convert(program: Program) -> TorchTwin:
    """The torch twin of ``program``, built right after the program (fit's generator is copied as the
    program left it when ``fit_options`` has no seed). Raises ``Unsupported`` naming what it cannot do."""
    unknown = sorted(set(program.fit_options) - FIT_OPTIONS)
    if unknown:
        raise Unsupported(f"fit option(s) {', '.join(unknown)} not reproduced by the torch loop")
    seed = program.fit_options.get("seed")
    generator = np.random.default_rng(seed) if seed is not None else copy.deepcopy(default_generator())
    rp_model = program.model
    if rp_model.dtype not in TORCH_DTYPES:
        raise Unsupported(f"model dtype {rp_model.dtype}")
    dtype = TORCH_DTYPES[np.dtype(rp_model.dtype)]
    model = convert_module(rp_model, dtype, generator)
    optimizer = convert_optimizer(program.optimizer, _paired_parameters(rp_model, model))
    rp_loss, classification = fit_impl._resolve_loss(program.loss)
    loss = convert_loss(rp_loss)
    x_train = np.asarray(program.x_train)
    x_dtype = fit_impl._input_dtype(rp_model, x_train)
    data = {"x_train": x_train.astype(x_dtype, copy=False),
            "x_val": np.asarray(program.x_val).astype(x_dtype, copy=False)}
    for key in ("y_train", "y_val"):
        data[key] = fit_impl._prepare_targets(np.asarray(getattr(program, key)), rp_loss, classification,
                                              rp_model.dtype, "convert")
    binary = fit_impl._is_binary(rp_loss)
    n_classes = None
    if classification:
        n_classes = 2 if binary else fit_impl._output_width(rp_model, data["x_train"][:1])
    metrics = fit_impl._resolve_metrics(program.fit_options.get("metrics"), rp_loss, classification)
    tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in data.items()}
    return TorchTwin(program, model, optimizer, loss, classification, n_classes, metrics, data, tensors,
                     generator, shuffle=bool(program.fit_options.get("shuffle", True)))


# ---------------------------------------------------------------------------------------------
# The plain loop
# ---------------------------------------------------------------------------------------------
@dataclass
class TorchRun:
    """What a torch run left: per-step losses, fit's epoch logs, why it stopped, its time."""

    step_loss: list[float] = field(default_factory=list)
    logs: dict[str, list[float]] = field(default_factory=dict)
    stop_reason: str | None = None
    wall_time: float = math.nan


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _batches(twin: TorchTwin, generator: np.random.Generator,
             shuffle: bool | None = None) -> list[np.ndarray]:
    """fit's batches of one epoch (shuffled from ``generator``; a short last batch folded with BatchNorm)."""
    n, size = len(twin.data["x_train"]), twin.program.batch_size
    return fit_impl._batches(n, size, twin.shuffle if shuffle is None else shuffle, generator,
                             _has_batch_norm(twin.model))


def _finite_sums(tensors: Any) -> bool:
    # as fit checks: the sum of each tensor is finite (NaN/Inf anywhere, or values beyond ~1e38, are not)
    return all(math.isfinite(float(t.sum())) for t in tensors)


def _finite_grads(model: nn.Module) -> bool:
    return _finite_sums(p.grad for p in model.parameters() if p.grad is not None)


def _finite_weights(model: nn.Module) -> bool:
    return _finite_sums(p.detach() for p in model.parameters())


def _clone(value: Any) -> Any:
    """A copy of a state dict: tensors cloned, containers rebuilt, anything else shared (immutable)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


def _state(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
    return _clone(model.state_dict()), _clone(optimizer.state_dict())


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, state: tuple[dict[str, Any], Any]) -> bool:
    try:
        model.load_state_dict(state[0])
        optimizer.load_state_dict(state[1])
    except (RuntimeError, ValueError, KeyError):  # a repair changed the model's layers since
        return False
    return True


def outputs(twin: TorchTwin, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's outputs in eval mode, in chunks as ``rp.evaluate``/``rp.predict`` compute them."""
    model = twin.model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(twin: TorchTwin, x: torch.Tensor, y: torch.Tensor, y_np: np.ndarray,
             batch_size: int = 256) -> dict[str, float]:
    """``rp.evaluate``: the loss over the whole set's outputs, and fit's metrics on them."""
    out = outputs(twin, x, batch_size)
    with torch.no_grad():
        result = {"loss": float(twin.loss(out, y))}
    out_np = out.numpy()
    with np.errstate(all="ignore"):
        result.update({name: float(fn(y_np, out_np)) for name, fn in twin.metrics.items()})
    return result


def score(twin: TorchTwin) -> float:
    """``run.score`` on the torch model: validation accuracy (fit's metric), or for a regression the
    validation MSE over the targets' variance."""
    program = twin.program
    with np.errstate(all="ignore"):
        if program.metric is None:
            pred = outputs(twin, twin.tensors["x_val"], 256).double().numpy()
            y = np.asarray(program.y_val, dtype=np.float64).reshape(pred.shape)
            error = float(np.mean((pred - y) ** 2) / np.var(y))
            return error if math.isfinite(error) else math.inf
        result = evaluate(twin, twin.tensors["x_val"], twin.tensors["y_val"], twin.data["y_val"])
        return float(result[program.metric])


def train(twin: TorchTwin, doctor: Any = None, repair: bool = False,
          max_steps: int | None = None) -> TorchRun:
    """Train ``twin`` in a plain torch loop that draws and stops as ``rp.fit`` (see the module's text),
    feeding ``doctor`` (a ``retroprop.torch.watch`` made by the caller on ``twin.model`` and
    ``twin.optimizer``) when given; ``repair``: whether that doctor repairs. ``max_steps``: stop after
    that many steps (the epoch's logs are then over its steps so far)."""
    import time

    p, model, optimizer, loss_fn = twin.program, twin.model, twin.optimizer, twin.loss
    xt, yt, xv, yv = (twin.tensors[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    y_np = twin.data["y_train"]
    run = TorchRun()
    started = time.perf_counter()
    stopped = False
    for epoch in range(p.epochs):
        model.train()
        batches = _batches(twin, twin.generator)
        epoch_start = _state(model, optimizer)
        loss_sum, seen = 0.0, 0
        metric_sums = dict.fromkeys(twin.metrics, 0.0)
        for batch, index in enumerate(batches):
            step = len(run.step_loss)
            buffers = [b.detach().clone() for b in model.buffers()]
            rows = torch.from_numpy(index)
            xb, yb = xt[rows], yt[rows]
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            value = float(loss.detach())
            run.step_loss.append(value)
            if doctor is not None:
                doctor.observe(loss)
            where = f"step {step + 1} (epoch {epoch + 1}, batch {batch + 1})"
            if math.isfinite(value) and _finite_grads(model):
                optimizer.step()
                if not _finite_weights(model):
                    _restore(model, optimizer, epoch_start)
                    stopped = True
                    run.stop_reason = (f"non-finite weights after the update of {where}: model and optimizer "
                                       f"put back to the start of epoch {epoch + 1}")
            else:
                kept = _state(model, optimizer)
                treated = False
                if doctor is not None:  # the doctor sees this step in the optimizer's step pre-hook
                    optimizer.step()
                    treated = repair and all(q.grad is None for q in model.parameters())
                if not treated:
                    _restore(model, optimizer, kept)
                    for buffer, saved in zip(model.buffers(), buffers, strict=False):
                        buffer.copy_(saved)
                    stopped = True
                    run.stop_reason = (f"non-finite {'loss' if not math.isfinite(value) else 'gradients'} at "
                                       f"{where}; that update was not applied")
            loss_sum += value * len(index)
            seen += len(index)
            out_np = out.detach().numpy()
            with np.errstate(all="ignore"):
                for name, fn in twin.metrics.items():
                    metric_sums[name] += fn(y_np[index], out_np) * len(index)
            if max_steps is not None and len(run.step_loss) >= max_steps:
                stopped = True
                run.stop_reason = run.stop_reason or f"max_steps={max_steps} reached"
            if doctor is not None and doctor.should_stop:
                stopped = True
                run.stop_reason = run.stop_reason or "the doctor asked to stop"
            if stopped:
                break
        if not seen:
            break
        logs = {"loss": loss_sum / seen, **{k: v / seen for k, v in metric_sums.items()}}
        val = evaluate(twin, xv, yv, twin.data["y_val"], max(p.batch_size, 256))
        logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = float(optimizer.param_groups[0]["lr"])
        for key, value in logs.items():
            run.logs.setdefault(key, []).append(value)
        if doctor is not None:
            doctor.end_epoch(epoch, logs)
        if stopped:
            break
    if doctor is not None:
        doctor.finish()
    run.wall_time = time.perf_counter() - started
    return run
