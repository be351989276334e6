"""Cross Validated 379884: a single ReLU unit that starts "backwards" and never learns the ReLU it imitates.

SOURCE: https://stats.stackexchange.com/questions/379884/why-cant-a-single-relu-learn-a-relu ("Why can't
a single ReLU learn a ReLU?"). The asker's Keras program: ``Dense(1, input_dim=1, use_bias=False)`` followed
by a ``ReLU()`` layer, its one weight set to -10 with ``set_weights``; mean squared error; Keras's ``'sgd'``
(lr 0.01, no momentum); ``fit_generator`` on batches of 1000 fresh draws ``x ~ N(0, 1)`` with targets
``relu(x)``, 100 steps per epoch, 20 epochs. Here the generator is replaced by one fixed draw of 100,000
points (so one epoch is still 100 steps of 1000) and a validation draw of 10,000; nothing is cut.
SYMPTOM: the asker reports that when the starting weight points the wrong way the weight slides to zero
and stays there: the unit outputs 0 for every input, the loss stalls at the error of predicting 0 for the
positive half, while a start in the target's orientation converges to weight 1. (The mechanism: with w < 0
the unit is active only on x < 0, where the target is 0, so every step shrinks w toward 0; on x > 0,
where the target lives, the ReLU is off and passes no gradient, so nothing pulls w past 0.)
FIX: the question's own contrast: start the weight in the target's orientation (+10 instead of -10);
nothing else changes.
Run plainly (seed 0): validation MSE / var(y_val) = 1.46 (weight stuck near 0); fixed version 0.000.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program

SOURCE = ("https://stats.stackexchange.com/questions/379884 (the question's Keras program; data "
          "generated as there, one fixed draw instead of the generator)")
SYMPTOM = "the weight slides to 0 and stays there: the ReLU outputs 0 and the loss stalls"
FIX = "start the weight in the target's orientation (+10 instead of -10)"
SPLIT = "heldout"
ROUND = 4
EXPECTED = frozenset({"dead_relu"})
ALLOWED = frozenset({"underfitting", "slow_convergence", "vanishing_gradients"})

N_TRAIN, N_VAL, BATCH = 100_000, 10_000, 1000


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, 1)).astype(np.float32)
    return x, np.maximum(x, 0.0)


def _program(seed: int, start: float) -> Program:
    rng = np.random.default_rng(seed)
    x_train, y_train = _draw(rng, N_TRAIN)
    x_val, y_val = _draw(rng, N_VAL)
    rp.manual_seed(seed)
    unit = nn.Linear(1, 1, bias=False)
    unit.weight.data[...] = start  # model.set_weights([[[-10]]])
    model = nn.Sequential(unit, nn.ReLU())
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_train, y_train, x_val, y_val,
                   loss="mse", epochs=20, batch_size=BATCH, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, -10.0)


def fixed(seed: int) -> Program:
    return _program(seed, 10.0)
