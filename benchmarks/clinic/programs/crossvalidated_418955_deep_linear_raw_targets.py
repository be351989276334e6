"""Cross Validated 418955: two stacked linear units fitting y = x^2 + 3 on raw targets diverge under SGD.

SOURCE: https://stats.stackexchange.com/questions/418955 ("Why is deep neural net with linear activation
diverges?"). x = 0, 1, ..., 99 standardized, targets y = x^2 + 3 left raw (3 to 9804); ``Dense(1)`` then
``Dense(1)``, both without activation (Keras's Glorot-uniform weights, zero biases); Keras's ``'sgd'``
(lr 0.01); mean squared error; Keras's default batch 32; 300 epochs. The asker's update: the behaviour
"is caused by not scaled target variable", and learning "occurs only with very small learning rate".
The question names no rate: the fixed version takes SGD at lr 1e-4, the largest power of ten below the
rate at which the curvature the raw targets induce (about 2 (w1^2 + w2^2) at the solution, w1 w2 near the
targets' std 2900) stays under 2 / lr; the targets stay raw. The question has no validation data: here
the 99 midpoints x + 0.5 (standardized with the training statistics) with their exact targets.
Run plainly (seed 0): the loss overflows to inf in the first epoch; fixed version: validation MSE /
variance 0.189 (a straight line's best fit of the parabola is 0.06).
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = "https://stats.stackexchange.com/questions/418955 (data generated as in the question)"
SYMPTOM = "the loss grows to inf / NaN within the first epochs"
FIX = "a very small SGD learning rate (here 1e-4) with the targets still raw (the asker's update)"
SPLIT = "dev"
ROUND = 2
EXPECTED = frozenset({"exploding_gradients", "unscaled_targets"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "missing_nonlinearity"})

EPOCHS = 300


def _data() -> tuple[np.ndarray, ...]:
    x_tr = np.arange(100, dtype=np.float64)
    x_va = np.arange(99, dtype=np.float64) + 0.5
    mean, std = x_tr.mean(), x_tr.std()

    def pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inputs = ((x - mean) / std).astype(np.float32).reshape(-1, 1)
        return inputs, (x**2 + 3).astype(np.float32).reshape(-1, 1)

    return (*pair(x_tr), *pair(x_va))


def _program(seed: int, lr: float) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1), dense(1, 1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), *_data(), loss="mse", epochs=EPOCHS,
                   batch_size=32, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.01)


def fixed(seed: int) -> Program:
    return _program(seed, 1e-4)
