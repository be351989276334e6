"""StackOverflow 78199673: a one-unit Keras regression on y = 10 x, stopped by RMSprop long before a fit.

SOURCE: StackOverflow question 78199673 ("Using Keras for Simple Linear regression: Model not predicting
correctly"; read at its mirror techqa.club/v/q/...-78199673). The question's program: ``x = 1, 2, ..., 10``,
``y = 10, 20, ..., 100`` (y = 10 x, unscaled); ``Sequential([Dense(units=1, input_shape=(1,))])``
(Keras's Glorot-uniform kernel, zero bias), ``compile(optimizer=RMSprop(learning_rate=0.005),
loss='mse')``, ``fit(x, y, epochs=100)`` at Keras's default batch of 32, so each epoch is one full-batch
step; it then predicts x = 11, 12, 13, which are the validation data here (targets 110, 120, 130). Keras's
RMSprop: rho 0.9, epsilon 1e-7. Nothing is cut.
SYMPTOM: the predictions for 11, 12, 13 are far from 110, 120, 130. Mechanism: RMSprop's step is about the
learning rate whatever the gradient's size, so 100 steps of 0.005 move the weight by about half a unit
while it has to travel from its initial value (|w| < 1.7) to 10: the loss is still falling at full pace
when training stops.
FIX: the answer's: the loss has not been minimized ("you have not converged"), train longer and a bit
faster: ``RMSprop(learning_rate=0.01)``, ``epochs=2000``; same model and data.
Run plainly (seeds 0, 1, 2): validation MSE / var(y_val) = 173 / 190 / 227 (the weight moved by 0.54, from
0.47 / 0.04 / -0.83 to 1.02 / 0.58 / -0.28, the bias from 0 to 0.54, against the 10 and 0 of the fit); fixed
version 6.4e-5 / 6.4e-5 / 6.3e-5 (the line y = 10 x recovered). Each run under a second.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("StackOverflow question 78199673 (mirrored at techqa.club; the question's data x = 1..10, "
          "y = 10 x, and its prediction points 11, 12, 13 as the validation data)")
SYMPTOM = "the predictions for x = 11, 12, 13 are far from 110, 120, 130: the model has not converged"
FIX = "train to convergence (the answer): RMSprop at lr 0.01 for 2000 epochs instead of lr 0.005 for 100"
SPLIT = "heldout"
ROUND = 11
EXPECTED = frozenset({"slow_convergence"})
ALLOWED = frozenset({"unscaled_targets", "underfitting"})

BATCH = 32


def _program(seed: int, lr: float, epochs: int) -> Program:
    x_train = np.arange(1, 11, dtype=np.float32).reshape(-1, 1)
    y_train = (10.0 * x_train).astype(np.float32)
    x_val = np.array([[11.0], [12.0], [13.0]], dtype=np.float32)
    y_val = (10.0 * x_val).astype(np.float32)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 1))
    optimizer = rp.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7)
    return Program(model, optimizer, x_train, y_train, x_val, y_val, loss="mse", epochs=epochs,
                   batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.005, 100)


def fixed(seed: int) -> Program:
    return _program(seed, 0.01, 2000)
