"""retroprop's adapter for the static checks: a model and a loss as the plain descriptions of
``checks`` (layer dicts in forward order, a loss name from ``checks.LOSS_KINDS``).

Labels follow the probes': weighted layers (Linear, BatchNorm1d) are counted from 1 among
themselves ("layer 1, Linear 64→128"); every other layer is named after the weighted layer before
it ("relu after layer 1, Linear 64→128", "Dropout p=0.5 after layer 2, Linear 128→10").
"""

from __future__ import annotations

from typing import Any

from retroprop import functional as F
from retroprop.doctor.checks import declared_loss_kind
from retroprop.doctor.probes import ACTIVATION_KINDS, WEIGHTED, layer_label
from retroprop.nn import (
    BatchNorm1d,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    Module,
    MSELoss,
    NLLLoss,
    Sequential,
    Softmax,
    Standardize,
)

LOSS_CLASSES: dict[type, str] = {CrossEntropyLoss: "cross_entropy", NLLLoss: "nll", MSELoss: "mse",
                                 BCEWithLogitsLoss: "bce_with_logits"}
LOSS_FUNCTIONS = {F.cross_entropy: "cross_entropy", F.nll_loss: "nll", F.mse_loss: "mse",
                  F.binary_cross_entropy_with_logits: "bce_with_logits"}
AFFINE_KINDS: dict[type, str] = {Dropout: "dropout", BatchNorm1d: "batchnorm", Standardize: "standardize",
                                 Identity: "identity", Flatten: "flatten"}


def _kind(module: Module) -> str:
    if isinstance(module, Linear):
        return "linear"
    if isinstance(module, Softmax):  # LogSoftmax is a Softmax; over the batch axis it is no output softmax
        if module.dim not in (-1, 1):
            return "other_activation"
        return "log_softmax" if isinstance(module, LogSoftmax) else "softmax"
    for cls, kind in {**ACTIVATION_KINDS, **AFFINE_KINDS}.items():
        if isinstance(module, cls):
            return kind
    return "other"


def _features(module: Module) -> tuple[int | None, int | None]:
    if isinstance(module, Linear):
        return module.in_features, module.out_features
    if isinstance(module, BatchNorm1d):
        return module.num_features, module.num_features
    if isinstance(module, Standardize):
        return module.num_features, module.num_features
    return None, None


def describe_model(model: Module) -> list[dict[str, Any]]:
    """``model``'s layers in forward order as ``checks`` layer dicts. Sequential containers (nested
    too) are walked; any other module with submodules is one ``"other"`` layer, since the order its
    forward uses them in is unknown (its weighted layers still count toward the labels' numbers)."""
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
        in_features, out_features = _features(module)
        layers.append({"name": name, "label": label, "kind": kind,
                       "in_features": in_features, "out_features": out_features})

    walk(model, "")
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
