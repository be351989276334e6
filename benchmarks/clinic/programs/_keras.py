"""Keras's semantics where a ported program depends on them, built on retroprop.

Most of the published programs were written for Keras. Where a bug lives in how Keras computes
something that retroprop spells differently, the port keeps Keras's computation:

- Keras's ``binary_crossentropy`` and ``categorical_crossentropy`` take *probabilities* (the output of a
  sigmoid or softmax layer in the model), clip them to ``[1e-7, 1 - 1e-7]``, and the categorical one
  first divides the outputs by their sum. retroprop's losses take logits, so a model that ends in a
  softmax over one unit, a ReLU or a sigmoid under a categorical loss needs these to fail as it did.
- Keras's ``Dense`` starts with Glorot-uniform weights and zero biases (retroprop's ``Linear`` starts
  as PyTorch's); ``dense`` builds a ``Linear`` initialized the Keras way.
- ``metrics=['accuracy']`` in Keras picks the accuracy that matches the loss and the targets; the
  metric functions here do the same for outputs that are probabilities or targets that are one-hot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from retroprop import nn
from retroprop.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()

# Keras 2 initializers by name (Keras 1's 'uniform' and 'normal' are U(+-0.05) and N(0, 0.05^2))
_INITS: dict[str, Callable[[Tensor], Any]] = {
    "glorot_uniform": nn.init.xavier_uniform_,
    "he_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "lecun_uniform": nn.init.lecun_uniform_,
    "random_uniform": lambda w: nn.init.uniform_(w, -0.05, 0.05),  # Keras 2 RandomUniform()
    "uniform": lambda w: nn.init.uniform_(w, -0.05, 0.05),  # Keras 1 init='uniform'
    "normal": lambda w: nn.init.normal_(w, 0.0, 0.05),  # Keras 1 init='normal', Keras 2 'normal'
}


def dense(in_features: int, out_features: int, init: str | float = "glorot_uniform",
          bias_std: float | None = None) -> nn.Linear:
    """A Keras ``Dense`` layer (without its activation): ``init`` names a Keras initializer or is the
    std of ``RandomNormal(stddev=init)``; biases start at zero, or N(0, bias_std^2) when given."""
    if isinstance(init, str):
        if init not in _INITS:
            raise ValueError(f"dense: unknown Keras initializer {init!r}; expected one of {sorted(_INITS)}")
        fill = _INITS[init]
    else:
        std = float(init)
        fill = lambda w: nn.init.normal_(w, 0.0, std)  # noqa: E731
    layer = nn.Linear(in_features, out_features, init=fill)
    if bias_std is None:
        nn.init.zeros_(layer.bias)
    else:
        nn.init.normal_(layer.bias, 0.0, bias_std)
    return layer


class BinaryCrossentropy(nn.BCEWithLogitsLoss):
    """Keras's ``binary_crossentropy`` on probabilities (the model ends in its own sigmoid/softmax).

    A ``BCEWithLogitsLoss`` subclass so that ``fit`` treats the targets as binary (0/1 floats). It tells
    the doctor what it computes (``doctor_loss_kind``), as a Keras adapter would know from the loss's name."""

    doctor_loss_kind = "bce"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        p = input.clip(EPSILON, 1.0 - EPSILON)
        y = np.asarray(target, dtype=p.dtype)
        return -(p.log() * y + (1.0 - p).log() * (1.0 - y)).mean()

    def extra_repr(self) -> str:
        return "on probabilities, as Keras"


class CategoricalCrossentropy(nn.Module):
    """Keras's ``categorical_crossentropy`` on the model's outputs: divided by their sum, clipped to
    ``[1e-7, 1 - 1e-7]``, against integer class labels (Keras's one-hot rows, as their argmax)."""

    classification = True
    doctor_loss_kind = "cross_entropy_probs"

    def forward(self, input: Tensor, target: Any) -> Tensor:
        labels = np.asarray(target, dtype=np.int64).reshape(-1)
        onehot = np.eye(input.shape[-1], dtype=input.dtype)[labels]
        p = (input / input.sum(axis=-1, keepdims=True)).clip(EPSILON, 1.0 - EPSILON)
        return -(p.log() * onehot).sum(axis=-1).mean()

    def extra_repr(self) -> str:
        return "on outputs normalized to sum 1, as Keras"


def binary_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Keras's binary accuracy for outputs that are probabilities: ``round(p) == y`` per element."""
    return float(((np.asarray(y_pred) > 0.5) == (np.asarray(y_true) > 0.5)).mean())


binary_accuracy.__name__ = "accuracy"


def onehot_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Keras's categorical accuracy for one-hot targets (a model trained with MSE on one-hot rows)."""
    return float((np.asarray(y_pred).argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)).mean())


onehot_accuracy.__name__ = "accuracy"

__all__ = ["EPSILON", "BinaryCrossentropy", "CategoricalCrossentropy", "binary_accuracy", "dense",
           "onehot_accuracy"]
