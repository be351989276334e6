"""Activation values of a model on some inputs, per activation layer: the input of
``plots.activation_distributions``."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.doctor.probes import Probe
from retroprop.nn import Module
from retroprop.random import get_generator
from retroprop.tensor import Tensor, no_grad


def activation_samples(model: Module, x: Any, *, max_values: int = 50_000,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """``{label: values}`` of every activation layer (ReLU, sigmoid, tanh, ...) of ``model`` on the
    inputs ``x``, in network order, labelled as the doctor labels them ("sigmoid after layer 3,
    Linear 64→64"). One forward pass in eval mode without a graph; each layer keeps at most
    ``max_values`` values, drawn at random (``seed``) when it has more. The model's mode is restored."""
    probe = Probe(model)
    values: dict[str, np.ndarray] = {}
    handles = []
    for _, module, _, label in probe.activation_modules:
        def record(module: Module, inputs: Any, output: Any, label: str = label) -> None:
            data = np.asarray(output.data if isinstance(output, Tensor) else output, dtype=np.float64)
            values[label] = data.reshape(-1)
        handles.append(module.register_forward_hook(record, output_only=True))
    modes = [(module, module.training) for _, module in model.named_modules()]
    try:
        model.eval()
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # a model that overflowed gives inf/NaN values, which the figure counts and says
            model(Tensor(data.astype(model.dtype, copy=False)))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    rng = get_generator(seed)
    out = {}
    for _, _, _, label in probe.activation_modules:
        if label in values:
            flat = values[label]
            if flat.size > max_values:
                flat = flat[rng.choice(flat.size, size=max_values, replace=False)]
            out[label] = flat
    return out
