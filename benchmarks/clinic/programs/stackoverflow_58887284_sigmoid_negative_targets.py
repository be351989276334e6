"""StackOverflow 58887284: one sigmoid unit fitted to a curve whose values are all negative.

SOURCE: https://stackoverflow.com/questions/58887284 ("Why is the neural network not learning the
curve?"). The question's program: the target ``f(x) = -1 / (exp(10 x) + 1)`` (values in (-1, 0)) sampled
at ``linspace(-1, 1, 111)`` to train on and at ``linspace(-1, 1, 11)`` as its test points (the validation
data here); ``Dense(1, activation='sigmoid', input_shape=(1,))`` (Keras's Glorot-uniform kernel, zero
bias), ``Adam(0.01)`` (Keras's epsilon 1e-7), mean squared error. Its ``fit`` call is only in the linked
notebook: here Keras's default batch 32 (4 steps an epoch) and 300 epochs (1,200 steps). Nothing needs a
download.
SYMPTOM: the model does not learn the curve: its predictions stay far from the targets.
Mechanism: a sigmoid's outputs are in (0, 1) and every target is negative, so the best the unit can do is
push its output toward 0 (the sigmoid's flat end), leaving an error about as large as the targets.
FIX: the (only) answer's: the sigmoid can only output values in [0, 1], so learn the curve normalized
to that range, ``f(x) = 1 / (exp(10 x) + 1)`` (the negated target); the same unit, loss, optimizer
and epochs.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 2.28 / 2.28 / 2.28 (training loss 1.1-1.3
at the first epoch, 0.46 at the last: the output pressed against 0); fixed version 0.049 / 0.040 / 0.023
(training loss 0.005-0.011 at the last epoch). Each run under half a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = "https://stackoverflow.com/questions/58887284 (data generated as in the question)"
SYMPTOM = "a one-unit sigmoid network does not learn the curve -1/(exp(10x)+1)"
FIX = "learn the curve normalized to the sigmoid's range, 1/(exp(10x)+1) (the answer)"
SPLIT = "heldout"
ROUND = 7
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "underfitting", "slow_convergence"})

EPOCHS, BATCH = 300, 32


def _program(seed: int, sign: float) -> Program:
    def f(x: np.ndarray) -> np.ndarray:
        return sign / (np.exp(10.0 * x) + 1.0)

    x_train = np.linspace(-1, 1, 111).reshape(-1, 1)
    x_val = np.linspace(-1, 1, 11).reshape(-1, 1)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1), nn.Sigmoid())
    optimizer = rp.optim.Adam(model.parameters(), lr=0.01, eps=1e-7)
    return Program(model, optimizer, x_train.astype(np.float32), f(x_train).astype(np.float32),
                   x_val.astype(np.float32), f(x_val).astype(np.float32), loss="mse", epochs=EPOCHS,
                   batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, -1.0)


def fixed(seed: int) -> Program:
    return _program(seed, 1.0)
