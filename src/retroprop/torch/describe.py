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
        steps = traced_chain(module) if kind == "other" and module._modules else None
        if steps is not None:
            for step_name, step in steps:
                if isinstance(step, nn.Module):
                    walk(step, f"{name}.{step_name}" if name else step_name)
                else:  # a function of the forward (F.relu, x.view): a layer of its own kind
                    label = f"{step} ({step_name}) after {state['last']}"
                    layers.append(layer_entry(step_name, label, step, (None, None)))
                    spatial.append(spatial[-1] if step not in ("flatten", "other") else False)
            return
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


# what a function applied in a forward does to the values, by its name (torch.relu, F.relu, x.relu())
FUNCTION_KINDS: dict[str, str] = {
    "relu": "relu", "relu_": "relu", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu",
    "gelu": "gelu", "sigmoid": "sigmoid", "tanh": "tanh", "dropout": "dropout",
    "view": "flatten", "reshape": "flatten", "flatten": "flatten",
    "contiguous": "identity", "squeeze": "identity", "unsqueeze": "identity", "clone": "identity",
    "silu": "other_activation", "softplus": "other_activation", "mish": "other_activation",
    "hardtanh": "other_activation", "relu6": "other_activation", "max_pool1d": "other_activation",
    "max_pool2d": "other_activation", "avg_pool1d": "identity", "avg_pool2d": "identity",
}
METADATA = frozenset({"size", "dim", "shape", "numel", "len"})  # numbers about a tensor, not its values


def traced_chain(module: nn.Module) -> list[tuple[str, nn.Module | str]] | None:
    """The steps a custom module's ``forward`` applies, in order, when ``torch.fx`` can trace it and
    they form one chain (each step takes the previous step's output alone, and nothing else reads it):
    ``(name, submodule)`` for a module it calls (its qualified name), ``(name, kind)`` for a function
    (``FUNCTION_KINDS``; "other" for one not listed; its name the traced call's, ending in "()"). None
    when it cannot be traced (control flow on values, several inputs) or is no chain (a residual sum, a
    concatenation, a weighted module applied twice), as then its layers are not one sequence."""
    from torch import fx

    class LayerTracer(fx.Tracer):
        """A module without submodules is one layer (a custom activation's forward is not read into)."""

        def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
            return not m._modules or super().is_leaf_module(m, qualified_name)

    # tracing calls the modules it reads into with placeholder values: no hook may see those (the
    # doctor's probes, `retroprop watch`'s global pre-hook that finds a script's models), so every
    # forward hook, each module's and the global ones, is set aside meanwhile and put back in order
    from torch.nn.modules import module as modules

    kinds = ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs",
             "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")
    tables = [getattr(m, name) for m in module.modules() for name in kinds if hasattr(m, name)]
    tables += [getattr(modules, name) for name in ("_global_forward_hooks", "_global_forward_pre_hooks",
                                                   "_global_forward_hooks_always_called",
                                                   "_global_forward_hooks_with_kwargs")
               if isinstance(getattr(modules, name, None), dict)]
    held = [(table, dict(table)) for table in tables if table]
    try:
        for table, _ in held:
            table.clear()
        graph = fx.GraphModule(module, LayerTracer().trace(module)).graph
        graph.eliminate_dead_code()
    except Exception:  # what fx cannot trace stays one "other" layer
        return None
    finally:
        for table, hooks in held:
            table.update(hooks)
    nodes = list(graph.nodes)
    inputs = [node for node in nodes if node.op == "placeholder"]
    if len(inputs) != 1:
        return None
    head, metadata, steps, called = inputs[0], set(), [], set()
    for node in nodes:
        if node.op in ("placeholder", "get_attr"):
            continue
        data = [arg for arg in node.all_input_nodes if arg not in metadata and arg.op != "get_attr"]
        if node.op == "output":
            return steps if node.args[0] is head and steps else None
        name = node.target if node.op == "call_module" else getattr(node.target, "__name__", str(node.target))
        if name in METADATA or (node.all_input_nodes and not data and node.op != "call_module"):
            metadata.add(node)  # x.size(0) and arithmetic on it
            continue
        if data != [head] or len([user for user in head.users if user not in metadata]) > 1:
            return None  # a branch: several values flow, or one flows to several places
        if node.op == "call_module":
            submodule = module.get_submodule(node.target)
            if node.target in called and any(True for _ in submodule.parameters()):
                return None  # one layer's weights applied twice: no sequence of layers
            called.add(node.target)
            steps.append((node.target, submodule))
        else:
            kind = "identity" if name == "getitem" else FUNCTION_KINDS.get(name, "other")
            if name in ("softmax", "log_softmax"):
                axis = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
                kind = name if axis in (-1, 1) else "other_activation"
            steps.append((f"{node.name}()", kind))  # a call, not a module's name
        head = node
    return None


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
