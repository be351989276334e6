"""TheDeepChecker SO example IPS_17: a quadratic fitted by gradient descent above its stability limit.

SOURCE: TheDeepChecker, SO_buggy_examples/IPS_17.py
(https://github.com/thedeepchecker/thedeepchecker/blob/master/SO_buggy_examples/IPS_17.py), a StackOverflow
question ported by the benchmark's authors. The model ``A * x**2 + B * x + C`` with A, B and C starting at
0, fitted to the four points x = 0, 1, 2, 3, y = 0, 1, 4, 9 with the loss ``reduce_sum(square(model - y))``
(the squared errors summed, not averaged) and ``GradientDescentOptimizer(0.01)`` on the full batch; the
program evaluates on its training points, and so does the port. Here the model is one ``Linear(2, 1)``
(weights A and B, bias C, all zero) on the inputs ``[x**2, x]``, the same function with the square taken
when the data is built; 1000 steps.
SYMPTOM: the loss grows by about 60 % every step until it overflows to inf/NaN (step 178 at seed 0).
(The benchmark's file quotes no symptom; this is the mechanism: the summed loss's Hessian ``2 X^T X`` has
its largest eigenvalue near 227 on these points, so plain gradient descent is stable only below lr
2 / 227 = 0.0088, and 0.01 overshoots along that direction by a factor of 1.27 per step.)
FIX (not stated by the benchmark): gradient descent at lr 0.001, below the stability limit; the answer to
a sibling question (https://stackoverflow.com/questions/47477790: another quadratic fitted with a summed
squared error under ``GradientDescentOptimizer(0.01)``, all variables NaN) gives the same remedy, a lower
learning rate. Nothing else changes.
Run plainly (seed 0): validation MSE / var(y_val) = 7.6e36 (the loss overflowed at step 178 and ``fit``
stopped there); fixed version 0.0001.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = "TheDeepChecker SO_buggy_examples/IPS_17.py (data as in the original)"
SYMPTOM = "the summed squared error grows every step until it overflows to inf/NaN"
FIX = "gradient descent at lr 0.001 instead of 0.01 (below the stability limit 0.0088)"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "unscaled_inputs", "unscaled_targets"})


def _program(seed: int, lr: float) -> Program:
    x = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    inputs = np.stack([x**2, x], axis=1)
    targets = np.array([[0.0], [1.0], [4.0], [9.0]], dtype=np.float32)
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 1, init="zeros"))
    nn.init.zeros_(model[0].bias)
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), inputs, targets, inputs.copy(),
                   targets.copy(), loss=nn.MSELoss(reduction="sum"), epochs=1000, batch_size=4, metric=None,
                   fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.01)


def fixed(seed: int) -> Program:
    return _program(seed, 0.001)
