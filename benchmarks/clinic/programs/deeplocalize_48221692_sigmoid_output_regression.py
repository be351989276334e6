"""DeepLocalize's benchmark, StackOverflow 48221692: a regression with a sigmoid on its output unit.

Ported from DeepLocalize's benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/48221692,
Buggy Model and Correct Model) with its data: ``Linear_Data.csv`` is y = x^2 + 3 at x = -10, -9.9, ..., 10
(201 rows; generated here from that formula, exact to 1e-14), raw x and raw y (3 to 103); a random 75/25
split. ``Dense(5)`` + sigmoid, ``Dense(1)`` + sigmoid, mean squared error, Keras's SGD (lr 0.01), the
whole training set as one batch, 1000 epochs. A sigmoid output cannot exceed 1 while every target is
at least 3. Fixed (their Correct Model): the output unit linear; the hidden sigmoid, the raw targets and
everything else kept.
Run plainly (seed 0): validation MSE / variance 2.19; fixed version 0.102.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepLocalize benchmark (github.com/Wardat-ISU/DeepLocalize, Benchmark/StackOverflow/48221692: "
          "Buggy Model, Correct Model, Linear_Data.csv); StackOverflow question 48221692; data: theirs "
          "(y = x^2 + 3 on a 0.1 grid, regenerated from the formula)")
SYMPTOM = "every prediction is about 1 and the loss stays high"
FIX = "a linear output unit (Dense(1, activation='linear')) instead of the sigmoid; the hidden sigmoid kept"
SPLIT = "dev"
ROUND = 2
EXPECTED = frozenset({"loss_output_mismatch"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "underfitting", "slow_convergence",
                     "unscaled_targets", "unscaled_inputs"})

EPOCHS = 1000


def _data(seed: int) -> tuple[np.ndarray, ...]:
    x = np.round(np.arange(-100, 101) / 10.0, 1).reshape(-1, 1)
    y = x**2 + 3
    x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x.astype(np.float32), y.astype(np.float32),
                                                      test_size=0.25, seed=seed)
    return x_tr, y_tr, x_va, y_va


def _program(seed: int, output: list[nn.Module]) -> Program:
    x_tr, y_tr, x_va, y_va = _data(seed)
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 5), nn.Sigmoid(), dense(5, 1), *output)
    return Program(model, rp.optim.SGD(model.parameters(), lr=0.01), x_tr, y_tr, x_va, y_va, loss="mse",
                   epochs=EPOCHS, batch_size=len(x_tr), metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, [nn.Sigmoid()])


def fixed(seed: int) -> Program:
    return _program(seed, [])
