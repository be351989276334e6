"""A torch model and loss as the static checks' plain descriptions (``doctor.checks``).

``nn.Sequential`` containers (nested too) are walked in order: their forward applies exactly their
modules, one after the other. Any other module with submodules (a custom ``nn.Module``) is one
``"other"`` layer: its ``forward`` may apply activations as functions (``F.relu``) and use its
modules in any order, so no check reasons across it. That is how ``missing_nonlinearity`` stays quiet
on a model whose activations are functions: the check fires only when the whole description is one
linear map, and an ``"other"`` layer may be anything.

Convolutions and pooling are described as retroprop's ``doctor.structure`` describes them (see there
for the mechanisms): a ``Conv1d``/``Conv2d`` is a linear map, kind ``"linear"`` with ``out_features``
its ``out_channels`` and ``in_features`` None, plus ``conv``, ``in_channels``, ``out_channels`` and
``activation_after``; average pooling is ``"identity"``, max pooling ``"other_activation"``;
``BatchNorm2d`` is ``"batchnorm"``; a Flatten of a convolution's positions at the model's end is
``"other"``.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn import functional as F

from retroprop.doctor.checks import declared_loss_kind
from retroprop.doctor.structure import layer_entry, mark_positional_output
from retroprop.torch.probe import WEIGHTED, module_label

__all__ = ["LOSS_CLASSES", "describe_loss", "describe_model", "layer_kind"]

LOSS_CLASSES: dict[type, str] = {
    nn.CrossEntropyLoss: "cross_entropy", nn.NLLLoss: "nll", nn.BCELoss: "bce",
    nn.BCEWithLogitsLoss: "bce_with_logits", nn.MSELoss: "mse", nn.L1Loss: "l1", nn.HuberLoss: "huber",
    nn.SmoothL1Loss: "huber",
}
LOSS_FUNCTIONS = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll", F.binary_cross_entropy: "bce",
                  F.binary_cross_entropy_with_logits: "bce_with_logits", F.mse_loss: "mse", F.l1_loss: "l1",
                  F.huber_loss: "huber", F.smooth_l1_loss: "huber"}
ACTIVATION_KINDS: dict[type, str] = {
    nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.SELU: "selu", nn.GELU: "gelu",
    nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
}
# nonlinear modules whose range the checks do not know
OTHER_ACTIVATIONS = (nn.SiLU, nn.ReLU6, nn.PReLU, nn.RReLU, nn.CELU, nn.Softplus, nn.Mish, nn.Hardtanh,
                     nn.Hardswish, nn.Hardsigmoid, nn.Softsign, nn.Tanhshrink, nn.LogSigmoid)
AFFINE_KINDS: dict[type, str] = {nn.modules.dropout._DropoutNd: "dropout", nn.BatchNorm1d: "batchnorm",
                                 nn.BatchNorm2d: "batchnorm", nn.Identity: "identity", nn.Flatten: "flatten"}
CONVOLUTIONS = (nn.Conv1d, nn.Conv2d)
# pooling, by its map: an average is linear and keeps the range, a max is a nonlinearity
POOLING_KINDS: dict[type, str] = {
    nn.AvgPool1d: "identity", nn.AvgPool2d: "identity", nn.AdaptiveAvgPool1d: "identity",
    nn.AdaptiveAvgPool2d: "identity", nn.MaxPool1d: "other_activation", nn.MaxPool2d: "other_activation",
    nn.AdaptiveMaxPool1d: "other_activation", nn.AdaptiveMaxPool2d: "other_activation"}


def layer_kind(module: nn.Module) -> str:
    """The ``checks.LAYER_KINDS`` kind of one leaf module."""
    if isinstance(module, (nn.Linear, *CONVOLUTIONS)):
        return "linear"  # a convolution is a linear map of its input
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        if module.dim not in (-1, 1, None):  # over another axis: no output softmax
            return "other_activation"
        return "log_softmax" if isinstance(module, nn.LogSoftmax) else "softmax"
    kind = ACTIVATION_KINDS.get(type(module))
    if kind is not None:
        return kind
    if isinstance(module, OTHER_ACTIVATIONS):
        return "other_activation"
    for cls, kind in {**AFFINE_KINDS, **POOLING_KINDS}.items():
        if isinstance(module, cls):
            return kind
    return "other"


MAX_POOLING = (nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


def _features(module: nn.Module) -> tuple[int | None, int | None]:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, CONVOLUTIONS):  # the width per position; the rank depends on the positions
        return None, module.out_channels
    if isinstance(module, nn.BatchNorm1d):
        return module.num_features, module.num_features
    return None, None


def describe_model(model: nn.Module) -> list[dict[str, Any]]:
    """``model``'s layers in forward order as ``checks`` layer dicts (labels as the probe's)."""
    layers: list[dict[str, Any]] = []
    state = {"count": 0, "last": "the input"}

    def weighted_label(module: nn.Module, name: str) -> str:
        state["count"] += 1
        return f"layer {state['count']}, {module_label(module)} ({name})"

    def walk(module: nn.Module, name: str) -> None:
        if isinstance(module, nn.Sequential):
            for child_name, child in module._modules.items():
                if child is not None:
                    walk(child, f"{name}.{child_name}" if name else child_name)
            return
        kind = layer_kind(module)
        if kind == "other" and module._modules:
            label = f"{type(module).__name__} ({name or 'the model'}) after {state['last']}"
            for sub_name, sub in module.named_modules(prefix=name):
                if isinstance(sub, WEIGHTED) and getattr(sub, "weight", None) is not None:
                    state["last"] = weighted_label(sub, sub_name)
        elif isinstance(module, WEIGHTED) and getattr(module, "weight", None) is not None:
            label = state["last"] = weighted_label(module, name)
        else:
            label = f"{kind if kind != 'other' else type(module).__name__} ({name}) after {state['last']}"
        layers.append(layer_entry(name, label, kind, _features(module),
                                  module if isinstance(module, CONVOLUTIONS) else None,
                                  max_pooling=isinstance(module, MAX_POOLING)))
        spatial.append(_positions(module, spatial[-1]))

    spatial = [False]  # whether the values have positions (a convolution's, not yet pooled away)
    walk(model, "")
    return mark_positional_output(layers, spatial[:-1])


def _positions(module: nn.Module, before: bool) -> bool:
    """Whether the values after ``module`` still have positions of a convolution's."""
    if isinstance(module, CONVOLUTIONS):
        return True
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d,
                           nn.AdaptiveMaxPool2d)):
        size = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,)
        return before and not all(s == 1 for s in size)
    if isinstance(module, (nn.Linear, nn.Flatten)) or (layer_kind(module) == "other" and module._modules):
        return False
    return before


def describe_loss(loss: Any) -> str | None:
    """The ``checks`` loss name of a torch loss module (instance or class) or functional loss; None for
    one it does not know (a custom loss, or a subclass that computes its own ``forward``). A custom loss
    may declare it with a ``doctor_loss_kind`` attribute (one of ``checks.LOSS_KINDS``)."""
    if loss is None:
        return None
    declared = declared_loss_kind(loss)
    if declared is not None:
        return declared
    cls = loss if isinstance(loss, type) else type(loss)
    for known, name in LOSS_CLASSES.items():
        if isinstance(cls, type) and issubclass(cls, known):
            if cls.forward is not known.forward:
                return None
            return name
    try:
        return LOSS_FUNCTIONS.get(loss)
    except TypeError:  # unhashable
        return None
