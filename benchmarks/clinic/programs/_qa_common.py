"""Shared pieces of the programs ported from TheDeepChecker and the Q&A sites (StackOverflow, Cross
Validated, Data Science SE): their stand-in data sets, Keras's and TensorFlow's default layers, and the
hand-written TensorFlow losses some of them use."""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import Callback
from retroprop.nn.loss import _Loss
from retroprop.tensor import Tensor


def split(x: np.ndarray, y: np.ndarray, seed: int, n_val: int) -> tuple[np.ndarray, ...]:
    """A shuffled train/validation split drawn from ``seed``: ``x_train, y_train, x_val, y_val``."""
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def digits(seed: int, scale: float, n_val: int = 600) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (values 0-16) times ``scale``: the stand-in for MNIST. ``scale=16``
    gives MNIST's raw 0-255 pixels, ``scale=1/16`` the [0, 1] pixels of a normalizing loader."""
    x, y = rp.data.load_digits()
    return split((x * scale).astype(np.float32), y, seed, n_val)


def digits_784(seed: int, scale: float, n_val: int = 600) -> tuple[np.ndarray, ...]:
    """The digits blown up to MNIST's shape: each 8x8 image enlarged 3x (24x24) and padded to 28x28,
    flattened to 784 inputs; values 0-16 times ``scale`` as in ``digits``."""
    x, y = rp.data.load_digits()
    images = np.kron(x.reshape(-1, 8, 8), np.ones((1, 3, 3), dtype=np.float32))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return split((images.reshape(len(x), 784) * scale).astype(np.float32), y, seed, n_val)


def diabetes(seed: int, *, raw_features: bool, n_val: int = 110) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled diabetes regression (442 x 10, targets 25-346): the stand-in for Auto MPG
    (392 x 9, targets 9-47 mpg). ``raw_features`` gives the unscaled columns (age in years, blood
    pressure, serum values up to ~300), otherwise the standardized ones."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True, scaled=not raw_features)
    x = x.astype(np.float32)
    if not raw_features:
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    return split(x, y.astype(np.float32).reshape(-1, 1), seed, n_val)


def standardize_targets(y_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Targets centred and scaled by the training targets' mean and std (a normalizing loader's
    target scaling)."""
    mean, std = y_train.mean(), y_train.std()
    return tuple(((y - mean) / std).astype(np.float32) for y in (y_train, *others))


def dense(n_in: int, n_out: int, init: str | None = "xavier_uniform", bias: bool = True) -> nn.Linear:
    """Keras's ``Dense`` (Glorot-uniform weights, zero bias) by default."""
    return nn.Linear(n_in, n_out, bias=bias, init=init)


def normal_init(std: float, truncated: bool = False) -> Any:
    """An init callable drawing N(0, std^2) from retroprop's seeded generator (TensorFlow's
    ``random_normal``), or ``truncated_normal`` (redrawn beyond two standard deviations)."""
    def fill(weight: Tensor) -> None:
        rng = rp.default_generator()
        draw = rng.standard_normal(weight.shape)
        if truncated:
            bad = np.abs(draw) > 2
            while bad.any():
                draw[bad] = rng.standard_normal(int(bad.sum()))
                bad = np.abs(draw) > 2
        weight.data[...] = (draw * std).astype(weight.dtype)
    return fill


def constant_init(value: float) -> Any:
    """An init callable filling the weight with one constant (``tf.initializers.constant``)."""
    def fill(weight: Tensor) -> None:
        weight.data[...] = value
    return fill


def fill_normal(parameter: Tensor, std: float) -> None:
    """Overwrite ``parameter`` (e.g. a bias) with N(0, std^2) draws from retroprop's generator."""
    draw = rp.default_generator().standard_normal(parameter.shape) * std
    parameter.data[...] = draw.astype(parameter.dtype)


def _one_hot(target: Any, width: int) -> np.ndarray:
    labels = np.asarray(target.data if isinstance(target, Tensor) else target).astype(np.int64).ravel()
    out = np.zeros((labels.size, width), dtype=np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


class QuadraticCost(_Loss):
    """Nielsen's quadratic cost on the sigmoid outputs: 0.5 * ||a - onehot(y)||^2 per sample, averaged
    over the batch (integer labels; accuracy by argmax)."""

    classification = True
    doctor_loss_kind = "mse"  # a squared error, as a framework adapter would read the cost's formula

    def forward(self, input: Tensor, target: Any) -> Tensor:
        diff = input - _one_hot(target, input.shape[-1])
        return (diff * diff).sum() * 0.5 / input.shape[0]


class NaiveCrossEntropy(_Loss):
    """TensorFlow's hand-written ``-reduce_sum(y_onehot * log(probabilities))`` on a softmax output:
    no clipping, so a probability that underflows to 0 makes the loss inf and its gradient NaN.
    Integer labels; ``reduction`` 'sum' as the original (or 'mean' over the batch)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        picked = input.log() * _one_hot(target, input.shape[-1])
        total = -picked.sum()
        return total if self.reduction == "sum" else total / input.shape[0]


class NaiveBinaryCrossEntropy(_Loss):
    """TensorFlow's hand-written ``mean(sum(-y*log(out) - (1-y)*log(1-out), axis=1))`` on one-hot
    targets, applied to whatever the network outputs (a linear output gives log of negatives: NaN)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        onehot = _one_hot(target, input.shape[-1])
        per_unit = -(input.log() * onehot) - ((1.0 - input).log() * (1.0 - onehot))
        return per_unit.sum() / input.shape[0]


class SigmoidCrossEntropy(_Loss):
    """TensorFlow's ``sigmoid_cross_entropy_with_logits`` against one-hot targets, summed over the
    classes and averaged over the batch (integer labels; accuracy by argmax)."""

    classification = True

    def forward(self, input: Tensor, target: Any) -> Tensor:
        onehot = _one_hot(target, input.shape[-1])
        per_unit = rp.F.binary_cross_entropy_with_logits(input, onehot, reduction="none")
        return per_unit.sum() / input.shape[0]


class ShuffleFeaturesOnly(Callback):
    """A faulty loader's ``shuffle`` (TheDeepChecker's ``wrong_labels`` programs): at the end of each
    pass, permute the training inputs in place and leave the labels (or targets) where they are."""

    may_change_lr = False

    def __init__(self, features: np.ndarray, seed: int) -> None:
        self.features = features
        self.rng = np.random.default_rng(seed + 1000)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.features[...] = self.features[self.rng.permutation(len(self.features))]
