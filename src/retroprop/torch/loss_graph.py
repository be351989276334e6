"""The loss a PyTorch loop computes, read from the autograd graph of its first loss.

``watch(model, optimizer)`` without ``loss=``, the Lightning callback and ``retroprop watch train.py``
see the loss only as a tensor. Its ``grad_fn`` names the function that made it: torch's losses each
leave one node (``NllLossBackward0``, ``MseLossBackward0``, ...), possibly under a reduction, a scale
or a sum with other terms (``loss / k``, ``loss + l2``, ``.mean()`` of ``reduction='none'``). Found
there, the setup checks (the output against the loss) run as if the loss had been handed over.

``F.cross_entropy`` is ``nll_loss(log_softmax(z))``, so an NLL node over a LogSoftmax node is a
cross-entropy on ``z``, unless the model's own output is that LogSoftmax (``nn.LogSoftmax`` with
``NLLLoss``). NLL over a Log node is a cross-entropy on probabilities (``nll_loss(torch.log(p))``). A
graph with two kinds of loss, or none known, gives no loss (a custom or a composite one).

The node under the loss's input (past reshapes) is what the model's output went through last: an
activation (``F.softmax`` in a custom ``forward`` is seen there as well as ``nn.Softmax``) or a Linear
layer; the input's width (its classes) and the batch's targets are read from the loss node's saved
tensors while the graph still holds them (before ``backward`` frees them). An output expanded just
before an elementwise loss (``MseLossBackward0`` over ``ExpandBackward0``) was broadcast against targets
of another shape: ``GraphLoss.broadcast`` holds both shapes, and the setup checks name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from retroprop.doctor.checks import SAMPLE_ROWS
from retroprop.torch.data import to_host

__all__ = ["GraphLoss", "loss_from_graph", "trainable_leaves", "unregistered_leaves"]

LOSS_NODES = {
    "NllLossBackward0": "nll", "NllLoss2DBackward0": "nll", "MseLossBackward0": "mse",
    "HuberLossBackward0": "huber", "SmoothL1LossBackward0": "huber",
    "BinaryCrossEntropyBackward0": "bce", "BinaryCrossEntropyWithLogitsBackward0": "bce_with_logits",
}
# what a loop does to a loss before backward: reduce it, scale it, add other terms to it
THROUGH = frozenset({"MeanBackward0", "MeanBackward1", "SumBackward0", "SumBackward1", "DivBackward0",
                     "DivBackward1", "MulBackward0", "MulBackward1", "AddBackward0", "SubBackward0"})
DEPTH = 4  # nodes between the loss tensor and a loss function's node, at most
REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}
OUTPUT_NODES = {"SoftmaxBackward0": "softmax", "LogSoftmaxBackward0": "log_softmax",
                "SigmoidBackward0": "sigmoid", "TanhBackward0": "tanh", "ReluBackward0": "relu",
                "AddmmBackward0": "linear", "LinearBackward0": "linear"}
RESHAPES = ("ViewBackward", "UnsafeViewBackward", "ReshapeAliasBackward", "SqueezeBackward",
            "UnsqueezeBackward")


@dataclass(frozen=True)
class GraphLoss:
    """A loss read from a graph, as the doctor takes a loss: its kind and reduction."""

    doctor_loss_kind: str
    reduction: str = "mean"
    output: str | None = None  # the output's last function, as a layer kind (OUTPUT_NODES), when seen
    width: int | None = None  # the loss input's width (classes, outputs), when the graph still holds it
    # the batch's targets (at most SAMPLE_ROWS rows, on the host), when the graph still holds them
    targets: Any = field(default=None, compare=False, repr=False)
    # (the output's shape, the shape the loss compared): the output was broadcast against targets of
    # another shape ((N, 1) against (N,) gives (N, N)); None when the shapes matched
    broadcast: tuple[tuple[int, ...], tuple[int, ...] | None] | None = None


def _name(node: Any) -> str:
    return type(node).__name__


def _input(node: Any) -> Any:
    inputs = getattr(node, "next_functions", ())
    return inputs[0][0] if inputs else None


def _kind(node: Any, output_kind: str | None) -> tuple[str, Any]:
    """The loss node's kind, and the node that made the model's output it takes."""
    kind = LOSS_NODES[_name(node)]
    below = _input(node)
    if kind != "nll":
        return kind, below
    if _name(below) == "LogBackward0":
        return "cross_entropy_probs", _input(below)
    if _name(below) != "LogSoftmaxBackward0":
        return "nll", below
    # the model's own LogSoftmax under NLLLoss; any other LogSoftmax is cross-entropy's
    if output_kind == "log_softmax" and _name(_input(below)) != "LogSoftmaxBackward0":
        return "nll", below
    return "cross_entropy", _input(below)


def _output(node: Any) -> str | None:
    while node is not None and _name(node).startswith(RESHAPES):
        node = _input(node)
    return OUTPUT_NODES.get(_name(node)) if node is not None else None


def _targets(node: Any) -> Any:
    """The loss node's saved targets as a NumPy array (at most ``SAMPLE_ROWS`` rows), or None."""
    try:
        target = node._saved_target
    except (AttributeError, RuntimeError):  # no such input, or freed by backward
        return None
    if not isinstance(target, torch.Tensor) or target.dim() == 0 or target.is_complex():
        return None
    return to_host(target[:SAMPLE_ROWS])


def _width(node: Any) -> int | None:
    try:
        shape = node._saved_self.shape
    except (AttributeError, RuntimeError):  # no such input, or freed by backward
        return None
    return int(shape[1]) if len(shape) >= 2 else 1 if len(shape) == 1 else None


def _broadcast(node: Any, made: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None] | None:
    """(the output's shape, the compared shape) when the loss node's input is the output expanded to
    its targets' shape (torch's elementwise losses expand the two only when their shapes differ, with
    a warning), else None. The compared shape is None once ``backward`` has freed the graph's saved
    tensors (the output's shape is kept)."""
    if made is None or not _name(made).startswith("ExpandBackward"):
        return None
    try:
        before = tuple(int(n) for n in made._saved_self_sym_sizes)
    except (AttributeError, RuntimeError, TypeError):
        return None
    try:
        after: tuple[int, ...] | None = tuple(int(n) for n in node._saved_self.shape)
    except (AttributeError, RuntimeError):  # freed by backward
        after = None
    return None if after == before else (before, after)


def loss_from_graph(loss: Any, output_kind: str | None = None) -> GraphLoss | None:
    """The loss function behind the tensor ``loss`` (a scalar with a ``grad_fn``), or None when none or
    several kinds are found. ``output_kind``: the model's described output (``checks.output_kind``)."""
    root = getattr(loss, "grad_fn", None)
    if root is None:
        return None
    found: dict[str, GraphLoss] = {}
    level, seen = [(root, False)], set()
    for _ in range(DEPTH + 1):
        following = []
        for node, averaged in level:
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            name = _name(node)
            if name in LOSS_NODES:
                saved = REDUCTIONS.get(getattr(node, "_saved_reduction", 1), "mean")
                reduction = saved if saved != "none" else ("mean" if averaged else "sum")
                kind, made = _kind(node, output_kind)
                broadcast = _broadcast(node, made) if kind in ("mse", "huber") else None
                if broadcast is not None:  # the output itself is what was expanded
                    made, width = _input(made), broadcast[0][1] if len(broadcast[0]) >= 2 else 1
                else:
                    width = _width(node)
                found.setdefault(kind, GraphLoss(kind, reduction, _output(made), width, _targets(node),
                                                 broadcast))
            elif name in THROUGH:
                averaged = averaged or name.startswith("Mean")
                following += [(child, averaged) for child, _ in node.next_functions]
        level = following
    return next(iter(found.values())) if len(found) == 1 else None


def unregistered_leaves(output: Any, model: Any, optimizer: Any = None,
                        limit: int = 100_000) -> dict[str, Any]:
    """The trainable tensors the graph of the model's ``output`` reaches (its leaves that require
    gradients: weights and biases, which ``backward`` accumulates into) that neither
    ``model.parameters()`` nor the optimizer's groups hold: ``tensors`` (their count), ``entries``
    (their elements) and ``shapes`` (of the first four); and ``reached`` and ``optimized``, how many
    trainable tensors the graph reaches in all and how many of them the optimizer holds (None without
    an optimizer). The model's output, not the loss: a loss may pass through another model (a GAN's
    discriminator) with its own optimizer. At most ``limit`` nodes are visited."""
    stepped = {id(p) for group in getattr(optimizer, "param_groups", ()) for p in group["params"]}
    held = {id(p) for p in model.parameters()} | stepped
    reached = trainable_leaves(output, limit)
    tensors = [t for key, t in reached.items() if key not in held]
    return {"tensors": len(tensors), "entries": int(sum(t.numel() for t in tensors)),
            "shapes": [tuple(t.shape) for t in tensors[:4]], "reached": len(reached),
            "optimized": len(reached.keys() & stepped) if optimizer is not None else None}


def trainable_leaves(output: Any, limit: int = 100_000) -> dict[int, Any]:
    """The trainable tensors the autograd graph of ``output`` reaches (its leaves that require
    gradients), by id; at most ``limit`` nodes are visited."""
    seen: set[int] = set()
    stack = [getattr(output, "grad_fn", None)]
    found: dict[int, Any] = {}
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)  # an AccumulateGrad node: a leaf that requires grad
        if isinstance(variable, torch.Tensor) and variable.requires_grad:
            found[id(variable)] = variable
        stack.extend(child for child, _ in getattr(node, "next_functions", ()))
    return found
