"""Remedies for a torch model, applied in place: the training loop keeps its model and optimizer objects.

Learning rates and weight decay change in ``param_groups``; re-initialization uses ``torch.nn.init``;
activation modules are swapped wherever they sit in the module tree (never the output's); BatchNorm1d,
Dropout and ReLU are inserted into ``nn.Sequential`` containers, new parameters joining the optimizer
group of the layer they follow (a learning-rate scheduler keeps one entry per group); gradient
clipping is done by the watcher in the optimizer's step pre-hook. A remedy that cannot be applied in
place (another optimizer class, an activation applied as a function in ``forward``, a new loss, a layer
outside an ``nn.Sequential``) changes nothing and returns ``applied=False`` with the code change to
make. Every remedy checks that it can apply everywhere before it changes anything: none is applied
half-way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from retroprop.doctor.diagnosis import REMEDIES, USER_REMEDIES
from retroprop.doctor.remedies import (
    Treatment,
    descend,
    dropout_room,
    lower_weight_decay,
    no_dropout_room,
    statistics_updated,
)

__all__ = ["Context", "apply_torch_remedy"]

# matched by exact type: a ReLU6 is a Hardtanh
SATURATING = (nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardsigmoid, nn.Softsign)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh)
LINEAR_MAPS = (nn.Linear, nn.Conv1d, nn.Conv2d)
# layers that keep a map linear (affine): two linear maps with only these between them compose into one
PASS_THROUGH = (nn.modules.dropout._DropoutNd, nn.BatchNorm1d, nn.BatchNorm2d, nn.Identity, nn.Flatten,
                nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)


class Context:
    """What a remedy needs beyond the model and the optimizer: the activations the probe inferred
    from weighted layers' inputs (``{"<layer>[input]": kind}``: applied as functions) and the
    order the latest measured forward pass ran the modules in (names; empty when unknown)."""

    def __init__(self, functional: dict[str, str] | None = None,
                 sequence: Sequence[str] = ()) -> None:
        self.functional = dict(functional or {})
        self.sequence = list(sequence)
        self.handles: list[Any] = []  # hooks a remedy registers, removed when the doctor finishes


def _advice(remedy: str, model: nn.Module, optimizer: Any, why: str, change: str) -> Treatment:
    return Treatment(remedy, model, optimizer, f"{remedy} not applied: {why}; the change to make: {change}",
                     applied=False)


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def _output_names(model: nn.Module, context: Context) -> set[str]:
    """The modules after the model's last Linear/Conv layer: the output's own activation, which the
    loss expects. The order is the one forward ran the measured modules in, when known; modules the
    probe does not measure (Softmax, Identity, ...) count by registration order."""

    def after_last(order: list[str]) -> list[str]:
        last = max((i for i, n in enumerate(order) if isinstance(named[n], LINEAR_MAPS)), default=len(order))
        return order[last + 1:]

    named = dict(model.named_modules(remove_duplicate=False))  # one module may sit at several places
    ran = [n for n in context.sequence if n in named]
    registered = after_last(list(named))
    if not ran:
        return set(registered)
    return set(after_last(ran)) | {n for n in registered if n not in set(ran)}


def _functional(context: Context, kinds: Sequence[str]) -> list[str]:
    """The layers whose input looked like the output of an activation of ``kinds`` applied as a function."""
    return sorted(name[:-len("[input]")] for name, kind in context.functional.items() if kind in kinds)


def _fresh_weights(model: nn.Module, optimizer: Any) -> int:
    """He-normal weights and zero biases for every Linear and Conv layer; the optimizer's state is
    dropped (momentum of old weights means nothing for new ones). Returns the layer count."""
    layers = [m for m in model.modules() if isinstance(m, LINEAR_MAPS)]
    with torch.no_grad():
        for layer in layers:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    if optimizer is not None:
        optimizer.state.clear()
    return len(layers)


def _custom_activation(model: nn.Module, layer: str) -> str | None:
    """The position (``seq.key``) of the module that feeds ``layer`` in its ``nn.Sequential`` when that
    module is an activation of the user's own class (parameter-free, no children, defined outside
    torch: a ``class Sigmoid(nn.Module)`` whose forward computes it), passing over dropout, identity
    and flattening; None otherwise (the activation is applied as a function inside a forward)."""
    found = _sequential_parent(model, layer)
    if found is None:
        return None
    seq, key = found
    keys = list(seq._modules)
    for previous in reversed(keys[:keys.index(key)]):
        module = seq._modules[previous]
        if isinstance(module, (nn.modules.dropout._DropoutNd, nn.Identity, nn.Flatten)):
            continue
        own = not type(module).__module__.startswith("torch.")
        if own and not list(module.children()) and not list(module.parameters(recurse=False)):
            parent = layer.rpartition(".")[0]
            return f"{parent}.{previous}" if parent else previous
        return None
    return None


def swap_activations(model: nn.Module, optimizer: Any, context: Context, kinds: tuple[type, ...],
                     new: Callable[[], nn.Module], remedy: str, functions: Sequence[str], code: str,
                     reinit: bool = False) -> Treatment:
    output = _output_names(model, context)
    # every place an activation sits: one instance shared by several positions is swapped at each
    places = [n for n, m in model.named_modules(remove_duplicate=False) if isinstance(m, kinds)
              and n not in output and type(m) in kinds]
    # activations the probe read on a layer's input: modules of the user's own class are swapped
    # where they sit; ones applied as functions inside a forward cannot be
    applied_as_functions = []
    for layer in _functional(context, functions):
        position = _custom_activation(model, layer)
        if position is None:
            applied_as_functions.append(layer)
        elif position not in places:
            places.append(position)
    if applied_as_functions:
        before = ", ".join(applied_as_functions)
        return _advice(remedy, model, optimizer, f"forward applies the activation as a function before "
                       f"{before} (its outputs feed those layers), which cannot be swapped from outside",
                       code)
    if not places:
        names = "/".join(k.__name__ for k in kinds)
        return Treatment(remedy, model, optimizer, f"{remedy}: no hidden {names} module to replace (the "
                         "output's activation is the loss's to choose)", applied=False)
    for name in places:
        _set_module(model, name, new())
    description = (f"replaced {len(places)} activation module(s) ({', '.join(places)}) by "
                   f"{type(new()).__name__}")
    if reinit:
        count = _fresh_weights(model, optimizer)
        description += (f" and re-initialized the {count} Linear/Conv layer(s) with He weights, as ReLU "
                        "needs (optimizer state reset)")
    return Treatment(remedy, model, optimizer, description)


def use_relu(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    return swap_activations(
        model, optimizer, context, (*SATURATING, nn.Softmax, nn.LogSoftmax), nn.ReLU, "relu",
        ("sigmoid", "tanh"),
        "in forward, apply torch.relu where torch.sigmoid/torch.tanh is applied to a hidden layer, and "
        "initialize the Linear layers with nn.init.kaiming_normal_(layer.weight, nonlinearity='relu')",
        reinit=True)


def use_leaky_relu(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    return swap_activations(
        model, optimizer, context, (nn.ReLU,), lambda: nn.LeakyReLU(0.01), "leaky_relu", ("relu",),
        "in forward, replace F.relu(x) by F.leaky_relu(x, 0.01) for the hidden layers")


def _sequential_parent(model: nn.Module, name: str) -> tuple[nn.Sequential, str] | None:
    parent_name, _, key = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return (parent, key) if isinstance(parent, nn.Sequential) else None


def _insert_after(seq: nn.Sequential, key: str, module: nn.Module, suffix: str) -> str:
    """Insert ``module`` after ``seq``'s child ``key`` in place (index keys are renumbered; named keys
    keep their names and the new one is ``<key>_<suffix>``). Returns the new child's key."""
    items = list(seq._modules.items())
    numbered = all(k.isdigit() for k, _ in items)
    position = [k for k, _ in items].index(key) + 1
    new_key = f"{key}_{suffix}"
    items.insert(position, (new_key, module))
    if numbered:
        items = [(str(i), m) for i, (_, m) in enumerate(items)]
        new_key = str(position)
    seq._modules.clear()
    seq._modules.update(OrderedDict(items))
    return new_key


def _group_of(optimizer: Any, parameter: torch.Tensor) -> dict[str, Any]:
    for group in optimizer.param_groups:
        if any(p is parameter for p in group["params"]):
            return group
    return optimizer.param_groups[0]


def insert_batchnorm(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    """A BatchNorm1d after every hidden Linear layer (not the model's last Linear or Conv layer, nor
    after Conv layers: on a CNN whose only Linear layer is its output it changes nothing and says so),
    each in its ``nn.Sequential``; its parameters join the Linear's optimizer group."""
    named = dict(model.named_modules())
    order = [n for n in context.sequence if n in named and isinstance(named[n], LINEAR_MAPS)] or [
        n for n, m in named.items() if isinstance(m, LINEAR_MAPS)]
    hidden = [n for n in order[:-1] if isinstance(named[n], nn.Linear)]
    outside = [n for n in hidden if _sequential_parent(model, n) is None]
    if outside:
        return _advice("batchnorm", model, optimizer, f"{', '.join(outside)} sit(s) outside an "
                       "nn.Sequential", "in __init__, add nn.BatchNorm1d(out_features) for each hidden "
                       "Linear layer, and apply it to that layer's output in forward, before its activation")
    places = []
    for name in hidden:
        seq, key = _sequential_parent(model, name)
        keys = list(seq._modules)
        following = seq._modules[keys[keys.index(key) + 1]] if keys.index(key) + 1 < len(keys) else None
        if not isinstance(following, nn.BatchNorm1d):
            places.append((name, seq, key))
    if not places:
        convs = any(isinstance(m, (nn.Conv1d, nn.Conv2d)) for m in named.values())
        return Treatment("batchnorm", model, optimizer, "batchnorm: nothing to insert" + (
            " (BatchNorm1d goes after hidden Linear layers only; for the Conv layers, add "
            "nn.BatchNorm1d/2d(out_channels) after each in the model's code)" if convs else ""),
            applied=False)
    for name, seq, key in reversed(places):  # from the end, so earlier keys stay valid
        linear = seq._modules[key]
        w = linear.weight
        norm = nn.BatchNorm1d(linear.out_features, device=w.device, dtype=w.dtype).train(seq.training)
        new_key = _insert_after(seq, key, norm, "bn")
        if optimizer is not None:
            # into the Linear's own group, not a new one: a scheduler keeps one entry per group
            # (LambdaLR's lambdas, OneCycleLR's phases, every base_lrs) and fails on a group it lacks
            group = _group_of(optimizer, w)
            group["params"].extend([norm.weight, norm.bias])
            if "param_names" in group:
                prefix = name.rpartition(".")[0]
                stem = f"{prefix}.{new_key}" if prefix else new_key
                group["param_names"].extend([f"{stem}.weight", f"{stem}.bias"])
    names = ", ".join(n for n, _, _ in places)
    return Treatment("batchnorm", model, optimizer, f"inserted {len(places)} BatchNorm1d layer(s) after the "
                     f"hidden Linear layers ({names}); their parameters joined the optimizer")


def add_dropout(model: nn.Module, optimizer: Any, context: Context, rate: float = 0.3, **_: Any) -> Treatment:
    """Dropout after every hidden activation module, each in its ``nn.Sequential``, at ``rate`` or lower
    (``dropout_room``: the model's dropouts taken together stay below the level named too high)."""
    output = _output_names(model, context)
    hidden = [n for n, m in model.named_modules(remove_duplicate=False) if isinstance(m, ACTIVATIONS)
              and n not in output]
    code = f"in forward, apply F.dropout(x, {rate}, self.training) to each hidden activation's output"
    functions = _functional(context, ("relu", "sigmoid", "tanh"))
    if functions or not hidden:
        why = (f"forward applies activations as functions (before {', '.join(functions)})" if functions
               else "no hidden activation module to follow")
        return _advice("dropout", model, optimizer, why, code)
    outside = [n for n in hidden if _sequential_parent(model, n) is None]
    if outside:
        return _advice("dropout", model, optimizer, f"{', '.join(outside)} sit(s) outside an nn.Sequential",
                       code)
    places = []
    for name in hidden:
        seq, key = _sequential_parent(model, name)
        keys = list(seq._modules)
        following = seq._modules[keys[keys.index(key) + 1]] if keys.index(key) + 1 < len(keys) else None
        if not isinstance(following, nn.modules.dropout._DropoutNd):
            places.append((seq, key))
    if not places:
        return Treatment("dropout", model, optimizer, "dropout: every hidden activation has one",
                         applied=False)
    existing = [m.p for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    rate = dropout_room(existing, len(places), rate)
    if not rate:
        return no_dropout_room(model, optimizer, len(existing))
    for seq, key in reversed(places):
        _insert_after(seq, key, nn.Dropout(rate).train(seq.training), "dropout")
    return Treatment("dropout", model, optimizer, f"added Dropout({rate}) after {len(places)} activation(s)")


def lower_dropout(model: nn.Module, optimizer: Any, context: Context, rate: float = 0.2,
                  **_: Any) -> Treatment:
    lowered = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > rate]
    if not lowered:
        return Treatment("lower_dropout", model, optimizer, f"lower_dropout: no rate above {rate}",
                         applied=False)
    for module in lowered:
        module.p = rate
    return Treatment("lower_dropout", model, optimizer, f"lowered {len(lowered)} dropout rate(s) to {rate}")


def insert_activation(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    """A ReLU after every Linear or Conv layer of an ``nn.Sequential`` that another follows with no
    activation between them (only ``PASS_THROUGH`` layers: Dropout, batch norms, Identity, Flatten,
    average pooling)."""
    places = []
    for seq in (m for m in model.modules() if isinstance(m, nn.Sequential)):
        previous: str | None = None
        for key, module in seq._modules.items():
            if isinstance(module, LINEAR_MAPS):
                if previous is not None:
                    places.append((seq, previous))
                previous = key
            elif not isinstance(module, PASS_THROUGH):
                previous = None
    if not places:
        return _advice("insert_activation", model, optimizer, "no nn.Sequential has Linear/Conv layers in a "
                       "row", "in forward, apply F.relu between Linear/Conv layers that follow each other")
    for seq, key in reversed(places):
        _insert_after(seq, key, nn.ReLU(), "relu")
    return Treatment("insert_activation", model, optimizer, f"inserted {len(places)} ReLU layer(s) between "
                     "Linear/Conv layers that had no activation between them")


def scale_lr(model: nn.Module, optimizer: Any, factor: float, remedy: str) -> Treatment:
    before = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        rate = group["lr"] * factor  # a plain float for the loop to read (the factor may be NumPy's)
        group["lr"] = rate if isinstance(rate, torch.Tensor) else float(rate)
    return Treatment(remedy, model, optimizer, f"learning rate {before[0]:.3g} -> "
                     f"{optimizer.param_groups[0]['lr']:.3g} (in optimizer.param_groups)")


def lower_lr(model: nn.Module, optimizer: Any, context: Context, factor: float = 0.1, **_: Any) -> Treatment:
    return scale_lr(model, optimizer, factor, "lower_lr")


def higher_lr(model: nn.Module, optimizer: Any, context: Context, factor: float = 10.0,
              **_: Any) -> Treatment:
    return scale_lr(model, optimizer, factor, "higher_lr")


def he_init(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    count = _fresh_weights(model, optimizer)
    if not count:
        return Treatment("he_init", model, optimizer, "he_init: no Linear or Conv layer", applied=False)
    return Treatment("he_init", model, optimizer, f"re-initialized {count} Linear/Conv layer(s) with He "
                     "(Kaiming) normal weights and zero biases (optimizer state reset)")


def add_weight_decay(model: nn.Module, optimizer: Any, context: Context, weight_decay: float = 1e-4,
                     **_: Any) -> Treatment:
    if not all("weight_decay" in group for group in optimizer.param_groups):
        return _advice("weight_decay", model, optimizer, f"{type(optimizer).__name__} has no weight_decay "
                       "setting", "use an optimizer with weight_decay=1e-4 (e.g. torch.optim.AdamW)")
    for group in optimizer.param_groups:
        group["weight_decay"] = weight_decay
    return Treatment("weight_decay", model, optimizer, f"weight decay set to {weight_decay} in "
                     "optimizer.param_groups")


def clip_gradients(model: nn.Module, optimizer: Any, context: Context, max_norm: float = 1.0,
                   **_: Any) -> Treatment:
    return Treatment("clip_gradients", model, optimizer, f"gradients will be clipped to a global norm of "
                     f"{max_norm} before each step (retroprop.torch.watch does it in the step pre-hook; a "
                     "hand-written loop calls torch.nn.utils.clip_grad_norm_ with doctor.clip_grad_norm)",
                     clip_grad_norm=max_norm)


def roll_back(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    return Treatment("roll_back", model, optimizer, "rolled back to the last healthy state")


def switch_to_adam(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    if isinstance(optimizer, torch.optim.Adam):
        return Treatment("adam", model, optimizer, "adam: the optimizer is Adam already", applied=False)
    return _advice("adam", model, optimizer, "the training loop holds its optimizer, whose class cannot be "
                   "changed in place", "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)")


def fix_output_loss(model: nn.Module, optimizer: Any, context: Context, case: str | None = None,
                    loss: str | None = None, **_: Any) -> Treatment:
    """Make the output fit the loss, as retroprop's remedy does (``remedies.OUTPUT_FIXES``): the output
    activation module the loss applies itself is replaced by ``Identity``, or by the one the loss
    expects (LogSoftmax for NLL, Softmax or Sigmoid for a loss on probabilities); without an output
    activation module, the one expected is appended to an ``nn.Sequential`` model."""
    from retroprop import nn as rnn
    from retroprop.doctor.remedies import BEFORE_SOFTMAX, OUTPUT_FIXES

    fix = OUTPUT_FIXES.get(case or "", "unknown")
    fix = fix.get(loss or "", "unknown") if isinstance(fix, dict) else fix
    if fix == "unknown":
        return _advice("fix_output_loss", model, optimizer, f"the mismatch ({case or 'unknown'}) is not one "
                       "that a module swap mends", REMEDIES["fix_output_loss"])
    output = _output_names(model, context)
    named = dict(model.named_modules())
    places = [n for n in named if n in output and isinstance(named[n], (*ACTIVATIONS, nn.Softmax,
                                                                       nn.LogSoftmax))]
    if fix == BEFORE_SOFTMAX:
        # only an activation module followed by a softmax module is swapped: either one applied as a
        # function in forward leaves no module to change, and the advice names the edit
        if len(places) < 2 or not isinstance(named[places[-1]], (nn.Softmax, nn.LogSoftmax)):
            return _advice("fix_output_loss", model, optimizer, "the activation before the output's softmax "
                           "is no module", "in forward, apply the softmax (or log-softmax) to the last "
                           "layer's scores as they are, without the activation before it")
        old = named[places[-2]]
        _set_module(model, places[-2], nn.Identity())
        return Treatment("fix_output_loss", model, optimizer, f"removed the {type(old).__name__} "
                         f"({places[-2]}) before the output's {type(named[places[-1]]).__name__}")
    make = {None: nn.Identity, rnn.LogSoftmax: lambda: nn.LogSoftmax(dim=-1),
            rnn.Softmax: lambda: nn.Softmax(dim=-1), rnn.Sigmoid: nn.Sigmoid}[fix]
    new = make()
    if places:
        old = named[places[-1]]
        _set_module(model, places[-1], new)
        what = (f"removed the output {type(old).__name__} ({places[-1]})" if fix is None
                else f"replaced the output {type(old).__name__} ({places[-1]}) by {type(new).__name__}")
    elif fix is not None and isinstance(model, nn.Sequential):
        model.append(new)
        what = f"appended {type(new).__name__} to the output"
    else:
        return _advice("fix_output_loss", model, optimizer, "no output activation module to change",
                       "in forward, make the output fit the loss: " + REMEDIES["fix_output_loss"])
    return Treatment("fix_output_loss", model, optimizer, f"{what}, as the loss {loss or ''} expects".replace(
        "  ", " "))


def update_batchnorm_statistics(model: nn.Module, optimizer: Any, context: Context, momentum: float = 0.1,
                                **_: Any) -> Treatment:
    """As retroprop's: every batch normalization whose running statistics never update (momentum 0)
    tracks them from now on, at ``momentum`` (torch's default)."""
    frozen = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.track_running_stats and m.momentum == 0]
    return statistics_updated(frozen, model, optimizer, momentum)


def clear_gradients(model: nn.Module, optimizer: Any, context: Context, **_: Any) -> Treatment:
    """The optimizer clears the gradients after each of its steps (``zero_grad``, in a step post-hook the
    doctor removes when it finishes): the loop's next backward passes start from nothing, as they
    would after ``optimizer.zero_grad()`` before each backward."""
    context.handles.append(optimizer.register_step_post_hook(
        lambda stepped, args, kwargs: stepped.zero_grad(set_to_none=True)))
    return Treatment("clear_gradients", model, optimizer, "the optimizer now clears the gradients after "
                     "each step (zero_grad in a step post-hook, until the doctor finishes); the change to "
                     "make: " + REMEDIES["clear_gradients"])


ADVICE: dict[str, tuple[str, str]] = {
    "early_stopping": ("the training loop is yours to stop", "keep the weights of the best validation "
                       "epoch (doctor.best.weights, a state_dict: model.load_state_dict(...)) and end the "
                       "loop there"),
    "standardize_inputs": ("the data is the training loop's", "standardize each input feature with the "
                           "training set's mean and standard deviation: x = (x - mean) / std"),
    "shuffle": ("the loop draws its own batches", "DataLoader(train_set, shuffle=True, ...) for the training "
                "set, or a new random permutation of the samples each epoch"),
    "recompute_batchnorm_statistics": ("the data is the training loop's", "after training, recompute the "
                                       "running statistics on the training data: "
                                       "torch.optim.swa_utils.update_bn(train_loader, model)"),
    "standardize_targets": ("it needs the targets and a new loss scale", "train on (y - y.mean()) / y.std() "
                            "and map predictions back with * std + mean"),
}


def _advised(remedy: str) -> Callable[..., Treatment]:
    why, change = ADVICE.get(remedy, ("it is yours to make", REMEDIES.get(remedy, remedy)))

    def advised(model: nn.Module, optimizer: Any, context: Context, **options: Any) -> Treatment:
        extra = ""
        if remedy == "standardize_inputs" and options.get("mean") is not None:
            extra = " (the doctor measured the per-feature means and standard deviations on the inputs given)"
        return _advice(remedy, model, optimizer, why, change + extra)
    return advised


REMEDY_FUNCTIONS: dict[str, Callable[..., Treatment]] = {
    "relu": use_relu, "leaky_relu": use_leaky_relu, "batchnorm": insert_batchnorm, "dropout": add_dropout,
    "lower_dropout": lower_dropout, "insert_activation": insert_activation, "lower_lr": lower_lr,
    "higher_lr": higher_lr, "he_init": he_init, "weight_decay": add_weight_decay,
    "clip_gradients": clip_gradients, "roll_back": roll_back, "adam": switch_to_adam,
    "fix_output_loss": fix_output_loss, "update_batchnorm_statistics": update_batchnorm_statistics,
    "clear_gradients": clear_gradients,
    "descend": lambda model, optimizer, context, **_: descend(model, optimizer),
    "lower_weight_decay": lambda model, optimizer, context, **_: lower_weight_decay(model, optimizer),
    **{remedy: _advised(remedy) for remedy in (*ADVICE, *USER_REMEDIES, "widen")},
}
NEEDS_OPTIMIZER = frozenset({"lower_lr", "higher_lr", "weight_decay", "adam", "descend",
                             "lower_weight_decay", "clear_gradients"})


def apply_torch_remedy(remedy: str, model: nn.Module, optimizer: Any, context: Context,
                       **options: Any) -> Treatment:
    """Apply the remedy named ``remedy`` (``diagnosis.REMEDIES``) to ``model`` and ``optimizer`` in place."""
    if remedy not in REMEDY_FUNCTIONS:
        raise ValueError(f"unknown remedy {remedy!r}; expected one of {', '.join(sorted(REMEDY_FUNCTIONS))}")
    if optimizer is None and remedy in NEEDS_OPTIMIZER:
        return Treatment(remedy, model, optimizer, f"{remedy}: no optimizer was given", applied=False)
    return REMEDY_FUNCTIONS[remedy](model, optimizer, context, **options)
