"""DeepFD case 13 (StackOverflow 48934338): fitting y = 5x^2 with SGD at learning rate 0.1.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 13) with the
code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/48934338): 50 points x in [0, 5),
y = 5 x^2 + e^3 with e ~ N(0, 1); 1-50-30-1 (ReLU, ReLU, linear; the second layer Keras 1
``init='uniform'``, U(+-0.05)), SGD lr 0.1, mean squared error, Keras's default batch 32, 1000 epochs. The
question has no validation data: here 50 points on the midpoints of the grid, with their own noise.
Run plainly (seed 0): the loss stays finite in this port (5.6e4 at first, 1.4e3 at the end)
but the fit is flat: validation MSE / variance 1.01; fixed version 0.019.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepFD benchmark case 13 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 48934338; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/48934338)")
SYMPTOM = "the loss goes to NaN and the fitted curve is flat"
FIX = "SGD learning rate 0.1 -> 0.0001 (DeepFD's patch; DeepLocalize's correct version uses 0.001)"
SPLIT = "heldout"
EXPECTED = frozenset({"exploding_gradients"})
ALLOWED = frozenset({"non_finite", "unstable_loss", "dead_relu", "unscaled_targets"})

EPOCHS = 1000


def _data(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x_tr = np.arange(0.0, 5.0, 0.1, dtype=np.float32).reshape(-1, 1)
    x_va = (x_tr + np.float32(0.05)).astype(np.float32)
    y_tr = (5 * x_tr**2 + rng.standard_normal(x_tr.shape) ** 3).astype(np.float32)
    y_va = (5 * x_va**2 + rng.standard_normal(x_va.shape) ** 3).astype(np.float32)
    return x_tr, y_tr, x_va, y_va


def _program(seed: int, lr: float) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 50), nn.ReLU(), dense(50, 30, "uniform"), nn.ReLU(), dense(30, 1))
    return Program(model, rp.optim.SGD(model.parameters(), lr=lr), *_data(seed), loss="mse", epochs=EPOCHS,
                   batch_size=32, metric=None, fit_options={"seed": seed})


def buggy(seed: int) -> Program:
    return _program(seed, 0.1)


def fixed(seed: int) -> Program:
    return _program(seed, 1e-4)
