"""keras-team/keras issue 3040: a one-unit linear regression on raw x = 0..199, SGD at lr 0.001, batch 1.

SOURCE: https://github.com/keras-team/keras/issues/3040 ("Simple Linear Regression Nan's after a few
iterations."). The issue's program: ``x = 0, 1, ..., 199`` (unscaled), ``y = 2 x``; ``Dense(1,
input_dim=1)`` (Keras's Glorot-uniform kernel, zero bias), mean squared error, ``SGD(lr=0.001,
decay=1e-6, momentum=0)``, one epoch at batch size 1 (Keras shuffles). The issue has no validation data
(it predicts ``x[:10]``): here 40 of the 200 points, drawn by the seed, are held out, and the other 160
are trained on (160 steps). The 1e-6 decay (lr / (1 + 1e-6 t), a factor 0.99984 after 160 steps) is left
out. Nothing else is cut.
SYMPTOM: the weights (and the loss) become NaN after a few iterations. Mechanism: the loss's curvature
along the weight is 2 x^2 per sample, up to 2 * 199^2 = 79,000, so any step on a sample with x > 22
multiplies the error by |1 - 2 lr x^2| > 1: the error grows by orders of magnitude each step and overflows.
FIX: the issue author's own answer, "realized my learning rate was too high". The issue gives no new
value: here SGD at lr 1e-5 (below 1 / max x^2 = 2.5e-5, so every per-sample step shrinks the error);
nothing else changes.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 4.4e35 / 3.1e35 / 1.4e35 (the epoch's
training loss overflows to inf, the weight reaches about 5e17); fixed version 2e-9 / 6e-9 / 6e-9 (the
weight ends at 2.00). Each run well under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense
from ._qa_common import split

SOURCE = ("https://github.com/keras-team/keras/issues/3040 (data generated as in the issue: x = 0..199, "
          "y = 2x; 40 points held out for validation)")
SYMPTOM = "the weights and the loss become NaN after a few iterations"
FIX = "a lower learning rate (the issue author's answer): SGD at lr 1e-5 instead of 1e-3"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "unscaled_inputs", "unscaled_targets"})

N_VAL = 40


def _program(seed: int, lr: float) -> Program:
    x = np.arange(200, dtype=np.float32).reshape(-1, 1)
    y = (2.0 * x).astype(np.float32)
    x_train, y_train, x_val, y_val = split(x, y, seed, N_VAL)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    optimizer = rp.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="mse", epochs=1, batch_size=1,
                   metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 1e-3)


def fixed(seed: int) -> Program:
    return _program(seed, 1e-5)
