"""retroprop's adapter for the static checks: a model and a loss as the plain descriptions of
``checks`` (layer dicts in forward order, a loss name from ``checks.LOSS_KINDS``).

Labels follow the probes': weighted layers (Linear, Conv1d, Conv2d, BatchNorm, LayerNorm) are counted
from 1 among themselves ("layer 1, Linear 64→128", "layer 1, Conv1d 1→25 k5 s2"); every other layer is named
after the weighted layer before it ("relu after layer 1, Linear 64→128", "Dropout p=0.5 after layer 2,
Linear 128→10").

Convolutions and pooling, in the checks' kinds (``checks.LAYER_KINDS``), by what their maps are:

* A convolution is a linear map of its input (a Linear layer whose weights are shared across
  positions): kind ``"linear"``, so that two convolutions with nothing but affine layers between them
  (or a convolution, a Flatten and a Linear layer) read as the one linear map they compose into.
  ``out_features`` is its width, ``out_channels`` (the units per position, which is the class count
  of a loss over ``(N, C, L)`` outputs); ``in_features`` is None, since the map's rank depends on the
  positions, which the model does not fix. The dict also holds ``in_channels``, ``out_channels``,
  ``conv`` (1 or 2 spatial axes) and ``activation_after``: the kind of the activation that follows it,
  or None when the next weighted layer, an unknown layer or the output comes first (only affine
  layers between).
* Average pooling (fixed, adaptive) is linear too and keeps the values' range (a mean of values in a
  range stays in it): kind ``"identity"``. Max pooling is a nonlinearity (a max of linear maps, as a
  maxout unit): kind ``"other_activation"``.
* A Flatten of a convolution's positions at the model's end makes the output's width channels x
  positions, which the model does not fix: that Flatten is ``"other"`` (the output's width and kind
  unknown, so no check on the output reasons from a wrong width).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.doctor.checks import LAYER_KINDS as CHECKED_KINDS
from retroprop.doctor.checks import declared_loss_kind
from retroprop.doctor.probes import ACTIVATION_KINDS, CONVOLUTIONS, WEIGHTED, layer_label
from retroprop.nn import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    HuberLoss,
    Identity,
    L1Loss,
    Linear,
    LogSigmoid,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Mish,
    Module,
    MSELoss,
    NLLLoss,
    Sequential,
    SiLU,
    SmoothL1Loss,
    Softmax,
    Softplus,
    Softsign,
    Standardize,
)

LOSS_CLASSES: dict[type, str] = {CrossEntropyLoss: "cross_entropy", NLLLoss: "nll", MSELoss: "mse",
                                 BCEWithLogitsLoss: "bce_with_logits", BCELoss: "bce", L1Loss: "l1",
                                 HuberLoss: "huber", SmoothL1Loss: "huber"}
LOSS_FUNCTIONS = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll", F.mse_loss: "mse",
                  F.binary_cross_entropy_with_logits: "bce_with_logits", F.binary_cross_entropy: "bce",
                  F.l1_loss: "l1", F.huber_loss: "huber", F.smooth_l1_loss: "huber"}
AFFINE_KINDS: dict[type, str] = {Dropout: "dropout", BatchNorm1d: "batchnorm", BatchNorm2d: "batchnorm",
                                 Standardize: "standardize", Identity: "identity", Flatten: "flatten"}
# nonlinear modules whose range the checks do not know (ReLU6 is a Hardtanh), as torch's describe has them
OTHER_ACTIVATIONS = (SiLU, Mish, Softplus, Hardtanh, Hardswish, Hardsigmoid, Softsign, LogSigmoid)
# pooling, by its map: an average is linear and keeps the range, a max is a nonlinearity
POOLING_KINDS: dict[type, str] = {AvgPool1d: "identity", AvgPool2d: "identity", AdaptiveAvgPool1d: "identity",
                                  AdaptiveAvgPool2d: "identity", MaxPool1d: "other_activation",
                                  MaxPool2d: "other_activation"}


def _kind(module: Module) -> str:
    if isinstance(module, (Linear, *CONVOLUTIONS)):
        return "linear"  # a convolution is a linear map of its input
    if isinstance(module, Softmax):  # LogSoftmax is a Softmax; over the batch axis it is no output softmax
        if module.dim not in (-1, 1):
            return "other_activation"
        return "log_softmax" if isinstance(module, LogSoftmax) else "softmax"
    for cls, kind in {**ACTIVATION_KINDS, **AFFINE_KINDS, **POOLING_KINDS}.items():
        if isinstance(module, cls):  # the probes' kinds the checks know no range of are "other"
            return kind if kind in CHECKED_KINDS else "other_activation"
    if isinstance(module, OTHER_ACTIVATIONS):
        return "other_activation"
    return "other"


def _features(module: Module) -> tuple[int | None, int | None]:
    if isinstance(module, Linear):
        return module.in_features, module.out_features
    if isinstance(module, CONVOLUTIONS):  # the width per position; the rank depends on the positions
        return None, module.out_channels
    if isinstance(module, (BatchNorm1d, BatchNorm2d)):
        return module.num_features, module.num_features
    if isinstance(module, Standardize):
        return module.num_features, module.num_features
    return None, None


def describe_model(model: Module, sample: Any = None) -> list[dict[str, Any]]:
    """``model``'s layers in forward order as ``checks`` layer dicts. Sequential containers (nested
    too) are walked; any other module with submodules is traced on ``sample`` (a few input rows) when
    given: a forward that is one chain is described step by step (``traced_chain``); otherwise, or
    without a sample, it is one ``"other"`` layer, since the order its forward uses its modules in is
    unknown (its weighted layers still count toward the labels' numbers)."""
    if not isinstance(model, Module):
        raise TypeError(f"describe_model: model must be a retroprop Module, got {type(model).__name__}")
    layers: list[dict[str, Any]] = []
    state = {"count": 0, "last": "the input"}

    def walk(module: Module, name: str) -> None:
        if isinstance(module, Sequential):
            for child_name, child in module._modules.items():
                walk(child, f"{name}.{child_name}" if name else child_name)
            return
        kind = _kind(module)
        steps = (traced_chain(model, sample) if module is model and sample is not None
                 and kind == "other" and module._modules else None)
        if steps is not None:
            for step_name, step in steps:
                if isinstance(step, Module):
                    walk(step, step_name)  # its name in model.named_modules()
                else:  # a function of the forward (F.relu, x.reshape): a layer of its own kind
                    layers.append(layer_entry(step_name, f"{step} ({step_name}) after {state['last']}", step,
                                              (None, None)))
                    spatial.append(spatial[-1] if step not in ("flatten", "other") else False)
            return
        if kind == "other" and module._modules:
            label = f"{module.label()} after {state['last']}"
            state["count"] += sum(isinstance(m, WEIGHTED) for _, m in module.named_modules())
        elif isinstance(module, WEIGHTED):
            state["count"] += 1
            label = state["last"] = layer_label(state["count"], module)
        elif kind in ACTIVATION_KINDS.values() or kind in ("softmax", "log_softmax"):
            label = f"{kind} after {state['last']}"
        else:
            label = f"{module.label()} after {state['last']}"
        layers.append(layer_entry(name, label, kind, _features(module),
                                  module if isinstance(module, CONVOLUTIONS) else None,
                                  max_pooling=isinstance(module, (MaxPool1d, MaxPool2d))))
        spatial.append(_positions(module, spatial[-1]))

    spatial = [False]  # whether the values have positions (a convolution's, not yet pooled away)
    walk(model, "")
    return mark_positional_output(layers, spatial[:-1])


# what a function applied in a forward does to the values, by the class of its graph node
FUNCTION_KINDS: dict[str, str] = {
    "ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "GELU": "gelu", "Sigmoid": "sigmoid",
    "Tanh": "tanh", "Dropout": "dropout", "Reshape": "flatten", "Transpose": "identity",
    "GetItem": "identity", "Clone": "identity", "Cast": "identity",
    "AvgPool": "identity", "AdaptiveAvgPool": "identity", "MaxPool": "other_activation",
    "SiLU": "other_activation", "Mish": "other_activation", "Softplus": "other_activation",
    "Hardswish": "other_activation", "Hardsigmoid": "other_activation", "Hardtanh": "other_activation",
    "Softsign": "other_activation", "LogSigmoid": "other_activation",
}


def traced_chain(model: Module, sample: Any) -> list[tuple[str, Module | str]] | None:
    """The steps ``model``'s forward applies to ``sample`` (a few input rows), in order, when they form
    one chain from the input to the output: each step reads the one before it alone (the model's own
    parameters aside). ``(name, module)`` for a layer it calls (the modules without submodules),
    ``(name, kind)`` for a function between them (``FUNCTION_KINDS``, "other" for one not listed; its
    name the function's, ending in "()"). None when the output is reached through a sum of two paths, a
    concatenation, several inputs, a weighted layer applied twice, or not at all. Traced once, in
    evaluation mode (nothing drawn, no statistics updated), from the graph the engine records."""
    from retroprop.random import default_generator
    from retroprop.tensor import Tensor, enable_grad

    calls: dict[int, tuple[str, Module, Any]] = {}  # by id of the output: the layer and its input
    # layers that returned their input itself (dropout in evaluation mode), by the id of that value
    passed: dict[int, list[tuple[str, Module]]] = {}
    handles = []
    for name, module in model.named_modules():
        if name and not module._modules:
            def record(layer: Module, inputs: Any, output: Any, name: str = name) -> None:
                if not (isinstance(output, Tensor) and inputs and len(inputs) == 1):
                    return
                if output is inputs[0]:
                    passed.setdefault(id(output), []).append((name, layer))
                else:
                    calls[id(output)] = (name, layer, inputs[0])
            handles.append(module.register_forward_hook(record))
    modes = {id(m): m.training for m in model.modules()}
    drawn = default_generator().bit_generator.state  # a layer of the user's may draw even in eval
    try:
        rows = np.asarray(sample)[:2]
        floating = rows.dtype.kind == "f"  # indices (an embedding's) carry no gradient to trace
        x = Tensor(rows, requires_grad=floating)
        model.eval()
        with enable_grad():
            out = model(x)
    except Exception:  # a forward that needs more than one input, or other inputs
        return None
    finally:
        for handle in handles:
            handle.remove()
        for module in model.modules():
            module.training = modes[id(module)]
        default_generator().bit_generator.state = drawn
    if not floating:
        return None
    steps: list[tuple[str, Module | str]] = []
    applied: set[int] = set()
    value, seen = out, set()
    while True:
        if not isinstance(value, Tensor) or id(value) in seen:
            return None
        seen.add(id(value))
        steps += reversed(passed.get(id(value), []))  # after what made the value, in call order
        if value is x:
            break
        call = calls.get(id(value))
        if call is not None:
            name, layer, value = call
            if id(layer) in applied and any(True for _ in layer.parameters()):
                return None  # one layer's weights applied twice: no sequence of layers
            applied.add(id(layer))
            steps.append((name, layer))
            continue
        node = value._ctx
        if node is None:
            return None  # a value made apart from the input
        flowing = [t for t in node.inputs if isinstance(t, Tensor) and (t._ctx is not None or t is x)]
        if len(flowing) != 1:
            return None  # a sum of two paths, a concatenation: no chain
        kind = FUNCTION_KINDS.get(type(node).__name__, "other")
        if type(node).__name__ in ("Softmax", "LogSoftmax"):
            axis = getattr(node, "axis", None)
            kind = ("log_softmax" if type(node).__name__ == "LogSoftmax" else "softmax") if axis in (
                -1, 1) else "other_activation"
        steps.append((f"{type(node).__name__.strip('_').lower()}()", kind))
        value = flowing[0]
    return steps[::-1] or None


def _positions(module: Module, before: bool) -> bool:
    """Whether the values after ``module`` still have positions of a convolution's."""
    if isinstance(module, CONVOLUTIONS):
        return True
    if isinstance(module, (AdaptiveAvgPool1d, AdaptiveAvgPool2d)):
        size = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,)
        return before and not all(s == 1 for s in size)
    if isinstance(module, (Linear, Flatten)) or (_kind(module) == "other" and module._modules):
        return False
    return before


def layer_entry(name: str, label: str, kind: str, features: tuple[int | None, int | None],
                conv: Any = None, max_pooling: bool = False) -> dict[str, Any]:
    """One ``checks`` layer dict; a convolution (``conv``: its module, of either framework, with
    ``kernel_size``, ``in_channels`` and ``out_channels``) adds its dimensions and channels; max
    pooling (an ``"other_activation"``) is marked ``pooling="max"``."""
    layer = {"name": name, "label": label, "kind": kind, "in_features": features[0],
             "out_features": features[1]}
    if conv is not None:
        layer.update(conv=len(conv.kernel_size), in_channels=conv.in_channels, out_channels=conv.out_channels)
    if max_pooling:
        layer["pooling"] = "max"
    return layer


def mark_positional_output(layers: list[dict[str, Any]], positional: list[bool]) -> list[dict[str, Any]]:
    """``layers`` with ``activation_after`` on each convolution, and a Flatten of a convolution's
    positions that no weighted layer follows made ``"other"`` (the output's width, channels x positions,
    is not fixed by the model). ``positional[i]``: whether the values before ``layers[i]`` have positions."""
    for index, layer in enumerate(layers):
        if layer["kind"] == "flatten" and positional[index] and not any(
                later["kind"] == "linear" for later in layers[index + 1:]):
            layer["kind"] = "other"
    for index, layer in enumerate(layers):
        if "conv" not in layer:
            continue
        layer["activation_after"] = None
        for later in layers[index + 1:]:
            if later["kind"] in ACTIVATION_KINDS.values() or later["kind"] in (
                    "softmax", "log_softmax", "other_activation"):
                layer["activation_after"] = later["kind"]
                break
            if later["kind"] in ("linear", "other"):
                break
    return layers


def describe_loss(loss: Any) -> str | None:
    """The ``checks`` loss name of a retroprop loss: a loss Module (instance or class), a functional
    loss, or one of ``fit``'s loss names; None for a loss it does not know (a custom function, or a
    subclass of a loss Module that computes its own ``forward``).

    A custom loss may say what it computes with a ``doctor_loss_kind`` attribute (one of
    ``checks.LOSS_KINDS``), e.g. ``"cross_entropy_probs"`` for a categorical cross-entropy on
    probabilities, as Keras computes it.
    """
    if loss is None:
        return None
    declared = declared_loss_kind(loss)
    if declared is not None:
        return declared
    if isinstance(loss, str):
        from retroprop.training import LOSSES  # here: training imports the doctor

        key = loss.lower()
        if key not in LOSSES:
            raise ValueError(f"describe_loss: unknown loss {loss!r}; expected a loss Module, a function or "
                             f"one of {', '.join(sorted(LOSSES))}")
        return LOSS_CLASSES.get(LOSSES[key])
    cls = loss if isinstance(loss, type) else type(loss)
    for known, name in LOSS_CLASSES.items():
        if issubclass(cls, known):
            return name if cls.forward is known.forward else None
    try:
        return LOSS_FUNCTIONS.get(loss)
    except TypeError:  # unhashable
        return None
