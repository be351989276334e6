"""Remedies: each one changes the model or the optimizer and says what it did.

A remedy is a function ``(model, optimizer, layer) -> Treatment``. Structural remedies (swap an
activation, insert BatchNorm1d, add or lower dropout) edit ``Sequential`` models, including nested
ones, and rebuild the optimizer, keeping the state (momentum, Adam's moments) of every parameter
that survives. On other Modules they are skipped with the reason stated. The others (learning
rate, re-initialization, optimizer switch, gradient clipping) work on any model.

Convolutions are linear maps like Linear layers wherever the mechanism carries over: the output's
activation is whatever follows the model's last Linear or Conv layer; ``he_init`` (and ``relu``'s
re-initialization) draws He weights for Conv layers too, with ``fan_in = in_channels / groups x
kernel size``; activations after convolutions are swapped like any other; ``insert_activation``
puts a ReLU between convolutions (or a convolution and a Linear layer) with only affine layers
between them (Dropout, BatchNorm, Identity, Flatten, average pooling). ``batchnorm`` inserts a batch
norm after every hidden Linear and Conv layer (BatchNorm1d over a Linear's units or a Conv1d's
channels, BatchNorm2d over a Conv2d's channels), never after the output layer.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retroprop import optim
from retroprop.doctor.diagnosis import REMEDIES, USER_REMEDIES
from retroprop.nn import (
    ELU,
    GELU,
    SELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Softsign,
    Standardize,
    Tanh,
)
from retroprop.nn import init as nn_init
from retroprop.tensor import Tensor, no_grad

SATURATING = (Sigmoid, Tanh, Hardtanh, Hardsigmoid, Softsign)  # matched by exact type: a ReLU6 is a Hardtanh
ACTIVATIONS = (ReLU, LeakyReLU, ELU, SELU, GELU, Sigmoid, Tanh)
LINEAR_MAPS = (Linear, Conv1d, Conv2d)  # the weighted layers He init is drawn for
# layers that keep a map linear (affine): two linear maps with only these between them compose into one
PASS_THROUGH = (Dropout, BatchNorm1d, BatchNorm2d, Identity, Flatten, AvgPool1d, AvgPool2d,
                AdaptiveAvgPool1d, AdaptiveAvgPool2d)


@dataclass
class Treatment:
    """What a remedy did: the (possibly new) model and optimizer, and a sentence for people."""

    remedy: str
    model: Module
    optimizer: Any
    description: str
    applied: bool = True
    clip_grad_norm: float | None = None  # for the training loop to apply after each backward
    shuffle: bool | None = None  # for the training loop: draw each epoch's samples in a new order


def _sequentials(model: Module) -> list[Sequential]:
    return [m for m in model.modules() if isinstance(m, Sequential)]


def _output_modules(model: Module) -> set[int]:
    """The ids of the modules after the model's last Linear or Conv layer (in forward order through
    nested Sequentials): the output's own activation, which the loss expects (a sigmoid for a binary
    loss, say). Remedies for hidden layers never touch it."""
    modules = list(model.modules())
    last = max((i for i, m in enumerate(modules) if isinstance(m, LINEAR_MAPS)), default=len(modules))
    return {id(m) for m in modules[last + 1:]}


def rebuild_optimizer(optimizer: Any, model: Module, cls: type | None = None,
                      **changes: Any) -> Any:
    """A new optimizer over ``model``'s parameters with the old one's settings (and ``changes``),
    keeping the state of every parameter that survives."""
    cls = cls or type(optimizer)
    group = optimizer.param_groups[0]
    options = {k: v for k, v in group.items() if k not in ("params", "initial_lr", "param_names")}
    if cls is not type(optimizer):
        options = {"lr": options.get("lr", 1e-3)}
    options.update(changes)
    # a user's optimizer class may take fewer keywords than its groups hold (settings its defaults fix):
    # it gets those it names, and its groups the rest as they were
    parameters = inspect.signature(cls).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    named = {p.name for p in parameters}
    given = {k: v for k, v in options.items() if takes_any or k in named}
    new = cls(model.parameters(), **given)
    for fresh_group in new.param_groups:
        fresh_group.update({k: v for k, v in options.items() if k not in given})
    if cls is type(optimizer):
        for p in new.param_groups[0]["params"]:
            if p in optimizer.state:
                new.state[p] = optimizer.state[p]
    return new


def _structural(name: str, model: Module, optimizer: Any) -> Treatment | None:
    if not _sequentials(model):
        return Treatment(name, model, optimizer, f"{name} skipped: it edits nn.Sequential models and this "
                         f"model is a {type(model).__name__}; apply it in the model's code", applied=False)
    return None


def swap_activations(model: Module, optimizer: Any, new: Callable[[], Module], kinds: tuple[type, ...],
                     remedy: str, reinit: bool = False) -> Treatment:
    """Replace every activation of ``kinds`` by ``new()``; with ``reinit``, every Linear and Conv layer
    gets He (Kaiming) weights and zero biases (and the optimizer's state is reset)."""
    skipped = _structural(remedy, model, optimizer)
    if skipped:
        return skipped
    swapped, output = 0, _output_modules(model)
    for seq in _sequentials(model):
        for index, layer in enumerate(list(seq)):
            if type(layer) in kinds and id(layer) not in output:
                seq.replace(index, new())
                swapped += 1
    if not swapped:
        names = "/".join(k.__name__ for k in kinds)
        return Treatment(remedy, model, optimizer, f"{remedy}: no hidden {names} layer to replace (the "
                         "output's activation is the loss's to choose)", applied=False)
    description = f"replaced {swapped} activation layer(s) by {type(new()).__name__}"
    linears = [m for m in model.modules() if isinstance(m, LINEAR_MAPS)]
    if reinit and linears:
        for linear in linears:
            _he(linear)
        optimizer = _fresh_state(optimizer, model)
        description += (f" and re-initialized the {len(linears)} {_kinds(linears)} layer(s) with He weights, "
                        "as ReLU needs")
    return Treatment(remedy, model, optimizer, description)


def use_relu(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """Saturating activations (sigmoid, tanh, hardtanh, hardsigmoid, softsign; a softmax over hidden
    units) become ReLU, and the Linear and Conv layers get the initialization ReLU needs (He): weights
    drawn for sigmoid (or far too large, the usual cause of saturation) would shrink or blow up the
    signal at every ReLU layer.
    The output's activation is never touched."""
    return swap_activations(model, optimizer, ReLU, (*SATURATING, Softmax, LogSoftmax), "relu", reinit=True)


def use_leaky_relu(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """ReLU becomes LeakyReLU(0.01), so units below zero still pass a small gradient."""
    return swap_activations(model, optimizer, lambda: LeakyReLU(0.01), (ReLU,), "leaky_relu")


def insert_batchnorm(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """A batch norm after every hidden Linear and Conv layer (BatchNorm1d over a Linear's units or a
    Conv1d's channels, BatchNorm2d over a Conv2d's channels); none after the output layer, nor where one
    already follows."""
    skipped = _structural("batchnorm", model, optimizer)
    if skipped:
        return skipped
    modules = list(model.modules())
    last = max((i for i, m in enumerate(modules) if isinstance(m, LINEAR_MAPS)), default=-1)
    output = modules[last] if last >= 0 else None  # the model's output layer: no BatchNorm after it
    hidden = [(seq, i) for seq in _sequentials(model) for i, m in enumerate(seq)
              if isinstance(m, LINEAR_MAPS) and m is not output]
    inserted: dict[str, int] = {}
    for seq, i in reversed(hidden):  # from the end, so earlier positions stay valid
        following = seq[i + 1] if i + 1 < len(seq) else None
        if isinstance(following, (BatchNorm1d, BatchNorm2d)):
            continue
        weighted = seq[i]
        norm = BatchNorm2d if isinstance(weighted, Conv2d) else BatchNorm1d
        width = weighted.out_channels if isinstance(weighted, (Conv1d, Conv2d)) else weighted.out_features
        seq.insert(i + 1, norm(width, dtype=weighted.weight.dtype),
                   name=None if seq._default_names() else f"bn{i}")
        inserted[norm.__name__] = inserted.get(norm.__name__, 0) + 1
    if not inserted:
        return Treatment("batchnorm", model, optimizer, "batchnorm: nothing to insert (every hidden Linear "
                         "and Conv layer is followed by a batch norm already, or there is none)",
                         applied=False)
    counts = " and ".join(f"{count} {name}" for name, count in sorted(inserted.items()))
    return Treatment("batchnorm", model, rebuild_optimizer(optimizer, model),
                     f"inserted {counts} layer(s) after the hidden Linear and Conv layers")


def dropout_room(existing: Sequence[float], places: int, rate: float) -> float:
    """The dropout rate to add at ``places`` new places, at most ``rate``, such that the model's rates
    taken together (``rules.compound_dropout``, with the ``existing`` ones) stay below
    ``rules.DROPOUT_RATE``, the level the doctor names too high: more dropout on a network whose
    dropouts already drop most of the signal starves it. Rounded down to 0.05; 0 when there is no room."""
    from retroprop.doctor import rules  # the rules read the same numbers

    kept = 1.0 - rules.compound_dropout(existing)
    if places < 1 or kept <= 1.0 - rules.DROPOUT_RATE:
        return 0.0
    if 1.0 - kept * (1.0 - rate) ** places < rules.DROPOUT_RATE:
        return rate
    room = 1.0 - ((1.0 - rules.DROPOUT_RATE) / kept) ** (1.0 / places)
    return math.floor(room * 20 - 1e-9) / 20  # strictly below the level, in steps of 0.05


def no_dropout_room(model: Any, optimizer: Any, existing: int) -> Treatment:
    """``dropout`` not applied, in either framework: the model's ``existing`` dropout layers leave no
    room (``dropout_room`` is 0)."""
    return Treatment("dropout", model, optimizer, f"dropout: the model's {existing} dropout layer(s) drop "
                     "most of the signal already; more would starve it", applied=False)


def add_dropout(model: Module, optimizer: Any, layer: str | None = None, rate: float = 0.3) -> Treatment:
    """Dropout after every hidden activation (never after the output's), at ``rate`` or at the lower
    rate that keeps the model's dropouts taken together below the level the doctor names too high
    (``dropout_room``)."""
    skipped = _structural("dropout", model, optimizer)
    if skipped:
        return skipped
    output = _output_modules(model)
    places = [(seq, i) for seq in _sequentials(model) for i, m in enumerate(seq)
              if isinstance(m, ACTIVATIONS) and id(m) not in output
              and not (i + 1 < len(seq) and isinstance(seq[i + 1], Dropout))]
    if not places:
        return Treatment("dropout", model, optimizer, "dropout: no activation to follow", applied=False)
    existing = [m.p for m in model.modules() if isinstance(m, Dropout)]
    rate = dropout_room(existing, len(places), rate)
    if not rate:
        return no_dropout_room(model, optimizer, len(existing))
    for seq, i in reversed(places):  # from the end: the indices before stay valid
        seq.insert(i + 1, Dropout(rate), name=None if seq._default_names() else f"dropout{i}")
    return Treatment("dropout", model, optimizer, f"added Dropout({rate}) after {len(places)} activation(s)")


def lower_dropout(model: Module, optimizer: Any, layer: str | None = None, rate: float = 0.2) -> Treatment:
    """Every dropout rate above ``rate`` comes down to it."""
    lowered = [m for m in model.modules() if isinstance(m, Dropout) and m.p > rate]
    for module in lowered:
        module.p = rate
    if not lowered:
        return Treatment("lower_dropout", model, optimizer, "lower_dropout: no rate above "
                         f"{rate}", applied=False)
    return Treatment("lower_dropout", model, optimizer, f"lowered {len(lowered)} dropout rate(s) to {rate}")


def update_batchnorm_statistics(model: Module, optimizer: Any, layer: str | None = None,
                                momentum: float = 0.1, **_: Any) -> Treatment:
    """Every batch normalization whose running statistics never update (momentum 0) tracks them from
    now on, at ``momentum`` (the default): they describe the batches within a few dozen steps."""
    frozen = [m for m in model.modules() if isinstance(m, (BatchNorm1d, BatchNorm2d))
              and m.track_running_stats and m.momentum == 0]
    return statistics_updated(frozen, model, optimizer, momentum)


def statistics_updated(frozen: list[Any], model: Any, optimizer: Any, momentum: float) -> Treatment:
    """``update_batchnorm_statistics`` on the batch normalization layers ``frozen`` (momentum 0) of either
    framework's ``model`` (their ``momentum`` means the same in both)."""
    for module in frozen:
        module.momentum = momentum
    if not frozen:
        return Treatment("update_batchnorm_statistics", model, optimizer,
                         "update_batchnorm_statistics: every batch normalization updates its running "
                         "statistics already; batches unlike one another (sorted data, tiny batches) are "
                         "yours to change", applied=False)
    return Treatment("update_batchnorm_statistics", model, optimizer,
                     f"{len(frozen)} batch normalization layer(s) now update their running statistics "
                     f"(momentum 0 -> {momentum})")


def recompute_batchnorm_statistics(model: Module, optimizer: Any, layer: str | None = None, *,
                                   inputs: Any = None, batch_size: int | None = None, **_: Any) -> Treatment:
    """The running statistics of every batch normalization that tracks them, recomputed on the training
    ``inputs`` in batches of ``batch_size`` (the run's; 256 when unknown): reset, then the cumulative
    average of each batch's statistics, in training mode without gradients, as
    ``torch.optim.swa_utils.update_bn`` does. The weights do not change, nor does any momentum; a last
    batch of one sample is left out (it has no variance to average)."""
    remedy = "recompute_batchnorm_statistics"
    norms = [m for m in model.modules()
             if isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.track_running_stats]
    if not norms:
        return Treatment(remedy, model, optimizer, f"{remedy}: no batch normalization tracks running "
                         "statistics", applied=False)
    if inputs is None or len(inputs) < 2:
        return Treatment(remedy, model, optimizer, f"{remedy}: the training inputs are not known here: "
                         + REMEDIES[remedy], applied=False)
    from retroprop.training import _input_dtype  # training imports the doctor

    x = np.asarray(inputs)
    x = x.astype(_input_dtype(model, x), copy=False)
    size = max(2, int(batch_size or 256))
    modes = [(m, m.training) for m in model.modules()]
    momenta = [m.momentum for m in norms]
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches
        model.train()
        with no_grad(), np.errstate(all="ignore"):
            for start in range(0, len(x), size):
                batch = x[start:start + size]
                if len(batch) > 1:
                    model(Tensor._make(batch))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        for m, training in modes:
            object.__setattr__(m, "training", training)
    batches = int(norms[0].num_batches_tracked.data)
    return Treatment(remedy, model, optimizer,
                     f"recomputed the running statistics of {len(norms)} batch normalization layer(s) on the "
                     f"training inputs ({len(x)} samples, {batches} batches of up to {size})")


def clear_gradients(model: Module, optimizer: Any, layer: str | None = None, **_: Any) -> Treatment:
    """Not for ``fit``, which clears the gradients before every step: a hand-written loop's to make."""
    return Treatment("clear_gradients", model, optimizer, "clear_gradients not applied: fit clears the "
                     "gradients before each step; in a hand-written loop: " + REMEDIES["clear_gradients"],
                     applied=False)


def scale_lr(model: Module, optimizer: Any, factor: float, remedy: str) -> Treatment:
    before = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    after = [group["lr"] for group in optimizer.param_groups]
    return Treatment(remedy, model, optimizer, f"learning rate {before[0]:.3g} -> {after[0]:.3g}")


def lower_lr(model: Module, optimizer: Any, layer: str | None = None, factor: float = 0.1) -> Treatment:
    """Multiply every learning rate by ``factor`` (< 1; the doctor sizes it from the update ratios)."""
    return scale_lr(model, optimizer, factor, "lower_lr")


def higher_lr(model: Module, optimizer: Any, layer: str | None = None, factor: float = 10.0) -> Treatment:
    """Multiply every learning rate by ``factor`` (> 1; the doctor sizes it from the update ratios)."""
    return scale_lr(model, optimizer, factor, "higher_lr")


def he_init(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """Fresh He-normal weights (std sqrt(2 / fan_in); a Conv layer's fan_in is in_channels / groups x
    kernel size) and zero biases for every Linear and Conv layer (optimizer state reset)."""
    linears = [m for m in model.modules() if isinstance(m, LINEAR_MAPS)]
    if not linears:
        return Treatment("he_init", model, optimizer, "he_init: no Linear or Conv layer", applied=False)
    for linear in linears:
        _he(linear)
    return Treatment("he_init", model, _fresh_state(optimizer, model),
                     f"re-initialized {len(linears)} {_kinds(linears)} layer(s) with He (Kaiming) normal "
                     "weights and zero biases")


def _kinds(layers: list[Module]) -> str:
    """'Linear', 'Conv1d/Linear': the classes of ``layers``."""
    return "/".join(sorted({type(m).__name__ for m in layers}))


def _he(linear: Module) -> None:
    # kaiming_normal_'s fan_in is every axis of the weight but the first: in_channels / groups x kernel size
    nn_init.kaiming_normal_(linear.weight, nonlinearity="relu")
    if linear.bias is not None:
        nn_init.zeros_(linear.bias)


def _fresh_state(optimizer: Any, model: Module) -> Any:
    """The same optimizer settings with no state (new weights make old momentum meaningless)."""
    fresh = rebuild_optimizer(optimizer, model)
    fresh.state.clear()
    return fresh


def switch_to_adam(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    if isinstance(optimizer, optim.Adam):
        return Treatment("adam", model, optimizer, "adam: the optimizer is Adam already", applied=False)
    new = optim.Adam(model.parameters(), lr=1e-3)
    return Treatment("adam", model, new, f"switched from {type(optimizer).__name__} to Adam(lr=1e-3)")


def clip_gradients(model: Module, optimizer: Any, layer: str | None = None,
                   max_norm: float = 1.0) -> Treatment:
    return Treatment("clip_gradients", model, optimizer,
                     f"gradients will be clipped to a global norm of {max_norm}", clip_grad_norm=max_norm)


def shuffle_batches(model: Module, optimizer: Any, layer: str | None = None, **_: Any) -> Treatment:
    return Treatment("shuffle", model, optimizer, "the samples will be drawn in a new random order each "
                     "epoch (the rest of this epoch's too)", shuffle=True)


def add_weight_decay(model: Module, optimizer: Any, layer: str | None = None,
                     weight_decay: float = 1e-4) -> Treatment:
    for group in optimizer.param_groups:
        group["weight_decay"] = weight_decay
    return Treatment("weight_decay", model, optimizer, f"weight decay set to {weight_decay}")


def descend(model: Any, optimizer: Any, layer: str | None = None, **_: Any) -> Treatment:
    """Make a maximizing optimizer minimize (``maximize=False`` in every parameter group that has it
    True: retroprop's and torch's optimizers alike); not applied when none maximizes (the gradient's
    sign is flipped elsewhere, in code only the user can change)."""
    groups = [group for group in getattr(optimizer, "param_groups", ()) if group.get("maximize")]
    if not groups:
        return Treatment("descend", model, optimizer, "descend not applied: the optimizer does not maximize "
                         "(no maximize=True), so the gradient's sign is flipped in the training code: a "
                         "hand-written update that adds the gradient (w += lr * grad), a gradient hook or "
                         "a negated gradient; the change to make: step against the gradient", applied=False)
    for group in groups:
        group["maximize"] = False
    return Treatment("descend", model, optimizer, f"{type(optimizer).__name__} minimizes now: maximize=True "
                     f"-> False in {len(groups)} parameter group(s)")


def lower_weight_decay(model: Any, optimizer: Any, layer: str | None = None, factor: float = 0.01,
                       **_: Any) -> Treatment:
    """Multiply every parameter group's ``weight_decay`` by ``factor`` (retroprop's and torch's optimizers
    alike); not applied when no group decays."""
    groups = [group for group in getattr(optimizer, "param_groups", ()) if group.get("weight_decay")]
    if not groups:
        return Treatment("lower_weight_decay", model, optimizer, "lower_weight_decay not applied: the "
                         "optimizer has no weight decay (an L2 penalty added to the loss by hand is yours "
                         "to lower)", applied=False)
    before = sorted({float(group["weight_decay"]) for group in groups})
    for group in groups:
        group["weight_decay"] = group["weight_decay"] * factor
    after = [value * factor for value in before]
    return Treatment("lower_weight_decay", model, optimizer, "weight decay "
                     f"{', '.join(f'{v:.3g}' for v in before)} -> {', '.join(f'{v:.3g}' for v in after)}")


def roll_back(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """Nothing beyond the roll-back that precedes every treatment."""
    return Treatment("roll_back", model, optimizer, "rolled back to the last healthy state")


def early_stopping(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    return Treatment("early_stopping", model, optimizer,
                     "training will stop at the best validation epoch and keep its weights")


def standardize_inputs(model: Module, optimizer: Any, layer: str | None = None, mean: Any = None,
                       scale: Any = None) -> Treatment:
    """A ``Standardize`` layer (the training inputs' per-feature mean and scale) in front of a
    ``Sequential`` model, which then takes the raw inputs as before."""
    if mean is None or scale is None:
        return Treatment("standardize_inputs", model, optimizer, "standardize_inputs: the doctor was not "
                         "given the training inputs; standardize them (rp.data.standardize) and train again",
                         applied=False)
    if not isinstance(model, Sequential):
        return Treatment("standardize_inputs", model, optimizer, "standardize_inputs skipped: it edits "
                         f"nn.Sequential models and this model is a {type(model).__name__}; standardize the "
                         "inputs (rp.data.standardize) before training", applied=False)
    if len(model) and isinstance(model[0], Standardize):
        return Treatment("standardize_inputs", model, optimizer, "standardize_inputs: the model standardizes "
                         "its inputs already", applied=False)
    model.insert(0, Standardize(len(mean), mean, scale, dtype=model.dtype),
                 name=None if model._default_names() else "standardize")
    return Treatment("standardize_inputs", model, optimizer, "inserted a Standardize layer in front of the "
                     "model (each input feature minus its training mean, over its standard deviation)")


# fix_output_loss, by the case ``checks.loss_output_mismatch`` found: the output activation to put in
# place of the one after the last Linear layer (None: remove it), by loss where it depends on it;
# BEFORE_SOFTMAX: remove the activation before the output's softmax instead
BEFORE_SOFTMAX = "before_softmax"
OUTPUT_FIXES: dict[str, Any] = {
    "double_softmax": None, "sigmoid_categorical": {"cross_entropy": None, "cross_entropy_probs": Softmax},
    "bounded_scores": None, "nonnegative_scores": None, "double_sigmoid": None,
    "nll_without_log_softmax": LogSoftmax,
    "softmax_one_unit": {"bce": Sigmoid, "bce_with_logits": None, "mse": None, "l1": None, "huber": None},
    "probabilities_expected": {"cross_entropy_probs": Softmax, "bce": Sigmoid},
    # a regression loss (the only kind this case is found under) on targets a bounded output cannot reach
    "output_range": None,
    # several labels per sample (or none) under a regression loss: each output squashed on its own
    "softmax_row_sums": Sigmoid,
    # the scores clipped or squashed before the output's softmax: that activation removed, the softmax kept
    "activation_before_softmax": BEFORE_SOFTMAX,
}


def fix_output_loss(model: Module, optimizer: Any, layer: str | None = None, case: str | None = None,
                    loss: str | None = None) -> Treatment:
    """Make the output fit the loss (``case`` and ``loss`` as ``checks`` names them): remove an output
    activation that the loss applies itself, or put the one the loss expects in its place (LogSoftmax
    for NLL, Softmax or Sigmoid for a loss on probabilities). The output Linear layer is kept."""
    fix = OUTPUT_FIXES.get(case or "", "unknown")
    fix = fix.get(loss or "", "unknown") if isinstance(fix, dict) else fix
    if fix == "unknown":
        return Treatment("fix_output_loss", model, optimizer, f"fix_output_loss skipped: the mismatch "
                         f"({case or 'unknown'}) is not one fit can mend; {REMEDIES['fix_output_loss']}",
                         applied=False)
    skipped = _structural("fix_output_loss", model, optimizer)
    if skipped:
        return skipped
    output = _output_modules(model)
    places = [(seq, i) for seq in _sequentials(model) for i, m in enumerate(seq)
              if id(m) in output and isinstance(m, (*ACTIVATIONS, Softmax, LogSoftmax))]
    if fix == BEFORE_SOFTMAX:
        if len(places) < 2 or not isinstance(places[-1][0][places[-1][1]], (Softmax, LogSoftmax)):
            return Treatment("fix_output_loss", model, optimizer, "fix_output_loss: no activation module "
                             "before the output's softmax to remove", applied=False)
        seq, index = places[-2]
        old = seq.replace(index, Identity())
        return Treatment("fix_output_loss", model, optimizer, f"removed the {type(old).__name__} before the "
                         f"output's {type(places[-1][0][places[-1][1]]).__name__}")
    new = Identity() if fix is None else fix()
    if places:
        seq, index = places[-1]
        old = seq.replace(index, new)
        what = (f"removed the output {type(old).__name__}" if fix is None
                else f"replaced the output {type(old).__name__} by {type(new).__name__}")
    elif fix is not None and isinstance(model, Sequential):
        model.append(new, name=None if model._default_names() else "output_activation")
        what = f"appended {type(new).__name__} to the output"
    else:
        return Treatment("fix_output_loss", model, optimizer, "fix_output_loss: no output activation to "
                         "change", applied=False)
    return Treatment("fix_output_loss", model, optimizer, f"{what}, as the loss {loss or ''} expects".replace(
        "  ", " "))


def insert_activation(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """A ReLU before every Linear or Conv layer that follows another with no activation between them
    (only ``PASS_THROUGH`` layers: Dropout, BatchNorm1d, Identity, Flatten, average pooling), so that
    the stack no longer collapses to one linear map."""
    skipped = _structural("insert_activation", model, optimizer)
    if skipped:
        return skipped
    inserted = 0
    for seq in _sequentials(model):
        previous_linear, places = False, []
        for index, module in enumerate(seq):
            if isinstance(module, LINEAR_MAPS):
                if previous_linear:
                    places.append(index)
                previous_linear = True
            elif not isinstance(module, PASS_THROUGH):
                previous_linear = False
        for index in reversed(places):  # from the end, so earlier positions stay valid
            seq.insert(index, ReLU(), name=None if seq._default_names() else f"relu{index}")
            inserted += 1
    if not inserted:
        return Treatment("insert_activation", model, optimizer, "insert_activation: no Linear or Conv layers "
                         "follow each other without an activation", applied=False)
    return Treatment("insert_activation", model, optimizer, f"inserted {inserted} ReLU layer(s) between "
                     "Linear/Conv layers that had no activation between them")


# modules a hidden Linear layer's units pass through, one to one, on their way to the next Linear layer
_UNITWISE = (*ACTIVATIONS, *SATURATING, Dropout, Identity)


def widen(model: Module, optimizer: Any, layer: str | None = None) -> Treatment:
    """More capacity: every hidden Linear layer of a ``Sequential`` (one whose units reach the next
    Linear layer of that Sequential through activations, Dropout or a BatchNorm1d only) grows to
    max(2 x its width, the model's input features, its output width): a hidden layer narrower than
    what flows in or out is a bottleneck (C class scores computed from fewer than C units span fewer
    than C directions). The learned units are kept; the new ones start from the layer's own
    initialization, and the next layer's weights from them at zero, so the model computes what it did
    and the new units learn from the next step on."""
    skipped = _structural("widen", model, optimizer)
    if skipped:
        return skipped
    linears = [m for m in model.modules() if isinstance(m, Linear)]
    if len(linears) < 2:
        return Treatment("widen", model, optimizer, "widen: no hidden Linear layer to widen (the model has "
                         f"{len(linears)} Linear layer); add a hidden layer in the model's code",
                         applied=False)
    floor = max(linears[0].in_features, linears[-1].out_features)
    grown: list[str] = []
    for seq in _sequentials(model):
        modules = list(seq)
        for i, first in enumerate(modules):
            if not isinstance(first, Linear):
                continue
            between, j = [], i + 1
            while j < len(modules) and isinstance(modules[j], (*_UNITWISE, BatchNorm1d)):
                between.append(j)
                j += 1
            if j == len(modules) or not isinstance(modules[j], Linear):
                continue
            width = first.out_features
            wider = max(2 * width, floor)
            seq[i] = _grown_linear(first, out_features=wider)
            for k in between:
                if isinstance(modules[k], BatchNorm1d):
                    seq[k] = _grown_batchnorm(modules[k], wider)
            seq[j] = modules[j] = _grown_linear(modules[j], in_features=wider)
            grown.append(f"{width}→{wider}")
    if not grown:
        return Treatment("widen", model, optimizer, "widen: no hidden Linear layer feeds the next one "
                         "through activations, Dropout or BatchNorm1d only; widen the model in its code",
                         applied=False)
    return Treatment("widen", model, rebuild_optimizer(optimizer, model),
                     f"widened {len(grown)} hidden Linear layer(s) ({', '.join(grown)} units), keeping the "
                     "learned units; the new ones start with no weight on the next layer")


def _grown_linear(old: Linear, *, in_features: int | None = None, out_features: int | None = None) -> Linear:
    """``old`` with more output units (its own initialization) or more inputs (weights of 0 on them)."""
    new = Linear(in_features or old.in_features, out_features or old.out_features, bias=old.bias is not None,
                 init=old._init, dtype=old.weight.dtype)
    rows, cols = old.weight.shape
    new.weight.data[:rows, :cols] = old.weight.data
    if in_features is not None:
        new.weight.data[:, cols:] = 0
    if old.bias is not None:
        new.bias.data[:rows] = old.bias.data
    return new


def _grown_batchnorm(old: BatchNorm1d, width: int) -> BatchNorm1d:
    """``old`` over ``width`` units: the first keep its scale, shift and statistics, the rest start anew."""
    held = old.weight if old.weight is not None else old.running_mean
    new = BatchNorm1d(width, eps=old.eps, momentum=old.momentum, affine=old.affine,
                      track_running_stats=old.track_running_stats,
                      dtype=None if held is None else held.dtype, bias=old.bias is not None or not old.affine)
    n = old.num_features
    for name in ("weight", "bias", "running_mean", "running_var"):
        if getattr(old, name) is not None:
            getattr(new, name).data[:n] = getattr(old, name).data
    if old.num_batches_tracked is not None:
        new.num_batches_tracked.data[...] = old.num_batches_tracked.data
    new.train(old.training)
    return new


def standardize_targets(model: Module, optimizer: Any, layer: str | None = None, mean: Any = None,
                        scale: Any = None, loss: str | None = None, adaptive: bool = False) -> Treatment:
    """Train on standardized regression targets without touching the data: a fixed output layer maps
    the model's standardized prediction z to ``z * scale + mean`` (a ``Standardize`` with mean
    ``-mean / scale`` and scale ``1 / scale``), so the model starts at the targets' mean and predicts in
    their units. The loss is still taken in those units, so its gradient is ``scale**2`` (MSE, Huber) or
    ``scale`` (L1) times the standardized one: a non-adaptive optimizer's rate is divided by as much,
    which makes each step the one training on standardized targets would take."""
    if mean is None or scale is None:
        return Treatment("standardize_targets", model, optimizer, "standardize_targets: the doctor was not "
                         "given the targets; standardize them and train again", applied=False)
    if not isinstance(model, Sequential):
        return Treatment("standardize_targets", model, optimizer, "standardize_targets skipped: it edits "
                         f"nn.Sequential models and this model is a {type(model).__name__}; standardize the "
                         "targets before training and undo it on the predictions", applied=False)
    mean, scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    out = Standardize(len(mean), -mean / scale, 1.0 / scale, dtype=model.dtype)
    out.unstandardizes = True
    if len(model) and getattr(model[-1], "unstandardizes", False):
        return Treatment("standardize_targets", model, optimizer, "standardize_targets: the model already "
                         "predicts through standardized targets", applied=False)
    model.append(out, name=None if model._default_names() else "unstandardize")
    largest = float(np.max(scale))
    factor = 1.0 if adaptive else 1.0 / largest if loss == "l1" else 1.0 / largest**2
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    rate = "" if factor == 1.0 else f"; learning rate {optimizer.param_groups[0]['lr'] / factor:.3g} -> " \
        f"{optimizer.param_groups[0]['lr']:.3g}, the step standardized targets would take"
    return Treatment("standardize_targets", model, optimizer, "appended a fixed output layer that maps a "
                     f"standardized prediction back to the targets' units (mean {_short(mean)}, scale "
                     f"{_short(scale)}){rate}")


def _short(values: np.ndarray) -> str:
    return f"{values[0]:.3g}" if values.size == 1 else f"{values[0]:.3g}, ... ({values.size} columns)"


def _users(remedy: str) -> Callable[..., Treatment]:
    def yours(model: Module, optimizer: Any, layer: str | None = None, **_: Any) -> Treatment:
        return Treatment(remedy, model, optimizer, f"{remedy} is yours to make (fit cannot change the loss, "
                         f"the targets or the training plan): {REMEDIES[remedy]}", applied=False)
    return yours


REMEDY_FUNCTIONS: dict[str, Callable[..., Treatment]] = {
    "relu": use_relu, "he_init": he_init, "batchnorm": insert_batchnorm, "lower_lr": lower_lr,
    "clip_gradients": clip_gradients, "leaky_relu": use_leaky_relu,
    "standardize_inputs": standardize_inputs, "roll_back": roll_back, "adam": switch_to_adam,
    "higher_lr": higher_lr, "dropout": add_dropout, "weight_decay": add_weight_decay,
    "early_stopping": early_stopping, "lower_dropout": lower_dropout, "fix_output_loss": fix_output_loss,
    "insert_activation": insert_activation, "standardize_targets": standardize_targets, "widen": widen,
    "descend": descend, "lower_weight_decay": lower_weight_decay, "shuffle": shuffle_batches,
    "update_batchnorm_statistics": update_batchnorm_statistics,
    "recompute_batchnorm_statistics": recompute_batchnorm_statistics, "clear_gradients": clear_gradients,
    **{remedy: _users(remedy) for remedy in USER_REMEDIES},
}


def apply_remedy(remedy: str, model: Module, optimizer: Any, layer: str | None = None,
                 **options: Any) -> Treatment:
    """Apply the remedy named ``remedy`` (an id from ``REMEDIES``); ``options`` go to its function
    (e.g. ``factor`` for the learning-rate remedies)."""
    if remedy not in REMEDY_FUNCTIONS:
        raise ValueError(f"unknown remedy {remedy!r}; expected one of {', '.join(REMEDY_FUNCTIONS)}")
    return REMEDY_FUNCTIONS[remedy](model, optimizer, layer, **options)
