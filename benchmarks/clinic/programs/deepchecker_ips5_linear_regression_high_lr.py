"""TheDeepChecker SO example IPS_5: a one-weight linear regression at gradient-descent learning rate 0.1.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_5.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_5.py), a StackOverflow
question ported by the benchmark's authors. Eight points ``x ~ U(-8, 8)`` on a line ``y = w x + b +
U(-1, 1)`` with ``w, b ~ U(-8, 8)``; the model ``y_ = x * W + B`` with W and B starting at zero; the loss
``reduce_mean(square(y_ - y))`` (MSE); ``GradientDescentOptimizer(1e-1)`` on the full batch of eight.
The validation set is a second draw of eight points from the same line (the original evaluates on its
training data). 500 steps.
SYMPTOM: the loss grows by an order of magnitude every step and overflows to inf/NaN. (The benchmark's file
quotes no symptom; this is the mechanism: the MSE's curvature along W is 2 E[x^2], about 43, so any rate
above 2/43 = 0.047 makes every step overshoot by more than it corrects.)
FIX: gradient descent at lr 0.01 (below the stability limit); nothing else changes.
Run plainly (seed 0): validation MSE / var(y_val) = inf (diverged); fixed version 0.006.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = "TheDeepChecker SO_buggy_examples/IPS_5.py (generated data as in the original)"
SYMPTOM = "the loss grows every step until it overflows to inf/NaN"
FIX = "gradient descent at lr 0.01 instead of 0.1"
SPLIT = "heldout"
ROUND = 2
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "unscaled_inputs", "unscaled_targets"})

SIZE = 8


def _program(seed: int, lr: float) -> Program:
    rng = np.random.default_rng(seed)
    w, b = rng.uniform(-8, 8, size=2)

    def draw() -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-8, 8, size=(SIZE, 1))
        return x.astype(np.float32), (w * x + b + rng.uniform(-1, 1, size=(SIZE, 1))).astype(np.float32)

    x_train, y_train = draw()
    x_val, y_val = draw()
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 1, init="zeros"))
    nn.init.zeros_(model[0].bias)
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), x_train, y_train, x_val, y_val,
                   loss="mse", epochs=500, batch_size=SIZE, metric=None)


def buggy(seed: int) -> Program:
    return _program(seed, 0.1)


def fixed(seed: int) -> Program:
    return _program(seed, 0.01)
