"""DeepFD case 17 (StackOverflow 52800582): fitting y = x^4 on x in [-100, 100) without any scaling.

Ported from DeepFD's benchmark (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx, case 17) with the
code as collected in DeepLocalize's benchmark (Benchmark/StackOverflow/52800582): 400 points
x = -100, -99.5, ..., 99.5 and y = x^4 (up to 1e8), 1-50-50-1 (sigmoid, ELU, linear; Glorot-uniform), mean
squared error, Adam with its defaults, full batch (400), 1000 epochs. The question has no validation
data: here the 400 midpoints of the grid. The fix trains 100 x 1000 epochs; cut: 3000 epochs.
Run plainly (seed 0): the loss stays at 1.1e15, validation MSE / variance 1.56; fixed
version 9e-6.
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn

from . import Program
from ._keras import dense

SOURCE = ("DeepFD benchmark case 17 (github.com/ArabelaTso/DeepFD, Benchmark-with-patches.xlsx); "
          "StackOverflow question 52800582; code from DeepLocalize's benchmark "
          "(Benchmark/StackOverflow/52800582)")
SYMPTOM = "the network does not fit the curve: its predictions stay flat while the loss stays huge"
FIX = ("standardize x and y (StandardScaler on each), ReLU instead of the first sigmoid, train longer "
       "(DeepFD's patch, as the accepted answer)")
SPLIT = "dev"
EXPECTED = frozenset({"unscaled_inputs", "unscaled_targets"})
ALLOWED = frozenset({"saturated_activations", "vanishing_gradients", "slow_convergence", "underfitting",
                     "exploding_gradients"})

BUGGY_EPOCHS, FIXED_EPOCHS = 1000, 3000


def _data() -> tuple[np.ndarray, ...]:
    x_tr = np.arange(-100.0, 100.0, 0.5).reshape(-1, 1)
    x_va = x_tr + 0.25
    return (x_tr.astype(np.float32), (x_tr**4).astype(np.float32), x_va.astype(np.float32),
            (x_va**4).astype(np.float32))


def buggy(seed: int) -> Program:
    rp.manual_seed(seed)
    model = nn.Sequential(dense(1, 50), nn.Sigmoid(), dense(50, 50), nn.ELU(), dense(50, 1))
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), *_data(), loss="mse",
                   epochs=BUGGY_EPOCHS, batch_size=400, metric=None, fit_options={"seed": seed})


def fixed(seed: int) -> Program:
    rp.manual_seed(seed)
    x_tr, y_tr, x_va, y_va = _data()
    x_tr, x_va = rp.data.standardize(x_tr, x_va)
    y_tr, y_va = rp.data.standardize(y_tr, y_va)
    model = nn.Sequential(dense(1, 50), nn.ReLU(), dense(50, 50), nn.ELU(), dense(50, 1))
    return Program(model, rp.optim.Adam(model.parameters(), lr=1e-3), x_tr.astype(np.float32),
                   y_tr.astype(np.float32), x_va.astype(np.float32), y_va.astype(np.float32), loss="mse",
                   epochs=FIXED_EPOCHS, batch_size=400, metric=None, fit_options={"seed": seed})
